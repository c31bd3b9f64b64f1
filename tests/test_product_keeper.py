"""The keeper's funding-products pass on the embedded chain (vyperp.ops.product_keeper):
a swap-only underwater account is liquidated through FundingSwaps.liquidate (the
engine's liquidate refuses it) in one poll; a matured swap is settled and its book
snapshotted in the first poll after the maturity; a cap boundary is fixed in the first
poll after it, and a keeper that was down catches up boundary by boundary; TWAP
observations are recorded only when due; claims are optional; the holders' book
survives a restart from the state file. The same flow on anvil: tests/test_anvil_products.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vyperp.chain import Reverted
from vyperp.ops.keeper import TRACKED_EVENTS, Keeper
from vyperp.ops.product_keeper import CAP_EVENTS, SWAP_EVENTS
from vyperp.protocol.deploy import deploy_embedded
from vyperp.protocol.system import System
from vyperp.protocol.units import wad

from .product_keeper_fixtures import (
    BTC,
    HOUR,
    PERIOD,
    T0,
    LoggingChain,
    LogSource,
    fund_pool,
    maturities,
    product_params,
    underwater_swap_holder,
)


@pytest.fixture
def system() -> System:
    chain = LoggingChain(timestamp=T0)
    system = System(chain, deploy_embedded(chain, product_params()))
    fund_pool(system)
    return system


def keeper_for(system: System, state: Path | None = None, **kw) -> Keeper:
    chain = system.chain
    sender = system.chain.accounts.get("keeper") or system.new_trader("keeper")
    return Keeper(
        chain,
        system.engine.address,
        system.lens.address,
        1,
        state,
        sender=sender,
        event_source=LogSource(chain, system.engine, TRACKED_EVENTS),
        caps_address=system.caps.address,
        product_sources=(LogSource(chain, system.swaps, SWAP_EVENTS), LogSource(chain, system.caps, CAP_EVENTS)),
        **kw,
    )


def test_swap_only_underwater_account_is_liquidated_through_funding_swaps(system: System) -> None:
    keeper = keeper_for(system)
    keeper.poll_once()
    holder = underwater_swap_holder(system)
    with pytest.raises(Reverted) as exc:  # the engine's own liquidation refuses a swap holder
        system.engine.liquidate(holder, sender=keeper.sender)
    assert exc.value.reason == "Account not liquidatable"
    margin_before = int(system.engine.margin(keeper.sender))
    result = keeper.poll_once()
    assert result.swap_liquidated == 1 and result.errors == 0
    assert list(system.swaps.held(holder)) == [] and int(system.engine.open_markets(holder)) == 0
    assert not system.lens.is_liquidatable(holder)
    assert holder not in keeper.products.holders
    assert int(system.engine.margin(keeper.sender)) > margin_before  # the swap liquidation reward
    assert keeper.stats["swap_liquidated"] == 1
    again = keeper.poll_once()
    assert again.swap_liquidated == 0 and again.errors == 0


def test_matured_swap_is_settled_in_the_first_poll_after_maturity(system: System) -> None:
    _, near = maturities(system)
    keeper = keeper_for(system)
    longs = system.new_trader("longs", 2_000_000)
    system.trade(longs, BTC, wad(5))
    holder = system.new_trader("holder", 50_000)
    system.swaps.open(BTC, near, wad("0.5"), wad("0.01"), sender=holder)
    keeper.poll_once()
    assert keeper.products.holders == {holder: [(BTC, near)]}
    system.chain.set_time(near - 60)
    system.advance(0)
    system.set_price(BTC, 100_000)
    assert keeper.poll_once().swaps_settled == 0  # not matured yet
    system.advance(120)  # one poll interval past the maturity
    assert system.swaps.books(BTC, near).final_time == 0
    result = keeper.poll_once()
    assert result.swaps_settled == 1 and result.errors == 0
    book = system.swaps.books(BTC, near)
    assert book.final_time == near + 60  # snapshotted by the keeper's settle, in its first poll
    assert list(system.swaps.held(holder)) == [] and holder not in keeper.products.holders
    assert book.sums.total_size == 0 and int(system.engine.open_markets(holder)) == 0


def test_cap_boundaries_are_fixed_in_the_first_poll_after_each(system: System) -> None:
    caps = system.caps
    keeper = keeper_for(system)
    product = caps.products(0)
    start, periods = int(product.start), int(product.periods)
    keeper.poll_once()
    assert int(caps.products(0).fixings) == 0
    for boundary in range(periods + 1):
        due = start + boundary * PERIOD
        system.chain.set_time(due - 1)
        system.advance(0)
        system.set_price(BTC, 100_000)
        assert keeper.poll_once().caps_fixed == 0 and int(caps.products(0).fixings) == boundary  # not due
        system.advance(1)
        result = keeper.poll_once()
        assert result.caps_fixed == 1 and result.errors == 0
        assert int(caps.products(0).fixings) == boundary + 1
        assert int(caps.snapshots(0, boundary)) == int(system.engine.funding_rate_index(BTC))  # at the boundary
    assert 0 in keeper.products.fully_fixed
    system.advance(PERIOD)
    assert keeper.poll_once().caps_fixed == 0


def test_a_keeper_that_was_down_catches_up_boundary_by_boundary(system: System) -> None:
    caps = system.caps
    keeper = keeper_for(system)
    start = int(caps.products(0).start)
    system.chain.set_time(start + 2 * PERIOD + 5)
    system.advance(0)
    system.set_price(BTC, 100_000)
    result = keeper.poll_once()
    assert result.caps_fixed == 3 and int(caps.products(0).fixings) == 3


def test_observations_are_recorded_when_due_and_claims_are_optional(system: System) -> None:
    caps = system.caps
    window = int(caps.TWAP_WINDOW())
    keeper = keeper_for(system)
    first = keeper.poll_once()  # the listing's observation is fresh: nothing due
    assert first.caps_observed == 0
    system.advance(window)
    assert keeper.poll_once().caps_observed == 1
    assert int(caps.observation_new(BTC).time) == system.chain.time  # recorded by the keeper now
    assert keeper.poll_once().caps_observed == 0  # the newer one is not TWAP_WINDOW old
    # a buyer, a fixed caplet with a payout, and a keeper that claims
    buyer = system.new_trader("buyer")
    system.token.approve(caps, 2**256 - 1, sender=buyer)
    system.mint(buyer, 100_000)
    writer = system.new_trader("writer")
    system.token.approve(caps, 2**256 - 1, sender=writer)
    system.mint(writer, 1_000_000)
    caps.deposit(system.tokens(500_000), sender=writer)
    caps.buy(0, wad(100_000), 2**256 - 1, sender=buyer)
    longs = system.new_trader("longs", 3_000_000)
    system.trade(longs, BTC, wad(40))  # funding well above the strike
    start = int(caps.products(0).start)
    claimer = keeper_for(system, claim_caps=True)
    for boundary in (0, 1):
        system.chain.set_time(start + boundary * PERIOD)
        system.advance(0)
        system.set_price(BTC, 100_000)
        keeper.poll_once()  # fixes, never claims
    pending = int(caps.pending(buyer, 0))
    assert pending > 0 and keeper.stats["caps_claimed"] == 0
    balance = int(system.token.balanceOf(buyer))
    result = claimer.poll_once()
    assert result.caps_claimed == 1
    assert int(system.token.balanceOf(buyer)) == balance + pending and int(caps.pending(buyer, 0)) == 0


def test_the_holders_book_survives_a_restart(system: System, tmp_path: Path) -> None:
    state = tmp_path / "keeper.json"
    far, near = maturities(system)
    longs = system.new_trader("longs", 2_000_000)
    system.trade(longs, BTC, wad(5))
    alice, bob = system.new_trader("alice", 50_000), system.new_trader("bob", 50_000)
    system.swaps.open(BTC, far, wad("0.2"), wad("0.01"), sender=alice)
    system.swaps.open(BTC, near, -wad("0.1"), -wad("0.01"), sender=bob)
    keeper = keeper_for(system, state)
    keeper.poll_once()
    book = dict(keeper.products.holders)
    assert book == {alice: [(BTC, far)], bob: [(BTC, near)]}
    system.swaps.open(BTC, near, wad("0.1"), wad("0.01"), sender=alice)  # while it is down
    restarted = keeper_for(system, state)
    assert restarted.resumed and restarted.products.holders == book
    restarted.poll_once()
    assert restarted.products.holders[alice] == [(BTC, far), (BTC, near)]


def test_without_products_the_keeper_ignores_them(system: System) -> None:
    keeper = keeper_for(system, products=False)
    assert not keeper.products.enabled
    holder = underwater_swap_holder(system)
    result = keeper.poll_once()
    assert result.swap_liquidated == 0 and list(system.swaps.held(holder)) != []


def test_a_reverting_view_skips_the_products_pass_not_the_poll(system: System) -> None:
    keeper = keeper_for(system)
    holder = underwater_swap_holder(system)
    system.chain.advance(2 * HOUR)  # no new rounds: the oracle is stale, the lens's views revert
    stats = keeper.run(poll_interval=0, max_polls=1)  # the keeper logs it and keeps running
    assert stats["errors"] >= 1 and stats["swap_liquidated"] == 0 and list(system.swaps.held(holder)) != []
    system.set_price(BTC, 100_000)
    system.set_price(1, 4_000)
    assert keeper.poll_once().swap_liquidated == 1 and list(system.swaps.held(holder)) == []


def test_the_loop_wakes_for_the_next_boundary_or_maturity(system: System) -> None:
    caps = system.caps
    _, near = maturities(system)
    keeper = keeper_for(system)
    longs = system.new_trader("longs", 2_000_000)
    system.trade(longs, BTC, wad(5))
    holder = system.new_trader("holder", 50_000)
    system.swaps.open(BTC, near, wad("0.1"), wad("0.01"), sender=holder)
    keeper.poll_once()
    start = int(caps.products(0).start)
    assert keeper.products.next_due == min(start, near) == start
    assert keeper._wait(100_000.0) == start - system.chain.time  # wakes at the boundary, not after the interval
    assert keeper._wait(5.0) == 5.0
    system.chain.set_time(start)
    system.advance(0)
    system.set_price(BTC, 100_000)
    keeper.poll_once()
    assert keeper.products.next_due == start + PERIOD  # the next boundary


def test_perps_and_swaps_account_swaps_first_then_the_perp_pass(system: System) -> None:
    far, _ = maturities(system)
    keeper = keeper_for(system)
    longs = system.new_trader("longs", 2_000_000)
    system.trade(longs, BTC, wad(5))
    both = system.new_trader("both", 10_000)
    system.trade(both, BTC, wad("0.8"))
    system.swaps.open(BTC, far, wad("0.1"), wad("0.01"), sender=both)
    keeper.poll_once()
    assert both in keeper.positions and both in keeper.products.holders
    system.set_price(BTC, 91_000)
    assert system.lens.is_liquidatable(both) and system.lens.holds_swaps(both)
    size = int(system.engine.position(both, BTC).size)
    result = keeper.poll_once()
    assert result.swap_liquidated == 1 and result.liquidated >= 1 and result.errors == 0
    assert list(system.swaps.held(both)) == [] and both not in keeper.products.holders
    assert 0 <= int(system.engine.position(both, BTC).size) < size  # the perp pass took its tier


def test_a_state_file_without_products_reads_their_book_not_the_engine_again(system: System, tmp_path: Path) -> None:
    state = tmp_path / "keeper.json"
    far, _ = maturities(system)
    longs = system.new_trader("longs", 2_000_000)
    system.trade(longs, BTC, wad(5))
    alice = system.new_trader("alice", 50_000)
    system.swaps.open(BTC, far, wad("0.2"), wad("0.01"), sender=alice)
    plain = keeper_for(system, state, products=False)
    plain.poll_once()
    assert "products" not in json.loads(state.read_text())
    cursor, events = plain.cursor, plain.stats["events"]
    upgraded = keeper_for(system, state)
    assert upgraded.resumed and upgraded.cursor == cursor and upgraded.products.holders == {alice: [(BTC, far)]}
    upgraded.poll_once()
    assert upgraded.stats["events"] == events and upgraded.stats["rescans"] == 0  # no engine event read twice
