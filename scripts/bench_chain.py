"""Throughput of the embedded chain (vyperp.chain).

Measures state-changing calls per second through
  * the raw fast path ``chain.send(sender, to, calldata)`` (precomputed calldata),
  * the wrapper path ``contract.fn(*args, sender=...)`` (encode + tx + decode),
and view calls, for exact-gas mode (default) and pyrevm raw mode.

    .venv/bin/python scripts/bench_chain.py [--n 20000] [--mode exact|fast|both]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

from vyperp.chain import Chain

FIX = Path(__file__).resolve().parents[1] / "tests" / "chain_fixtures"


def _rate(fn: Callable[[int], object], n: int) -> float:
    fn(0)  # warm-up
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def bench(exact: bool, n: int) -> None:
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
    mode = "exact_gas=True (default)" if exact else "exact_gas=False (pyrevm raw)"
    print(f"\n== {mode}, n={n}")
    with chain.isolate():
        for name, fn in cases:
            r = _rate(fn, n)
            print(f"  {name:<48} {r:>9,.0f} calls/s   ({1e6 / r:6.1f} us/call)")
    carol = chain.new_account("carol")
    gas = []
    for _ in range(2):
        transfer(carol, 1, sender=alice)
        gas.append(chain.last_receipt.gas_used)
    print(f"  Receipt.gas_used, Token.transfer to a fresh / funded holder: {gas[0]} / {gas[1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--mode", choices=["exact", "fast", "both"], default="both")
    args = ap.parse_args()
    if args.mode in ("exact", "both"):
        bench(True, args.n)
    if args.mode in ("fast", "both"):
        bench(False, args.n)


if __name__ == "__main__":
    main()
