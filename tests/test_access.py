"""Access control: roles on the configurator, the engine's configurator-only setters,
pausing, and the configurator's parameter validation.

Run: ``.venv/bin/python -m pytest tests/test_access.py -q -p no:ape_test``
"""

from __future__ import annotations

import pytest

from vyperp.chain import Reverted
from vyperp.protocol.units import WAD

BTC, ETH = 0, 1
ADMIN, GUARDIAN = 1, 2
ZERO = "0x0000000000000000000000000000000000000000"
MAX_UINT = 2**256 - 1


def market_config(system, market=BTC):
    return system.engine.market_config(market)


def brackets(system, market=BTC) -> list:
    return [tuple(b) for b in system.engine.brackets_of(market)]


def risk_config(system, market=BTC):
    return system.engine.risk_config(market)


def replaced(struct, field: str, value):
    """`struct` (a named tuple read from the engine) with one field, named, replaced."""
    return struct._replace(**{field: value})


def digest(system, accounts=()) -> tuple:
    """Everything a privileged call could change."""
    count = system.engine.market_count()
    markets = tuple(
        (
            system.engine.market_config(m),
            system.engine.market_state(m),
            system.engine.risk_config(m),
            system.engine.rate_limit(m),
            tuple(system.engine.brackets_of(m)),
        )
        for m in range(count)
    )
    people = tuple(
        (
            system.configurator.roles_of(a),
            system.engine.margin(a),
            system.engine.position(a, BTC),
            system.engine.position(a, ETH),
            system.token.balanceOf(a),
        )
        for a in accounts
    )
    return (
        count,
        markets,
        system.engine.liquidation_config(),
        tuple(system.engine.liquidation_tiers()),
        system.engine.pool(),
        system.configurator.engine(),
        system.engine.pool_balance(),
        system.engine.insurance_fund(),
        system.token.balanceOf(system.engine),
        system.configurator.roles_of(system.admin),
        system.configurator.admin(),
        system.configurator.pending_admin(),
        people,
    )


def configurator_admin_calls(system, account):
    cfg = market_config(system)
    new_oracle = system.oracles[ETH].address
    liq = system.engine.liquidation_config()
    c = system.configurator
    return {
        "bind_engine": lambda: c.bind_engine(account, sender=account),
        "set_pool": lambda: c.set_pool(account, sender=account),
        "set_swaps": lambda: c.set_swaps(account, sender=account),
        "add_market": lambda: c.add_market(
            replaced(cfg, "oracle", new_oracle), brackets(system), risk_config(system), sender=account
        ),
        "set_market_config": lambda: c.set_market_config(BTC, replaced(cfg, "taker_fee", 10**15), sender=account),
        "set_margin_brackets": lambda: c.set_margin_brackets(BTC, [(MAX_UINT, WAD // 5, WAD // 10)], sender=account),
        "set_risk_config": lambda: c.set_risk_config(
            BTC, replaced(risk_config(system), "max_multiplier", 2 * WAD), sender=account
        ),
        "set_rate_limit": lambda: c.set_rate_limit(BTC, (600, 10**6 * WAD), sender=account),
        "set_liquidation_config": lambda: c.set_liquidation_config(liq, [(WAD, WAD)], sender=account),
        "set_roles": lambda: c.set_roles(account, GUARDIAN, sender=account),
        "propose_admin": lambda: c.propose_admin(account, sender=account),
        "cancel_admin_transfer": lambda: c.cancel_admin_transfer(sender=account),
    }


def configurator_guardian_calls(system, account):
    c = system.configurator
    return {
        "set_paused": lambda: c.set_paused(BTC, True, sender=account),
        "reanchor_price": lambda: c.reanchor_price(BTC, sender=account),
    }


def engine_setter_calls(system, account):
    e = system.engine
    liq = system.engine.liquidation_config()
    return {
        "set_pool": lambda: e.set_pool(account, sender=account),
        "set_swaps": lambda: e.set_swaps(account, sender=account),
        "add_market": lambda: e.add_market(
            replaced(market_config(system), "oracle", system.oracles[ETH].address),
            brackets(system),
            risk_config(system),
            [0, 0, 0, 0],
            sender=account,
        ),
        "set_market_config": lambda: e.set_market_config(
            BTC, replaced(market_config(system), "taker_fee", 10**15), [0, 0, 0, 0], sender=account
        ),
        "set_margin_brackets": lambda: e.set_margin_brackets(BTC, [(MAX_UINT, WAD // 5, WAD // 10)], sender=account),
        "set_risk_config": lambda: e.set_risk_config(
            BTC, replaced(risk_config(system), "max_multiplier", 2 * WAD), [0, 0, 0, 0], sender=account
        ),
        "set_rate_limit": lambda: e.set_rate_limit(BTC, (600, 10**6 * WAD), sender=account),
        "set_liquidation_config": lambda: e.set_liquidation_config(liq, [], sender=account),
        "set_paused": lambda: e.set_paused(BTC, True, sender=account),
        "reanchor_price": lambda: e.reanchor_price(BTC, sender=account),
    }


ADMIN_CALLS = [
    "bind_engine",
    "set_pool",
    "set_swaps",
    "add_market",
    "set_market_config",
    "set_margin_brackets",
    "set_risk_config",
    "set_rate_limit",
    "set_liquidation_config",
    "set_roles",
    "propose_admin",
    "cancel_admin_transfer",
]
GUARDIAN_CALLS = ["set_paused", "reanchor_price"]
ENGINE_SETTERS = [
    "set_pool",
    "set_swaps",
    "add_market",
    "set_market_config",
    "set_margin_brackets",
    "set_risk_config",
    "set_rate_limit",
    "set_liquidation_config",
    "set_paused",
    "reanchor_price",
]


def assert_reverts(call, reason: str) -> None:
    with pytest.raises(Reverted) as exc:
        call()
    assert exc.value.reason == reason


# ================================================================== outsiders are rejected


@pytest.mark.parametrize("name", ADMIN_CALLS)
def test_configurator_admin_functions_reject_outsider(system, outsider, name):
    before = digest(system, [outsider])
    assert_reverts(configurator_admin_calls(system, outsider)[name], "Not admin")
    assert digest(system, [outsider]) == before


@pytest.mark.parametrize("name", GUARDIAN_CALLS)
def test_configurator_guardian_functions_reject_outsider(system, outsider, name):
    system.set_price(BTC, 200_000)  # a gap a guardian could re-anchor
    before = digest(system, [outsider])
    assert_reverts(configurator_guardian_calls(system, outsider)[name], "Not guardian")
    assert digest(system, [outsider]) == before


@pytest.mark.parametrize("name", ENGINE_SETTERS)
def test_engine_setters_only_from_configurator(system, outsider, name):
    before = digest(system, [outsider])
    for account in (system.admin, system.feeder, outsider):
        assert_reverts(engine_setter_calls(system, account)[name], "Not configurator")
    assert digest(system, [outsider]) == before


def test_oracle_push_by_outsider(system, outsider):
    round_id = system.oracles[BTC].latest_round_id()
    assert_reverts(lambda: system.oracles[BTC].push_round(1, 0, sender=outsider), "Not feeder")
    assert system.oracles[BTC].latest_round_id() == round_id


def test_deployer_roles(system):
    assert system.configurator.roles_of(system.admin) == ADMIN | GUARDIAN
    assert system.configurator.roles_of(system.feeder) == 0
    assert system.configurator.engine() == system.engine.address
    assert system.engine.CONFIGURATOR() == system.configurator.address


def test_one_time_bindings(system):
    before = digest(system)
    assert_reverts(lambda: system.configurator.bind_engine(system.admin, sender=system.admin), "Engine already bound")
    assert_reverts(lambda: system.configurator.set_pool(system.admin, sender=system.admin), "Pool already set")
    assert_reverts(lambda: system.configurator.set_pool(ZERO, sender=system.admin), "Zero address")
    order_book = system.engine.order_book()
    with pytest.raises(Reverted):  # the engine's check carries no reason string (a dev-comment assert)
        system.configurator.set_order_book(system.admin, sender=system.admin)
    assert system.engine.order_book() == order_book != ZERO
    assert digest(system) == before


# ================================================================== granting and revoking roles


def logs(system, name: str) -> list[dict]:
    return [dict(e.args) for e in system.chain.last_receipt.logs if e.name == name]


def test_grant_guardian_role(system, outsider):
    system.configurator.set_roles(outsider, GUARDIAN, sender=system.admin)
    assert logs(system, "RolesUpdated") == [{"account": outsider, "roles": GUARDIAN, "updated_by": system.admin}]
    assert system.configurator.roles_of(outsider) == GUARDIAN
    system.configurator.set_paused(BTC, True, sender=outsider)
    [log] = [e for e in system.chain.last_receipt.logs if e.name == "MarketPaused"]
    assert log.args == {"market": BTC, "paused": True, "guardian": outsider}
    assert system.engine.market_state(BTC).paused is True
    system.set_price(BTC, 200_000)
    system.configurator.reanchor_price(BTC, sender=outsider)
    assert system.engine.market_state(BTC).last_price == 200_000 * WAD
    before = digest(system, [outsider])
    for call in configurator_admin_calls(system, outsider).values():
        assert_reverts(call, "Not admin")
    assert digest(system, [outsider]) == before


def test_revoke_roles(system, outsider):
    system.configurator.set_roles(outsider, GUARDIAN, sender=system.admin)
    system.configurator.set_paused(BTC, True, sender=outsider)
    system.configurator.set_roles(outsider, 0, sender=system.admin)
    assert system.configurator.roles_of(outsider) == 0
    assert_reverts(lambda: system.configurator.set_paused(BTC, False, sender=outsider), "Not guardian")
    assert system.engine.market_state(BTC).paused is True
    # the admin may drop its own GUARDIAN role (and take it back), keeping ADMIN
    system.configurator.set_roles(system.admin, ADMIN, sender=system.admin)
    assert system.configurator.roles_of(system.admin) == ADMIN
    assert_reverts(lambda: system.configurator.set_paused(BTC, False, sender=system.admin), "Not guardian")
    system.configurator.set_roles(system.admin, ADMIN | GUARDIAN, sender=system.admin)
    system.configurator.set_paused(BTC, False, sender=system.admin)
    assert system.engine.market_state(BTC).paused is False


@pytest.mark.parametrize(
    "who, roles",
    [("outsider", ADMIN), ("outsider", ADMIN | GUARDIAN), ("admin", 0), ("admin", GUARDIAN)],
)
def test_set_roles_never_grants_or_removes_admin(system, outsider, who, roles):
    """ADMIN moves only by propose/accept: set_roles can neither hand it to someone (a
    mistyped address would hold it for ever) nor take it from the admin (no admin left)."""
    account = outsider if who == "outsider" else system.admin
    before = digest(system, [outsider])
    assert_reverts(
        lambda: system.configurator.set_roles(account, roles, sender=system.admin), "Admin moves by transfer"
    )
    assert digest(system, [outsider]) == before
    assert system.configurator.admin() == system.admin


def test_set_roles_zero_address(system):
    assert_reverts(lambda: system.configurator.set_roles(ZERO, GUARDIAN, sender=system.admin), "Zero address")


# ================================================================== two-step admin transfer


def test_admin_transfer_happy_path(system, outsider):
    c, old = system.configurator, system.admin
    assert c.admin() == old and c.pending_admin() == ZERO
    c.propose_admin(outsider, sender=old)
    assert logs(system, "AdminTransferProposed") == [{"admin": old, "pending_admin": outsider}]
    assert c.pending_admin() == outsider
    # proposed is not yet admin: the old admin keeps every right until the acceptance
    assert c.roles_of(outsider) == 0 and c.admin() == old
    assert_reverts(lambda: c.set_rate_limit(BTC, (600, WAD), sender=outsider), "Not admin")
    assert_reverts(lambda: c.propose_admin(system.feeder, sender=outsider), "Not admin")
    c.set_rate_limit(BTC, (600, 10**6 * WAD), sender=old)

    c.accept_admin(sender=outsider)
    assert logs(system, "AdminTransferred") == [{"previous_admin": old, "new_admin": outsider}]
    assert logs(system, "RolesUpdated") == [
        {"account": old, "roles": GUARDIAN, "updated_by": outsider},
        {"account": outsider, "roles": ADMIN, "updated_by": outsider},
    ]
    assert c.admin() == outsider and c.pending_admin() == ZERO
    assert c.roles_of(outsider) == ADMIN and c.roles_of(old) == GUARDIAN

    # the new admin pulls the levers
    c.set_market_config(BTC, replaced(market_config(system), "taker_fee", 10**15), sender=outsider)
    assert system.engine.market_config(BTC).taker_fee == 10**15
    c.set_roles(system.feeder, GUARDIAN, sender=outsider)
    assert c.roles_of(system.feeder) == GUARDIAN

    # the old admin has lost them all, including the transfer itself
    before = digest(system, [outsider, old])
    for name, call in configurator_admin_calls(system, old).items():
        if name != "set_roles":  # old setting its own roles: covered below
            assert_reverts(call, "Not admin")
    assert_reverts(lambda: c.set_roles(old, ADMIN | GUARDIAN, sender=old), "Not admin")
    assert_reverts(lambda: c.set_roles(outsider, 0, sender=old), "Not admin")
    assert_reverts(lambda: c.propose_admin(old, sender=old), "Not admin")
    assert_reverts(lambda: c.cancel_admin_transfer(sender=old), "Not admin")
    assert_reverts(lambda: c.accept_admin(sender=old), "Not pending admin")
    assert digest(system, [outsider, old]) == before
    # it keeps GUARDIAN until the new admin revokes it
    c.set_paused(BTC, True, sender=old)
    c.set_roles(old, 0, sender=outsider)
    assert_reverts(lambda: c.set_paused(BTC, False, sender=old), "Not guardian")


def test_admin_transfer_and_back(system, outsider):
    """ADMIN moves to an account that already holds GUARDIAN and back; one admin at a time."""
    c, old = system.configurator, system.admin
    c.set_roles(outsider, GUARDIAN, sender=old)
    c.propose_admin(outsider, sender=old)
    c.accept_admin(sender=outsider)
    assert c.roles_of(outsider) == ADMIN | GUARDIAN and c.roles_of(old) == GUARDIAN
    c.propose_admin(old, sender=outsider)
    c.accept_admin(sender=old)
    assert c.admin() == old
    assert c.roles_of(old) == ADMIN | GUARDIAN and c.roles_of(outsider) == GUARDIAN


def test_a_stranger_cannot_accept(system, outsider, alice):
    """Only the proposed account accepts: nobody can take ADMIN ahead of it (front-running
    the acceptance), not the admin itself, not a guardian."""
    c = system.configurator
    c.set_roles(system.feeder, GUARDIAN, sender=system.admin)
    c.propose_admin(alice, sender=system.admin)
    before = digest(system, [outsider, alice])
    for account in (outsider, system.admin, system.feeder):
        assert_reverts(lambda: c.accept_admin(sender=account), "Not pending admin")
    assert digest(system, [outsider, alice]) == before
    assert c.pending_admin() == alice
    c.accept_admin(sender=alice)
    assert c.admin() == alice


def test_accept_with_nothing_proposed(system, outsider):
    before = digest(system, [outsider])
    assert_reverts(lambda: system.configurator.accept_admin(sender=outsider), "Not pending admin")
    assert_reverts(lambda: system.configurator.accept_admin(sender=system.admin), "Not pending admin")
    assert digest(system, [outsider]) == before


def test_propose_zero_address_or_oneself(system):
    before = digest(system)
    assert_reverts(lambda: system.configurator.propose_admin(ZERO, sender=system.admin), "Zero address")
    assert_reverts(lambda: system.configurator.propose_admin(system.admin, sender=system.admin), "Already admin")
    assert digest(system) == before


def test_a_new_proposal_replaces_the_pending_one(system, outsider, alice):
    """A mistyped proposal is fixed by proposing again: the first account can no longer accept."""
    c = system.configurator
    c.propose_admin(outsider, sender=system.admin)
    c.propose_admin(alice, sender=system.admin)
    assert logs(system, "AdminTransferProposed") == [{"admin": system.admin, "pending_admin": alice}]
    assert c.pending_admin() == alice
    assert_reverts(lambda: c.accept_admin(sender=outsider), "Not pending admin")
    c.accept_admin(sender=alice)
    assert c.admin() == alice and c.roles_of(outsider) == 0


def test_cancel_admin_transfer(system, outsider):
    c = system.configurator
    assert_reverts(lambda: c.cancel_admin_transfer(sender=system.admin), "No pending admin")
    c.propose_admin(outsider, sender=system.admin)
    # the proposed account cannot cancel (nor can anyone but the admin)
    assert_reverts(lambda: c.cancel_admin_transfer(sender=outsider), "Not admin")
    c.cancel_admin_transfer(sender=system.admin)
    assert logs(system, "AdminTransferCancelled") == [{"admin": system.admin, "pending_admin": outsider}]
    assert c.pending_admin() == ZERO
    before = digest(system, [outsider])
    assert_reverts(lambda: c.accept_admin(sender=outsider), "Not pending admin")
    assert_reverts(lambda: c.cancel_admin_transfer(sender=system.admin), "No pending admin")
    assert digest(system, [outsider]) == before
    assert c.admin() == system.admin and c.roles_of(system.admin) == ADMIN | GUARDIAN


# ================================================================== pause


def test_pause_allows_only_reductions(system, alice, bob):
    system.trade(alice, BTC, WAD // 10)
    system.configurator.set_paused(BTC, True, sender=system.admin)
    assert system.engine.market_state(BTC).paused is True

    rejected = [
        (alice, WAD // 100),  # increase
        (bob, -(WAD // 20)),  # open
        (alice, -(WAD // 5)),  # flip long -> short
        (bob, WAD // 20),  # open the other way
    ]
    for account, size in rejected:
        before = digest(system, [alice, bob])
        assert_reverts(lambda: system.trade(account, BTC, size), "Market paused")
        assert digest(system, [alice, bob]) == before

    system.trade(bob, ETH, -WAD)  # other markets are unaffected
    assert system.size_of(bob, ETH) == -WAD
    system.trade(alice, BTC, -(WAD // 25))  # reduce
    assert system.size_of(alice, BTC) == WAD // 10 - WAD // 25
    system.trade(alice, BTC, -(WAD // 10 - WAD // 25))  # close
    assert system.engine.position(alice, BTC) == (0, 0, 0)
    assert system.engine.open_markets(alice) == 0
    # with no position, anything is an open
    assert_reverts(lambda: system.trade(alice, BTC, -1), "Market paused")

    system.configurator.set_paused(BTC, False, sender=system.admin)
    assert system.engine.market_state(BTC).paused is False
    system.trade(bob, BTC, -(WAD // 20))
    assert system.size_of(bob, BTC) == -(WAD // 20)
    system.trade(alice, BTC, WAD // 100)
    assert system.size_of(alice, BTC) == WAD // 100


def test_pause_unknown_market(system):
    assert_reverts(lambda: system.configurator.set_paused(2, True, sender=system.admin), "Unknown market")


# ================================================================== parameter validation


def test_valid_changes_apply_and_log(system):
    new_config = replaced(market_config(system), "taker_fee", 10**15)
    system.configurator.set_market_config(BTC, new_config, sender=system.admin)
    assert tuple(system.engine.market_config(BTC)) == new_config
    [log] = [e for e in system.chain.last_receipt.logs if e.name == "MarketConfigUpdated"]
    assert log.args["market"] == BTC
    assert tuple(log.args["config"]) == new_config

    oracle = system.chain.deploy("MockOracle", 8, "SOL / USD", system.feeder, sender=system.admin)
    oracle.push_round(200 * 10**8, 0, sender=system.feeder)
    sol = replaced(market_config(system), "oracle", oracle.address)
    system.configurator.add_market(sol, brackets(system), risk_config(system), sender=system.admin)
    assert system.engine.market_count() == 3
    assert system.engine.index_price(2) == 200 * WAD


def _market_case(field, value):
    return lambda s: s.configurator.set_market_config(BTC, replaced(market_config(s), field, value), sender=s.admin)


VALIDATION_CASES = {
    "Bad fees": _market_case("maker_fee", 10**15),  # maker above taker
    "Bad skew scale": _market_case("skew_scale", 0),
    "Unknown funding model": _market_case("funding_model", 3),
    "Brackets not ascending": lambda s: s.configurator.set_margin_brackets(
        BTC, [(10**6 * WAD, WAD // 10, WAD // 20), (10**6 * WAD, WAD // 5, WAD // 10)], sender=s.admin
    ),
    "Bracket rates must rise": lambda s: s.configurator.set_margin_brackets(
        BTC, [(10**6 * WAD, WAD // 10, WAD // 20), (MAX_UINT, WAD // 20, WAD // 20)], sender=s.admin
    ),
    "Bad max multiplier": lambda s: s.configurator.set_risk_config(
        BTC, replaced(risk_config(s), "max_multiplier", WAD - 1), sender=s.admin
    ),
    "Tiers not descending": lambda s: s.configurator.set_liquidation_config(
        s.engine.liquidation_config(), [(WAD, WAD // 4), (WAD, WAD)], sender=s.admin
    ),
    "Last tier must close all": lambda s: s.configurator.set_liquidation_config(
        s.engine.liquidation_config(), [(WAD, WAD // 4), (WAD // 2, WAD // 2)], sender=s.admin
    ),
    "First tier must start at ratio 1": lambda s: s.configurator.set_liquidation_config(
        s.engine.liquidation_config(), [(9 * WAD // 10, WAD)], sender=s.admin
    ),
    "Bad rate limit": lambda s: s.configurator.set_rate_limit(BTC, (600, 0), sender=s.admin),
    "Oracle changed": _market_case("oracle", "0x000000000000000000000000000000000000dEaD"),
    "Unknown market": lambda s: s.configurator.set_market_config(2, market_config(s), sender=s.admin),
}


@pytest.mark.parametrize("reason", list(VALIDATION_CASES))
def test_parameter_validation(system, reason):
    before = digest(system)
    assert_reverts(lambda: VALIDATION_CASES[reason](system), reason)
    assert digest(system) == before


def test_packed_parameter_widths_are_validated(system):
    """The engine packs skew_scale and max_open_interest into 128 bits: the configurator
    refuses wider values, and the widest accepted ones come back unchanged."""
    before = digest(system)
    assert_reverts(lambda: _market_case("skew_scale", 2**128)(system), "Bad skew scale")
    assert_reverts(lambda: _market_case("max_open_interest", 2**128)(system), "Bad open-interest cap")
    assert digest(system) == before
    widest = replaced(replaced(market_config(system), "skew_scale", 2**128 - 1), "max_open_interest", 2**128 - 1)
    system.configurator.set_market_config(BTC, widest, sender=system.admin)
    assert tuple(system.engine.market_config(BTC)) == widest


def test_packed_hot_parameters_follow_every_change(system):
    """The engine reads a packed copy of the hot parameters: each setter must refresh it."""
    trader = system.new_trader("hot", 10_000)
    tight = replaced(market_config(system), "max_open_interest", 1)
    system.configurator.set_market_config(BTC, tight, sender=system.admin)
    assert_reverts(lambda: system.trade(trader, BTC, WAD // 100), "Max open interest")
    delayed = replaced(replaced(market_config(system), "max_open_interest", 10**30), "delayed_orders", True)
    system.configurator.set_market_config(BTC, replaced(delayed, "order_ttl", 600), sender=system.admin)
    assert_reverts(lambda: system.trade(trader, BTC, WAD // 100), "Delayed orders only")
    system.configurator.set_market_config(BTC, replaced(delayed, "delayed_orders", False), sender=system.admin)
    system.trade(trader, BTC, WAD // 100)
    assert system.engine.position(trader, BTC).size == WAD // 100


def test_add_market_validates(system):
    before = digest(system)
    cfg = replaced(market_config(system), "oracle", system.oracles[ETH].address)
    assert_reverts(
        lambda: system.configurator.add_market(
            replaced(cfg, "taker_fee", WAD // 10 + 1), brackets(system), risk_config(system), sender=system.admin
        ),
        "Bad fees",
    )
    assert_reverts(
        lambda: system.configurator.add_market(cfg, [], risk_config(system), sender=system.admin), "No brackets"
    )
    assert_reverts(
        lambda: system.configurator.add_market(
            cfg, brackets(system), replaced(risk_config(system), "max_multiplier", 10 * WAD + 1), sender=system.admin
        ),
        "Bad max multiplier",
    )
    assert digest(system) == before


@pytest.mark.parametrize("name", ["set_margin_brackets", "set_risk_config", "set_rate_limit", "reanchor_price"])
def test_unknown_market_everywhere(system, name):
    c, a = system.configurator, system.admin
    calls = {
        "set_margin_brackets": lambda: c.set_margin_brackets(5, brackets(system), sender=a),
        "set_risk_config": lambda: c.set_risk_config(5, risk_config(system), sender=a),
        "set_rate_limit": lambda: c.set_rate_limit(5, (0, 0), sender=a),
        "reanchor_price": lambda: c.reanchor_price(5, sender=a),
    }
    before = digest(system)
    assert_reverts(calls[name], "Unknown market")
    assert digest(system) == before


def _fee_split(system, trader, size) -> tuple[int, int]:
    """(fee, what the insurance fund received) of one trade."""
    insurance = system.engine.insurance_fund()
    system.trade(trader, BTC, size)
    [event] = [e for e in system.chain.last_receipt.logs if e.name == "PositionModified"]
    return event["fee"], system.engine.insurance_fund() - insurance


def test_packed_liquidation_terms_follow_every_change(system):
    """A trade reads the insurance fee share from the market's hot word 5 and a liquidation
    its keeper terms from two packed words, the rate-limit window's existence from a flag:
    every setter must refresh them, and a market listed later gets the current share."""
    trader = system.new_trader("terms", 20_000)
    liq = system.engine.liquidation_config()
    for share in (WAD // 2, 0, WAD):
        system.configurator.set_liquidation_config(
            replaced(liq, "insurance_fee_share", share), list(system.engine.liquidation_tiers()), sender=system.admin
        )
        fee, to_insurance = _fee_split(system, trader, WAD // 100)
        assert fee > 0 and to_insurance == fee * share // WAD
    # the widest reward cap the packing holds round-trips; one more is refused
    widest = replaced(liq, "reward_cap", 2**128 - 1)
    system.configurator.set_liquidation_config(widest, [], sender=system.admin)
    assert tuple(system.engine.liquidation_config()) == tuple(widest)
    assert_reverts(
        lambda: system.configurator.set_liquidation_config(
            replaced(liq, "reward_cap", 2**128), [], sender=system.admin
        ),
        "Bad keeper reward",
    )
    # the rate-limit flag follows set_rate_limit both ways (window 0 = off)
    system.configurator.set_rate_limit(BTC, (3600, 1), sender=system.admin)
    assert tuple(system.engine.rate_limit(BTC)) == (3600, 1)
    system.configurator.set_rate_limit(BTC, (0, 0), sender=system.admin)
    assert tuple(system.engine.rate_limit(BTC)) == (0, 0)
