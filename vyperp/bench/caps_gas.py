"""Gas of FundingCaps (issue 14, the caps part) on the embedded chain, measured as
`vyperp gas` measures the engine (vyperp.bench.gas.GasProbe): a live BTC market with
traders on both sides, and before every measured call one minute passes and a new
oracle round arrives, so each call that pokes the engine pays that poke ("engine_poke" is
the poke alone).

Figures: vault deposit / withdraw; a cap purchase of a 1-, 6- and 32-caplet strip (the
premium sums one Bachelier caplet each); the start fix (a snapshot) and a caplet fix
(snapshot, payoff, lock release); claim of one caplet, and the same claim after 1,000
other buyers bought the product ("claim_1000_buyers": it must equal "claim", O(1) in the
number of buyers; both product ids are one non-zero calldata byte); claim of a 6-caplet
strip at once.

Not part of reports/gas.json: the engine's own figures are measured by `vyperp gas`.
"""

from __future__ import annotations

from typing import Any

from ..protocol.caps import caps_account, deploy_funding_caps
from ..protocol.units import wad
from .gas import GasProbe, _params

HOUR = 3_600
PERIOD = 8 * HOUR
MAX_UINT = 2**256 - 1
STRIKE = -wad("0.001")


def caps_gas(background_buyers: int = 1_000) -> dict[str, int]:
    probe = GasProbe(_params())
    s = probe.system
    caps = deploy_funding_caps(s, HOUR)
    caps.set_volatility(0, wad("0.01"), sender=s.admin)
    caps.set_pricing(wad("0.1"), wad(1), sender=s.admin)
    writer = caps_account(s, caps, "caps-writer", 10_000_000)
    buyer = caps_account(s, caps, "caps-buyer", 100_000)
    start = s.chain.time + 6 * HOUR
    _list(caps, s, start, 1)  # product 0 stays unused: every measured id is a non-zero calldata byte
    ids = {n: _list(caps, s, start, n) for n in (1, 6, 32)}
    out: dict[str, int] = {}
    probe.tick()
    out["engine_poke"] = probe.gas(lambda: s.engine.poke(0, sender=probe.keeper))
    probe.tick()
    out["vault_deposit"] = probe.gas(lambda: caps.deposit(s.tokens(5_000_000), sender=writer))
    s.chain.advance(HOUR)  # the TWAP window
    for n, product in ids.items():
        probe.tick()
        out[f"buy_{n}_caplets"] = probe.gas(lambda p=product: caps.buy(p, wad(100_000), MAX_UINT, sender=buyer))
    probe.tick()
    out["buy_6_caplets_again"] = probe.gas(lambda: caps.buy(ids[6], wad(100_000), MAX_UINT, sender=buyer))
    probe.tick()
    out["vault_withdraw"] = probe.gas(lambda: caps.withdraw(caps.vault_shares(writer) // 10, sender=writer))
    for i in range(background_buyers):
        other = caps_account(s, caps, f"caps-bg{i}", 1_000)
        caps.buy(ids[1], wad(1_000), MAX_UINT, sender=other)
    s.chain.advance(start - s.chain.time)
    probe.tick()
    out["fix_start"] = probe.gas(lambda: caps.fix(ids[1], sender=probe.keeper))
    caps.fix(ids[6], sender=probe.keeper)
    s.chain.advance(PERIOD)
    probe.tick()
    out["fix_caplet"] = probe.gas(lambda: caps.fix(ids[1], sender=probe.keeper))
    probe.tick()
    out[f"claim_{background_buyers}_buyers"] = probe.gas(lambda: caps.claim(buyer, ids[1], sender=probe.keeper))
    for _ in range(6):
        s.chain.advance(PERIOD)
        probe.tick()
        caps.fix(ids[6], sender=probe.keeper)
    probe.tick()
    out["claim_6_caplets"] = probe.gas(lambda: caps.claim(buyer, ids[6], sender=probe.keeper))
    # the same one-caplet claim on a product with no other buyer
    lone_id = _list(caps, s, s.chain.time + 2 * HOUR, 1)
    s.chain.advance(HOUR)
    probe.tick()
    caps.buy(lone_id, wad(100_000), MAX_UINT, sender=buyer)
    s.chain.advance(HOUR)
    probe.tick()
    caps.fix(lone_id, sender=probe.keeper)
    s.chain.advance(PERIOD)
    probe.tick()
    caps.fix(lone_id, sender=probe.keeper)
    probe.tick()
    out["claim"] = probe.gas(lambda: caps.claim(buyer, lone_id, sender=probe.keeper))
    return out


def _list(caps: Any, s: Any, start: int, periods: int) -> int:
    """A cap struck deep in the money (every caplet pays, so every claim transfers)."""
    caps.list_product(0, False, STRIKE, start, PERIOD, periods, wad("1000000000"), sender=s.admin)
    return int(caps.product_count()) - 1
