"""The issue's user-level flow for funding products, on any chain (the embedded
LoggingChain or anvil): one account deposits, shorts a perp, hedges its funding with a
receive-fixed swap in the same account, buys a funding cap; time passes with funding
moving both ways while the keeper polls (observes, fixes every cap boundary, settles the
swap at maturity, claims); every swap settlement, every fixing, the premium and the
payout are checked to the wei against the exact models (vyperp.model.swaps, caps), and
the hedge against the perp: the swap's floating leg is the funding the short perp
received, to 1 wei, so the account's funding carry is the fixed leg."""

from __future__ import annotations

from typing import Any

from vyperp.model import caps as cm
from vyperp.model import swaps as sm
from vyperp.ops.keeper import Keeper
from vyperp.protocol.product_params import SwapsParams
from vyperp.protocol.system import System
from vyperp.protocol.units import WAD, wad

from .product_keeper_fixtures import BTC, HOUR, maturities

STEP = 2 * HOUR
MAX_UINT = 2**256 - 1


def _logs(system: System, name: str) -> list[dict[str, Any]]:
    receipt = system.chain.last_receipt
    return [dict(e.args) for e in receipt.logs if e.name == name] if receipt is not None else []


def _swap_model(system: System, params: SwapsParams, near: int, far: int, listed_at: int, listed_rate: int) -> Any:
    p = params.contract_params()
    config = system.engine.market_config(BTC)
    model = sm.SwapsModel(
        sm.MarginParams(p.initial_k, p.maintenance_k, p.time_floor, p.rate_floor, int(config.max_funding_rate)),
        sm.QuoteParams(p.ema_period, p.base_spread, p.skew_slope, p.utilisation_slope, int(config.skew_scale)),
    )
    model.ema, model.ema_time = listed_rate, listed_at  # the listings' EMA state, as the chain holds it
    model.books[far] = sm.Book(far)
    model.books[near] = sm.Book(near)
    return model


def _oi_cap(system: System, params: SwapsParams) -> int:
    p = params.contract_params()
    cap = MAX_UINT
    if p.skew_scale_fraction:
        cap = int(system.engine.market_config(BTC).skew_scale) * p.skew_scale_fraction // WAD
    if p.perp_open_interest_fraction:
        state = system.engine.market_state(BTC)
        oi = int(state.long_open_interest) + int(state.short_open_interest)
        cap = min(cap, oi * p.perp_open_interest_fraction // WAD)
    return cap


def run_flow(system: System, keeper: Keeper, claimer: Keeper) -> dict[str, int]:
    """The flow; returns the figures it checked (for the caller's report)."""
    swaps, caps, engine = system.swaps, system.caps, system.engine
    params = system.p.params
    assert params.swaps is not None and params.caps is not None
    far, near = maturities(system)
    ema = swaps.rate_ema(BTC)
    model = _swap_model(system, params.swaps, near, far, int(ema.time), int(ema.value))
    caps_model = cm.CapsModel(precision=system.precision, twap_window=int(caps.TWAP_WINDOW()))
    caps_model.spread, caps_model.min_premium = int(caps.spread()), int(caps.min_premium())
    caps_model.volatility[BTC] = int(caps.volatility(BTC))
    caps_model.products.append(cm.CapsProduct.from_chain(caps.products(0)))
    newer = caps.observation_new(BTC)
    caps_model.obs_new[BTC] = (int(newer.rate_index), int(newer.time))  # the listing's observation

    def index() -> int:
        return int(engine.funding_now(BTC)[0])

    def rate() -> int:
        return int(engine.funding_now(BTC)[1])

    def rate_index() -> int:
        return int(engine.funding_rate_index(BTC))

    def check_caps() -> None:
        assert (caps.vault_assets(), caps.vault_locked(), caps.buyer_reserve()) == (
            caps_model.vault_assets,
            caps_model.vault_locked,
            caps_model.buyer_reserve,
        )
        assert tuple(caps.observation_new(BTC)) == caps_model.obs_new.get(BTC, (0, 0))
        assert tuple(caps.observation_old(BTC)) == caps_model.obs_old.get(BTC, (0, 0))

    alice_swaps: list[int] = []  # every settlement of alice's swap (1e18 USD, as moved)

    def poll(who: Keeper) -> Any:
        """One keeper poll, mirrored in the models: its fixes and observations (one
        model observation per poll: the chain's are at one time and index), its
        settlement of alice's swap."""
        fixings_before = int(caps.products(0).fixings)
        margin_before, pool_before = int(engine.margin(alice)), int(engine.pool_balance())
        result = who.poll_once()
        assert result.errors == 0
        now = system.chain.time
        for boundary in range(fixings_before, int(caps.products(0).fixings)):
            snapshot = int(caps.snapshots(0, boundary))
            caps_model.observe(BTC, snapshot, now)
            payoff, _, _ = caps_model.fix(0, snapshot)
            if boundary:
                assert int(caps.caplet_payoff(0, boundary - 1)) == payoff
        if result.caps_observed:
            caps_model.observe(BTC, rate_index(), now)
        if result.swaps_settled:
            amount = model.settle_touch(alice, near, index(), rate(), now)
            _, _, moved = sm.transfer(margin_before, pool_before, amount)
            assert int(engine.margin(alice)) - margin_before == moved == amount
            alice_swaps.append(amount)
        check_caps()
        return result

    # ---- the population: a pool, a cap writer, long skew (positive funding)
    writer = system.new_trader("cap-writer")
    system.token.approve(caps, MAX_UINT, sender=writer)
    system.mint(writer, 1_000_000)
    caps.deposit(system.tokens(500_000), sender=writer)
    caps_model.deposit(writer, system.tokens(500_000))
    longs = system.new_trader("longs", 3_000_000)
    system.trade(longs, BTC, wad(10))
    shorts = system.new_trader("shorts", 3_000_000)

    # ---- alice: deposit, short perp, receive-fixed hedge in the same account
    alice = system.new_trader("alice", 60_000)
    system.token.approve(caps, MAX_UINT, sender=alice)
    system.mint(alice, 10_000)
    system.trade(alice, BTC, -wad(1))
    cap = _oi_cap(system, params.swaps)
    quote = int(swaps.quote(alice, BTC, near, -wad(1)))
    margin = int(engine.margin(alice))
    swaps.open(BTC, near, -wad(1), -wad("0.01"), sender=alice)
    amount, quoted = model.open(
        alice, near, -wad(1), index(), rate(), int(engine.index_price(BTC)), system.chain.time, cap
    )
    [opened] = _logs(system, "SwapOpened")
    assert opened["fixed_rate"] == quoted == quote and amount == 0 and int(engine.margin(alice)) == margin
    perp_index_at_open = index()
    assert int(swaps.swaps(alice, BTC, near).last_index) == perp_index_at_open

    # ---- the forward needs an observation TWAP_WINDOW old: the keeper records it
    system.advance(int(caps.TWAP_WINDOW()))
    assert poll(keeper).caps_observed == 1

    # ---- alice buys a cap on the funding rate (she pays the cap's premium from her wallet)
    wallet = int(system.token.balanceOf(alice))
    notional = wad(100_000)
    caps.buy(0, notional, MAX_UINT, sender=alice)
    forward = caps_model.forward(BTC, False, rate_index(), rate(), system.chain.time)
    assert forward is not None
    caps_model.observe(BTC, rate_index(), system.chain.time)
    premium, _ = caps_model.buy(alice, 0, notional, forward, system.chain.time)
    assert premium > 0 and int(system.token.balanceOf(alice)) == wallet - premium
    check_caps()

    # ---- funding moves: more long skew (the cap pays), later short skew (funding turns negative)
    system.trade(longs, BTC, wad(30))
    product = caps.products(0)
    last_boundary = int(product.start) + int(product.periods) * int(product.period)
    flipped = False
    while not alice_swaps:  # until the keeper's first poll after the maturity settles the swap
        assert system.chain.time < near + 2 * STEP, "the keeper did not settle the matured swap"
        system.advance(STEP)
        if not flipped and system.chain.time > last_boundary:
            system.trade(shorts, BTC, -wad(80))
            assert rate() < 0
            flipped = True
        poll(keeper)
    assert flipped and int(caps.products(0).fixings) == int(product.periods) + 1  # every boundary fixed
    system.trade(alice, BTC, wad(1))  # alice closes the perp in the block of the settlement

    # ---- the keeper settled the matured swap in its first poll after the maturity
    assert list(swaps.held(alice)) == []
    book = swaps.books(BTC, near)
    assert near <= int(book.final_time) < near + STEP and int(book.final_time) == system.chain.time
    # the hedge: the swap's floating leg is the funding the short perp received (to 1 wei)
    snapshot_index = int(book.final_index)
    floating = (-wad(1)) * (snapshot_index - perp_index_at_open) // WAD
    fixed = alice_swaps[0] - floating
    assert index() == snapshot_index
    [funding] = [e["amount"] for e in _logs(system, "FundingSettled") if e["account"] == alice]
    assert abs(floating - funding) <= 1, (funding, floating)  # funding: paid by the perp (negative: received)

    # ---- the caplets pay: claimed by a keeper with --claim, to the wei of the model
    owed = int(caps.pending(alice, 0))
    wallet = int(system.token.balanceOf(alice))
    assert claimer.poll_once().caps_claimed == 1
    paid = caps_model.claim(alice, 0)
    assert paid == owed > 0 and int(system.token.balanceOf(alice)) == wallet + paid
    check_caps()
    return {"premium": premium, "payout": paid, "swap_settled": alice_swaps[0], "floating": floating, "fixed": fixed}
