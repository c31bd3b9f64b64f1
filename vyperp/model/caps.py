"""Exact integer model of FundingCaps.vy (caps and floors on the funding rate): the
Bachelier caplet value (A&S 7.1.26 normal CDF on snekmate's wad_exp), the premium, the
caplet payoff from the rate index, the vault's share ledger, locks and fixings, and the
TWAP forward. Every function mirrors one in the contract bit for bit, rounding included,
so tests demand equality to the wei. Written from the contract's code.

Vyper's `//` on signed integers truncates toward zero (EVM SDIV); `trunc_div` models it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import isqrt

from ..protocol.units import WAD, ceil_div, floor_div, trunc_div

FUNDING_PERIOD = 8 * 3600
YEAR = 365 * 86_400
MAX_PERIODS = 32
VIRTUAL_SHARES = 10**6
D_MAX = 10 * WAD
INV_SQRT_2PI = 398_942_280_401_432_677
INV_SQRT2 = 707_106_781_186_547_524
AS_P = 327_591_100_000_000_000
AS_A = (
    254_829_592_000_000_000,
    -284_496_736_000_000_000,
    1_421_413_741_000_000_000,
    -1_453_152_027_000_000_000,
    1_061_405_429_000_000_000,
)

_M = 2**256


def _s(x: int) -> int:
    """int256 two's-complement wrap (unsafe_* arithmetic)."""
    x %= _M
    return x - _M if x >= 2**255 else x


def wad_exp(x: int) -> int:
    """Bit-exact port of snekmate.utils.math._wad_exp (int256 wrapping, SAR shifts)."""
    if x <= -41_446_531_673_892_822_313:
        return 0
    assert x < 135_305_999_368_893_231_589, "math: wad_exp overflow"
    x = trunc_div(x << 78, 5**18)
    k = (_s(trunc_div(x << 96, 54_916_777_467_707_473_351_141_471_128) + 2**95)) >> 96
    x = _s(x - _s(k * 54_916_777_467_707_473_351_141_471_128))
    y = _s(
        (_s(_s(x + 1_346_386_616_545_796_478_920_950_773_328) * x) >> 96) + 57_155_421_227_552_351_082_224_309_758_442
    )
    p = _s(
        _s(
            _s(
                (_s(_s(_s(y + x) - 94_201_549_194_550_492_254_356_042_504_812) * y) >> 96)
                + 28_719_021_644_029_726_153_956_944_680_412_240
            )
            * x
        )
        + (4_385_272_521_454_847_904_659_076_985_693_276 << 96)
    )
    q = _s(
        (_s(_s(x - 2_855_989_394_907_223_263_936_484_059_900) * x) >> 96) + 50_020_603_652_535_783_019_961_831_881_945
    )
    q = _s((_s(q * x) >> 96) - 533_845_033_583_426_703_283_633_433_725_380)
    q = _s((_s(q * x) >> 96) + 3_604_857_256_930_695_427_073_651_918_091_429)
    q = _s((_s(q * x) >> 96) - 14_423_608_567_350_463_180_887_372_962_807_573)
    q = _s((_s(q * x) >> 96) + 26_449_188_498_355_588_339_934_803_723_976_023)
    r = trunc_div(p, q)
    unsigned = (r % _M) * 3_822_833_074_963_236_453_042_738_258_902_158_003_155_416_615_667 % _M
    return unsigned >> (195 - k)


def normal(d: int) -> tuple[int, int]:
    """(Phi(d), phi(d)) in 1e18 (FundingCaps._normal), |d| <= D_MAX."""
    e = wad_exp(-trunc_div(trunc_div(d * d, WAD), 2))
    pdf = trunc_div(e * INV_SQRT_2PI, WAD)
    x = trunc_div(abs(d) * INV_SQRT2, WAD)
    t = trunc_div(WAD * WAD, WAD + trunc_div(AS_P * x, WAD))
    poly = AS_A[4]
    for a in (AS_A[3], AS_A[2], AS_A[1], AS_A[0]):
        poly = a + trunc_div(t * poly, WAD)
    poly = trunc_div(t * poly, WAD)
    erf = WAD - trunc_div(poly * e, WAD)
    if d < 0:
        erf = -erf
    return trunc_div(WAD + erf, 2), pdf


def caplet_value(is_floor: bool, strike: int, forward: int, sigma: int, time_to_fixing: int, period: int) -> int:
    """Bachelier value of one caplet per 1e18 notional (FundingCaps._caplet_value)."""
    moneyness = forward - strike
    if is_floor:
        moneyness = -moneyness
    root = isqrt(time_to_fixing * WAD * WAD // YEAR)
    s = trunc_div(sigma * root, WAD)
    per_8h = max(moneyness, 0)
    if s > 0:
        d = min(max(trunc_div(moneyness * WAD, s), -D_MAX), D_MAX)
        cdf, pdf = normal(d)
        per_8h = max(trunc_div(moneyness * cdf, WAD) + trunc_div(s * pdf, WAD), 0)
    return trunc_div(per_8h * period, FUNDING_PERIOD)


def umul_up(a: int, b: int) -> int:
    return ceil_div(a * b, WAD)


def max_payoff(is_floor: bool, strike: int, cap: int, period: int) -> int | None:
    """The per-caplet maximum payoff per unit notional, or None when the strike is at or
    beyond the funding cap (list_product's "Strike beyond funding cap")."""
    headroom = strike + cap if is_floor else cap - strike
    if headroom <= 0:
        return None
    return ceil_div(headroom * period, FUNDING_PERIOD)


@dataclass
class CapsProduct:
    market: int
    is_floor: bool
    strike: int
    start: int
    period: int
    periods: int
    max_payoff: int
    max_notional: int
    notional: int = 0
    locked: int = 0
    fixings: int = 0
    snapshots: list[int] = field(default_factory=list)
    payoffs: list[int] = field(default_factory=list)

    @classmethod
    def from_chain(cls, p: object) -> CapsProduct:
        """From the contract's Product struct (read by field name)."""
        return cls(
            market=p.market,  # type: ignore[attr-defined]
            is_floor=p.is_floor,  # type: ignore[attr-defined]
            strike=p.strike,  # type: ignore[attr-defined]
            start=p.start,  # type: ignore[attr-defined]
            period=p.period,  # type: ignore[attr-defined]
            periods=p.periods,  # type: ignore[attr-defined]
            max_payoff=p.max_payoff,  # type: ignore[attr-defined]
            max_notional=p.max_notional,  # type: ignore[attr-defined]
            notional=p.notional,  # type: ignore[attr-defined]
            locked=p.locked,  # type: ignore[attr-defined]
            fixings=p.fixings,  # type: ignore[attr-defined]
        )

    def fixing_time(self, caplet: int) -> int:
        return self.start + (caplet + 1) * self.period

    def strip_lock(self, notional: int) -> int:
        return umul_up(notional, self.max_payoff * self.periods)

    def caplet_payoff(self, increment: int) -> int:
        """Per unit notional, clipped at max_payoff (FundingCaps._caplet_payoff)."""
        if self.is_floor:
            payoff = floor_div(self.strike * self.period, FUNDING_PERIOD) - increment
        else:
            payoff = increment - ceil_div(self.strike * self.period, FUNDING_PERIOD)
        return 0 if payoff <= 0 else min(payoff, self.max_payoff)


def premium(
    product: CapsProduct, notional: int, forward: int, sigma: int, now: int, spread: int, min_premium: int
) -> int:
    """The premium in 1e18 USD (FundingCaps._premium)."""
    value = sum(
        caplet_value(product.is_floor, product.strike, forward, sigma, product.fixing_time(k) - now, product.period)
        for k in range(product.periods)
    )
    price = max(umul_up(umul_up(notional, value), WAD + spread), min_premium)
    return min(price, product.strip_lock(notional))


def premium_tokens(premium_wad: int, precision: int) -> int:
    return ceil_div(premium_wad, precision)


def twap(rate_index: int, reference_index: int, now: int, reference_time: int) -> int:
    """Average rate per 8h since the reference observation, truncated toward zero."""
    return trunc_div((rate_index - reference_index) * FUNDING_PERIOD, now - reference_time)


@dataclass
class CapsModel:
    """The vault, reserve, products, holdings and TWAP observations of one FundingCaps."""

    precision: int
    twap_window: int
    spread: int = 0
    min_premium: int = 0
    vault_assets: int = 0
    vault_locked: int = 0
    total_shares: int = 0
    buyer_reserve: int = 0
    shares: dict[str, int] = field(default_factory=dict)
    products: list[CapsProduct] = field(default_factory=list)
    holdings: dict[tuple[str, int], int] = field(default_factory=dict)
    claimed: dict[tuple[str, int], int] = field(default_factory=dict)
    volatility: dict[int, int] = field(default_factory=dict)
    obs_old: dict[int, tuple[int, int]] = field(default_factory=dict)
    obs_new: dict[int, tuple[int, int]] = field(default_factory=dict)

    # ------------------------------------------------------------ TWAP
    def observe(self, market: int, rate_index: int, now: int) -> None:
        newer = self.obs_new.get(market, (0, 0))
        if newer[1] == 0:
            self.obs_new[market] = (rate_index, now)
        elif now >= newer[1] + self.twap_window:
            self.obs_old[market] = newer
            self.obs_new[market] = (rate_index, now)

    def forward(self, market: int, is_floor: bool, rate_index: int, current_rate: int, now: int) -> int | None:
        """The buyer's worse of the current rate and the TWAP; None = "Forward not ready"."""
        reference = self.obs_new.get(market, (0, 0))
        if now < reference[1] + self.twap_window:
            reference = self.obs_old.get(market, (0, 0))
        if reference[1] == 0:
            return None
        average = twap(rate_index, reference[0], now, reference[1])
        return min(current_rate, average) if is_floor else max(current_rate, average)

    # ------------------------------------------------------------ vault
    def deposit(self, account: str, amount: int) -> int:
        assets = amount * self.precision
        shares = assets * (self.total_shares + VIRTUAL_SHARES) // (self.vault_assets + 1)
        assert amount > 0 and shares > 0
        self.vault_assets += assets
        self.total_shares += shares
        self.shares[account] = self.shares.get(account, 0) + shares
        return shares

    def withdraw_amount(self, shares: int) -> int:
        free = self.vault_assets - self.vault_locked
        return shares * (free + 1) // (self.total_shares + VIRTUAL_SHARES) // self.precision

    def withdraw(self, account: str, shares: int) -> int:
        amount = self.withdraw_amount(shares)
        assert 0 < shares <= self.shares.get(account, 0) and amount > 0
        self.vault_assets -= amount * self.precision
        self.total_shares -= shares
        self.shares[account] -= shares
        return amount

    # ------------------------------------------------------------ buyers
    def buy(self, account: str, product_id: int, notional: int, forward: int, now: int) -> tuple[int, int]:
        """(premium tokens, lock added); raises AssertionError("Vault capacity") when short."""
        p = self.products[product_id]
        wad_premium = premium(
            p, notional, forward, self.volatility.get(p.market, 0), now, self.spread, self.min_premium
        )
        tokens = premium_tokens(wad_premium, self.precision)
        total = p.notional + notional
        lock = p.strip_lock(total)
        added = lock - p.locked
        assets = self.vault_assets + tokens * self.precision
        assert assets - self.vault_locked >= added, "Vault capacity"
        self.vault_assets = assets
        self.vault_locked += added
        p.notional, p.locked = total, lock
        key = (account, product_id)
        self.holdings[key] = self.holdings.get(key, 0) + notional
        return tokens, added

    def fix(self, product_id: int, rate_index: int) -> tuple[int, int, int]:
        """(payoff per unit, obligation, released) of the boundary fixed now ((0, 0, 0) at the start)."""
        p = self.products[product_id]
        boundary = p.fixings
        p.snapshots.append(rate_index)
        p.fixings += 1
        if boundary == 0:
            return 0, 0, 0
        payoff = p.caplet_payoff(rate_index - p.snapshots[boundary - 1])
        keep = umul_up(p.notional, p.max_payoff * (p.periods - boundary))
        share = p.locked - keep
        obligation = min(umul_up(p.notional, payoff), share)
        p.payoffs.append(payoff)
        p.locked = keep
        self.vault_locked -= share
        self.vault_assets -= obligation
        self.buyer_reserve += obligation
        return payoff, obligation, share - obligation

    def claim(self, account: str, product_id: int) -> int:
        p = self.products[product_id]
        key = (account, product_id)
        notional = self.holdings.get(key, 0)
        first, last = self.claimed.get(key, 0), max(p.fixings - 1, 0)
        owed = sum(notional * p.payoffs[k] // WAD for k in range(first, last))
        amount = owed // self.precision
        self.claimed[key] = last
        self.buyer_reserve -= amount * self.precision
        return amount
