"""`vyperp keeper` and `vyperp feed`: run the liquidation keeper / the price feeder
against a JSON-RPC node (anvil) with the addresses of a deployment manifest
(`ape run deploy` writes it). The same commands are `ape run keeper` / `ape run feed`
(scripts/keeper.py, scripts/feed.py).

Transactions go through `vyperp.chain.rpc_chain.RpcChain`, which sends from any
address by anvil impersonation: these commands need an anvil node (a local one, or a
fork), not a public network with signing keys.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

RPC_HELP = (
    "JSON-RPC URL of an anvil node (transactions are sent by impersonation, so this must be "
    "anvil or an anvil fork; ape's --network is not used)."
)


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--log-level",
        default="INFO",
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        help="Logging level (DEBUG also logs every liquidatable account's margin ratio).",
    )(f)
    f = click.option("--rpc-url", default="http://127.0.0.1:8545", show_default=True, help=RPC_HELP)(f)
    f = click.option(
        "--manifest",
        "manifest_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Deployment manifest JSON written by `ape run deploy` (addresses, deploy block).",
    )(f)
    return f


def _connect(rpc_url: str, manifest: dict[str, Any] | None) -> Any:
    from ..chain.errors import ChainError
    from ..chain.rpc_chain import RpcChain

    try:
        chain = RpcChain(rpc_url)
    except ChainError as exc:
        raise click.ClickException(str(exc)) from exc
    if manifest is not None and manifest.get("chain_id") not in (None, chain.chain_id):
        raise click.ClickException(
            f"the manifest is for chain id {manifest.get('chain_id')}, the node at {rpc_url} has {chain.chain_id}"
        )
    return chain


def _manifest(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from .keeper import load_manifest

    try:
        return load_manifest(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


def keeper_command(name: str = "keeper") -> click.Command:
    @click.command(name, short_help="Run the liquidation keeper")
    @_common
    @click.option("--engine", default=None, metavar="ADDRESS", help="Engine address [default: from --manifest].")
    @click.option("--lens", default=None, metavar="ADDRESS", help="EngineLens address [default: from --manifest].")
    @click.option(
        "--start-block",
        type=int,
        default=None,
        help="First block to scan when there is no state file [default: the manifest's deploy block, else 0].",
    )
    @click.option(
        "--state",
        "state_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("keeper-state.json"),
        show_default=True,
        help="JSON state file (cursor block + open positions); the keeper resumes from it.",
    )
    @click.option(
        "--batch-size",
        type=click.IntRange(1, 64),
        default=32,
        show_default=True,
        help="Accounts per liquidate_many / auto_deleverage transaction (engine maximum 64).",
    )
    @click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between polls.")
    @click.option("--max-polls", type=int, default=None, help="Stop after this many polls [default: run until Ctrl-C].")
    @click.option(
        "--sender",
        default=None,
        metavar="ADDRESS",
        help="Keeper account (earns the rewards) [default: the label-derived vyperp-keeper account].",
    )
    @click.option(
        "--confirmations",
        type=int,
        default=0,
        show_default=True,
        help="Stay this many blocks behind the head (reorg margin).",
    )
    @click.option("--log-range", type=int, default=5000, show_default=True, help="Blocks per eth_getLogs request.")
    @click.option("--no-adl", is_flag=True, help="Never call auto_deleverage (only liquidate).")
    def command(
        manifest_path,
        rpc_url,
        log_level,
        engine,
        lens,
        start_block,
        state_path,
        batch_size,
        interval,
        max_polls,
        sender,
        confirmations,
        log_range,
        no_adl,
    ):
        """Follow the engine's events, liquidate liquidatable accounts with liquidate_many and
        auto-deleverage while the pool value is negative; the cursor and open-position set are
        saved to --state after every poll."""
        from .keeper import Keeper, setup_logging

        setup_logging(log_level.upper())
        manifest = _manifest(manifest_path)
        addresses = (manifest or {}).get("addresses", {})
        engine = engine or addresses.get("engine")
        lens = lens or addresses.get("lens")
        if not engine or not lens:
            raise click.UsageError("give --manifest, or both --engine and --lens")
        if start_block is None:
            start_block = int((manifest or {}).get("block_number") or 0)
        chain = _connect(rpc_url, manifest)
        try:
            k = Keeper(
                chain,
                engine,
                lens,
                start_block,
                state_path,
                batch_size,
                sender=sender,
                confirmations=confirmations,
                log_range=log_range,
                adl=not no_adl,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        stats = k.run(interval, max_polls)
        click.echo(f"keeper stopped at block {k.cursor}: {stats}")

    return command


def feed_command(name: str = "feed") -> click.Command:
    @click.command(name, short_help="Push a price path into the MockOracles")
    @_common
    @click.option("--scenario", default=None, help="Scenario name or TOML file (scenarios/) whose price path to feed.")
    @click.option("--real", default=None, help="A shipped real price window (oracles.sources.REAL_WINDOWS) to feed.")
    @click.option(
        "--market",
        "markets",
        multiple=True,
        help="Market symbol to feed (repeatable) [default: every market in the manifest]. A scenario "
        "without a path for the symbol feeds its main path (rebased).",
    )
    @click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between rounds.")
    @click.option("--rounds", type=int, default=None, help="Stop after this many rounds [default: the path's length].")
    @click.option(
        "--sender",
        default=None,
        metavar="ADDRESS",
        help="Feeder account allowed to push rounds [default: the manifest's feeder].",
    )
    @click.option(
        "--rebase/--no-rebase",
        default=True,
        show_default=True,
        help="Scale each path so it starts at the oracle's current answer.",
    )
    @click.option(
        "--warp", is_flag=True, help="Advance block time by the path's step spacing before each round (anvil)."
    )
    @click.option("--loop", is_flag=True, help="Start the path again when it ends.")
    @click.option("--no-poke", is_flag=True, help="Do not call Engine.poke after pushing a round.")
    def command(
        manifest_path,
        rpc_url,
        log_level,
        scenario,
        real,
        markets,
        interval,
        rounds,
        sender,
        rebase,
        warp,
        loop,
        no_poke,
    ):
        """Push one oracle round per --interval from a scenario's price path or a real window into
        the deployment's MockOracles, then poke the engine market (demos and testnets)."""
        from .feed import Feeder, load_path
        from .keeper import setup_logging

        setup_logging(log_level.upper())
        manifest = _manifest(manifest_path)
        if manifest is None:
            raise click.UsageError("--manifest is required (oracle addresses and market ids)")
        if (scenario is None) == (real is None):
            raise click.UsageError("give exactly one of --scenario or --real")
        addresses = manifest["addresses"]
        oracles_by_symbol = addresses.get("oracles") or {}
        market_ids = manifest.get("market_ids") or {s: i for i, s in enumerate(oracles_by_symbol)}
        symbols = list(markets) or list(oracles_by_symbol)
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
        chain = _connect(rpc_url, manifest)
        feeder = Feeder(
            chain,
            None if no_poke else addresses["engine"],
            oracles,
            paths,
            sender or manifest.get("feeder"),
            rebase=rebase,
            warp=warp,
            loop=loop,
        )
        pushed = feeder.run(interval, rounds)
        click.echo(f"pushed {pushed} rounds ({feeder.errors} refused)")

    return command


keeper = keeper_command("keeper")
feed = feed_command("feed")

COMMANDS = [keeper, feed]

__all__ = ["COMMANDS", "feed", "feed_command", "keeper", "keeper_command"]
