"""Commands of the protocol layer: `vyperp demo`."""

from __future__ import annotations

import click
from rich.console import Console

console = Console()


@click.command()
def demo() -> None:
    """Deploy, trade across a price move, print PnL, funding and the pool's result."""
    run = __import__("vyperp.protocol.demo", fromlist=["run_demo"]).run_demo
    result = run(console)
    if not result["balanced"]:
        raise SystemExit("conservation violated")


COMMANDS = [demo]
