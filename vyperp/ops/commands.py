"""`vyperp keeper`, `vyperp feed` and `vyperp traders`: operate a deployment from its
manifest (`ape run deploy` writes it) against a JSON-RPC node. The same commands run under
ape as `ape run keeper|feed|traders` (scripts/, :mod:`vyperp.ops.ape_commands`).

Transactions are signed here with the key that ``--keystore`` or ``--key-env`` names and
sent with ``eth_sendRawTransaction`` (any node: a testnet, an L2, a local anvil); without
a key, or with ``--impersonate``, they go by anvil impersonation (a local anvil or a fork
only). See :mod:`vyperp.ops.connect`.

Every command turns a node, key or chain failure into a one-line error (click's
``Error: ...``, exit status 1), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..chain.errors import ChainError
from .connect import SendSettings, connect, rpc_options, send_options


def manifest_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--log-level",
        default="INFO",
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        help="Logging level (DEBUG also logs every liquidatable account's margin ratio and every send).",
    )(f)
    f = click.option(
        "--manifest",
        "manifest_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Deployment manifest JSON written by `ape run deploy` (addresses, deploy block, chain id).",
    )(f)
    return f


def load_manifest_option(path: Path | None) -> dict[str, Any] | None:
    """The manifest at `path` (None: none given). Raises ClickException if unreadable."""
    if path is None:
        return None
    from .keeper import load_manifest

    try:
        return load_manifest(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


# ============================================================================ keeper
def keeper_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--engine", default=None, metavar="ADDRESS", help="Engine address [default: from --manifest]."),
        click.option("--lens", default=None, metavar="ADDRESS", help="EngineLens address [default: from --manifest]."),
        click.option(
            "--start-block",
            type=int,
            default=None,
            help="First block to scan when there is no state file [default: the manifest's deploy block, else 0].",
        ),
        click.option(
            "--state",
            "state_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="JSON state file (cursor block + open positions); the keeper resumes from it "
            "[default: .vyperp/keeper/<chain id>-<engine>.json].",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(1, 64),
            default=32,
            show_default=True,
            help="Accounts per liquidate_many / auto_deleverage transaction (engine maximum 64).",
        ),
        click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between polls."),
        click.option("--max-polls", type=int, default=None, help="Stop after this many polls [default: until Ctrl-C]."),
        click.option(
            "--sender",
            default=None,
            metavar="ADDRESS",
            help="With --impersonate: the keeper account (earns the rewards) [default: the label-derived "
            "vyperp-keeper account]. With a key: must be the key's address if given.",
        ),
        click.option("--log-range", type=int, default=5000, show_default=True, help="Blocks per eth_getLogs request."),
        click.option("--no-adl", is_flag=True, help="Never call auto_deleverage (only liquidate)."),
        click.option(
            "--swaps",
            "swaps_address",
            default=None,
            metavar="ADDRESS",
            help="FundingSwaps address [default: from --manifest, else the engine's bound swaps()].",
        ),
        click.option(
            "--caps",
            "caps_address",
            default=None,
            metavar="ADDRESS",
            help="FundingCaps address [default: from --manifest; none: no cap fixings].",
        ),
        click.option(
            "--no-products",
            is_flag=True,
            help="Ignore the funding products (no swap liquidations, settlements, cap fixings or observations).",
        ),
        click.option("--no-settle", is_flag=True, help="Do not settle matured swaps (FundingSwaps.settle)."),
        click.option(
            "--no-fix",
            is_flag=True,
            help="Do not fix cap boundaries (FundingCaps.fix); a late fix changes the caplets' payoffs.",
        ),
        click.option("--no-observe", is_flag=True, help="Do not record TWAP observations (FundingCaps.observe)."),
        click.option(
            "--claim", is_flag=True, help="Also claim fixed caplets' payouts for every buyer (FundingCaps.claim)."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _sender(given: str | None, signer: str | None, role: str) -> str | None:
    if signer is None or given is None:
        return signer or given
    if given.lower() != signer.lower():
        raise click.UsageError(f"--sender {given} is not the {role} key's address {signer}")
    return signer


def run_keeper(chain: Any, signer: str | None, manifest: dict[str, Any] | None, send: SendSettings, **kw: Any) -> None:
    """The keeper loop of `vyperp keeper` / `ape run keeper` on a connected chain."""
    from .keeper import Keeper, default_state_path

    addresses = (manifest or {}).get("addresses", {})
    engine = kw["engine"] or addresses.get("engine")
    lens = kw["lens"] or addresses.get("lens")
    if not engine or not lens:
        raise click.UsageError("give --manifest, or both --engine and --lens")
    start_block = kw["start_block"]
    if start_block is None:
        start_block = int((manifest or {}).get("block_number") or 0)
    state_path = kw["state_path"] or default_state_path(chain.chain_id, engine)
    try:
        k = Keeper(
            chain,
            engine,
            lens,
            start_block,
            state_path,
            kw["batch_size"],
            sender=_sender(kw["sender"], signer, "keeper"),
            confirmations=max(0, send.confirmations - 1),
            log_range=kw["log_range"],
            adl=not kw["no_adl"],
            swaps_address=kw["swaps_address"] or addresses.get("swaps"),
            caps_address=kw["caps_address"] or addresses.get("caps"),
            products=not kw["no_products"],
            settle_swaps=not kw["no_settle"],
            fix_caps=not kw["no_fix"],
            observe_caps=not kw["no_observe"],
            claim_caps=kw["claim"],
        )
        stats = k.run(kw["interval"], kw["max_polls"])
    except (ValueError, ChainError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"keeper stopped at block {k.cursor} (state {state_path}): {stats}")


def keeper_command(name: str = "keeper") -> click.Command:
    @click.command(name, short_help="Run the liquidation keeper")
    @manifest_options
    @rpc_options
    @send_options
    @keeper_options
    def command(manifest_path: Path | None, log_level: str, **kw: Any) -> None:
        """Follow the engine's events, liquidate liquidatable accounts with liquidate_many and
        auto-deleverage while it is open; with funding products deployed, also liquidate swap
        holders (FundingSwaps.liquidate), settle matured swaps, fix cap boundaries in the first
        poll after each and keep the caps' TWAP observed. The cursor, open positions and swap
        holders are saved to --state after every poll, and a restarted keeper resumes from them."""
        from .keeper import setup_logging

        setup_logging(log_level.upper())
        manifest = load_manifest_option(manifest_path)
        send = SendSettings.pop(kw)
        chain, signer = _connect(kw, manifest, send)
        run_keeper(chain, signer, manifest, send, **kw)

    return command


def _connect(kw: dict[str, Any], manifest: dict[str, Any] | None, send: SendSettings) -> tuple[Any, str | None]:
    return connect(
        kw.pop("rpc_url"),
        manifest,
        keystore=kw.pop("keystore"),
        password_env=kw.pop("password_env"),
        key_env=kw.pop("key_env"),
        impersonate=kw.pop("impersonate"),
        send=send,
    )


# ============================================================================ feed
def feed_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--scenario", default=None, help="Scenario name or TOML file (scenarios/) whose price path to feed."
        ),
        click.option(
            "--real", default=None, help="A shipped real price window (oracles.sources.REAL_WINDOWS) to feed."
        ),
        click.option(
            "--market",
            "markets",
            multiple=True,
            help="Market symbol to feed (repeatable) [default: every market in the manifest]. A scenario "
            "without a path for the symbol feeds its main path (rebased).",
        ),
        click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between rounds."),
        click.option("--rounds", type=int, default=None, help="Stop after this many rounds [default: the path's end]."),
        click.option(
            "--start-round",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help="The path point to start from (a restarted feeder continues where it stopped; rebasing anchors here).",
        ),
        click.option(
            "--sender",
            default=None,
            metavar="ADDRESS",
            help="With --impersonate: the feeder account [default: the manifest's feeder]. With a key: must be "
            "the key's address if given.",
        ),
        click.option(
            "--rebase/--no-rebase",
            default=True,
            show_default=True,
            help="Scale each path so its start point is the oracle's current answer.",
        ),
        click.option(
            "--warp",
            is_flag=True,
            help="Advance block time by the path's step spacing before each round (anvil, --impersonate only).",
        ),
        click.option("--loop", is_flag=True, help="Start the path again when it ends."),
        click.option("--no-poke", is_flag=True, help="Do not call Engine.poke after pushing a round."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def run_feed(chain: Any, signer: str | None, manifest: dict[str, Any] | None, **kw: Any) -> None:
    """The feeder loop of `vyperp feed` / `ape run feed` on a connected chain."""
    from .feed import Feeder, load_path

    if manifest is None:
        raise click.UsageError("--manifest is required (oracle addresses and market ids)")
    scenario, real = kw["scenario"], kw["real"]
    if (scenario is None) == (real is None):
        raise click.UsageError("give exactly one of --scenario or --real")
    if kw["warp"] and signer is not None:
        raise click.UsageError("--warp moves anvil's clock (--impersonate); a node's time moves with its blocks")
    addresses = manifest["addresses"]
    oracles_by_symbol = addresses.get("oracles") or {}
    market_ids = manifest.get("market_ids") or {s: i for i, s in enumerate(oracles_by_symbol)}
    symbols = list(kw["markets"]) or list(oracles_by_symbol)
    oracles, paths = {}, {}
    for symbol in symbols:
        if symbol not in oracles_by_symbol:
            raise click.BadParameter(
                f"{symbol!r} not in the manifest ({', '.join(oracles_by_symbol)})", param_hint="--market"
            )
        try:
            path = load_path(scenario, real, symbol) if scenario else load_path(real=real)
        except KeyError:
            path = load_path(scenario)
        except (OSError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        oracles[market_ids[symbol]] = oracles_by_symbol[symbol]
        paths[market_ids[symbol]] = path
    sender = _sender(kw["sender"], signer, "feeder") or manifest.get("feeder")
    try:
        feeder = Feeder(
            chain,
            None if kw["no_poke"] else addresses["engine"],
            oracles,
            paths,
            sender,
            rebase=kw["rebase"],
            warp=kw["warp"],
            loop=kw["loop"],
            symbols={market_ids[s]: s for s in symbols},
            start=kw["start_round"],
        )
        pushed = feeder.run(kw["interval"], kw["rounds"])
    except (ValueError, ChainError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"pushed {pushed} rounds ({feeder.errors} refused); next path point {feeder.index}")


def feed_command(name: str = "feed") -> click.Command:
    @click.command(name, short_help="Push a price path into the MockOracles")
    @manifest_options
    @rpc_options
    @send_options
    @feed_options
    def command(manifest_path: Path | None, log_level: str, **kw: Any) -> None:
        """Push one oracle round per --interval from a scenario's price path or a real window into
        the deployment's MockOracles, then poke the engine market (demos and testnets)."""
        from .keeper import setup_logging

        setup_logging(log_level.upper())
        manifest = load_manifest_option(manifest_path)
        send = SendSettings.pop(kw)
        chain, signer = _connect(kw, manifest, send)
        run_feed(chain, signer, manifest, **kw)

    return command


# ============================================================================ traders
def traders_command(name: str = "traders") -> click.Command:
    from .traders import run_traders, traders_options

    @click.command(name, short_help="Fund trader accounts and open leveraged positions")
    @manifest_options
    @rpc_options
    @send_options
    @traders_options
    def command(manifest_path: Path | None, log_level: str, **kw: Any) -> None:
        """Fund --count trader accounts (derived from a mnemonic) with gas and collateral from the
        funder key, deposit their margin and open leveraged positions on a live deployment (the
        population a keeper then watches). Re-running skips traders that already hold a position."""
        from .keeper import setup_logging

        setup_logging(log_level.upper())
        manifest = load_manifest_option(manifest_path)
        if manifest is None:
            raise click.UsageError("--manifest is required (token, engine and pool addresses)")
        send = SendSettings.pop(kw)
        if kw.pop("impersonate"):
            raise click.UsageError("traders signs with keys (the funder's and the traders'); drop --impersonate")
        from .connect import load_signer, signing_chain

        funder = load_signer(kw.pop("keystore"), kw.pop("password_env"), kw.pop("key_env"))
        if funder is None:
            raise click.UsageError("give the funder's key: --keystore or --key-env")
        chain = signing_chain(kw.pop("rpc_url"), [funder], send, manifest)
        run_traders(chain, manifest, **kw)

    return command


keeper = keeper_command("keeper")
feed = feed_command("feed")
traders = traders_command("traders")

COMMANDS = [keeper, feed, traders]

__all__ = [
    "COMMANDS",
    "feed",
    "feed_command",
    "feed_options",
    "keeper",
    "keeper_command",
    "keeper_options",
    "manifest_options",
    "run_feed",
    "run_keeper",
    "traders",
    "traders_command",
]
