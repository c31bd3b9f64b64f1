"""MockOracle (Chainlink AggregatorV3 mock) and the engine's guarded oracle read.

Run: ``.venv/bin/python -m pytest tests/test_oracle.py -q -p no:ape_test``
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vyperp.chain import Reverted
from vyperp.protocol.params import MarketParams, ProtocolParams
from vyperp.protocol.units import WAD

BTC, ETH = 0, 1
ZERO = "0x0000000000000000000000000000000000000000"
INT192_MIN, INT192_MAX = -(2**191), 2**191 - 1


@pytest.fixture
def oracle(system):
    """A fresh 8-decimal feed with no rounds yet; admin = system.admin, feeder = system.feeder."""
    return system.chain.deploy("MockOracle", 8, "TEST / USD", system.feeder, sender=system.admin)


def events(system, name):
    return [e for e in system.chain.last_receipt.logs if e.name == name]


# ================================================================== metadata and empty state


def test_metadata(system, oracle):
    assert oracle.decimals() == 8
    assert oracle.description() == "TEST / USD"
    assert oracle.version() == 4
    assert oracle.admin() == system.admin
    assert oracle.is_feeder(system.feeder) is True
    assert oracle.is_feeder(system.admin) is False
    # the deployed markets' feeds
    assert system.oracles[BTC].description() == "BTC / USD"
    assert system.oracles[ETH].description() == "ETH / USD"
    assert system.oracles[BTC].decimals() == 8


def test_empty_feed(oracle):
    assert oracle.latest_round_id() == 0
    assert oracle.latestRoundData() == (0, 0, 0, 0, 0)
    assert oracle.latestAnswer() == 0
    for round_id in (0, 1, 2**80 - 1):
        with pytest.raises(Reverted) as exc:
            oracle.getRoundData(round_id)
        assert exc.value.reason == "No data present"


# ================================================================== push_round


def test_push_round_records_and_logs(system, oracle):
    now = system.chain.time
    round_id = oracle.push_round(123_456_789_012, 0, sender=system.feeder)
    assert round_id == 1
    [log] = events(system, "RoundPushed")
    assert log.address == oracle.address
    assert log.args == {"round_id": 1, "answer": 123_456_789_012, "updated_at": now, "feeder": system.feeder}
    assert oracle.latest_round_id() == 1
    assert oracle.latestRoundData() == (1, 123_456_789_012, now, now, 1)
    assert oracle.getRoundData(1) == (1, 123_456_789_012, now, now, 1)
    assert oracle.latestAnswer() == 123_456_789_012


def test_round_ids_increment_and_history_kept(system, oracle):
    t0 = system.chain.time
    assert oracle.push_round(100, 0, sender=system.feeder) == 1
    system.chain.advance(10)
    assert oracle.push_round(-200, 0, sender=system.feeder) == 2
    system.chain.advance(5)
    assert oracle.push_round(300, 0, sender=system.feeder) == 3
    assert oracle.latest_round_id() == 3
    assert oracle.getRoundData(1) == (1, 100, t0, t0, 1)
    assert oracle.getRoundData(2) == (2, -200, t0 + 10, t0 + 10, 2)
    assert oracle.getRoundData(3) == (3, 300, t0 + 15, t0 + 15, 3)
    assert oracle.latestRoundData() == (3, 300, t0 + 15, t0 + 15, 3)
    with pytest.raises(Reverted) as exc:
        oracle.getRoundData(4)
    assert exc.value.reason == "No data present"
    with pytest.raises(Reverted) as exc:
        oracle.getRoundData(0)
    assert exc.value.reason == "No data present"


def test_explicit_past_timestamp(system, oracle):
    t0 = system.chain.time
    oracle.push_round(1, t0 - 500, sender=system.feeder)
    assert oracle.latestRoundData() == (1, 1, t0 - 500, t0 - 500, 1)
    system.chain.advance(100)
    # the same timestamp as the last round is accepted, so is anything between it and now
    oracle.push_round(2, t0 - 500, sender=system.feeder)
    assert oracle.latestRoundData() == (2, 2, t0 - 500, t0 - 500, 2)
    oracle.push_round(3, t0 + 40, sender=system.feeder)
    assert oracle.latestRoundData() == (3, 3, t0 + 40, t0 + 40, 3)
    [log] = events(system, "RoundPushed")
    assert log.args["updated_at"] == t0 + 40
    # exactly now is accepted
    oracle.push_round(4, t0 + 100, sender=system.feeder)
    assert oracle.latestRoundData() == (4, 4, t0 + 100, t0 + 100, 4)


def test_timestamp_in_future(system, oracle):
    with pytest.raises(Reverted) as exc:
        oracle.push_round(1, system.chain.time + 1, sender=system.feeder)
    assert exc.value.reason == "Timestamp in future"
    assert oracle.latest_round_id() == 0


def test_timestamp_before_last_round(system, oracle):
    t0 = system.chain.time
    oracle.push_round(1, t0, sender=system.feeder)
    system.chain.advance(60)
    with pytest.raises(Reverted) as exc:
        oracle.push_round(2, t0 - 1, sender=system.feeder)
    assert exc.value.reason == "Timestamp before last round"
    assert oracle.latestRoundData() == (1, 1, t0, t0, 1)


def test_not_feeder(system, oracle, outsider):
    for sender in (outsider, system.admin):
        with pytest.raises(Reverted) as exc:
            oracle.push_round(1, 0, sender=sender)
        assert exc.value.reason == "Not feeder"
    assert oracle.latest_round_id() == 0


@pytest.mark.parametrize("answer", [0, 1, -1, INT192_MAX, INT192_MIN, 2**128 + 7, -(2**150) - 3, 2**191 - 2**64])
def test_extreme_answers_round_trip(system, oracle, answer):
    oracle.push_round(answer, 0, sender=system.feeder)
    now = system.chain.time
    assert oracle.latestRoundData() == (1, answer, now, now, 1)
    assert oracle.getRoundData(1) == (1, answer, now, now, 1)
    assert oracle.latestAnswer() == answer


@given(answer=st.integers(min_value=INT192_MIN, max_value=INT192_MAX))
def test_int192_packing_round_trips(system, oracle, answer):
    round_id = oracle.push_round(answer, 0, sender=system.feeder)
    now = system.chain.time
    assert oracle.latestRoundData() == (round_id, answer, now, now, round_id)
    assert oracle.getRoundData(round_id) == (round_id, answer, now, now, round_id)


@given(
    answer=st.one_of(
        st.integers(min_value=INT192_MAX + 1, max_value=2**255 - 1),
        st.integers(min_value=-(2**255), max_value=INT192_MIN - 1),
    )
)
def test_answer_out_of_range(system, oracle, answer):
    with pytest.raises(Reverted) as exc:
        oracle.push_round(answer, 0, sender=system.feeder)
    assert exc.value.reason == "Answer out of range"
    assert oracle.latest_round_id() == 0


@pytest.mark.parametrize("answer", [INT192_MAX + 1, INT192_MIN - 1, 2**255 - 1, -(2**255)])
def test_answer_out_of_range_bounds(system, oracle, answer):
    with pytest.raises(Reverted) as exc:
        oracle.push_round(answer, 0, sender=system.feeder)
    assert exc.value.reason == "Answer out of range"


# ================================================================== admin


def test_set_feeder(system, oracle, outsider):
    oracle.set_feeder(outsider, True, sender=system.admin)
    [log] = events(system, "FeederUpdated")
    assert log.args == {"feeder": outsider, "enabled": True}
    assert oracle.is_feeder(outsider) is True
    assert oracle.push_round(42, 0, sender=outsider) == 1
    [pushed] = events(system, "RoundPushed")
    assert pushed.args["feeder"] == outsider
    oracle.set_feeder(outsider, False, sender=system.admin)
    assert oracle.is_feeder(outsider) is False
    with pytest.raises(Reverted) as exc:
        oracle.push_round(43, 0, sender=outsider)
    assert exc.value.reason == "Not feeder"
    assert oracle.latestAnswer() == 42


def test_set_feeder_guards(system, oracle, outsider):
    for sender in (outsider, system.feeder):
        with pytest.raises(Reverted) as exc:
            oracle.set_feeder(sender, True, sender=sender)
        assert exc.value.reason == "Not admin"
    assert oracle.is_feeder(outsider) is False
    with pytest.raises(Reverted) as exc:
        oracle.set_feeder(ZERO, True, sender=system.admin)
    assert exc.value.reason == "Zero address"


def test_transfer_admin(system, oracle, outsider):
    with pytest.raises(Reverted) as exc:
        oracle.transfer_admin(outsider, sender=outsider)
    assert exc.value.reason == "Not admin"
    with pytest.raises(Reverted) as exc:
        oracle.transfer_admin(ZERO, sender=system.admin)
    assert exc.value.reason == "Zero address"
    assert oracle.admin() == system.admin

    oracle.transfer_admin(outsider, sender=system.admin)
    [log] = events(system, "AdminTransferred")
    assert log.args == {"previous_admin": system.admin, "new_admin": outsider}
    assert oracle.admin() == outsider
    with pytest.raises(Reverted) as exc:
        oracle.set_feeder(system.admin, True, sender=system.admin)
    assert exc.value.reason == "Not admin"
    oracle.set_feeder(system.admin, True, sender=outsider)
    assert oracle.is_feeder(system.admin) is True


# ================================================================== engine: guarded read


def test_index_price_converts_8_decimals(system):
    assert system.engine.index_price(BTC) == 100_000 * WAD
    assert system.engine.index_price(ETH) == 4_000 * WAD
    system.oracles[ETH].push_round(4_012_345_678_91, 0, sender=system.feeder)  # 4012.34567891
    assert system.engine.index_price(ETH) == 4_012_345_678_91 * 10**10


@pytest.mark.parametrize("decimals", [6, 18])
def test_index_price_converts_other_decimals(make_system, decimals):
    s = make_system(
        ProtocolParams(markets=[MarketParams(symbol="BTC", initial_price=100_000.0, oracle_decimals=decimals)])
    )
    assert s.oracles[0].decimals() == decimals
    assert s.oracles[0].latestAnswer() == 100_000 * 10**decimals
    assert s.engine.index_price(0) == 100_000 * WAD
    answer = 101_234 * 10**decimals + 1  # one unit of the feed's last decimal
    s.oracles[0].push_round(answer, 0, sender=s.feeder)
    assert s.engine.index_price(0) == answer * 10 ** (18 - decimals)
    s.engine.poke(0, sender=s.feeder)
    assert s.engine.market_state(0).last_price == answer * 10 ** (18 - decimals)  # last_price


def test_oracle_stale(system, alice):
    system.advance(3600, refresh=False)  # exactly max_oracle_age: still fresh
    assert system.engine.index_price(BTC) == 100_000 * WAD
    system.advance(1, refresh=False)
    for market in (BTC, ETH):
        with pytest.raises(Reverted) as exc:
            system.engine.index_price(market)
        assert exc.value.reason == "Oracle stale"
    with pytest.raises(Reverted) as exc:
        system.trade(alice, BTC, WAD // 10)
    assert exc.value.reason == "Oracle stale"
    assert system.engine.position(alice, BTC) == (0, 0, 0)
    # a fresh round cures it
    system.set_price(BTC, 100_000)
    assert system.engine.index_price(BTC) == 100_000 * WAD
    system.trade(alice, BTC, WAD // 10)
    assert system.size_of(alice, BTC) == WAD // 10


@pytest.mark.parametrize("answer", [0, -1, -100_000 * 10**8])
def test_oracle_answer_not_positive(system, alice, answer):
    system.oracles[BTC].push_round(answer, 0, sender=system.feeder)
    with pytest.raises(Reverted) as exc:
        system.engine.index_price(BTC)
    assert exc.value.reason == "Oracle answer not positive"
    with pytest.raises(Reverted) as exc:
        system.trade(alice, BTC, WAD // 10)
    assert exc.value.reason == "Oracle answer not positive"
    with pytest.raises(Reverted) as exc:
        system.engine.poke(BTC, sender=alice)
    assert exc.value.reason == "Oracle answer not positive"
    assert system.engine.index_price(ETH) == 4_000 * WAD  # other markets unaffected


@pytest.mark.parametrize(
    "price,accepted",
    [
        ("125000", True),  # +25 % exactly
        ("125000.00000001", False),  # one feed unit beyond
        ("75000", True),  # -25 % exactly
        ("74999.99999999", False),
        ("130000", False),
        ("1", False),
    ],
)
def test_oracle_price_jump_bound(system, alice, price, accepted):
    system.set_price(BTC, price)
    expected = int(Decimal(price) * 10**8) * 10**10
    if accepted:
        assert system.engine.index_price(BTC) == expected
        system.trade(alice, BTC, WAD // 100)
        state = system.engine.market_state(BTC)
        assert state.last_price == expected  # last_price
        assert state.last_round_id == 2  # last_round_id
    else:
        with pytest.raises(Reverted) as exc:
            system.engine.index_price(BTC)
        assert exc.value.reason == "Oracle price jump"
        with pytest.raises(Reverted) as exc:
            system.trade(alice, BTC, WAD // 100)
        assert exc.value.reason == "Oracle price jump"
        assert system.engine.market_state(BTC).last_price == 100_000 * WAD


def test_jump_measured_against_last_accepted_price(system, alice):
    # +25 % then +25 % again is fine if the first round was accepted in between...
    system.set_price(BTC, 125_000)
    system.engine.poke(BTC, sender=alice)
    assert system.engine.market_state(BTC).last_price == 125_000 * WAD
    system.set_price(BTC, 156_250)
    assert system.engine.index_price(BTC) == 156_250 * WAD
    # ...but not when the intermediate round was never accepted
    system.set_price(ETH, 5_000)
    system.set_price(ETH, 6_250)
    with pytest.raises(Reverted) as exc:
        system.engine.index_price(ETH)
    assert exc.value.reason == "Oracle price jump"


def test_reanchor_accepts_jumped_price(system, alice):
    system.set_price(BTC, 200_000)
    with pytest.raises(Reverted) as exc:
        system.engine.poke(BTC, sender=alice)
    assert exc.value.reason == "Oracle price jump"
    system.configurator.reanchor_price(BTC, sender=system.admin)
    logs = system.chain.last_receipt.logs
    reanchored = [e for e in logs if e.name == "OraclePriceReanchored"]
    assert [e.args for e in reanchored] == [{"market": BTC, "price": 200_000 * WAD}]
    guardian = [e for e in logs if e.name == "PriceReanchored"]
    assert [e.args for e in guardian] == [{"market": BTC, "guardian": system.admin}]
    state = system.engine.market_state(BTC)
    assert state.last_price == 200_000 * WAD
    assert state.last_round_id == 2
    assert system.engine.index_price(BTC) == 200_000 * WAD
    system.trade(alice, BTC, WAD // 100)
    assert system.size_of(alice, BTC) == WAD // 100


def test_reanchor_still_rejects_stale_and_non_positive(system):
    system.set_price(BTC, 0)
    with pytest.raises(Reverted) as exc:
        system.configurator.reanchor_price(BTC, sender=system.admin)
    assert exc.value.reason == "Oracle answer not positive"
    system.set_price(BTC, 300_000)
    system.advance(3601, refresh=False)
    with pytest.raises(Reverted) as exc:
        system.configurator.reanchor_price(BTC, sender=system.admin)
    assert exc.value.reason == "Oracle stale"
    assert system.engine.market_state(BTC).last_price == 100_000 * WAD


def test_reanchor_not_guardian(system, outsider):
    system.set_price(BTC, 200_000)
    for sender in (outsider, system.feeder):
        with pytest.raises(Reverted) as exc:
            system.configurator.reanchor_price(BTC, sender=sender)
        assert exc.value.reason == "Not guardian"
    assert system.engine.market_state(BTC).last_price == 100_000 * WAD
    with pytest.raises(Reverted) as exc:
        system.engine.reanchor_price(BTC, sender=system.admin)
    assert exc.value.reason == "Not configurator"


def test_add_market_rejects_bad_feeds(system):
    config = system.engine.market_config(BTC)
    brackets = system.engine.brackets_of(BTC)
    risk = system.engine.risk_config(BTC)

    def listing(oracle):
        return lambda: system.configurator.add_market(
            config._replace(oracle=oracle.address), brackets, risk, sender=system.admin
        )

    deep = system.chain.deploy("MockOracle", 19, "DEEP / USD", system.feeder, sender=system.admin)
    deep.push_round(10**19, 0, sender=system.feeder)
    empty = system.chain.deploy("MockOracle", 8, "EMPTY / USD", system.feeder, sender=system.admin)
    old = system.chain.deploy("MockOracle", 8, "OLD / USD", system.feeder, sender=system.admin)
    old.push_round(10**8, system.chain.time - 3601, sender=system.feeder)
    for oracle, reason in (
        (deep, "Oracle decimals above 18"),
        (empty, "Oracle answer not positive"),
        (old, "Oracle stale"),
    ):
        with pytest.raises(Reverted) as exc:
            listing(oracle)()
        assert exc.value.reason == reason
    assert system.engine.market_count() == 2
    # 18 decimals is the deepest feed accepted; the listing anchors the latest round
    fine = system.chain.deploy("MockOracle", 18, "FINE / USD", system.feeder, sender=system.admin)
    fine.push_round(123 * WAD + 456, system.chain.time - 3600, sender=system.feeder)
    listing(fine)()
    assert system.engine.market_count() == 3
    assert system.engine.market_state(2).last_price == 123 * WAD + 456
    assert system.engine.market_state(2).last_round_id == 1
    assert system.engine.index_price(2) == 123 * WAD + 456
