"""Throughput of the embedded chain (vyperp.chain).

Measures state-changing calls per second through
  * the raw fast path ``chain.send(sender, to, calldata)`` (precomputed calldata),
  * the wrapper path ``contract.fn(*args, sender=...)`` (encode + tx + decode),
and view calls, for exact-gas mode (default) and pyrevm raw mode.

    vyperp bench-chain [--n 20000] [--mode exact|fast|both]

The fixture contracts are tests/chain_fixtures/ (a source checkout).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..chain import Chain

FIX = Path(__file__).resolve().parents[2] / "tests" / "chain_fixtures"


def _rate(fn: Callable[[int], object], n: int) -> float:
    fn(0)  # warm-up
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def bench(exact: bool, n: int) -> dict[str, float | int]:
    """Calls per second of each case, and the gas of a transfer to a fresh / funded holder."""
    chain = Chain(exact_gas=exact)
    alice = chain.new_account("alice", eth=10**21)
    bob = chain.new_account("bob")
    counter = chain.deploy(FIX / "Counter.vy", 5, sender=alice)
    token = chain.deploy(FIX / "Token.vy", 10**30, sender=alice)
    caller = chain.deploy(FIX / "Caller.vy", counter, sender=alice)

    write_cd = counter.write.calldata(1, 7)
    xfer_cd = token.transfer.calldata(bob, 1)
    fwd_cd = caller.forward.calldata(42)
    send = chain.send
    c_addr, t_addr, f_addr = counter.address, token.address, caller.address
    write, transfer, forward = counter.write, token.transfer, caller.forward
    balance_of = token.balanceOf

    cases: list[tuple[str, Callable[[int], object]]] = [
        ("send   Counter.write(k,v)   [1 SSTORE]", lambda i: send(alice, c_addr, write_cd)),
        ("fn()   Counter.write(i,i)", lambda i: write(i & 1023, i, sender=alice)),
        ("send   Token.transfer       [snekmate ERC-20]", lambda i: send(alice, t_addr, xfer_cd)),
        ("fn()   Token.transfer", lambda i: transfer(bob, 1, sender=alice)),
        ("send   Caller.forward       [2 contracts, log]", lambda i: send(alice, f_addr, fwd_cd)),
        ("fn()   Caller.forward", lambda i: forward(i + 100, sender=alice)),
        ("view   Token.balanceOf", lambda i: balance_of(bob)),
    ]
    out: dict[str, float | int] = {}
    with chain.isolate():
        for name, fn in cases:
            out[name] = _rate(fn, n)
    carol = chain.new_account("carol")
    gas = []
    for _ in range(2):
        transfer(carol, 1, sender=alice)
        gas.append(chain.last_receipt.gas_used)
    out["gas Token.transfer, fresh holder"], out["gas Token.transfer, funded holder"] = gas
    return out


@click.command("bench-chain")
@click.option("--n", type=click.IntRange(min=1), default=20_000, show_default=True, help="Calls per case.")
@click.option(
    "--mode",
    type=click.Choice(["exact", "fast", "both"]),
    default="both",
    show_default=True,
    help="exact: exact_gas=True (the default chain); fast: pyrevm raw mode.",
)
def bench_chain(n: int, mode: str) -> None:
    """Throughput of the embedded chain: raw sends, wrapper calls and views (calls/s)."""
    if not FIX.is_dir():
        raise click.ClickException(f"{FIX} not found: bench-chain needs a source checkout (tests/chain_fixtures)")
    console = Console()
    for exact in [m == "exact" for m in (["exact", "fast"] if mode == "both" else [mode])]:
        table = Table(title=f"{'exact_gas=True (default)' if exact else 'exact_gas=False (pyrevm raw)'}, n={n}")
        table.add_column("case")
        table.add_column("calls/s or gas", justify="right")
        for name, value in bench(exact, n).items():
            table.add_row(escape(name), f"{value:,.0f}")
        console.print(table)
