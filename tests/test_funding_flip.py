"""The funding-flip replay (issue 14, the simulation): basis traders hedged with funding
swaps. A hedged episode's perp funding and its swap's floating leg cancel to the
rounding (what is left is the fixed leg, checked against the exact swap model), the
swap pool's P&L is minus the holders' to the wei, the replay is deterministic and keeps
its invariants with swaps on, the counterfactual (hedge = false) leaves the engine side
exactly as without the section, and every FundingSwaps call lives in the one adapter."""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from vyperp.model import caps as cm
from vyperp.model import swaps as sm
from vyperp.protocol.units import WAD, ceil_div
from vyperp.sim.chainio import word
from vyperp.sim.fingerprint import end_state
from vyperp.sim.funding_flip import comparison, counterfactual, without_swaps
from vyperp.sim.funding_swaps import FundingSwapsSpec
from vyperp.sim.runner import TIMING_FIELDS, Replay, replay_and_report
from vyperp.sim.scenario import SCENARIO_DIR, ScenarioError, load_scenario, parse_scenario

SCENARIO = "funding-flip"


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    sc = load_scenario(SCENARIO)
    out = {}
    for name, s in (("on", sc), ("again", sc), ("cf", counterfactual(sc)), ("off", without_swaps(sc))):
        out[name] = replay_and_report(s, progress=False)
    return out


def _stable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in TIMING_FIELDS}


def test_scenario_hedges_half_the_basis_traders(runs) -> None:
    replay, report = runs["on"]
    spec = load_scenario(SCENARIO).population.funding_swaps
    assert spec is not None and spec.hedge and spec.hedged_share == 0.5
    groups = report["funding_swaps"]["groups"]
    n = report["basis_traders"]
    assert groups["hedged"]["traders"] == round(n * 0.5)
    assert groups["floored"]["traders"] + groups["unhedged"]["traders"] == n - round(n * 0.5)
    assert replay.swaps.stats["swap_opens"] > 0 and replay.swaps.stats["swap_open_failed"] == 0
    # the funding does flip: positive while the basis traders pile in, negative after the squeeze
    rates = [r["funding_rate_8h"] for r in replay.metrics.rows]
    assert max(rates[:180]) > 0.0005 and min(rates[210:]) < 0


def test_hedged_funding_nets_to_the_fixed_leg(runs) -> None:
    """Per hedge episode opened with the perp (same block) and ended on a perp touch or at
    the maturity settle: the swap's floating leg received minus the perp's funding paid
    (settled, plus at the maturity what the perp owes unsettled then) is 0 or a few wei
    negative: the perp rounds what it owes up, the swap what it receives down (1 wei per
    settlement at most). So the hedger's funding = -fixed leg (+ the close's unwind) to
    those wei."""
    replay, _ = runs["on"]
    tied = [s for s in replay.swaps.segments if s.end in ("exit", "cut", "resize", "matured")]
    assert tied, "no hedge episode ended on a perp touch or at the maturity: the test checks nothing"
    for s in tied:
        bound = len(s.settlements) + s.perp_settlements + 1
        residual = s.floating - s.perp_funding_paid - s.perp_pending_end
        assert -bound <= residual <= 0, (s, residual)
        assert s.floating != 0  # the legs did move
        hedger_funding = -(s.perp_funding_paid + s.perp_pending_end) + s.floating - s.fixed
        assert -bound <= hedger_funding - (-s.fixed) <= 0
    assert replay.swaps.hedge_residuals() == [s.floating - s.perp_funding_paid - s.perp_pending_end for s in tied]


def test_fixed_leg_equals_the_exact_swap_model(runs) -> None:
    replay, _ = runs["on"]
    segments = replay.swaps.segments
    assert segments
    for s in segments:
        # one open per episode: its fixed flow is the model's at the open's quote and index price
        assert s.fixed_flow == sm.fixed_flow(s.size, s.fixed_rate, s.index_price)
        assert s.size < 0  # receive fixed / pay floating: the hedge of a short
        last = s.open_time
        for time, _floating, fixed in s.settlements:
            assert fixed == ceil_div(s.fixed_flow * (time - last), sm.FLOW_UNIT)
            last = time


def test_swap_pool_is_zero_sum_with_the_holders(runs) -> None:
    """Cross-margined: every settlement moves money between a holder's engine margin and
    the LP pool. What moved into the holders (the contract's Transferred logs) is exactly
    their legs (SwapSettled floating - fixed, SwapClosed unwind) and exactly the LP pool's
    swap loss, to the wei, once the last step settled every swap."""
    replay, report = runs["on"]
    zs = report["funding_swaps"]["zero_sum"]
    assert zs == {"residual_wei": 0}
    desk = replay.swaps.desk
    sw = replay.swaps
    holders = [replay.basis.accounts[j] for j in range(sw.n) if desk.moved.get(replay.basis.accounts[j])]
    assert holders and all(desk.pending(a) == 0 for a in holders)
    assert int(desk.contract.pool_unrealized_total()) == 0 and not desk.liquidations
    for j in range(sw.n):
        assert desk.moved.get(replay.basis.accounts[j], 0) == sw.floating[j] - sw.fixed[j] + sw.unwind[j]
    holders_pnl = sum(desk.moved[a] for a in holders)
    assert desk.pool_pnl() == -holders_pnl == -desk.moved_total != 0
    # the report's per-group swap P&L is the holders' (the unhedged hold no swap)
    groups = report["funding_swaps"]["groups"]
    assert groups["unhedged"]["pnl_usd"]["swap"] == 0
    assert groups["hedged"]["pnl_usd"]["swap"] == pytest.approx(holders_pnl / WAD, abs=1e-6)
    assert report["funding_swaps"]["pool"]["pnl_end_usd"] == pytest.approx(-holders_pnl / WAD, abs=1e-6)
    # the engine's books balance to the wei with the swaps' transfers (the engine's invariant)
    held = int(replay.token.balanceOf(replay.engine.address)) * replay.precision
    margins = sum(int(replay.engine.margin(a)) for a in replay.book.addresses)
    assert held == margins + int(replay.engine.pool_balance()) + int(replay.engine.insurance_fund())


def test_invariants_hold_with_swaps_on(runs) -> None:
    _, report = runs["on"]
    assert report["invariant_checks"] > 0 and report["invariant_violations"] == 0
    assert report["reverted_tx"] == {}
    assert any(k.startswith("swap_") for k in report["tx_by_kind"])


def test_deterministic_with_a_fixed_seed(runs) -> None:
    (r1, a), (r2, b) = runs["on"], runs["again"]
    assert _stable(a) == _stable(b)
    assert r1.metrics.rows == r2.metrics.rows
    assert end_state(r1) == end_state(r2)


def test_counterfactual_is_the_replay_without_swaps(runs) -> None:
    """hedge = false draws and follows the same groups but trades no swap: the engine side
    (report, time series, on-chain end state) is the replay without the section, to the wei."""
    (rc, c), (ro, o) = runs["cf"], runs["off"]
    assert "funding_swaps" in c and "funding_swaps" not in o
    assert {k: v for k, v in _stable(c).items() if k != "funding_swaps"} == _stable(o)
    assert [{k: v for k, v in r.items() if not k.startswith("swaps_")} for r in rc.metrics.rows] == ro.metrics.rows
    assert end_state(rc) == end_state(ro)
    assert not any(k.startswith("swap_") for k in c["tx_by_kind"])
    # the same traders are in the same groups in both runs with the section
    assert (runs["on"][0].swaps.hedged == rc.swaps.hedged).all()
    cmp = comparison(runs["on"][1], c)
    assert set(cmp["hedged"]) >= {"liquidated_traders", "survival_rate", "pnl_total_usd"}


def test_replay_without_the_section_has_no_swaps() -> None:
    replay, report = replay_and_report("canonical-squeeze", progress=False, steps=5)
    assert replay.swaps is None and "funding_swaps" not in report
    assert not any(k.startswith("swaps_") for k in replay.metrics.rows[0])
    assert replay.basis.hooks is None


def test_spec_validation() -> None:
    doc = tomllib.loads((SCENARIO_DIR / f"{SCENARIO}.toml").read_text())
    for bad, why in (
        ({"hedged_share": 1.5}, "hedged_share"),
        ({"colour": 1}, "unknown key"),
        ({"quote": "trailing-mean"}, "removed with the cross-margined"),
        ({"swap_lps": 2}, "removed with the cross-margined"),
        ({"quote_base_spread": 0.02}, "quote_base_spread"),
        ({"maintenance_k": 5}, "maintenance_k"),
        ({"hedge": 1}, "hedge"),
        ({"market": "ETH"}, "names no market"),
    ):
        d = copy.deepcopy(doc)
        d["population"]["funding_swaps"] = {**d["population"]["funding_swaps"], **bad}
        with pytest.raises(ScenarioError, match=why):
            parse_scenario(d)
    assert FundingSwapsSpec.from_table({}) == FundingSwapsSpec()
    assert replace(FundingSwapsSpec(), hedge=False).hedge is False


def test_every_swaps_call_is_in_the_adapter() -> None:
    """An API change of FundingSwaps must touch only vyperp/sim/swap_desk.py: no other
    replay module names the contract or calls one of its functions (other than through a
    SwapDesk, ``desk.``)."""
    sim = Path(__file__).resolve().parents[1] / "vyperp" / "sim"
    calls = re.compile(
        r"\"FundingSwaps\"|(?<!desk)\.(list_maturity|set_quote_config|set_margin_config|set_open_interest_cap"
        r"|set_liquidation_config|pool_unrealized_total|pool_unrealized|account_margin|mark_rate|liquidatable"
        r"|set_swaps|swap_transfer)\b"
        r"|contract\.(open|close|settle|liquidate|pending|accrued|swaps|quote|requirements|swap_value|held)\b"
    )
    offenders = [
        f"{p.name}:{n}"
        for p in sorted(sim.glob("*.py"))
        # the adapter, the caps adapter (its `contract` is FundingCaps), and the attack studies
        # (not the replay) that drive the contract directly
        if p.name not in ("swap_desk.py", "cap_desk.py", "skew_carry.py", "attacks.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if calls.search(line)
    ]
    assert offenders == []


def test_mirrored_pending_equals_the_contract_every_step() -> None:
    """The replay values the hedgers' unsettled swap legs every step from a mirror of each
    swap and the exact model (no chain call); the contract's ``pending`` agrees to the wei."""
    replay = Replay(SCENARIO, steps=260)
    replay.build()
    desk = replay.swaps.desk
    mirrored = desk.pending_at
    seen: list[int] = []

    def checked(account: str, index: int, time: int) -> int:
        value = mirrored(account, index, time)
        assert value == desk.pending(account), (account, time)
        seen.append(value)
        return value

    desk.pending_at = checked  # type: ignore[method-assign]
    replay.run()
    assert len(seen) > 100 and any(seen)


def test_a_partial_cut_resizes_the_hedge_and_a_full_cut_closes_it() -> None:
    """The keepers' partial cut of a hedged short closes the swap and reopens one of the
    remaining size; a full cut closes it (driven directly: the scenario's partial
    liquidations do not happen to hit a hedged trader)."""
    replay = Replay(SCENARIO)
    replay.build()
    swaps = replay.swaps
    swaps.act(0)  # lists the book
    desk = swaps.desk
    j, k = [j for j in range(swaps.n) if swaps.hedged[j]][:2]
    account = replay.basis.accounts[j]
    size = -3 * WAD // 2
    # two real shorts of 1.5 (the swap OI cap is half the perp OI): trader j's, and k's
    basis, wire = replay.basis, replay.wire
    for i in (j, k):
        replay.tx.send("deposit", basis.accounts[i], wire.engine_addr, wire.sel_deposit + word(basis.tokens[i]))
        bound = replay.markets[swaps.m].mark * 9 // 10
        replay.tx.send("basis_open", basis.accounts[i], wire.engine_addr, wire.trade_calldata(swaps.m, size, bound))
    swaps.on_open(j, size, 0)
    assert desk.size(account) == size == swaps.swap_size[j] and swaps.locked(j)
    swaps.on_perp_reduced(j, WAD // 2, 0)
    assert desk.size(account) == -WAD // 2 == swaps.swap_size[j] == desk.mirror[account].size
    assert swaps.stats["swap_resizes"] == 1 and swaps.segments[-1].end == "resize"
    assert swaps.live[j].size == -WAD // 2
    swaps.on_perp_reduced(j, 0, 0)
    assert desk.size(account) == 0 == swaps.swap_size[j] and account not in desk.mirror
    assert [s.end for s in swaps.segments] == ["resize", "cut"] and not swaps.locked(j)
    assert replay.tx.reverts == {}


# ---------------------------------------------------------------------- floors (FundingCaps)
def test_three_groups_swap_hedged_floored_unprotected(runs) -> None:
    replay, report = runs["on"]
    groups = report["funding_swaps"]["groups"]
    assert list(groups) == ["hedged", "floored", "unhedged"]
    assert [groups[g]["traders"] for g in groups] == [20, 10, 10]
    sw = replay.swaps
    assert not (sw.hedged & sw.caps.floored).any()  # disjoint
    assert sw.caps.stats["floor_buys"] > 0 and report["funding_swaps"]["caps"]["fixings_paying"] > 0
    # the counterfactual draws the same three groups
    assert (runs["cf"][0].swaps.caps.floored == sw.caps.floored).all()


def test_floor_book_equals_the_exact_caps_model(runs) -> None:
    """Every vault deposit, purchase, fixing and claim of the replay, replayed through the
    exact model (vyperp/model/caps.py): premiums, locks, payoffs, obligations, releases,
    claims and the vault's end state agree to the wei."""
    replay, _ = runs["on"]
    desk = replay.swaps.caps.desk
    c = desk.contract
    model = cm.CapsModel(
        precision=replay.precision,
        twap_window=desk.params.twap_window,
        spread=int(c.spread()),
        min_premium=int(c.min_premium()),
    )
    model.volatility[desk.market] = int(c.volatility(desk.market))
    model.products = [replace(p, notional=0, locked=0, fixings=0, snapshots=[], payoffs=[]) for p in desk.products]
    seen = {"VaultDeposit": 0, "Bought": 0, "Fixed": 0, "Claimed": 0}
    for name, time, a in desk.log:
        if name == "VaultDeposit":
            assert model.deposit(str(a["account"]), int(a["amount"])) == int(a["shares"])
        elif name == "Bought":
            tokens, added = model.buy(str(a["account"]), int(a["product"]), int(a["notional"]), int(a["forward"]), time)
            assert (tokens, added) == (int(a["premium"]), int(a["locked"]))
        elif name == "Fixed":
            out = model.fix(int(a["product"]), int(a["rate_index"]))
            assert out == (int(a["payoff"]), int(a["obligation"]), int(a["released"])), a
        elif name == "Claimed":
            assert model.claim(str(a["account"]), int(a["product"])) == int(a["amount"])
        else:
            continue
        seen[name] += 1
    assert all(seen.values()), seen
    assert any(p > 0 for prod in model.products for p in prod.payoffs)  # a floorlet did pay
    assert (model.vault_assets, model.vault_locked, model.buyer_reserve) == (
        int(c.vault_assets()),
        int(c.vault_locked()),
        int(c.buyer_reserve()),
    )
    # every floorlet's payoff is the floor's formula on the index increment over its window
    for prod in model.products:
        for k, payoff in enumerate(prod.payoffs):
            increment = prod.snapshots[k + 1] - prod.snapshots[k]
            strike_term = (prod.strike * prod.period) // (8 * 3600)
            assert payoff == min(max(strike_term - increment, 0), prod.max_payoff)


def test_cap_vault_conserves_tokens_and_its_pnl_is_premiums_minus_payoffs(runs) -> None:
    replay, report = runs["on"]
    caps = report["funding_swaps"]["caps"]
    assert caps["conservation"] == {"token_residual_wei": 0, "pnl_residual_wei": 0}
    desk = replay.swaps.caps.desk
    v = desk.vault()
    assert v["balance_tokens"] * replay.precision == v["assets"] + v["buyer_reserve"]
    assert v["locked"] == 0  # every boundary fixed by the end
    # the buyers' floor P&L is minus the vault's, up to the claims' token rounding (reserve dust)
    floor_pnl = sum(replay.swaps.caps.floor_pnl(j) for j in range(replay.swaps.n))
    assert 0 <= -(floor_pnl + desk.vault_pnl()) <= v["buyer_reserve"]
    assert caps["vault"]["pnl_end_usd"] == pytest.approx(desk.vault_pnl() / WAD)


def test_every_caps_call_is_in_its_adapter() -> None:
    sim = Path(__file__).resolve().parents[1] / "vyperp" / "sim"
    calls = re.compile(
        r"\"FundingCaps\"|\.(list_product|set_volatility|set_pricing|observation_new|observation_old"
        r"|vault_assets|vault_locked|buyer_reserve)\b|contract\.(buy|fix|claim|observe|withdraw)\b"
    )
    offenders = [
        f"{p.name}:{n}"
        for p in sorted(sim.glob("*.py"))
        if p.name not in ("cap_desk.py", "skew_carry.py", "attacks.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if calls.search(line)
    ]
    assert offenders == []


def test_caps_spec_validation() -> None:
    doc = tomllib.loads((SCENARIO_DIR / f"{SCENARIO}.toml").read_text())
    for bad, why in (({"floor_share": 2}, "floor_share"), ({"colour": 1}, "unknown key"), ({"strike": 0.01}, "strike")):
        d = copy.deepcopy(doc)
        d["population"]["funding_caps"] = {**d["population"]["funding_caps"], **bad}
        with pytest.raises(ScenarioError, match=why):
            parse_scenario(d)
    d = copy.deepcopy(doc)
    del d["population"]["funding_swaps"]
    with pytest.raises(ScenarioError, match="needs"):
        parse_scenario(d)


def test_keepers_liquidate_a_swap_holder_through_funding_swaps() -> None:
    """A hedged 20x short pushed under maintenance by a price rise: the engine's
    liquidate_many skips swap holders, so the replay's keeper step calls
    FundingSwaps.liquidate (the swap-aware book lists it below maintenance, the contract
    confirms); the swap closes at the mark (keeper reward and penalty from the pool side's
    terms), the episode ends "liquidated", the LP pool's swap P&L is still minus what moved
    into accounts to the wei, and the perp left behind is the engine keepers' next."""
    replay = Replay(SCENARIO)
    replay.build()
    swaps = replay.swaps
    swaps.act(0)
    desk = swaps.desk
    basis, wire = replay.basis, replay.wire
    hedged = [j for j in range(swaps.n) if swaps.hedged[j]][:3]
    j = min(hedged, key=lambda i: basis.tokens[i])  # the smallest short: the swap OI cap is half the perp OI
    mark = replay.markets[swaps.m].mark
    for i in hedged:
        replay.tx.send("deposit", basis.accounts[i], wire.engine_addr, wire.sel_deposit + word(basis.tokens[i]))
        size = -(basis.tokens[i] * replay.precision * 20 * WAD // mark)
        replay.tx.send(
            "basis_open", basis.accounts[i], wire.engine_addr, wire.trade_calldata(swaps.m, size, mark * 9 // 10)
        )
    replay.sync()
    swaps.swap_tokens[j] = 0  # no top-up: 20x on the deposit alone
    account, idx = basis.accounts[j], basis.idx[j]
    swaps.on_open(j, replay.book.size[swaps.m][idx], 0)
    assert desk.size(account) == replay.book.size[swaps.m][idx] < 0
    base = replay.spot[0].answer(0, 0)
    for n in range(1, 20):  # +1 % a minute until the book (swaps overlaid) lists it
        replay.chain.advance(60)
        replay.tx.send(
            "oracle_push",
            replay.p.feeder,
            replay.oracle_addrs[0],
            wire.sel_push + word(base * (100 + n) // 100) + word(0),
        )
        replay.tx.send("oracle_poke", replay.p.feeder, wire.engine_addr, wire.cd_poke[0])
        markets, _ = replay.read_step()
        replay.book.evaluate(markets, exact=True)
        if idx in replay.book.overlay_below:
            break
    assert desk.liquidatable(account)
    swaps.act(1)
    assert [str(a["account"]) for a in desk.liquidations] == [account] and swaps.stats["swap_liquidations"] == 1
    assert swaps.swap_size[j] == 0 and swaps.segments[-1].end == "liquidated" and not desk.liquidatable(account)
    assert desk.size(account) == 0 and account not in desk.mirror
    assert desk.pool_pnl() == -desk.moved_total != 0  # no live swap left: nothing unsettled
    keeper = replay.keepers.accounts[0]
    assert desk.moved[keeper] == int(desk.liquidations[0]["keeper_reward"]) > 0
    # the perp is left (a perp-only account now): the engine's keepers take it from here
    perp = replay.book.size[swaps.m][idx]
    assert perp < 0
    for step in (2, 3, 4):
        markets, _ = replay.read_step()
        ev = replay.book.evaluate(markets, exact=True)
        replay.keepers.act(step, ev.below_maintenance)
        replay.sync()
    assert replay.book.size[swaps.m][idx] > perp  # cut by liquidate_many
    assert not any(k.startswith("swap_") for k in replay.tx.reverts)
