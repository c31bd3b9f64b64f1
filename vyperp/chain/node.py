"""A local anvil node for the JSON-RPC backend (:mod:`vyperp.chain.rpc_chain`).

    from vyperp.chain.node import AnvilNode
    from vyperp.chain.rpc_chain import RpcChain

    with AnvilNode() as node:                     # starts anvil, waits until it answers
        chain = RpcChain(node.url, timestamp=1_700_000_000)
        ...                                       # the same API as vyperp.chain.Chain
    # the node (its whole process group) is stopped here

The binary is the pinned ``@foundry-rs/anvil-linux-amd64`` from npm
(``package.json`` / ``package-lock.json``; ``WITH_ANVIL=1 scripts/bootstrap.sh`` runs
``npm ci``). It is started directly -- never through a Node shim, which can leave the
real binary running and holding its port when the shim is stopped -- in its own
process group, and that group is stopped on exit (and at interpreter exit, as a
safety net). ``VYPERP_ANVIL=/path/to/anvil`` overrides the binary.

The node is configured to match the embedded chain (:class:`vyperp.chain.Chain`):
chain id 31337, the ``cancun`` hardfork (what the contracts are compiled for and
pyrevm runs, so ``gas_used`` is comparable), base fee and gas price 0 (gas costs no
ether, so balances only move by value transfers, as on the embedded chain), a
30,000,000 block gas limit, no default CREATE2 deployer, and a genesis timestamp of 1
so that a chain can start at any historical time (anvil cannot move time back).

``python -m vyperp.node bench`` measures its throughput (:func:`bench_anvil`).
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
"""The source checkout (its node_modules/ holds the pinned anvil; ./node_modules is tried first)."""
NODE_MODULES = (
    Path("node_modules").resolve() if Path("node_modules/.bin/anvil").exists() else ROOT / "node_modules"
)  # absolute: a later chdir must not lose it
ANVIL_VERSION = "1.7.1"
GENESIS_TIMESTAMP = 1
BATCH_BLOCK_GAS_LIMIT = 64 * 30_000_000
"""A block gas limit for deferred mining (``RpcChain(deferred=True, gas_limit=30_000_000)``):
64 transactions of the embedded chain's 30,000,000 gas fit one block."""
MISSING_HINT = "run WITH_ANVIL=1 scripts/bootstrap.sh (npm ci installs the pinned anvil into node_modules/)"


class AnvilNotFound(RuntimeError):
    """No anvil binary: install it with ``WITH_ANVIL=1 scripts/bootstrap.sh``."""


def _platform_package() -> str:
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"anvil-{system}-{arch}"


def _is_native(path: Path) -> bool:
    """True for an executable that is not a script (the npm shim starts with ``#!``)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return head != b"#!" and os.access(path, os.X_OK)


def find_anvil(binary: str | os.PathLike[str] | None = None) -> str:
    """Path of the real anvil binary: `binary`, else ``$VYPERP_ANVIL``, else the pinned
    npm package under ``node_modules/``. Raises :class:`AnvilNotFound` otherwise."""
    candidates: list[Path] = []
    if binary is not None:
        candidates.append(Path(binary))
    elif os.environ.get("VYPERP_ANVIL"):
        candidates.append(Path(os.environ["VYPERP_ANVIL"]))
    else:
        name = "anvil.exe" if sys.platform == "win32" else "anvil"
        candidates.append(NODE_MODULES / "@foundry-rs" / _platform_package() / "bin" / name)
        candidates.append((NODE_MODULES / ".bin" / name).resolve())  # a symlink to the binary (not the shim)
    for path in candidates:
        if path.is_file() and _is_native(path):
            return str(path)
    raise AnvilNotFound(f"anvil binary not found (looked at {', '.join(map(str, candidates))}): {MISSING_HINT}")


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on `host` (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy


def _rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with _OPENER.open(req, timeout=timeout) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


_RUNNING: set[AnvilNode] = set()


@atexit.register
def _stop_all() -> None:
    for node in list(_RUNNING):
        node.stop()


class AnvilNode:
    """A private anvil process on a free loopback port (a context manager).

    Args:
        port: TCP port (default: a free one, chosen by the OS).
        chain_id: ``--chain-id`` (31337 like the embedded chain).
        timestamp: genesis timestamp (default 1: any later start time can be set).
        accounts / balance_eth: anvil's dev accounts (``node.dev_accounts``); RpcChain
            does not need them (it impersonates every sender).
        gas_limit: block gas limit (the embedded chain's 30,000,000).
        base_fee / gas_price: ``--base-fee`` / ``--gas-price`` in wei (0: gas costs
            nothing, what RpcChain's impersonated transactions need); ``None`` leaves
            anvil's own (EIP-1559 base fee from 1 gwei), as a signing client sees on a
            public network.
        hardfork: ``cancun`` (the contracts' EVM version).
        code_size_limit: raise EIP-170's limit (like ``Chain(code_size_limit=)``).
        prune_history: ``--prune-history`` (default): keep no historical states. With
            one block per transaction, anvil otherwise slows down as blocks pile up
            (sequential sends ~3x slower after a few thousand blocks); snapshots,
            ``evm_revert`` and calls on the latest block are unaffected.
        extra_args: more anvil flags.
        binary: the anvil binary (default: :func:`find_anvil`).
        startup_timeout: seconds to wait until it answers ``eth_chainId``.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        chain_id: int = 31337,
        timestamp: int = GENESIS_TIMESTAMP,
        accounts: int = 10,
        balance_eth: int = 10_000,
        gas_limit: int = 30_000_000,
        base_fee: int | None = 0,
        gas_price: int | None = 0,
        hardfork: str = "cancun",
        code_size_limit: int | None = None,
        prune_history: bool = True,
        extra_args: Sequence[str] = (),
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
    ):
        self.binary = find_anvil(binary)
        self.host = host
        self._fixed_port = port
        self.port: int | None = None
        self.chain_id = chain_id
        self.timestamp = timestamp
        self.accounts = accounts
        self.balance_eth = balance_eth
        self.gas_limit = gas_limit
        self.base_fee = base_fee
        self.gas_price = gas_price
        self.hardfork = hardfork
        self.code_size_limit = code_size_limit
        self.prune_history = prune_history
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.dev_accounts: list[str] = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the node is not running")
        return f"http://{self.host}:{self.port}"

    def args(self, port: int) -> list[str]:
        args = [
            self.binary,
            "--host",
            self.host,
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--hardfork",
            self.hardfork,
            "--timestamp",
            str(self.timestamp),
            "--accounts",
            str(self.accounts),
            "--balance",
            str(self.balance_eth),
            "--gas-limit",
            str(self.gas_limit),
            "--disable-default-create2-deployer",
            "--silent",
        ]
        if self.base_fee is not None:
            args += ["--base-fee", str(self.base_fee)]
        if self.gas_price is not None:
            args += ["--gas-price", str(self.gas_price)]
        if self.prune_history:
            args.append("--prune-history")
        if self.code_size_limit is not None:
            args += ["--code-size-limit", str(self.code_size_limit)]
        return args + self.extra_args

    def start(self) -> AnvilNode:
        if self.proc is not None:
            return self
        last_error = ""
        for _attempt in range(5):  # a free port can be taken between choosing and binding it
            port = self._fixed_port or free_port(self.host)
            self._log = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(
                self.args(port),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.port = port
            _RUNNING.add(self)
            if self._wait_ready():
                self.dev_accounts = list(_rpc(self.url, "eth_accounts"))
                return self
            last_error = self._output()
            self.stop()
            if self._fixed_port:
                break
        raise RuntimeError(f"anvil did not start ({self.binary}): {last_error.strip()[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if int(_rpc(self.url, "eth_chainId", timeout=1.0), 16) == self.chain_id:
                    return True
            except Exception:
                pass
            time.sleep(0.02)
        return False

    def _output(self) -> str:
        if self._log is None:
            return ""
        try:
            self._log.seek(0)
            return self._log.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def stop(self) -> None:
        """Stop anvil and its process group (SIGTERM, then SIGKILL after 5 s)."""
        proc, self.proc = self.proc, None
        _RUNNING.discard(self)
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)  # the group anvil leads (start_new_session)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(timeout=5)
            else:
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers
    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC request (for setup and inspection; RpcChain has the fast path)."""
        return _rpc(self.url, method, list(params), timeout=30.0)

    def reset(self) -> None:
        """``anvil_reset``: back to a fresh genesis (block 0 at the genesis timestamp)."""
        self.rpc("anvil_reset")

    def version(self) -> str:
        return str(self.rpc("web3_clientVersion"))

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"<AnvilNode {state}>"


# ============================================================================ benchmark
def bench_anvil(
    trades: int = 4_000,
    batch: int = 200,
    senders: int = 50,
    sequential: int = 1_000,
    transfers: int = 4_000,
    node: AnvilNode | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Throughput of anvil through :class:`~vyperp.chain.rpc_chain.RpcChain`, on the
    deployed protocol (default parameters), from `senders` funded traders (each
    figure: transactions per second, wall time, mined and receipts read):

    * ``batched_trade_tps``: engine ``trade`` calls (oracle read, funding update, fee,
      margin check; 90k-260k gas) as raw JSON-RPC batches of `batch`
      ``eth_sendTransaction`` with explicit nonces (:meth:`RpcChain.send_many`), gas
      limit 1,000,000 each (30 per block), receipts read (``eth_getBlockReceipts``;
      anvil needs ~0.4 ms per receipt, more than the execution);
      ``batched_trade_tps_no_receipts``: the same, mined but receipts not read;
      ``batched_trade_tps_one_per_block``: the 30,000,000 default gas (every
      transaction its own block), receipts read;
    * ``batched_transfer_tps``: the same for an ERC-20 ``transfer`` (gas limit 100,000);
    * ``sequential_send_tps``: ``RpcChain.send`` of the trade, one at a time (an
      ``eth_call`` preflight plus ``eth_sendTransactionSync``: what System and the
      replay do);
    * ``call_tps``: ``RpcChain.call`` (one ``eth_call``) of ``Engine.margin``.

    Returns (and, unless `quiet`, prints) the figures.
    """
    from ..protocol.deploy import deploy_embedded
    from .base import Receipt
    from .rpc_chain import RpcChain

    own = node is None
    if own:
        node = AnvilNode().start()
    assert node is not None
    try:
        chain = RpcChain(node.url, timestamp=1_700_000_000, reset=True)
        p = deploy_embedded(chain)
        engine, token = p.engine, p.token
        accounts = []
        amount = 10**6 * 10**p.params.token_decimals
        for k in range(senders):
            a = chain.new_account(f"bench{k}", eth=10**20)
            p.token.mint(a, 2 * amount, sender=p.admin)
            token.approve(engine, 2**256 - 1, sender=a)
            engine.deposit(amount, sender=a)
            accounts.append(a)
        size = 10**16  # 0.01 of the base asset: small against the margin
        buy = engine.trade.calldata(0, size, 2**256 - 1)
        sell = engine.trade.calldata(0, -size, 0)

        def trade(i: int) -> tuple[str, str, bytes]:
            return accounts[i % senders], engine.address, buy if (i // senders) % 2 == 0 else sell

        to = [accounts[(k + 1) % senders] for k in range(senders)]

        def transfer(i: int) -> tuple[str, str, bytes]:
            return accounts[i % senders], token.address, token.transfer.calldata(to[i % senders], 1)

        out: dict[str, Any] = {"anvil": node.version(), "batch": batch, "senders": senders}

        def batched(make: Any, n: int, gas: int | None, wait: bool = True) -> tuple[int, int]:
            txs = [make(i) for i in range(n)]
            t0 = time.perf_counter()
            failed = 0
            for start in range(0, n, batch):
                receipts = chain.send_many(txs[start : start + batch], gas=gas, wait=wait)
                failed += sum(1 for r in receipts if isinstance(r, Receipt) and not r.success)
            return round(n / (time.perf_counter() - t0)), failed if wait else 0

        out["batched_trade_tps"], out["batched_trade_failed"] = batched(trade, trades, 1_000_000)
        out["batched_trade_tps_no_receipts"], _ = batched(trade, trades, 1_000_000, wait=False)
        out["batched_trade_tps_one_per_block"], failed = batched(trade, trades // 2, None)
        out["batched_trade_failed"] += failed
        out["batched_transfer_tps"], out["batched_transfer_failed"] = batched(transfer, transfers, 100_000)
        t0 = time.perf_counter()
        for i in range(sequential):
            chain.send(*trade(i))
        out["sequential_send_tps"] = round(sequential / (time.perf_counter() - t0))
        out["gas_per_trade"] = chain.last_receipt.gas_used if chain.last_receipt else None
        margin = engine.margin.calldata(accounts[0])
        t0 = time.perf_counter()
        for _ in range(sequential):
            chain.call(engine.address, margin)
        out["call_tps"] = round(sequential / (time.perf_counter() - t0))
        out["trades"], out["transfers"], out["sequential"] = trades, transfers, sequential
        out["blocks"] = chain.block_number
        try:
            out["load_average"] = os.getloadavg()[0]
        except OSError:
            pass
    finally:
        if own:
            node.stop()
    if not quiet:
        for key, value in out.items():
            print(f"{key:>32}: {value}")
    return out


def _main(argv: list[str]) -> int:
    if argv[:1] == ["bench"]:
        bench_anvil()
        return 0
    if argv[:1] == ["which"]:
        print(find_anvil())
        return 0
    print("usage: python -m vyperp.node [bench|which]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


__all__ = [
    "ANVIL_VERSION",
    "BATCH_BLOCK_GAS_LIMIT",
    "AnvilNode",
    "AnvilNotFound",
    "bench_anvil",
    "find_anvil",
    "free_port",
]
