"""`vyperp admin ...` (and `ape run admin ...`, scripts/admin.py): administer a deployment
from its manifest through the MarketConfigurator.

    vyperp admin status       --manifest deployments/x.json --rpc-url http://127.0.0.1:8545
    vyperp admin pause BTC    --manifest ... --sender 0xGUARDIAN
    vyperp admin set BTC.taker_fee 0.0006 --manifest ... --yes
    ape run admin set BTC.rate_limit.window 600 --network ethereum:sepolia:node --account admin --manifest ...

Every change shows old -> new in human units, asks for confirmation unless --yes, sends
one transaction and prints the events it emitted. The subcommands are defined once
(:func:`admin_group`); the two entry points differ only in how they connect and sign:
`vyperp admin` sends through `RpcChain` by anvil impersonation (--rpc-url, --sender), the
ape script through an ape account (--network, --account).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..chain.errors import ChainError, Reverted
from . import admin as ops

ConnectOptions = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass
class Connection:
    """What a subcommand needs: the deployment, the signing layer and who signs."""

    deployment: ops.Deployment
    send: Callable[[], ops.Send]  # built on first use (an ape keyfile may ask for a passphrase)
    sender: str
    yes: bool
    dry_run: bool = False  # show the change and preflight it (eth_call), send nothing


Connect = Callable[[dict[str, Any]], Connection]
"""Builds the Connection from the subcommand's connection options (removed from the dict)."""


# ----------------------------------------------------------------------------- output
def _console() -> Any:
    from rich.console import Console

    return Console()


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


def _show_value(value: Any, key: str = "") -> str:
    if key == "roles" and isinstance(value, int):
        return ops.role_names(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return "{" + ", ".join(f"{k}={ops.human(k, v)}" for k, v in zip(value._fields, value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show_value(v) for v in value) + "]"
    return str(value)


def _run_change(conn: Connection, change: ops.Change) -> None:
    d = conn.deployment
    console = _console()
    console.print(_table(change.summary, ("", "now", "after"), [(w, o, n) for w, o, n in change.rows]))
    target = d.contracts[change.target]
    if change.target == "configurator":
        holds = ops.role_names(int(d.configurator.roles_of(conn.sender)))
    else:
        from .admin_products import product_admin

        owner = product_admin(d, change)
        holds = change.role if owner.lower() == conn.sender.lower() else "none"
    click.echo(f"sender {conn.sender} (roles: {holds}; needs: {change.role}), {change.target} {target.address}")
    if not change.changes_anything:
        click.echo("nothing to change: no transaction sent")
        return
    if change.target != "configurator" and holds == "none":
        raise ops.AdminError(
            f"sender {conn.sender} is not the {change.target} admin ({owner}): nothing sent "
            f"(FundingSwaps / FundingCaps accept changes only from their admin)"
        )
    if conn.dry_run:
        reason = ops.preflight(d, change, conn.sender)
        verdict = "would succeed" if reason is None else f"would revert: {reason}"
        click.echo(f"dry run: {change.function} {verdict}; nothing sent")
        return
    if not conn.yes:
        click.confirm(f"send {change.function}?", abort=True)
    try:
        events = ops.apply(d, change, conn.send())
    except Reverted as exc:
        raise click.ClickException(
            f"{change.function} reverted: {exc.reason or '(no reason)'} (sender {conn.sender} holds {holds})"
        ) from exc
    except ChainError as exc:
        raise click.ClickException(f"{change.function} was not sent: {exc}") from exc
    for event in events:
        args = ", ".join(f"{k}={_show_value(v, k)}" for k, v in event.args.items())
        click.echo(f"  event {event.name}({args})")
    click.echo(f"{change.function}: done, {len(events)} events")


def _show_status(conn: Connection) -> None:
    s = ops.status(conn.deployment)
    console = _console()
    d = conn.deployment
    pending = s.pending_admin if int(s.pending_admin, 16) else "(none)"
    console.print(
        f"chain id {s.chain_id}, block {s.block:,}; network {d.manifest.get('network_choice', '?')}; "
        f"configurator {d.configurator.address}, engine {d.engine.address}"
    )
    console.print(f"admin {s.admin}; pending admin {pending}")
    console.print(_table("roles", ("account", "roles"), sorted(s.roles.items())))
    rows = [
        ("index price (USD)", *(m.index_price for m in s.markets)),
        ("paused", *("yes" if m.paused else "no" for m in s.markets)),
        ("settled at (USD)", *(m.settlement_price or "-" for m in s.markets)),
    ]
    for name in s.markets[0].fields if s.markets else ():
        rows.append((name, *(m.fields[name] for m in s.markets)))
    console.print(_table("markets", ("", *(f"{m.symbol} ({m.market})" for m in s.markets)), rows))
    liquidation = [(k, v) for k, v in s.liquidation.items()] + [("tiers (ratio below:fraction)", s.tiers)]
    console.print(_table("liquidation", ("field", "value"), liquidation))
    console.print(_table("balances", ("", "value"), list(s.balances.items())))
    from .admin_products import products_status

    for title, rows in products_status(d):
        console.print(_table(title, ("", "value"), rows))


# ----------------------------------------------------------------------------- group
def _guarded(conn_factory: Callable[[], Connection], action: Callable[[Connection], None]) -> None:
    try:
        action(conn_factory())
    except ops.AdminError as exc:
        raise click.ClickException(str(exc)) from exc
    except ChainError as exc:
        raise click.ClickException(str(exc)) from exc


MARKET = click.argument("market", metavar="MARKET")


def admin_group(
    name: str,
    connect_options: ConnectOptions,
    connect: Connect,
    command_cls: type[click.Command] = click.Command,
) -> click.Group:
    """The admin subcommands, each with `connect_options` (how to reach and sign) and built
    into a Connection by `connect`."""

    @click.group(name, short_help="Administer a deployment (roles, pause, settle, parameters, funding products)")
    def group() -> None:
        """Administer a deployment from its manifest through the MarketConfigurator: read its
        state, pause/unpause/settle markets, change parameters by name, grant and revoke
        GUARDIAN, and move ADMIN in two steps (propose-admin, then accept-admin); and the
        funding products: FundingSwaps / FundingCaps parameters (set swaps.FIELD, caps.FIELD),
        list-maturity, list-product. Every change can be --dry-run first."""

    def subcommand(sub_name: str, short: str, action: Callable[..., ops.Change | None]) -> Callable[..., Any]:
        def decorate(f: Callable[..., Any]) -> click.Command:
            def callback(**kwargs: Any) -> None:
                options = {k: kwargs.pop(k) for k in list(kwargs) if k.startswith("c_")}
                own = kwargs

                def run(conn: Connection) -> None:
                    change = action(conn, **own)
                    if change is not None:
                        _run_change(conn, change)

                _guarded(lambda: connect(options), run)

            callback.__doc__ = f.__doc__
            command = click.command(sub_name, cls=command_cls, short_help=short)(connect_options(callback))
            command.params[:0] = list(reversed(getattr(f, "__click_params__", [])))
            group.add_command(command)
            return command

        return decorate

    @subcommand("status", "Roles, markets and key parameters, from the chain", lambda c: _show_status(c))
    def status() -> None:
        """Roles (from the configurator's RolesUpdated events), the admin and a pending one,
        every market (index price, paused, settlement price, fees, caps, rate limit), the
        liquidation configuration and the pool and insurance balances, in human units."""

    @subcommand(
        "pause",
        "Pause a market (reductions and closes only)",
        lambda c, market: ops.plan_pause(c.deployment, market, True),
    )
    @MARKET
    def pause() -> None:
        """Pause MARKET (a manifest symbol or market id): only reductions and closes trade. GUARDIAN."""

    @subcommand("unpause", "Resume a paused market", lambda c, market: ops.plan_pause(c.deployment, market, False))
    @MARKET
    def unpause() -> None:
        """Resume trading on MARKET. GUARDIAN."""

    @subcommand(
        "settle",
        "Settle a market at a price (delisting; irreversible)",
        lambda c, market, price: ops.plan_settle(c.deployment, market, price),
    )
    @MARKET
    @click.option("--price", required=True, help="Settlement price, USD per coin (e.g. 98500.5).")
    def settle() -> None:
        """Settlement mode for a delisting: MARKET closes at --price, every position closes
        there, withdrawals continue. Irreversible. GUARDIAN."""

    @subcommand(
        "set",
        "Change one parameter (read-modify-write)",
        lambda c, param, value: ops.plan_set(c.deployment, param, value),
    )
    @click.argument("param")
    @click.argument("value")
    def set_() -> None:
        """Set PARAM to VALUE: reads the struct it belongs to from the engine, changes that one
        field, and sends the whole struct through the configurator (which validates it).
        ADMIN."""

    set_cmd = group.commands["set"]
    set_cmd.help = inspect.cleandoc(set_cmd.help or "") + "\n\n" + ops.PARAM_HELP

    from . import admin_products as products

    when = [
        click.option("--at", type=int, default=None, help="Unix time."),
        click.option(
            "--days",
            type=float,
            default=None,
            help="Days from the chain's latest block time, rounded up to the next 8-hour funding boundary.",
        ),
    ]

    def with_when(f: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(when):
            f = option(f)
        return f

    @subcommand(
        "list-maturity",
        "List a FundingSwaps maturity on a market",
        lambda c, market, at, days: products.plan_list_maturity(c.deployment, market, at, days),
    )
    @MARKET
    @with_when
    def list_maturity() -> None:
        """Open a FundingSwaps book on MARKET maturing at --at (unix time) or --days from now
        (rounded up to an 8-hour boundary); at most 8 per market. FundingSwaps' admin."""

    @subcommand(
        "list-product",
        "List a FundingCaps cap or floor strip",
        lambda c, market, kind, strike, at, days, period, periods, max_notional: products.plan_list_product(
            c.deployment, market, kind, strike, at, days, period, periods, max_notional
        ),
    )
    @MARKET
    @click.option("--kind", type=click.Choice(["cap", "floor"]), default="cap", show_default=True, help="Cap or floor.")
    @click.option("--strike", required=True, help="Strike per 8h (a fraction, signed; e.g. 0.0003).")
    @with_when
    @click.option("--period", type=int, default=28800, show_default=True, help="Seconds per caplet (<= 30 days).")
    @click.option("--periods", type=int, default=21, show_default=True, help="Number of caplets (1..32).")
    @click.option("--max-notional", required=True, help="The most notional the product sells (USD).")
    def list_product() -> None:
        """List a strip of --periods caplets (floorlets with --kind floor) on MARKET's funding rate
        at --strike, the first period starting at --at or --days from now (rounded up to an 8-hour
        boundary). FundingCaps' admin. The contract refuses a strike at or beyond the funding cap."""

    role_choice = click.argument("role", type=click.Choice(["guardian", "admin"], case_sensitive=False))
    account = click.argument("account", metavar="ACCOUNT")

    @subcommand(
        "grant-role",
        "Grant GUARDIAN to an account",
        lambda c, role, account: ops.plan_roles(c.deployment, account, role, True),
    )
    @role_choice
    @account
    def grant_role() -> None:
        """Grant ROLE (guardian) to ACCOUNT, keeping its other roles. ADMIN. (ADMIN itself
        moves only with propose-admin / accept-admin.)"""

    @subcommand(
        "revoke-role",
        "Revoke GUARDIAN from an account",
        lambda c, role, account: ops.plan_roles(c.deployment, account, role, False),
    )
    @role_choice
    @account
    def revoke_role() -> None:
        """Revoke ROLE (guardian) from ACCOUNT. ADMIN."""

    @subcommand(
        "propose-admin",
        "Step 1 of moving ADMIN: propose the new admin",
        lambda c, address: ops.plan_propose_admin(c.deployment, address),
    )
    @click.argument("address")
    def propose_admin() -> None:
        """Propose ADDRESS as the next admin. Nothing moves until ADDRESS runs accept-admin;
        proposing again replaces the proposal, cancel-admin withdraws it. ADMIN."""

    @subcommand(
        "accept-admin",
        "Step 2 of moving ADMIN: the proposed account takes it",
        lambda c: ops.plan_accept_admin(c.deployment),
    )
    def accept_admin() -> None:
        """Take ADMIN as the proposed account (the sender must be the pending admin); the
        previous admin loses ADMIN and keeps its other roles."""

    @subcommand("cancel-admin", "Withdraw a pending admin proposal", lambda c: ops.plan_cancel_admin(c.deployment))
    def cancel_admin() -> None:
        """Withdraw the pending admin proposal. ADMIN."""

    return group


# ----------------------------------------------------------------------------- vyperp admin (RPC)
def dry_run_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--dry-run`` as every admin entry point takes it."""
    return click.option(
        "--dry-run",
        "c_dry_run",
        is_flag=True,
        help="Show the change and whether it would succeed (an eth_call from the sender); send nothing.",
    )(f)


def _rpc_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = dry_run_option(f)
    f = click.option("--yes", "c_yes", is_flag=True, help="Do not ask for confirmation before sending.")(f)
    f = click.option(
        "--sender",
        "c_sender",
        default=None,
        metavar="ADDRESS",
        help="Account the transaction is sent from (by anvil impersonation) [default: the manifest's deployer].",
    )(f)
    f = click.option(
        "--rpc-url",
        "c_rpc_url",
        default=None,
        help="JSON-RPC URL of an anvil node (changes are sent by impersonation) "
        "[default: the manifest's rpc_url, else http://127.0.0.1:8545].",
    )(f)
    return manifest_option(f)


def manifest_option(f: Any) -> Any:
    """``--manifest`` (required) as every admin entry point takes it (vyperp admin, ape run admin)."""
    return click.option(
        "--manifest",
        "c_manifest",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="Deployment manifest JSON written by `ape run deploy`.",
    )(f)


def _rpc_connect(options: dict[str, Any]) -> Connection:
    from ..chain.rpc_chain import RpcChain

    manifest = ops.load_manifest(options["c_manifest"])
    url = options["c_rpc_url"] or manifest.get("rpc_url") or "http://127.0.0.1:8545"
    try:
        chain = RpcChain(url, timeout=30.0)
    except (ChainError, OSError) as exc:
        raise ChainError(f"cannot use the node at {url}: {exc}") from exc
    deployment = ops.Deployment.open(manifest, lambda method, params: chain.rpc(method, *params))
    sender = options["c_sender"] or manifest.get("deployer")
    if not sender:
        raise ops.AdminError("give --sender (the manifest names no deployer)")
    from eth_utils import is_address, to_checksum_address

    if not is_address(sender):
        raise ops.AdminError(f"--sender: not an address: {sender!r}")
    sender = to_checksum_address(sender)
    return Connection(
        deployment,
        lambda: ops.impersonating_send(chain, sender),
        sender,
        bool(options["c_yes"]),
        bool(options.get("c_dry_run")),
    )


admin = admin_group("admin", _rpc_options, _rpc_connect)

COMMANDS = [admin]

__all__ = ["COMMANDS", "Connection", "admin", "admin_group", "dry_run_option"]
