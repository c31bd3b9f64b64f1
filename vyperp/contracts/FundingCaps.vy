# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title FundingCaps
@notice Caps and floors on a market's funding rate (issue 14, the caps part): strips of
        caplets / floorlets on the per-period funding rate, settled from the engine's
        dimensionless rate index R (`funding_rate_index`) with no oracle, sold by a
        fully collateralised writer vault.

        Product (listed by the admin): market, kind (cap or floor), strike K (per-8h
        rate, 1e18, signed), first period start, period length, number of periods n.
        Caplet k covers [start + k * period, start + (k + 1) * period] and pays, per
        1e18 USD of notional N,
            cap:   N * max(R_k - K * tau, 0)      floor:  N * max(K * tau - R_k, 0)
        with R_k the increment of R over the period and tau = period / 8h, clipped at
        the caplet's maximum payoff (below). The strike term is rounded against the
        buyer (up for a cap, down for a floor).

        Fixing. R is snapshotted at each of the n + 1 period boundaries by the first
        `fix` at or after that boundary (anyone may call it; a purchase or an `observe`
        does not fix). Each fix snapshots ONE boundary, in order. Lateness: a boundary
        fixed late moves the funding between the boundary and the fix from the caplet
        after it into the one before (inner boundaries); a late first fix leaves that
        funding out of the strip, a late last fix adds the funding after the end to the
        last caplet. A late fix can make a window longer than one period,
        and the payoff of a caplet is then clipped at its maximum. Keepers (and
        buyers, who lose by it) call `fix` in the first block at or after each
        boundary, as FundingSwaps' maturity snapshot asks.

        Bounded payoff. The engine caps the funding rate at +-max_funding_rate (c) per
        8h, so R_k <= c * tau over one period, and a caplet pays at most
        (c - K) * tau per unit (floorlet: (K + c) * tau), rounded up: `max_payoff`.
        Strikes at or beyond the cap (worthless strips) are refused ("Strike beyond
        funding cap"); c is read from the engine when the product is listed.

        Writer vault. LPs deposit collateral for shares (an exact internal share
        ledger, not ERC-4626: the vault's assets are an internal 1e18 balance, so a
        token donation cannot move the share price; 1e6 virtual shares against 1 wei of
        virtual assets, so an early depositor inflating the share price with premiums
        would have to pay a million times what a later depositor could lose to rounding).
        Every sale locks the strip's maximum payoff (computed on the product's total
        notional, rounded up) out of the vault's free assets, so the writer is always
        solvent and nothing is ever liquidated; the premium goes to the vault. Fixing
        caplet k moves its obligation (total notional * payoff, rounded up, never more
        than its lock) from the vault to the buyers' reserve and releases the rest of
        its lock. Deposits are priced at the vault's assets, withdrawals at its FREE
        assets (assets - locked): an LP cannot leave ahead of a known payout at the
        pre-payout value, and can only take unlocked money.
            token.balanceOf(self) * PRECISION == vault_assets + buyer_reserve
            vault_locked <= vault_assets
        hold to the wei (absent direct donations).

        Pricing (Bachelier / normal model: the rate may be negative). Per caplet and
        unit notional, with m = F - K for a cap and K - F for a floor (the symmetric
        formula, i.e. put-call parity), s = sigma * sqrt(T / year), d = m / s:
            value = tau * (m * Phi(d) + s * phi(d))
        T = seconds from now to the caplet's fixing (its period end). T to the end
        overstates the variance of a period AVERAGE rate (exact: (start - now) +
        period / 3), in the writer's favour. sigma: the market's normal volatility of
        the per-8h funding rate, per sqrt(year) (1e18; e.g. 0.002e18 = a one-sigma move
        of 0.2 % per 8h over a year, 0.0105 % per sqrt(day)). Phi from Abramowitz &
        Stegun 7.1.26 (|erf error| <= 1.5e-7), phi and erf's exp(-d^2 / 2) from
        snekmate's wad_exp (one call per caplet), sqrt by isqrt. |d| is clamped to 10.
        premium = max(ceil(sum of caplet values * N * (1 + spread)), min_premium),
        at most the strip's maximum payoff, charged in tokens rounded up.

        Forward F (one for every caplet of the strip: a flat forward curve). A cap is
        priced at max(current rate, TWAP), a floor at
        min(current rate, TWAP): the buyer always gets the worse of the two. The
        current rate (`funding_now`) moves with the skew in one transaction (a large
        trader could push it down, buy a cheap cap and unwind in the same block); the
        TWAP is the average rate over at least `TWAP_WINDOW` seconds read from the rate
        index itself (dR / dt, like a Uniswap accumulator), which only holding skew for
        a long time, and paying its funding, moves. The other way round, the current
        rate protects the vault from selling a cap on a stale, low TWAP during a spike.
        Purchases revert "Forward not ready" until an observation is TWAP_WINDOW old.

        Manipulating the payoff: a cap buyer who then holds long skew raises R and pays
        that funding himself on his skew; it pays him only if his cap notional exceeds
        the skew notional needed. `max_notional` per product bounds that; the admin
        keeps the sum over a market's live products well below the notional that moves
        the rate (skew_scale * price * the rate change). Settled engine markets stop R:
        caplets of a settled market pay nothing further (their locks are released as
        they fix; a settled market's poke reads no oracle). A stale oracle on a live market blocks its pokes, and so its
        fixings, until a fresh round arrives. If the configurator later raises the
        funding cap, payoffs stay clipped at the listing-time maximum (the lock), so the
        vault stays solvent and the buyer's protection is capped there.
        Halting: a market's sigma of 0 (the default) refuses purchases.
@dev Reads the engine only through `poke`, `funding_rate_index`, `funding_now` and
     `market_config`. Money is 1e18 USD inside, token decimals at the boundary. O(1) in
     the number of buyers everywhere; loops are bounded by MAX_PERIODS.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.utils import math
from interfaces import IEngine
from interfaces import IFundingCaps
import constants
import fixed_math

implements: IFundingCaps

FUNDING_PERIOD: constant(uint256) = 8 * 3600
YEAR: constant(uint256) = 365 * 86400
MAX_PERIODS: constant(uint256) = 32
MAX_PERIOD_LENGTH: constant(uint256) = 30 * 86400
VIRTUAL_SHARES: constant(uint256) = 10**6                # share-price offset (inflation attack)
MAX_SPREAD: constant(uint256) = 10**18                  # spread <= 100 %
MAX_VOLATILITY: constant(uint256) = 10**18              # sigma <= 1.0 per 8h per sqrt(year)
D_MAX: constant(int256) = 10 * 10**18                   # |d| clamp (Phi = 0 / 1 to 1e-23 beyond)
INV_SQRT_2PI: constant(int256) = 398942280401432677     # 1 / sqrt(2 pi), 1e18, rounded down
INV_SQRT2: constant(int256) = 707106781186547524        # 1 / sqrt(2), 1e18, rounded down
# Abramowitz & Stegun 7.1.26: erf(x) = 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-x^2),
# t = 1 / (1 + p x), x >= 0, |error| <= 1.5e-7.
AS_P: constant(int256) = 327591100000000000
AS_A1: constant(int256) = 254829592000000000
AS_A2: constant(int256) = -284496736000000000
AS_A3: constant(int256) = 1421413741000000000
AS_A4: constant(int256) = -1453152027000000000
AS_A5: constant(int256) = 1061405429000000000


ENGINE: public(immutable(IEngine))
COLLATERAL: public(immutable(address))
PRECISION: public(immutable(uint256))      # 10 ** (18 - token decimals)
TWAP_WINDOW: public(immutable(uint256))    # seconds

admin: public(address)
spread: public(uint256)                    # 1e18 fraction added to the model price
min_premium: public(uint256)               # 1e18 USD
volatility: public(HashMap[uint256, uint256])   # market -> sigma, per-8h rate per sqrt(year) (1e18)

product_count: public(uint256)
products: public(HashMap[uint256, IFundingCaps.Product])
snapshots: public(HashMap[uint256, HashMap[uint256, int256]])          # product -> boundary -> R
caplet_payoff: public(HashMap[uint256, HashMap[uint256, uint256]])     # product -> caplet -> payoff per unit (1e18)
holdings: public(HashMap[address, HashMap[uint256, uint256]])          # buyer -> product -> notional (1e18 USD)
claimed: public(HashMap[address, HashMap[uint256, uint256]])           # buyer -> product -> caplets paid

observation_old: public(HashMap[uint256, IFundingCaps.Observation])   # market -> the older TWAP observation
observation_new: public(HashMap[uint256, IFundingCaps.Observation])   # market -> the newer one

vault_assets: public(uint256)      # 1e18 USD
vault_locked: public(uint256)      # 1e18 USD, <= vault_assets
vault_shares: public(HashMap[address, uint256])
total_shares: public(uint256)
buyer_reserve: public(uint256)     # fixed caplets' payoffs not yet claimed (1e18 USD)


@deploy
def __init__(engine: address, collateral: address, twap_window: uint256):
    """
    @param engine The perp engine whose rate index the caplets settle on.
    @param collateral The vault and premium token (at most 18 decimals).
    @param twap_window Seconds an observation must age before it prices a purchase.
    @dev Reverts "Zero address", "Token decimals above 18", "Zero window".
    """
    assert engine != empty(address) and collateral != empty(address), "Zero address"
    assert twap_window > 0, "Zero window"
    decimals: uint8 = staticcall IERC20Detailed(collateral).decimals()
    assert decimals <= 18, "Token decimals above 18"
    ENGINE = IEngine(engine)
    COLLATERAL = collateral
    PRECISION = 10 ** convert(18 - decimals, uint256)
    TWAP_WINDOW = twap_window
    self.admin = msg.sender

# ================================================================== admin


@internal
def _only_admin():
    assert msg.sender == self.admin, "Not admin"


@external
def list_product(market: uint256, is_floor: bool, strike: int256, start: uint256, period: uint256, periods: uint256, max_notional: uint256) -> uint256:
    """
    @notice List a strip of `periods` caplets (floorlets if `is_floor`) on `market`'s
            funding rate at strike `strike`, the first period starting at `start`.
    @dev Reverts "Not admin", "Zero period", "Period too long" (above 30 days), "Bad
         period count" (0 or above MAX_PERIODS), "Start in the past", "Zero notional",
         "Strike beyond funding cap"
         (a cap struck at or above the engine's funding cap, a floor at or below minus
         it), and the engine's "Unknown market" and oracle reasons.
    @param market The engine market id.
    @param is_floor True for a floor, False for a cap.
    @param strike K per 8h (1e18, signed).
    @param start The first period's start (unix time, in the future).
    @param period Seconds per caplet.
    @param periods Number of caplets.
    @param max_notional The most notional this product may sell (1e18 USD).
    @return The product id.
    """
    self._only_admin()
    assert period > 0, "Zero period"
    assert period <= MAX_PERIOD_LENGTH, "Period too long"
    assert periods > 0 and periods <= MAX_PERIODS, "Bad period count"
    assert start > block.timestamp, "Start in the past"
    assert max_notional > 0, "Zero notional"
    self._observe(market, self._poke(market))  # "Unknown market" and the oracle reasons
    cap: int256 = convert((staticcall ENGINE.market_config(market)).max_funding_rate, int256)
    headroom: int256 = cap - strike
    if is_floor:
        headroom = strike + cap
    assert headroom > 0, "Strike beyond funding cap"
    max_payoff: uint256 = convert(fixed_math._ceil_div(headroom * convert(period, int256), convert(FUNDING_PERIOD, int256)), uint256)
    product_id: uint256 = self.product_count
    self.product_count = product_id + 1
    self.products[product_id] = IFundingCaps.Product(
        market=market, is_floor=is_floor, strike=strike, start=start, period=period, periods=periods,
        max_payoff=max_payoff, max_notional=max_notional, notional=0, locked=0, fixings=0,
    )
    log IFundingCaps.ProductListed(product=product_id, market=market, is_floor=is_floor, strike=strike, start=start, period=period, periods=periods, max_payoff=max_payoff)
    return product_id


@external
def set_volatility(market: uint256, sigma: uint256):
    """
    @notice Set a market's normal volatility: per-8h funding rate per sqrt(year), 1e18.
    @dev Reverts "Not admin", "Volatility beyond bound".
    @param market The engine market id.
    @param sigma The volatility (0: no sales on the market, the admin's halt).
    """
    self._only_admin()
    assert sigma <= MAX_VOLATILITY, "Volatility beyond bound"
    self.volatility[market] = sigma
    log IFundingCaps.VolatilitySet(market=market, sigma=sigma)


@external
def set_pricing(spread: uint256, min_premium: uint256):
    """
    @notice Set the spread over the model price and the minimum premium.
    @dev Reverts "Not admin", "Spread beyond bound".
    @param spread 1e18 fraction added to the model price.
    @param min_premium The least premium of any purchase (1e18 USD).
    """
    self._only_admin()
    assert spread <= MAX_SPREAD, "Spread beyond bound"
    self.spread = spread
    self.min_premium = min_premium
    log IFundingCaps.PricingSet(spread=spread, min_premium=min_premium)

# ================================================================== vault


@external
def deposit(amount: uint256) -> uint256:
    """
    @notice Deposit `amount` tokens into the writer vault for shares, priced at the
            vault's assets (rounded down).
    @dev Reverts "Zero amount", "Zero shares"; the token's own revert if allowance or
         balance is short.
    @param amount Tokens (token decimals).
    @return The shares minted.
    """
    assert amount > 0, "Zero amount"
    assets: uint256 = amount * PRECISION
    shares: uint256 = assets * (self.total_shares + VIRTUAL_SHARES) // (self.vault_assets + 1)
    assert shares > 0, "Zero shares"
    self._pull(amount)
    self.vault_assets += assets
    self.total_shares += shares
    self.vault_shares[msg.sender] += shares
    log IFundingCaps.VaultDeposit(account=msg.sender, amount=amount, shares=shares)
    return shares


@external
def withdraw(shares: uint256) -> uint256:
    """
    @notice Redeem `shares` for tokens, priced at the vault's free (unlocked) assets,
            rounded down.
    @dev Reverts "Zero shares", "Insufficient shares", "Zero amount" (the shares are
         worth less than one token of free assets, e.g. all assets locked).
    @param shares Shares to burn.
    @return Tokens paid (token decimals).
    """
    assert shares > 0, "Zero shares"
    assert shares <= self.vault_shares[msg.sender], "Insufficient shares"
    free: uint256 = self.vault_assets - self.vault_locked
    amount: uint256 = shares * (free + 1) // (self.total_shares + VIRTUAL_SHARES) // PRECISION
    assert amount > 0, "Zero amount"
    self.vault_assets -= amount * PRECISION
    self.total_shares -= shares
    self.vault_shares[msg.sender] -= shares
    self._push(msg.sender, amount)
    log IFundingCaps.VaultWithdraw(account=msg.sender, amount=amount, shares=shares)
    return amount

# ================================================================== buyers


@external
def buy(product_id: uint256, notional: uint256, max_premium: uint256) -> uint256:
    """
    @notice Buy `notional` (1e18 USD) of a product's strip; the premium (tokens,
            rounded up) goes to the vault, which locks the strip's maximum payoff.
    @dev Reverts "Unknown product", "Product started", "Zero notional", "Notional
         above product limit", "Volatility not set" (the market's sigma is 0: sales
         halted), "Forward not ready" (no TWAP observation TWAP_WINDOW
         old yet), "Slippage" (premium above `max_premium`), "Vault capacity" (free
         assets short of the lock), and the engine's oracle reasons; the token's own
         revert if allowance or balance is short.
    @param product_id The product.
    @param notional USD notional N (1e18).
    @param max_premium The most tokens the buyer pays.
    @return The premium paid (tokens).
    """
    assert product_id < self.product_count, "Unknown product"
    p: IFundingCaps.Product = self.products[product_id]
    assert block.timestamp < p.start, "Product started"
    assert notional > 0, "Zero notional"
    assert p.notional + notional <= p.max_notional, "Notional above product limit"
    assert self.volatility[p.market] > 0, "Volatility not set"
    rate_index: int256 = self._poke(p.market)
    forward: int256 = self._forward(p.market, p.is_floor, rate_index)
    self._observe(p.market, rate_index)
    premium: uint256 = self._premium(p, notional, forward)
    tokens: uint256 = (premium + PRECISION - 1) // PRECISION
    assert tokens <= max_premium, "Slippage"
    total: uint256 = p.notional + notional
    lock: uint256 = fixed_math._umul_up(total, p.max_payoff * p.periods)
    added: uint256 = lock - p.locked
    assets: uint256 = self.vault_assets + tokens * PRECISION
    assert assets - self.vault_locked >= added, "Vault capacity"
    self._pull(tokens)
    self.vault_assets = assets
    self.vault_locked += added
    self.products[product_id].notional = total
    self.products[product_id].locked = lock
    self.holdings[msg.sender][product_id] += notional
    log IFundingCaps.Bought(account=msg.sender, product=product_id, notional=notional, premium=tokens, forward=forward, locked=added)
    return tokens


@external
def fix(product_id: uint256):
    """
    @notice Snapshot the rate index at the product's next period boundary (the first
            call at or after it); from the second boundary on, this fixes the caplet
            that ends there: its payoff moves from the vault to the buyers' reserve and
            the rest of its lock is released. Anyone may call it.
    @dev Reverts "Unknown product", "Fully fixed", "Not due" (the boundary is in the
         future), and the engine's oracle reasons.
    @param product_id The product.
    """
    assert product_id < self.product_count, "Unknown product"
    p: IFundingCaps.Product = self.products[product_id]
    boundary: uint256 = p.fixings
    assert boundary <= p.periods, "Fully fixed"
    assert block.timestamp >= p.start + boundary * p.period, "Not due"
    rate_index: int256 = self._poke(p.market)
    self._observe(p.market, rate_index)
    self.snapshots[product_id][boundary] = rate_index
    self.products[product_id].fixings = boundary + 1
    if boundary == 0:
        log IFundingCaps.Fixed(product=product_id, boundary=0, rate_index=rate_index, payoff=0, obligation=0, released=0)
        return
    caplet: uint256 = boundary - 1
    increment: int256 = rate_index - self.snapshots[product_id][caplet]
    payoff: uint256 = self._caplet_payoff(p, increment)
    keep: uint256 = fixed_math._umul_up(p.notional, p.max_payoff * (p.periods - boundary))
    share: uint256 = p.locked - keep
    obligation: uint256 = min(fixed_math._umul_up(p.notional, payoff), share)
    self.caplet_payoff[product_id][caplet] = payoff
    self.products[product_id].locked = keep
    self.vault_locked -= share
    self.vault_assets -= obligation
    self.buyer_reserve += obligation
    log IFundingCaps.Fixed(product=product_id, boundary=boundary, rate_index=rate_index, payoff=payoff, obligation=obligation, released=share - obligation)


@external
def claim(account: address, product_id: uint256) -> uint256:
    """
    @notice Pay `account` what its fixed, unpaid caplets of a product are worth:
            notional * payoff per caplet, each rounded down, in tokens rounded down.
            Anyone may call it; the tokens go to `account`.
    @dev Reverts "Unknown product", "No position", "Nothing to claim".
    @param account The buyer.
    @param product_id The product.
    @return Tokens paid (token decimals).
    """
    assert product_id < self.product_count, "Unknown product"
    notional: uint256 = self.holdings[account][product_id]
    assert notional > 0, "No position"
    first: uint256 = self.claimed[account][product_id]
    fixings: uint256 = self.products[product_id].fixings
    last: uint256 = 0
    if fixings > 0:
        last = fixings - 1   # caplets fixed
    assert last > first, "Nothing to claim"
    owed: uint256 = 0
    for k: uint256 in range(first, last, bound=MAX_PERIODS):
        owed += notional * self.caplet_payoff[product_id][k] // constants.WAD
    amount: uint256 = owed // PRECISION
    self.claimed[account][product_id] = last
    self.buyer_reserve -= amount * PRECISION
    if amount > 0:
        self._push(account, amount)
    log IFundingCaps.Claimed(account=account, product=product_id, caplets=last - first, amount=amount)
    return amount


@external
def observe(market: uint256):
    """
    @notice Poke the engine and record a TWAP observation for `market` if the newer
            one is at least TWAP_WINDOW old (keepers keep the forward fresh).
    @dev Reverts with the engine's "Unknown market" and oracle reasons.
    @param market The engine market id.
    """
    self._observe(market, self._poke(market))

# ================================================================== views


@view
@external
def quote(product_id: uint256, notional: uint256, forward: int256) -> uint256:
    """
    @notice The premium (tokens, rounded up) `buy` would charge now for `notional` at
            the forward rate `forward` (buy's forward: a cap's max(current rate, TWAP),
            a floor's min).
    @dev Reverts "Unknown product".
    @param product_id The product.
    @param notional USD notional (1e18).
    @param forward The forward rate per 8h (1e18).
    @return Tokens.
    """
    assert product_id < self.product_count, "Unknown product"
    return (self._premium(self.products[product_id], notional, forward) + PRECISION - 1) // PRECISION


@view
@external
def caplet_value(is_floor: bool, strike: int256, forward: int256, sigma: uint256, time_to_fixing: uint256, period: uint256) -> uint256:
    """
    @notice The Bachelier value of one caplet (floorlet) per 1e18 USD notional, before
            the spread: tau * (m * Phi(m / s) + s * phi(m / s)).
    @param is_floor True for a floorlet.
    @param strike K per 8h (1e18).
    @param forward F per 8h (1e18).
    @param sigma Normal volatility per sqrt(year) (1e18).
    @param time_to_fixing Seconds to the caplet's fixing.
    @param period The caplet's period (seconds).
    @return The value (1e18 per 1e18 notional).
    @dev Reverts only on arithmetic overflow (inputs far beyond any rate or time).
    """
    return self._caplet_value(is_floor, strike, forward, sigma, time_to_fixing, period)


@view
@external
def normal_cdf(d: int256) -> int256:
    """
    @notice The on-chain standard normal CDF Phi(d) (A&S 7.1.26), 1e18, d clamped to
            [-10, 10] as the pricing clamps it.
    @param d The argument (1e18).
    @return Phi(d) (1e18).
    """
    cdf: int256 = 0
    pdf: int256 = 0
    cdf, pdf = self._normal(fixed_math._clamp(d, -D_MAX, D_MAX))
    return cdf


@view
@external
def pending(account: address, product_id: uint256) -> uint256:
    """
    @notice What `claim` would pay `account` now (tokens); 0 for an unknown product.
    @param account The buyer.
    @param product_id The product.
    @return Tokens.
    """
    fixings: uint256 = self.products[product_id].fixings
    if fixings < 2:
        return 0
    owed: uint256 = 0
    notional: uint256 = self.holdings[account][product_id]
    for k: uint256 in range(self.claimed[account][product_id], fixings - 1, bound=MAX_PERIODS):
        owed += notional * self.caplet_payoff[product_id][k] // constants.WAD
    return owed // PRECISION

# ================================================================== internals


@internal
def _poke(market: uint256) -> int256:
    """
    @dev Touch the engine's market so its rate index is current; return it.
    """
    extcall ENGINE.poke(market)
    return staticcall ENGINE.funding_rate_index(market)


@internal
def _observe(market: uint256, rate_index: int256):
    """
    @dev Roll the TWAP observations: the newer becomes the older once it is
         TWAP_WINDOW old (the first call only records the newer).
    """
    newer: IFundingCaps.Observation = self.observation_new[market]
    if newer.time == 0:
        self.observation_new[market] = IFundingCaps.Observation(rate_index=rate_index, time=block.timestamp)
    elif block.timestamp >= newer.time + TWAP_WINDOW:
        self.observation_old[market] = newer
        self.observation_new[market] = IFundingCaps.Observation(rate_index=rate_index, time=block.timestamp)


@view
@internal
def _forward(market: uint256, is_floor: bool, rate_index: int256) -> int256:
    """
    @dev The buyer's worse of the current rate and the TWAP since the most recent
         observation at least TWAP_WINDOW old: (R_now - R_obs) * 8h / (now - t_obs),
         truncated toward zero.
    """
    reference: IFundingCaps.Observation = self.observation_new[market]
    if block.timestamp < reference.time + TWAP_WINDOW:
        reference = self.observation_old[market]
    assert reference.time != 0, "Forward not ready"
    twap: int256 = (rate_index - reference.rate_index) * convert(FUNDING_PERIOD, int256) // convert(block.timestamp - reference.time, int256)
    current: int256 = (staticcall ENGINE.funding_now(market))[1]
    if is_floor:
        return min(current, twap)
    return max(current, twap)


@view
@internal
def _premium(p: IFundingCaps.Product, notional: uint256, forward: int256) -> uint256:
    """
    @dev max(ceil(sum of caplet values * N * (1 + spread)), min_premium), at most the
         strip's maximum payoff (1e18 USD).
    """
    sigma: uint256 = self.volatility[p.market]
    value: uint256 = 0
    for k: uint256 in range(p.periods, bound=MAX_PERIODS):
        fixing: uint256 = p.start + (k + 1) * p.period
        value += self._caplet_value(p.is_floor, p.strike, forward, sigma, fixing - block.timestamp, p.period)
    price: uint256 = fixed_math._umul_up(fixed_math._umul_up(notional, value), constants.WAD + self.spread)
    price = max(price, self.min_premium)
    return min(price, fixed_math._umul_up(notional, p.max_payoff * p.periods))


@pure
@internal
def _caplet_value(is_floor: bool, strike: int256, forward: int256, sigma: uint256, time_to_fixing: uint256, period: uint256) -> uint256:
    """
    @dev tau * (m * Phi(m / s) + s * phi(m / s)) per unit notional, m = F - K (cap) or
         K - F (floor), s = sigma * sqrt(T / year); intrinsic max(m, 0) * tau when s = 0.
         Each product truncates toward zero; a negative result (erf's error on a far
         out-of-the-money caplet) is 0.
    """
    moneyness: int256 = forward - strike
    if is_floor:
        moneyness = -moneyness
    root: int256 = convert(isqrt(time_to_fixing * constants.WAD * constants.WAD // YEAR), int256)
    s: int256 = convert(sigma, int256) * root // constants.IWAD
    per_8h: int256 = max(moneyness, 0)
    if s > 0:
        d: int256 = fixed_math._clamp(moneyness * constants.IWAD // s, -D_MAX, D_MAX)
        cdf: int256 = 0
        pdf: int256 = 0
        cdf, pdf = self._normal(d)
        per_8h = max(moneyness * cdf // constants.IWAD + s * pdf // constants.IWAD, 0)
    return convert(per_8h * convert(period, int256) // convert(FUNDING_PERIOD, int256), uint256)


@pure
@internal
def _normal(d: int256) -> (int256, int256):
    """
    @dev (Phi(d), phi(d)), 1e18, |d| <= D_MAX. e = exp(-d^2 / 2) (snekmate wad_exp)
         serves both: phi = e / sqrt(2 pi); erf(x) for x = |d| / sqrt(2) by A&S 7.1.26,
         t = 1 / (1 + p x), erf = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e;
         Phi = (1 + sign(d) erf) / 2.
    """
    e: int256 = math._wad_exp(-(d * d // constants.IWAD // 2))
    pdf: int256 = e * INV_SQRT_2PI // constants.IWAD
    x: int256 = abs(d) * INV_SQRT2 // constants.IWAD
    t: int256 = constants.IWAD * constants.IWAD // (constants.IWAD + AS_P * x // constants.IWAD)
    poly: int256 = AS_A5
    poly = AS_A4 + t * poly // constants.IWAD
    poly = AS_A3 + t * poly // constants.IWAD
    poly = AS_A2 + t * poly // constants.IWAD
    poly = AS_A1 + t * poly // constants.IWAD
    poly = t * poly // constants.IWAD
    erf: int256 = constants.IWAD - poly * e // constants.IWAD
    if d < 0:
        erf = -erf
    return ((constants.IWAD + erf) // 2, pdf)


@pure
@internal
def _caplet_payoff(p: IFundingCaps.Product, increment: int256) -> uint256:
    """
    @dev Per unit notional: cap max(R_k - ceil(K tau), 0), floor max(floor(K tau) - R_k, 0),
         clipped at max_payoff (a late fixing can widen the window).
    """
    strike_leg: int256 = 0
    payoff: int256 = 0
    if p.is_floor:
        strike_leg = fixed_math._floor_div(p.strike * convert(p.period, int256), convert(FUNDING_PERIOD, int256))
        payoff = strike_leg - increment
    else:
        strike_leg = fixed_math._ceil_div(p.strike * convert(p.period, int256), convert(FUNDING_PERIOD, int256))
        payoff = increment - strike_leg
    if payoff <= 0:
        return 0
    return min(convert(payoff, uint256), p.max_payoff)


@internal
def _pull(amount: uint256):
    assert extcall IERC20(COLLATERAL).transferFrom(msg.sender, self, amount, default_return_value=True), "Transfer failed"


@internal
def _push(receiver: address, amount: uint256):
    assert extcall IERC20(COLLATERAL).transfer(receiver, amount, default_return_value=True), "Transfer failed"
