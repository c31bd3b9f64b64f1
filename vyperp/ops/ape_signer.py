"""Signing through ape: a :data:`vyperp.ops.admin.Send` from an ape account, ape's provider as
the JSON-RPC transport, and unattended signing (``--yes``) for keyfile accounts.

Used by the ``ape run`` scripts (scripts/admin.py, scripts/deploy.py); ape is imported
only when these functions run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..chain.contract import Contract
from ..chain.errors import ChainError
from .admin import Request, Send, rpc_revert


def provider_request(provider: Any) -> Request:
    """JSON-RPC requests through ape's connected `provider`, via its web3 instance's request
    manager (which formats them for any backend, eth-tester's included; ape's own
    ``make_request`` hands eth_getLogs to eth-tester unformatted)."""
    web3 = provider.web3

    def request(method: str, params: list[Any]) -> Any:
        if method == "eth_getLogs":  # the web3 request manager mangles a raw log filter
            query = dict(params[0])
            for key in ("fromBlock", "toBlock"):
                if isinstance(query.get(key), str) and query[key].startswith("0x"):
                    query[key] = int(query[key], 16)
            return web3.eth.get_logs(query)
        return web3.manager.request_blocking(method, params)

    return request


def enable_autosign(account: Any) -> None:
    """Let `account` sign without a prompt per transaction. A keyfile account is unlocked
    once: with the passphrase in ``APE_ACCOUNTS_<alias>_PASSPHRASE`` (ape reads it), else
    asked once on the terminal. Test accounts never prompt (nothing to do).

    Raises click.ClickException if the account cannot be unlocked."""
    import click

    set_autosign = getattr(account, "set_autosign", None)
    if set_autosign is None:
        return
    try:
        set_autosign(True)
    except Exception as exc:  # noqa: BLE001 - ape's AccountsError / InvalidPasswordError
        alias = getattr(account, "alias", account)
        raise click.ClickException(
            f"cannot unlock account {alias!r} for unattended signing: {exc} "
            f"(set APE_ACCOUNTS_{alias}_PASSPHRASE, or run without --yes)"
        ) from exc


def ape_send(account: Any, provider: Any) -> Send:
    """A :data:`Send` that signs with the ape `account` on `provider`: a preflight eth_call
    from the account gives the revert reason (raised as Reverted, nothing is signed), then
    ape prepares (nonce, gas, fees), signs and sends the transaction and waits for its receipt.
    Raises ChainError if ape refuses (declined signature, no funds) or the transaction fails."""
    from ape.exceptions import ApeException

    from ..chain.ape_chain import _raw_logs

    def send(contract: Contract, function: str, args: tuple[Any, ...]) -> Sequence[Any]:
        data = contract.functions[function].calldata(*args)
        call = {"from": str(account.address), "to": contract.address, "data": "0x" + data.hex()}
        try:
            provider.make_request("eth_call", [call, "latest"])
        except Exception as exc:  # noqa: BLE001 - ape wraps node errors in its own types
            raise rpc_revert(exc) from exc  # Reverted with the reason, else ChainError
        txn = provider.network.ecosystem.create_transaction(
            chain_id=provider.chain_id, sender=account.address, receiver=contract.address, data=data
        )
        try:
            receipt = account.call(txn)
        except ApeException as exc:
            raise ChainError(f"ape did not send {function}: {exc}") from exc
        if receipt.failed:
            raise ChainError(f"{function}: transaction {receipt.txn_hash} failed on chain")
        return _raw_logs(receipt)

    return send


__all__ = ["ape_send", "enable_autosign", "provider_request"]
