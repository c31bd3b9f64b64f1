"""Deploy vyperp with ape and write a deployment manifest.

    ape run deploy                                   # ethereum:local:test, first test account
    ape run deploy --network ethereum:local:foundry  # anvil (APE_FOUNDRY_HOST picks the port)
    ape run deploy --network ethereum:sepolia:node --account deployer --feeder 0x...
    ape run deploy --manifest deployments/x.json --resume   # check a recorded deployment
    ape run deploy --network ethereum:local:foundry --force  # overwrite a stale local manifest
    APE_ACCOUNTS_deployer_PASSPHRASE=... ape run deploy --network ... --account deployer --yes

Deployment goes through `vyperp.deploy.deploy_protocol` (the same sequence as the
embedded chain), with ape's `project.<Name>.deploy(*args, sender=account)` as the
deploy function. The manifest (JSON) records network, chain id, blocks, deployer,
feeder, every address, the parameters in human units, the vyper version, the number
of transactions and the time.

Without --resume or --force an existing manifest is never overwritten. With --resume the
addresses it records are checked for code on the connected chain and reported; no
transaction is sent. A manifest from another chain id, or one whose contracts have no
code (e.g. the in-process test chain, which starts empty in every process), is an error.
--force deploys again and overwrites the manifest: always on a local network (an
ephemeral chain), elsewhere only if the manifest is for the connected chain and none of
its recorded contracts has code there (a live deployment's record is never lost).

--yes signs unattended: a keyfile account is unlocked once (passphrase from the
APE_ACCOUNTS_<alias>_PASSPHRASE environment variable, which ape reads, else asked once)
and signs every transaction without ape's per-transaction prompt.

The manifest records what the keeper, the feeder and `vyperp admin` need: chain id,
network (and the RPC URL when it is a loopback node; a remote URL may carry an API key
and is not written), every address with each oracle's decimals, the token's decimals,
whether test doubles were deployed, the deploy blocks, the role holders (admin,
guardian, feeder), and the parameter file with its SHA-256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, account_option, network_option
from ape.types import AddressType

from vyperp import resources
from vyperp.ops.ape_build import ensure_compiled
from vyperp.ops.ape_signer import enable_autosign
from vyperp.protocol.deploy import DeployError, Protocol, deploy_protocol
from vyperp.protocol.params import ProtocolParams, load_params

# ape-vyper compiles with the `vyper` executable found on PATH when its version is the
# installed package's, else with a vvm-managed binary (which it would have to download).
# Running `.venv/bin/ape` without an activated venv leaves .venv/bin off PATH, so put the
# interpreter's own bin directory first: the compiler used is then the venv's vyper 0.4.3.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

MANIFEST_VERSION = 2
CONTRACT_KEYS = ("token", "configurator", "engine", "pool", "lens", "order_book", "swaps", "caps")


# ----------------------------------------------------------------------------- helpers
def _human(value: Any) -> Any:
    """Params -> JSON-safe human values (inf becomes the string "inf")."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: _human(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_human(v) for v in value]
    return value


def params_to_json(params: ProtocolParams) -> dict[str, Any]:
    return _human(dataclasses.asdict(params))


def _vyper_version() -> str:
    """Version of the compiler that built the project (falls back to the installed package)."""
    for compiler in project.manifest.compilers or []:
        if compiler.name == "vyper":
            return str(compiler.version)
    import vyper

    return vyper.__version__


def _default_manifest(ecosystem: str, network: str, chain_id: int) -> Path:
    return project.path / "deployments" / f"{ecosystem}-{network}-{chain_id}.json"


def _recorded_addresses(manifest: dict[str, Any]) -> dict[str, str]:
    """Flatten the manifest's addresses: token, ..., oracle:BTC, oracle:ETH."""
    addresses = manifest.get("addresses") or {}
    flat = {key: addresses[key] for key in CONTRACT_KEYS if addresses.get(key)}
    for symbol, address in (addresses.get("oracles") or {}).items():
        flat[f"oracle:{symbol}"] = address
    return flat


def _print_table(title: str, rows: list[tuple[str, str, str]], columns: tuple[str, str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _resolve_account(account: Any, network: Any) -> Any:
    if account is not None:
        return account
    if network.is_local:
        # ethereum:local:test (and anvil via ape-foundry) fund ape's test mnemonic.
        return accounts.test_accounts[0]
    raise click.UsageError(
        f"--account is required on network {network.choice!r} (only local networks fall back to the first test account)"
    )


def _signer_for(address: str) -> Any | None:
    """An account ape can sign for at `address` (local keyfile or test account), else None."""
    for container in accounts.containers.values():
        if address in container.accounts:
            return container[address]
    for test_account in accounts.test_accounts:
        if test_account.address == address:
            return test_account
    return None


def force_refusal(manifest: dict[str, Any], chain_id: int, is_local: bool, code_size: Any) -> str | None:
    """Why --force must not overwrite `manifest` on this chain, or None if it may.

    A local network is ephemeral: always allowed. Elsewhere the manifest must be for the
    connected chain and no recorded contract may have code (`code_size(address)`): a live
    deployment's record is never overwritten."""
    if is_local:
        return None
    recorded = manifest.get("chain_id")
    if recorded != chain_id:
        return f"it records chain id {recorded}, the connected chain is {chain_id}"
    live = [f"{name} at {address}" for name, address in _recorded_addresses(manifest).items() if code_size(address)]
    if live:
        return f"its contracts still have code on chain id {chain_id} ({', '.join(live[:3])}{', ...' if len(live) > 3 else ''})"
    return None


def _rpc_url(provider: Any) -> str | None:
    """The provider's URL if it is a loopback node (a remote URL may embed an API key)."""
    from urllib.parse import urlparse

    if getattr(provider, "name", "") == "test":  # ape's in-process chain: its URI names no node
        return None
    uri = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not isinstance(uri, str):
        return None
    host = urlparse(uri).hostname or ""
    return uri if host in ("127.0.0.1", "localhost", "::1") else None


# ----------------------------------------------------------------------------- resume
def _resume(manifest_path: Path, manifest: dict[str, Any], chain_id: int) -> None:
    recorded_chain = manifest.get("chain_id")
    if recorded_chain != chain_id:
        raise click.ClickException(
            f"{manifest_path}: recorded on chain id {recorded_chain}, but the connected chain "
            f"is {chain_id}; refusing to resume"
        )
    rows, missing = [], []
    for name, address in _recorded_addresses(manifest).items():
        size = len(chain.provider.get_code(address))
        rows.append((name, address, f"{size:,} B" if size else "NO CODE"))
        if not size:
            missing.append(f"{name} at {address}")
    if not rows:
        raise click.ClickException(f"{manifest_path}: records no addresses")
    if missing:
        raise click.ClickException(
            f"{manifest_path}: no code at recorded address for {', '.join(missing)} "
            f"(chain id {chain_id}, head block {chain.blocks.height}; manifest block "
            f"{manifest.get('block_number')}). The chain does not hold this deployment "
            "(a fresh local chain?); deploy again with another --manifest or delete this one"
        )
    _print_table(
        f"vyperp deployment on {manifest.get('network')} (resumed, nothing deployed)",
        rows,
        ("contract", "address", "code"),
    )
    click.echo(f"Resumed {manifest_path}: all {len(rows)} recorded contracts have code; nothing deployed.")


# ----------------------------------------------------------------------------- command
@click.command(cls=ConnectedProviderCommand, short_help="Deploy vyperp and write a manifest")
@network_option()
@account_option(prompt=False)
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=resources.PARAMS / "default.toml",
    show_default=True,
    help="Deployment parameter TOML.",
)
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Manifest JSON to write [default: deployments/<ecosystem>-<network>-<chain_id>.json].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="If the manifest exists, check its contracts have code and report them instead of deploying.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Deploy again over an existing manifest: on a local network always; elsewhere only if the manifest "
    "is for this chain and none of its contracts has code.",
)
@click.option(
    "--yes",
    is_flag=True,
    help="Sign unattended: unlock a keyfile account once (APE_ACCOUNTS_<alias>_PASSPHRASE, else asked once) "
    "and skip ape's prompt per transaction.",
)
@click.option(
    "--feeder", default=None, metavar="ADDRESS", help="Account allowed to push oracle rounds [default: the deployer]."
)
@click.option(
    "--mocks/--no-mocks",
    default=None,
    help="Deploy a TestToken / MockOracle where the parameters name no collateral_token / market "
    "oracle [default: only on local networks; elsewhere a missing address is an error].",
)
def cli(ecosystem, network, provider, account, params_path, manifest_path, resume, force, yes, feeder, mocks):
    """Deploy token, oracles, configurator, engine, pool and lens, list the markets (and, when the
    parameters enable them, FundingSwaps and FundingCaps with their maturities and products), write a manifest."""
    chain_id = int(provider.chain_id)
    manifest_path = manifest_path or _default_manifest(ecosystem.name, network.name, chain_id)

    if manifest_path.exists():
        try:
            existing = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{manifest_path}: exists but is not a readable manifest: {exc}") from exc
        if resume and force:
            raise click.UsageError("--resume and --force exclude each other")
        if force:
            refusal = force_refusal(
                existing, chain_id, bool(network.is_local), lambda a: len(chain.provider.get_code(a))
            )
            if refusal:
                raise click.ClickException(f"refusing --force over {manifest_path}: {refusal}")
            click.echo(f"--force: deploying again over {manifest_path} (chain id {existing.get('chain_id')}).")
        elif not resume:
            raise click.ClickException(
                f"manifest {manifest_path} already exists (chain id {existing.get('chain_id')}, block "
                f"{existing.get('block_number')}); refusing to deploy over it. Pass --resume to check and "
                "reuse that deployment, --force to replace it (local networks, or a chain where it has no "
                "code), or choose another --manifest"
            )
        else:
            _resume(manifest_path, existing, chain_id)
            return
    if resume:
        click.echo(f"{manifest_path} does not exist: nothing to resume, deploying.")

    try:
        params = load_params(params_path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc

    deployer = _resolve_account(account, network)
    feeder_address = deployer.address
    handover = False
    feeder_signer = deployer
    if feeder:
        try:
            feeder_address = chain.conversion_manager.convert(feeder, AddressType)
        except Exception as exc:  # noqa: BLE001 - ape raises ConversionError subclasses
            raise click.BadParameter(f"not an address: {feeder!r} ({exc})", param_hint="--feeder") from exc
        if feeder_address != deployer.address:
            signer = _signer_for(feeder_address)
            if signer is not None and signer.balance > 0:
                feeder_signer = signer
            else:
                # deploy_protocol pushes each oracle's first round as the feeder; without a key
                # for it, the deployer feeds that round and then hands the role over.
                handover = True

    if yes:
        enable_autosign(deployer)
        if feeder_signer is not deployer:
            enable_autosign(feeder_signer)

    # Compile (if stale) before the first transaction so compile time is not deploy time.
    # ape's own staleness check is per file and misses edits to the Engine's modules (and can
    # keep an old Engine after a checkout): recompile unless the cache is of these sources.
    if ensure_compiled(project):
        click.echo("Compiled the contracts afresh (ape's cache was not built from these sources).")
    names = (
        "TestToken",
        "MockOracle",
        "MarketConfigurator",
        "EngineAdmin",
        "Engine",
        "LiquidityPool",
        "EngineLens",
        "OrderBook",
    )
    names += ("FundingSwaps",) if params.deploys_swaps() else ()
    names += ("FundingCaps",) if params.deploys_caps() else ()
    containers = {name: getattr(project, name) for name in names}

    deployed: list[tuple[str, Any]] = []
    nonces_before = {deployer.address: deployer.nonce}
    if feeder_signer is not deployer:
        nonces_before[feeder_signer.address] = feeder_signer.nonce
    start_height = chain.blocks.height

    def deploy_fn(name: str, *args: Any) -> Any:
        instance = containers[name].deploy(*args, sender=deployer)
        deployed.append((name, instance))
        return instance

    allow_mocks = mocks if mocks is not None else network.name == "local"
    click.echo(
        f"Deploying vyperp on {provider.network_choice} (chain id {chain_id}) from {deployer.address}"
        + ("" if allow_mocks else " (no test doubles)")
    )
    try:
        protocol: Protocol = deploy_protocol(
            deploy_fn,
            params,
            deployer,
            feeder_signer,
            at=lambda name, address: containers[name].at(address),
            mocks=allow_mocks,
            now=lambda: int(chain.pending_timestamp),
        )
        if handover:
            for oracle in protocol.oracles:
                oracle.set_feeder(feeder_address, True, sender=deployer)
                oracle.set_feeder(deployer.address, False, sender=deployer)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception:
        if deployed:
            click.echo("Deployment failed after deploying:", err=True)
            for name, instance in deployed:
                click.echo(f"  {name:20s} {instance.address}", err=True)
        raise

    receipts = [chain.get_receipt(instance.txn_hash) for _, instance in deployed if instance.txn_hash]
    first_block = min((r.block_number for r in receipts), default=start_height + 1)
    last_block = chain.blocks.height
    transactions = sum(
        (deployer.nonce if address == deployer.address else feeder_signer.nonce) - before
        for address, before in nonces_before.items()
    )
    addresses = protocol.addresses()
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "project": "vyperp",
        "ecosystem": ecosystem.name,
        "network": network.name,
        "network_choice": provider.network_choice,
        "chain_id": chain_id,
        "block_number": first_block,
        "last_block": last_block,
        "block_timestamp": chain.blocks.head.timestamp,
        "deployer": deployer.address,
        "rpc_url": _rpc_url(provider),
        "feeder": feeder_address,
        "feeder_handover": handover,
        "roles": {
            "admin": str(protocol.configurator.admin()),
            "guardians": [deployer.address],
            "feeder": feeder_address,
        },
        "addresses": addresses,
        "market_ids": {symbol: i for i, symbol in enumerate(protocol.symbols)},
        **protocol.record(),
        "params_file": str(params_path),
        "params_sha256": hashlib.sha256(Path(params_path).read_bytes()).hexdigest(),
        "params": params_to_json(params),
        "vyper_version": _vyper_version(),
        "transactions": transactions,
        "deployed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(manifest_path)

    rows = [(key, addresses[key], "") for key in CONTRACT_KEYS if addresses.get(key)]
    rows += [
        (f"oracle {symbol}", address, f"market {i}") for i, (symbol, address) in enumerate(addresses["oracles"].items())
    ]
    _print_table(f"vyperp on {provider.network_choice} (chain id {chain_id})", rows, ("contract", "address", "note"))
    click.echo(f"{transactions} transactions, blocks {first_block}..{last_block}; manifest: {manifest_path}")
