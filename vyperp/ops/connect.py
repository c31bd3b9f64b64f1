"""How the operator commands (keeper, feed, traders) reach a node and sign.

Two transports, chosen by the options:

* **signing** (a key is given: ``--keystore FILE``, ``--key-env NAME``, or in ``ape run``
  an ape ``--account``): a :class:`vyperp.chain.signing_chain.SigningChain` -- local
  signatures, ``eth_sendRawTransaction``, works on any node (testnet, L2, mainnet).
* **impersonation** (``--impersonate``, or no key at all): the old
  :class:`vyperp.chain.rpc_chain.RpcChain` that sends from any address by anvil's
  impersonation (a local anvil or an anvil fork only).

:func:`send_options` adds the fee / confirmation / retry / dry-run options, and
:func:`rpc_options` the node and key options of the ``vyperp`` commands; the ``ape run``
scripts take ape's ``--network`` and ``--account`` instead (:mod:`vyperp.ops.ape_commands`).
Every failure to connect or to load a key becomes a ``click.ClickException`` (a one-line
error, no traceback).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from ..chain.errors import ChainError
from ..chain.fees import FeePolicy
from ..chain.keys import KeySourceError, Signer, key_from_env, load_keystore
from ..chain.signing_chain import SendPolicy, SigningChain

DEFAULT_PASSWORD_ENV = "VYPERP_KEYSTORE_PASSWORD"


def send_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--max-fee-gwei``, ``--priority-fee-gwei``, ``--confirmations``, ``--max-retries``,
    ``--receipt-timeout``, ``--dry-run`` (used by the signing transport)."""
    options = [
        click.option(
            "--max-fee-gwei",
            type=float,
            default=100.0,
            show_default=True,
            help="Cap on the fee per gas (EIP-1559 maxFeePerGas = min(cap, 2 x base fee + tip); legacy gasPrice).",
        ),
        click.option(
            "--priority-fee-gwei",
            type=float,
            default=None,
            help="Tip per gas [default: the node's eth_maxPriorityFeePerGas].",
        ),
        click.option(
            "--confirmations",
            type=click.IntRange(0),
            default=1,
            show_default=True,
            help="Blocks that must include a transaction before it counts (1 = mined; 0 is taken as 1); "
            "the keeper also reads events only down to confirmations - 1 blocks below the head.",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(0),
            default=5,
            show_default=True,
            help="Re-sends per transaction (replaced, stuck, dropped, nonce or fee refused) before giving up.",
        ),
        click.option(
            "--receipt-timeout",
            type=float,
            default=120.0,
            show_default=True,
            help="Seconds to wait for a receipt before re-sending with higher fees.",
        ),
        click.option(
            "--dry-run",
            is_flag=True,
            help="Only report (log) what would be sent: preflight eth_call and eth_estimateGas, nothing signed or sent.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def rpc_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--rpc-url``, ``--keystore``, ``--password-env``, ``--key-env``, ``--impersonate``."""
    options = [
        click.option("--rpc-url", default="http://127.0.0.1:8545", show_default=True, help="The node's JSON-RPC URL."),
        click.option(
            "--keystore",
            type=click.Path(dir_okay=False),
            default=None,
            help="JSON keystore of the sending account (geth/ape/cast format); password from --password-env or a prompt.",
        ),
        click.option(
            "--password-env",
            default=DEFAULT_PASSWORD_ENV,
            show_default=True,
            metavar="NAME",
            help="Environment variable holding the keystore password (prompted for when unset, on a terminal).",
        ),
        click.option(
            "--key-env",
            default=None,
            metavar="NAME",
            help="Environment variable holding the sending account's hex private key (e.g. VYPERP_KEEPER_KEY).",
        ),
        click.option(
            "--impersonate",
            is_flag=True,
            help="Send by anvil impersonation (anvil or an anvil fork only; no key). The default when no key is given.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass(frozen=True)
class SendSettings:
    """The values of :func:`send_options`."""

    max_fee_gwei: float = 100.0
    priority_fee_gwei: float | None = None
    confirmations: int = 1
    max_retries: int = 5
    receipt_timeout: float = 120.0
    dry_run: bool = False

    @classmethod
    def pop(cls, kw: dict[str, Any]) -> SendSettings:
        """Take the options out of a command's keyword arguments."""
        return cls(**{name: kw.pop(name) for name in cls.__dataclass_fields__ if name in kw})

    def fees(self) -> FeePolicy:
        return FeePolicy.from_gwei(self.max_fee_gwei, self.priority_fee_gwei)

    def policy(self) -> SendPolicy:
        return SendPolicy(
            confirmations=max(1, self.confirmations),
            max_retries=self.max_retries,
            receipt_timeout=self.receipt_timeout,
            dry_run=self.dry_run,
        )


def keystore_password(path: str, env: str) -> str:
    """The keystore's password: ``$env``, else a hidden prompt on a terminal.

    Raises ClickException when neither is available (no prompt in a pipe or a service)."""
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise click.ClickException(f"keystore {path} is locked: set {env} to its password (no terminal to ask on)")
    return str(click.prompt(f"Password for {path}", hide_input=True))


def load_signer(keystore: str | None, password_env: str, key_env: str | None) -> Signer | None:
    """The signer the options name (None: none named). Raises ClickException for a
    missing file, a wrong password, an unset variable or two sources at once."""
    if keystore and key_env:
        raise click.UsageError("give --keystore or --key-env, not both")
    try:
        if keystore:
            return load_keystore(keystore, keystore_password(keystore, password_env))
        if key_env:
            return key_from_env(key_env)
    except KeySourceError as e:
        raise click.ClickException(str(e)) from None
    return None


def check_manifest_chain(chain: Any, manifest: dict[str, Any] | None, url: str) -> None:
    """Raise ClickException if the manifest names another chain id than the node's."""
    if manifest is not None and manifest.get("chain_id") not in (None, chain.chain_id):
        raise click.ClickException(
            f"the manifest is for chain id {manifest.get('chain_id')}, the node at {url} has {chain.chain_id}"
        )


def signing_chain(url: str, signers: Sequence[Signer], send: SendSettings, manifest: dict[str, Any] | None) -> Any:
    """A :class:`SigningChain` on `url` for `signers`. Raises ClickException if the node
    cannot be reached or is on another chain than the manifest."""
    try:
        chain = SigningChain(url, signers, fees=send.fees(), policy=send.policy())
    except (ChainError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    check_manifest_chain(chain, manifest, url)
    return chain


def connect(
    rpc_url: str,
    manifest: dict[str, Any] | None,
    *,
    keystore: str | None = None,
    password_env: str = DEFAULT_PASSWORD_ENV,
    key_env: str | None = None,
    impersonate: bool = False,
    send: SendSettings | None = None,
) -> tuple[Any, str | None]:
    """The chain the options ask for and the signing address (None when impersonating).

    Raises ClickException (see :func:`load_signer`, :func:`signing_chain`), or UsageError
    for a key together with ``--impersonate``."""
    send = send or SendSettings()
    signer = load_signer(keystore, password_env, key_env)
    if signer is not None and impersonate:
        raise click.UsageError("--impersonate sends without keys: drop it, or drop --keystore/--key-env")
    if signer is None:
        from ..chain.rpc_chain import RpcChain

        if send.dry_run:
            raise click.UsageError(
                "--dry-run needs a key (--keystore or --key-env): it reports what that key would send"
            )
        try:
            chain = RpcChain(rpc_url)
        except ChainError as e:
            raise click.ClickException(
                f"{e}\n(no key given, so transactions would be sent by anvil impersonation; "
                "on another node give --keystore or --key-env)"
            ) from None
        check_manifest_chain(chain, manifest, rpc_url)
        return chain, None
    chain = signing_chain(rpc_url, [signer], send, manifest)
    return chain, chain.default_sender


__all__ = [
    "DEFAULT_PASSWORD_ENV",
    "SendSettings",
    "check_manifest_chain",
    "connect",
    "keystore_password",
    "load_signer",
    "rpc_options",
    "send_options",
    "signing_chain",
]
