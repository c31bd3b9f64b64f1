"""`ape run keeper|feed|traders`: the operator commands with ape's ``--network`` and ``--account``.

    .venv/bin/ape run keeper --network ethereum:local:foundry --account TEST::0 --manifest deployments/x.json
    .venv/bin/ape run feed   --network ethereum:sepolia:node  --account feeder  --manifest deployments/x.json --scenario crash-30pct

ape connects to the network (its provider's HTTP URI is the node the command talks to)
and the ape account signs: :class:`ApeSigner` hands each transaction the
:class:`~vyperp.chain.signing_chain.SigningChain` prepared (nonce, gas, capped fees) to
``account.sign_transaction`` and sends the serialized result with
``eth_sendRawTransaction``. A keyfile account is unlocked once at start with autosign
(its passphrase from ``APE_ACCOUNTS_<alias>_PASSPHRASE`` or a prompt), so a long-running
keeper does not ask per transaction. Everything else -- options, retries, state, errors --
is the ``vyperp`` commands' (:mod:`vyperp.ops.commands`). ape is imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..chain.errors import ChainError
from .commands import feed_options, keeper_options, load_manifest_option, manifest_options, run_feed, run_keeper
from .connect import SendSettings, send_options, signing_chain


class ApeSigner:
    """A :class:`vyperp.chain.keys.Signer` over an ape account (keyfile, test or plugin account)."""

    def __init__(self, account: Any, provider: Any):
        self.account = account
        self.provider = provider

    @property
    def address(self) -> str:
        return str(self.account.address)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """Raises ChainError if the account declines or cannot sign."""
        fields: dict[str, Any] = {
            "chain_id": tx["chainId"],
            "nonce": tx["nonce"],
            "gas_limit": tx["gas"],
            "value": tx.get("value", 0),
            "data": tx.get("data", b""),
        }
        if tx.get("to") is not None:
            fields["receiver"] = tx["to"]
        if "gasPrice" in tx:
            fields.update(type=0, gas_price=tx["gasPrice"])
        else:
            fields.update(type=2, max_fee=tx["maxFeePerGas"], max_priority_fee=tx["maxPriorityFeePerGas"])
        txn = self.provider.network.ecosystem.create_transaction(**fields)
        try:
            signed = self.account.sign_transaction(txn)
        except Exception as e:  # noqa: BLE001 - ape's signers raise their own error types
            raise ChainError(f"ape account {self.address} could not sign: {e}") from None
        if signed is None:
            raise ChainError(f"ape account {self.address} declined to sign")
        return bytes(signed.serialize_transaction())


def unlock(account: Any) -> None:
    """Switch a keyfile account to autosign (asks for its passphrase once, or reads
    ``APE_ACCOUNTS_<alias>_PASSPHRASE``). Raises ClickException if it stays locked."""
    set_autosign = getattr(account, "set_autosign", None)
    if set_autosign is None:
        return  # test accounts and plugin accounts sign without it
    try:
        set_autosign(True)
    except Exception as e:  # noqa: BLE001 - ape raises AccountsError / InvalidPasswordError
        raise click.ClickException(f"ape account {getattr(account, 'alias', account)} is locked: {e}") from None


def _chain(provider: Any, account: Any, manifest: dict[str, Any] | None, send: SendSettings) -> Any:
    if account is None:
        raise click.UsageError("give --account (an ape account alias, or TEST::0 on a local network)")
    url = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not url:
        raise click.ClickException(f"ape's provider {provider.name} has no HTTP URI for JSON-RPC")
    unlock(account)
    return signing_chain(str(url), [ApeSigner(account, provider)], send, manifest)


def ape_keeper_command() -> click.Command:
    from ape.cli import ConnectedProviderCommand, account_option, network_option

    @click.command("cli", cls=ConnectedProviderCommand, short_help="Run the liquidation keeper")
    @network_option()
    @account_option()
    @manifest_options
    @send_options
    @keeper_options
    def cli(provider: Any, account: Any, manifest_path: Path | None, log_level: str, **kw: Any) -> None:
        """The vyperp keeper on ape's network, signing with an ape account (see `vyperp keeper --help`)."""
        from .keeper import setup_logging

        setup_logging(log_level.upper())
        manifest = load_manifest_option(manifest_path)
        send = SendSettings.pop(kw)
        chain = _chain(provider, account, manifest, send)
        run_keeper(chain, chain.default_sender, manifest, send, **kw)

    return cli


def ape_feed_command() -> click.Command:
    from ape.cli import ConnectedProviderCommand, account_option, network_option

    @click.command("cli", cls=ConnectedProviderCommand, short_help="Push a price path into the MockOracles")
    @network_option()
    @account_option()
    @manifest_options
    @send_options
    @feed_options
    def cli(provider: Any, account: Any, manifest_path: Path | None, log_level: str, **kw: Any) -> None:
        """The vyperp feeder on ape's network, signing with an ape account (see `vyperp feed --help`)."""
        from .keeper import setup_logging

        setup_logging(log_level.upper())
        manifest = load_manifest_option(manifest_path)
        send = SendSettings.pop(kw)
        chain = _chain(provider, account, manifest, send)
        run_feed(chain, chain.default_sender, manifest, **kw)

    return cli


def ape_traders_command() -> click.Command:
    from ape.cli import ConnectedProviderCommand, account_option, network_option

    from .traders import run_traders, traders_options

    @click.command("cli", cls=ConnectedProviderCommand, short_help="Fund traders and open leveraged positions")
    @network_option()
    @account_option()
    @manifest_options
    @send_options
    @traders_options
    def cli(provider: Any, account: Any, manifest_path: Path | None, log_level: str, **kw: Any) -> None:
        """vyperp traders on ape's network; the ape account is the funder (see `vyperp traders --help`)."""
        from .keeper import setup_logging

        setup_logging(log_level.upper())
        manifest = load_manifest_option(manifest_path)
        if manifest is None:
            raise click.UsageError("--manifest is required (token, engine and pool addresses)")
        send = SendSettings.pop(kw)
        chain = _chain(provider, account, manifest, send)
        run_traders(chain, manifest, **kw)

    return cli


__all__ = ["ApeSigner", "ape_feed_command", "ape_keeper_command", "ape_traders_command", "unlock"]
