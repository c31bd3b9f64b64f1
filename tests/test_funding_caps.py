"""FundingCaps (issue 14, caps part): premiums, fixings, payoffs, vault shares and locks
equal the exact model (vyperp.model.caps) to the wei over a seeded run with funding moving
both ways; the on-chain Bachelier is within a stated tolerance of the exact normal
(math.erf); a caplet's payoff stays bounded with funding at the engine's cap; the vault
is always solvent (locked <= assets; tokens == assets + buyers' reserve to the wei);
what buyers receive the vault pays; bad inputs revert with a reason and change nothing;
a claim's gas does not depend on the number of buyers."""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Iterator
from typing import Any

import pytest

from vyperp.chain import Reverted
from vyperp.model import caps as cm
from vyperp.protocol.caps import caps_account, deploy_funding_caps
from vyperp.protocol.units import WAD, wad

from .helpers import events

BTC = 0
HOUR = 3_600
DAY = 86_400
WINDOW = HOUR
SIGMA = wad("0.01")  # normal vol of the per-8h rate, per sqrt(year)
SPREAD = wad("0.1")
MIN_PREMIUM = wad(1)
CDF_TOLERANCE = 2e-7  # A&S 7.1.26's 1.5e-7 on erf (0.75e-7 on Phi) plus fixed-point truncation


class Desk:
    """FundingCaps on the session protocol, mirrored step by step by the exact model."""

    def __init__(self, system: Any) -> None:
        self.system = system
        self.caps = deploy_funding_caps(system, WINDOW)
        self.model = cm.CapsModel(precision=system.precision, twap_window=WINDOW)
        self.accounts: list[str] = []
        self.paid_in = 0  # tokens in: deposits + premiums
        self.paid_out = 0  # tokens out: withdrawals + claims
        self.vault_flows = 0  # tokens: deposits - withdrawals + premiums
        self.obligations = 0  # 1e18 USD moved from the vault to the buyers' reserve (Fixed events)
        self.claims_paid = 0  # tokens paid to buyers (Claimed events)
        pool_lp = system.new_trader("pool-lp")
        system.mint(pool_lp, 30_000_000)
        system.pool.deposit(system.tokens(20_000_000), pool_lp, sender=pool_lp)
        admin = system.admin
        self.caps.set_volatility(BTC, SIGMA, sender=admin)
        self.caps.set_pricing(SPREAD, MIN_PREMIUM, sender=admin)
        self.model.volatility[BTC], self.model.spread, self.model.min_premium = SIGMA, SPREAD, MIN_PREMIUM

    def save(self) -> tuple:
        """The model and the ledgers, to restore after a chain.isolate() block."""
        return copy.deepcopy(
            (self.model, self.paid_in, self.paid_out, self.vault_flows, self.obligations, self.claims_paid)
        )

    def restore(self, saved: tuple) -> None:
        self.model, self.paid_in, self.paid_out, self.vault_flows, self.obligations, self.claims_paid = copy.deepcopy(
            saved
        )

    def account(self, label: str, usd: int) -> str:
        who = caps_account(self.system, self.caps, label, usd)
        self.accounts.append(who)
        return who

    def rate_index(self) -> int:
        return int(self.system.engine.funding_rate_index(BTC))

    def list(self, is_floor: bool, strike: int, start: int, period: int, periods: int, limit: int) -> int:
        self.caps.list_product(BTC, is_floor, strike, start, period, periods, limit, sender=self.system.admin)
        product_id = int(self.caps.product_count()) - 1
        cap = int(self.system.engine.market_config(BTC).max_funding_rate)
        max_payoff = cm.max_payoff(is_floor, strike, cap, period)
        assert max_payoff is not None
        self.model.products.append(cm.CapsProduct(BTC, is_floor, strike, start, period, periods, max_payoff, limit))
        self.model.observe(BTC, self.rate_index(), self.system.chain.time)
        self.check()
        return product_id

    def deposit(self, who: str, amount: int) -> None:
        self.caps.deposit(amount, sender=who)
        shares = self.model.deposit(who, amount)
        assert events(self.system, "VaultDeposit") == [{"account": who, "amount": amount, "shares": shares}]
        self.paid_in += amount
        self.vault_flows += amount
        self.check()

    def withdraw(self, who: str, shares: int) -> int:
        self.caps.withdraw(shares, sender=who)
        amount = self.model.withdraw(who, shares)
        assert events(self.system, "VaultWithdraw") == [{"account": who, "amount": amount, "shares": shares}]
        self.paid_out += amount
        self.vault_flows -= amount
        self.check()
        return amount

    def buy(self, who: str, product_id: int, notional: int) -> int:
        p = self.model.products[product_id]
        self.caps.buy(product_id, notional, 2**256 - 1, sender=who)
        now, index = self.system.chain.time, self.rate_index()
        current = int(self.system.engine.funding_now(BTC)[1])
        forward = self.model.forward(BTC, p.is_floor, index, current, now)
        assert forward is not None
        self.model.observe(BTC, index, now)
        tokens, added = self.model.buy(who, product_id, notional, forward, now)
        [bought] = events(self.system, "Bought")
        assert (bought["premium"], bought["forward"], bought["locked"]) == (tokens, forward, added)
        self.paid_in += tokens
        self.vault_flows += tokens
        self.check()
        return tokens

    def fix(self, product_id: int) -> tuple[int, int, int]:
        self.caps.fix(product_id, sender=self.system.admin)
        index = self.rate_index()
        self.model.observe(BTC, index, self.system.chain.time)
        payoff, obligation, released = self.model.fix(product_id, index)
        [fixed] = events(self.system, "Fixed")
        assert (fixed["rate_index"], fixed["payoff"], fixed["obligation"], fixed["released"]) == (
            index,
            payoff,
            obligation,
            released,
        )
        self.obligations += fixed["obligation"]
        self.check()
        return payoff, obligation, released

    def claim(self, who: str, product_id: int) -> int:
        self.caps.claim(who, product_id, sender=self.system.admin)
        amount = self.model.claim(who, product_id)
        [claimed] = events(self.system, "Claimed")
        assert claimed["amount"] == amount
        self.paid_out += amount
        self.claims_paid += amount
        self.check()
        return amount

    def state(self) -> tuple:
        c = self.caps
        products = tuple(tuple(c.products(i)) for i in range(int(c.product_count())))
        per_account = tuple(
            (int(c.vault_shares(a)), tuple((int(c.holdings(a, i)), int(c.claimed(a, i))) for i in range(len(products))))
            for a in self.accounts
        )
        return (
            int(c.vault_assets()),
            int(c.vault_locked()),
            int(c.total_shares()),
            int(c.buyer_reserve()),
            products,
            per_account,
            tuple(c.observation_old(BTC)),
            tuple(c.observation_new(BTC)),
            int(self.system.token.balanceOf(c)),
        )

    def check(self) -> None:
        c, m = self.caps, self.model
        assert (int(c.vault_assets()), int(c.vault_locked()), int(c.total_shares()), int(c.buyer_reserve())) == (
            m.vault_assets,
            m.vault_locked,
            m.total_shares,
            m.buyer_reserve,
        )
        for i, p in enumerate(m.products):
            on_chain = c.products(i)
            assert cm.CapsProduct.from_chain(on_chain) == cm.CapsProduct.from_chain(p), i
            assert [int(c.snapshots(i, j)) for j in range(p.fixings)] == p.snapshots
            assert [int(c.caplet_payoff(i, k)) for k in range(len(p.payoffs))] == p.payoffs
            for a in self.accounts:
                assert int(c.holdings(a, i)) == m.holdings.get((a, i), 0)
                assert int(c.claimed(a, i)) == m.claimed.get((a, i), 0)
        for a in self.accounts:
            assert int(c.vault_shares(a)) == m.shares.get(a, 0)
        assert tuple(c.observation_new(BTC)) == m.obs_new.get(BTC, (0, 0))
        assert tuple(c.observation_old(BTC)) == m.obs_old.get(BTC, (0, 0))
        # solvency: the lock never exceeds the assets; every token is the vault's or a buyer's
        assert m.vault_locked <= m.vault_assets
        assert int(self.system.token.balanceOf(c)) * self.system.precision == m.vault_assets + m.buyer_reserve
        assert int(self.system.token.balanceOf(c)) == self.paid_in - self.paid_out
        # zero-sum: the vault holds its flows less what it paid the buyers' reserve, which
        # holds that less what the buyers were paid, all read from the chain's own events
        precision = self.system.precision
        assert int(c.vault_assets()) == self.vault_flows * precision - self.obligations
        assert int(c.buyer_reserve()) == self.obligations - self.claims_paid * precision


@pytest.fixture
def desk(system: Any) -> Iterator[Desk]:
    yield Desk(system)


def test_normal_cdf_and_caplet_value_against_the_exact_normal(desk: Desk) -> None:
    """The on-chain Phi equals the model to the wei and math.erf's Phi within
    CDF_TOLERANCE; the caplet value is within |F - K| * CDF_TOLERANCE + s * 1e-9 (+10 wei)
    of the float Bachelier formula (tau = 1). Seeded."""
    seed = 1_401
    print(f"seed {seed}")
    rng = random.Random(seed)
    worst = 0.0
    for d in [0, 1, -1, WAD, -WAD, 10 * WAD, -10 * WAD] + [rng.randint(-10 * WAD, 10 * WAD) for _ in range(150)]:
        on_chain = int(desk.caps.normal_cdf(d))
        assert on_chain == cm.normal(d)[0], d
        exact = 0.5 * (1 + math.erf(d / WAD / math.sqrt(2)))
        worst = max(worst, abs(on_chain / WAD - exact))
    assert worst <= CDF_TOLERANCE, worst
    print(f"Phi worst |error| {worst:.3e}")
    worst_ratio = 0.0
    for _ in range(150):
        is_floor = bool(rng.getrandbits(1))
        strike, forward = (rng.randint(-wad("0.003"), wad("0.003")) for _ in range(2))
        sigma, t, period = rng.randint(wad("0.0005"), wad("0.05")), rng.randint(HOUR, 90 * DAY), 8 * HOUR
        on_chain = int(desk.caps.caplet_value(is_floor, strike, forward, sigma, t, period))
        assert on_chain == cm.caplet_value(is_floor, strike, forward, sigma, t, period)
        m = (strike - forward if is_floor else forward - strike) / WAD
        s = sigma / WAD * math.sqrt(t / cm.YEAR)
        d = m / s
        exact = (m * 0.5 * (1 + math.erf(d / math.sqrt(2))) + s * math.exp(-d * d / 2) / math.sqrt(2 * math.pi)) * WAD
        # m * Phi carries Phi's error, s * phi the pdf's (exp and 1/sqrt(2 pi) to ~1e-17), plus wei truncations
        bound = (abs(m) * CDF_TOLERANCE + s * 1e-9) * WAD + 10
        assert abs(on_chain - exact) <= bound, (on_chain, exact, bound)
        worst_ratio = max(worst_ratio, abs(on_chain - exact) / bound)
    print(f"caplet value: worst |error| / bound {worst_ratio:.3f}")


@pytest.mark.parametrize("seed", [1_402, 1_403, 1_404])
def test_strip_lifecycle_matches_model_to_the_wei(desk: Desk, seed: int) -> None:
    """Seeded run: LPs deposit, buyers buy caps and floors while funding moves both ways,
    every boundary fixed (some late), claims and LP withdrawals interleaved; chain == model
    after every step, and the vault pays exactly what the buyers' reserve receives."""
    print(f"seed {seed}")
    rng = random.Random(seed)
    system = desk.system
    whale = system.new_trader("whale", 3_000_000)
    lps = [desk.account(f"lp{i}", 3_000_000) for i in range(2)]
    buyers = [desk.account(f"buyer{i}", 200_000) for i in range(3)]
    desk.deposit(lps[0], system.tokens(1_000_000))
    desk.deposit(lps[1], system.tokens("333333.333333"))
    start = system.chain.time + 3 * HOUR
    cap = desk.list(False, wad("0.0001"), start, 8 * HOUR, 6, wad(20_000_000))
    floor = desk.list(True, wad("0.00005"), start, 4 * HOUR, 5, wad(20_000_000))
    skew = 0

    def move_funding() -> None:
        nonlocal skew
        target = rng.choice([-40, -20, 0, 15, 30, 45]) * WAD
        if target != skew:
            system.trade(whale, BTC, target - skew)
            skew = target

    system.advance(WINDOW)
    for step in range(8):
        move_funding()
        system.advance(rng.randint(60, 20 * 60))
        desk.buy(rng.choice(buyers), rng.choice([cap, floor]), rng.randint(1, 3_000_000) * WAD + rng.randint(0, WAD))
        if step == 4:
            desk.caps.observe(BTC, sender=whale)
            desk.model.observe(BTC, desk.rate_index(), system.chain.time)
            desk.check()
    desk.deposit(lps[1], system.tokens(10_000))
    obligations = 0
    claimed = 0
    claims = 0
    boundaries = sorted(
        {
            (start + j * desk.model.products[i].period, i)
            for i in (cap, floor)
            for j in range(desk.model.products[i].periods + 1)
        }
    )
    for time, product_id in boundaries:
        if time > system.chain.time:
            move_funding()
            system.advance(time - system.chain.time + rng.choice([0, 0, 1, 120, 900]))
        _, obligation, _ = desk.fix(product_id)
        obligations += obligation
        if rng.random() < 0.5:
            who = rng.choice(buyers)
            if desk.model.holdings.get((who, product_id), 0) and desk.model.claimed.get((who, product_id), 0) < max(
                desk.model.products[product_id].fixings - 1, 0
            ):
                claimed += desk.claim(who, product_id)
                claims += 1
        if rng.random() < 0.3:
            lp = rng.choice(lps)
            shares = desk.model.shares[lp] // rng.choice([2, 5, 10])
            if desk.model.withdraw_amount(shares) > 0:
                desk.withdraw(lp, shares)
    for who in buyers:
        for product_id in (cap, floor):
            if desk.model.holdings.get((who, product_id), 0) and desk.model.claimed.get((who, product_id), 0) < (
                desk.model.products[product_id].periods
            ):
                claimed += desk.claim(who, product_id)
                claims += 1
    assert desk.model.vault_locked == 0  # every lock released once every caplet fixed
    assert obligations > 0, "no caplet paid: the run did not exercise payoffs"
    # zero-sum: what the vault paid out of its assets is what the buyers' reserve took in;
    # the reserve keeps only rounding dust: under one token per claim, plus under one wei
    # per buyer per caplet (each share rounded down) and per fixing (the obligation up)
    assert desk.model.buyer_reserve == obligations - claimed * system.precision
    caplets = sum(p.periods for p in desk.model.products)
    assert 0 <= desk.model.buyer_reserve < claims * system.precision + caplets * (len(buyers) + 1)


def test_payoff_bounded_with_funding_at_the_cap(desk: Desk) -> None:
    """Skew drives the engine's rate to its cap for a whole strip, fixings come late: each
    caplet pays exactly its maximum (clipped), a floor pays nothing, and the vault stays
    solvent with the lock covering it."""
    system = desk.system
    whale = system.new_trader("whale", 3_000_000)
    lp = desk.account("lp", 1_000_000)
    buyer = desk.account("buyer", 100_000)
    desk.deposit(lp, system.tokens(200_000))
    start = system.chain.time + 2 * HOUR
    cap = desk.list(False, wad("0.0002"), start, 8 * HOUR, 3, wad(10_000_000))
    floor = desk.list(True, wad("0.0002"), start, 8 * HOUR, 3, wad(10_000_000))
    system.trade(whale, BTC, wad(120))  # 12M USD of skew: premium 0.6 %, far past the 0.3 % cap
    system.advance(WINDOW)
    desk.buy(buyer, cap, wad(2_000_000))
    desk.buy(buyer, floor, wad(2_000_000))
    max_rate = int(system.engine.market_config(BTC).max_funding_rate)
    assert int(system.engine.funding_now(BTC)[1]) == max_rate
    system.advance(start - system.chain.time)
    desk.fix(cap)
    desk.fix(floor)
    for _ in range(3):
        system.advance(8 * HOUR + 1_800)  # half an hour late each time: windows longer than a period
        payoff, obligation, released = desk.fix(cap)
        assert payoff == desk.model.products[cap].max_payoff == cm.max_payoff(False, wad("0.0002"), max_rate, 8 * HOUR)
        assert obligation > 0 and released >= 0
        assert desk.fix(floor)[0] == 0
    assert desk.model.vault_locked == 0
    paid = desk.claim(buyer, cap)
    assert paid * system.precision <= 3 * cm.umul_up(wad(2_000_000), desk.model.products[cap].max_payoff)
    assert desk.claim(buyer, floor) == 0


def test_withdrawals_take_only_unlocked_assets(desk: Desk) -> None:
    system = desk.system
    lp = desk.account("lp", 1_000_000)
    buyer = desk.account("buyer", 100_000)
    desk.deposit(lp, system.tokens(100_000))
    start = system.chain.time + 2 * HOUR
    cap = desk.list(False, 0, start, 8 * HOUR, 4, wad(100_000_000))
    system.advance(WINDOW)
    # 0.3 % * 4 caplets of lock per unit: 8M notional locks 96,000 of the 100,000 + premium
    desk.buy(buyer, cap, wad(8_000_000))
    free = desk.model.vault_assets - desk.model.vault_locked
    out = desk.withdraw(lp, desk.model.shares[lp])
    assert out * system.precision <= free
    assert desk.model.vault_locked <= desk.model.vault_assets


def test_bad_inputs_revert_and_change_nothing(desk: Desk) -> None:
    system = desk.system
    lp = desk.account("lp", 1_000_000)
    buyer = desk.account("buyer", 100_000)
    stranger = desk.account("stranger", 0)
    start = system.chain.time + 2 * HOUR
    cap = desk.list(False, wad("0.0001"), start, 8 * HOUR, 2, wad(1_000_000))
    admin = system.admin
    caps = desk.caps

    def expect(cases: list) -> None:
        before = desk.state()
        for call, reason in cases:
            with pytest.raises(Reverted) as exc:
                call()
            assert exc.value.reason == reason, (reason, exc.value.reason)
            assert desk.state() == before, reason

    max_rate = int(system.engine.market_config(BTC).max_funding_rate)
    expect(
        [
            (lambda: caps.buy(cap, wad(1_000), 2**256 - 1, sender=buyer), "Forward not ready"),
            (
                lambda: caps.list_product(BTC, False, max_rate, start, HOUR, 2, WAD, sender=admin),
                "Strike beyond funding cap",
            ),
            (
                lambda: caps.list_product(BTC, True, -max_rate, start, HOUR, 2, WAD, sender=admin),
                "Strike beyond funding cap",
            ),
            (lambda: caps.list_product(BTC, False, 0, start, HOUR, 2, WAD, sender=buyer), "Not admin"),
            (lambda: caps.list_product(BTC, False, 0, start, 0, 2, WAD, sender=admin), "Zero period"),
            (lambda: caps.list_product(BTC, False, 0, start, 30 * DAY + 1, 2, WAD, sender=admin), "Period too long"),
            (lambda: caps.list_product(BTC, False, 0, start, HOUR, 0, WAD, sender=admin), "Bad period count"),
            (lambda: caps.list_product(BTC, False, 0, start, HOUR, 33, WAD, sender=admin), "Bad period count"),
            (
                lambda: caps.list_product(BTC, False, 0, system.chain.time, HOUR, 2, WAD, sender=admin),
                "Start in the past",
            ),
            (lambda: caps.list_product(BTC, False, 0, start, HOUR, 2, 0, sender=admin), "Zero notional"),
            (lambda: caps.list_product(9, False, 0, start, HOUR, 2, WAD, sender=admin), "Unknown market"),
            (lambda: caps.set_volatility(BTC, WAD + 1, sender=admin), "Volatility beyond bound"),
            (lambda: caps.set_volatility(BTC, 0, sender=buyer), "Not admin"),
            (lambda: caps.set_pricing(WAD + 1, 0, sender=admin), "Spread beyond bound"),
            (lambda: caps.set_pricing(0, 0, sender=buyer), "Not admin"),
            (lambda: caps.deposit(0, sender=lp), "Zero amount"),
            (lambda: caps.withdraw(0, sender=lp), "Zero shares"),
            (lambda: caps.withdraw(1, sender=lp), "Insufficient shares"),
        ]
    )
    system.advance(WINDOW)
    desk.deposit(lp, system.tokens(1_000))  # capacity for ~86,000 USD of notional
    expect(
        [
            (lambda: caps.buy(7, wad(1_000), 2**256 - 1, sender=buyer), "Unknown product"),
            (lambda: caps.buy(cap, 0, 2**256 - 1, sender=buyer), "Zero notional"),
            (lambda: caps.buy(cap, wad(1_000_001), 2**256 - 1, sender=buyer), "Notional above product limit"),
            (lambda: caps.buy(cap, wad(500_000), 2**256 - 1, sender=buyer), "Vault capacity"),
            (lambda: caps.buy(cap, wad(10_000), 0, sender=buyer), "Slippage"),
            (lambda: caps.fix(7, sender=buyer), "Unknown product"),
            (lambda: caps.fix(cap, sender=buyer), "Not due"),
            (lambda: caps.claim(buyer, 7, sender=buyer), "Unknown product"),
            (lambda: caps.claim(buyer, cap, sender=buyer), "No position"),
        ]
    )
    caps.set_volatility(BTC, 0, sender=admin)
    expect([(lambda: caps.buy(cap, wad(10_000), 2**256 - 1, sender=buyer), "Volatility not set")])
    caps.set_volatility(BTC, SIGMA, sender=admin)
    premium = desk.buy(buyer, cap, wad(10_000))
    expect(
        [
            (lambda: caps.buy(cap, wad(10_000), premium - 1, sender=buyer), "Slippage"),
            (lambda: caps.claim(buyer, cap, sender=buyer), "Nothing to claim"),
            (lambda: caps.withdraw(desk.model.shares[lp] + 1, sender=lp), "Insufficient shares"),
            (lambda: caps.withdraw(1, sender=stranger), "Insufficient shares"),
        ]
    )
    # shares worth less than one token of the free assets pay nothing
    desk.buy(buyer, cap, wad(60_000))
    free = desk.model.vault_assets - desk.model.vault_locked
    tiny = desk.model.total_shares * system.precision // free // 2
    assert tiny > 0 and desk.model.withdraw_amount(tiny) == 0
    expect([(lambda: caps.withdraw(tiny, sender=lp), "Zero amount")])
    system.advance(start - system.chain.time)
    expect([(lambda: caps.buy(cap, wad(1_000), 2**256 - 1, sender=buyer), "Product started")])
    desk.fix(cap)
    expect(
        [
            (lambda: caps.fix(cap, sender=buyer), "Not due"),
            (lambda: caps.claim(buyer, cap, sender=buyer), "Nothing to claim"),
        ]
    )
    system.advance(16 * HOUR)
    desk.fix(cap)
    desk.fix(cap)
    expect([(lambda: caps.fix(cap, sender=buyer), "Fully fixed")])
    desk.claim(buyer, cap)
    expect([(lambda: caps.claim(buyer, cap, sender=buyer), "Nothing to claim")])


def claim_gas(desk: Desk, others: int) -> int:
    system = desk.system
    lp = desk.account(f"lp{others}", 2_000_000)
    desk.caps.deposit(system.tokens(1_000_000), sender=lp)
    start = system.chain.time + 2 * HOUR
    desk.caps.list_product(BTC, False, -wad("0.001"), start, 8 * HOUR, 2, wad(100_000_000), sender=system.admin)
    product_id = int(desk.caps.product_count()) - 1
    system.advance(WINDOW)
    holder = caps_account(system, desk.caps, f"holder{others}", 10_000)
    desk.caps.buy(product_id, wad(100_000), 2**256 - 1, sender=holder)
    for i in range(others):
        other = caps_account(system, desk.caps, f"other{others}-{i}", 10_000)
        desk.caps.buy(product_id, wad(1_000 + i), 2**256 - 1, sender=other)
    system.advance(start - system.chain.time)
    desk.caps.fix(product_id, sender=lp)
    system.advance(8 * HOUR)
    desk.caps.fix(product_id, sender=lp)
    desk.caps.claim(holder, product_id, sender=lp)
    assert events(system, "Claimed")[0]["amount"] > 0
    return int(system.chain.last_receipt.gas_used)


def test_claim_gas_is_flat_in_the_number_of_buyers(desk: Desk) -> None:
    with desk.system.chain.isolate():
        one = claim_gas(desk, 1)
    fifty = claim_gas(desk, 50)
    assert one == fifty, (one, fifty)


def test_caps_gas_bench_claim_is_flat() -> None:
    """The `vyperp caps-gas` bench on 20 other buyers: the claim costs what it costs alone."""
    from vyperp.bench.caps_gas import caps_gas

    figures = caps_gas(background_buyers=20)
    assert figures["claim_20_buyers"] == figures["claim"]
    assert figures["buy_32_caplets"] > figures["buy_6_caplets"]  # the premium sums one caplet each


def test_settled_market_stops_payoffs_and_releases_locks(desk: Desk) -> None:
    """After the engine settles the market, R is frozen: the caplets fixing later pay
    nothing, every fix still works (a settled market's poke reads no oracle) and the
    whole lock returns to the vault."""
    system = desk.system
    lp = desk.account("lp", 1_000_000)
    buyer = desk.account("buyer", 100_000)
    desk.deposit(lp, system.tokens(100_000))
    start = system.chain.time + 2 * HOUR
    cap = desk.list(False, 0, start, 8 * HOUR, 3, wad(10_000_000))  # pays any positive funding
    system.advance(WINDOW)
    desk.buy(buyer, cap, wad(1_000_000))
    system.advance(start - system.chain.time)
    desk.fix(cap)
    system.advance(8 * HOUR)
    assert desk.fix(cap)[0] > 0  # the live caplet pays
    system.configurator.settle_market(BTC, wad(100_000), sender=system.admin)
    frozen = desk.rate_index()
    for _ in range(2):
        system.chain.advance(8 * HOUR)  # no new oracle round: a settled market does not read it
        payoff, obligation, _ = desk.fix(cap)
        assert desk.rate_index() == frozen
    # the caplet spanning the settlement gets R up to it only; the last one nothing
    assert (payoff, obligation) == (0, 0)
    assert desk.model.vault_locked == 0
    desk.claim(buyer, cap)


def test_same_block_skew_manipulation_does_not_cheapen_a_cap_or_floor(desk: Desk) -> None:
    """A whale swings the skew (and so the engine's current funding rate) in the very block
    it buys: a cap is priced at max(current, TWAP), a floor at min(current, TWAP), and the
    TWAP comes from the rate index, which a same-block trade cannot move. The premium is
    exactly what an honest buyer pays in that block."""
    system = desk.system
    whale = system.new_trader("whale", 3_000_000)
    lp = desk.account("lp", 1_000_000)
    buyer = desk.account("buyer", 100_000)
    desk.deposit(lp, system.tokens(500_000))
    start = system.chain.time + 6 * HOUR
    cap = desk.list(False, wad("0.0002"), start, 8 * HOUR, 3, wad(10_000_000))
    floor = desk.list(True, wad("0.0002"), start, 8 * HOUR, 3, wad(10_000_000))
    system.advance(WINDOW)
    for product_id, swing in ((cap, -wad(100)), (floor, wad(100))):
        saved = desk.save()
        with system.chain.isolate():
            honest = desk.buy(buyer, product_id, wad(1_000_000))
            honest_time = system.chain.time
        desk.restore(saved)
        with system.chain.isolate():
            system.trade(whale, BTC, swing)
            current = int(system.engine.funding_now(BTC)[1])
            paid = desk.buy(buyer, product_id, wad(1_000_000))
            [bought] = events(system, "Bought")
            assert system.chain.time == honest_time
            assert paid == honest
            # the forward is the TWAP, not the manipulated current rate
            assert (bought["forward"] > current) if product_id == cap else (bought["forward"] < current)
        desk.restore(saved)
