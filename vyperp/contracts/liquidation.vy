# pragma version ~=0.4.3
"""
@title liquidation
@notice The tiered liquidation step: which position to reduce and by how much (the
        tier's fraction, all of it below the minimum notional or when a partial step
        would not help), the keeper's reward and the penalty to insurance, a bankrupt
        account closed in one step, and the bad-debt waterfall when an account ends
        flat with negative margin.
@dev Module without storage of its own: it writes the `ledger`, `markets` and
     `liquidation_policy` state it `uses:`, touches markets through `funding` and
     fills through `fills`. Reasons: "Account not liquidatable", "Liquidation
     cool-down", "Liquidation rate limit" (strict calls only) and the oracle reasons.
"""

from interfaces import IEngine
import constants
import engine_types
import fixed_math
import pricing
import fills
import funding
import ledger
import liquidation_policy
import margin_health
import markets
import oracle_guard
import checks

uses: markets
uses: ledger
uses: liquidation_policy
uses: funding
uses: margin_health
uses: fills
uses: oracle_guard


@internal
def _liquidate(account: address, keeper: address, strict: bool) -> uint256:
    """
    @dev One step: reduce the position with the largest maintenance requirement (ties:
         lowest market id) by the tier's fraction at the fill price (all of it if the
         rest would be under min_position_notional), pay the keeper from the account's
         margin and the penalty (up to what margin is left) to insurance. If a partial
         step, its reward and penalty included, does not raise the margin ratio, that
         position closes entirely. A fully
         closed account with negative margin goes through the bad-debt waterfall.
         With `strict` false (batches) an ineligible account returns 0 instead of
         reverting. The rate limit counts notional at the index price; an escalation
         to a full close is counted but never blocked (safety over pacing).
         A bankrupt account (equity at exit prices below zero) closes every position
         in this one step, so its realized loss and the waterfall land in the same
         transaction and the pool is never credited a loss nobody can pay.
         The keeper is paid after the waterfall: from the account's margin while it
         is positive, then from the insurance fund, never from nothing.
    @return The size closed (absolute, base units; 0 = nothing done).
    """
    health: engine_types.Health = self._health_of(account, strict)
    # not health_math._is_liquidatable(health), written out (see health_math's header)
    # an account holding funding swaps is liquidated by FundingSwaps.liquidate first (swaps, then perps)
    if health.position_count == 0 or health.equity >= convert(health.maintenance_margin, int256) or ledger._open_markets(account) >= constants.SWAP_FLAG:
        checks._require(not strict, "Account not liquidatable")
        return 0
    fraction: uint256 = 0
    tier: uint256 = 0
    fraction, tier = liquidation_policy._tier_for(health)
    if health.equity < 0:
        return self._liquidate_bankrupt(account, keeper, tier)
    if fraction < constants.WAD and block.timestamp < liquidation_policy.last_partial_liquidation[account] + liquidation_policy.liquidation_config.cooldown:
        checks._require(not strict, "Liquidation cool-down")
        return 0

    market: uint256 = health.largest_market
    index_price: uint256 = 0
    if strict:
        index_price = funding._touch_market(market)
    elif oracle_guard._batch_reads & 1 << market != 0:
        # the keeper batch touched this market in this block: a touch would accrue and accept nothing
        index_price = markets._last_round(market)[0]
    else:
        index_price = funding._touch_market(market)
        oracle_guard._note_accepted(market)  # the batch (liquidate_many) reads this feed once
    funding._settle_funding(account, market, index_price)
    size: int256 = 0
    entry: uint256 = 0
    size, entry = ledger._size_entry(account, market)
    if health.position_count > 1 and ledger._margin(account) + pricing._pnl(size, markets._exit_mark(market, index_price, size)[0], entry) < 0:
        # this step would leave a negative realized margin beside open positions (a loss
        # backed by another market's gain): close everything now, so margin never rests
        # below zero and the waterfall can never ask the pool for more than it holds
        return self._liquidate_bankrupt(account, keeper, tier)
    close_size: int256 = size
    if fraction < constants.WAD:
        magnitude: uint256 = convert(abs(size), uint256)
        close_magnitude: uint256 = fixed_math._umul_up(magnitude, fraction)
        if close_magnitude < magnitude and fixed_math._umul_down(magnitude - close_magnitude, index_price) >= liquidation_policy.liquidation_config.min_position_notional:
            close_size = convert(close_magnitude, int256)
            if size < 0:
                close_size = -close_size
    if not liquidation_policy._count_rate_limit(market, fixed_math._umul_up(convert(abs(close_size), uint256), index_price), False):
        checks._require(not strict, "Liquidation rate limit")
        return 0
    ratio_before: int256 = health.equity * constants.IWAD // convert(health.maintenance_margin, int256)
    terms: liquidation_policy.KeeperTerms = liquidation_policy._keeper_terms_of()

    fill: fills.Fill = fills._execute(account, market, -close_size, index_price, False)
    if close_size != size:
        # judge the partial step with the reward and penalty it will charge included
        after: engine_types.Health = margin_health._health(account, market, index_price)
        step_notional: uint256 = fixed_math._umul_up(convert(abs(close_size), uint256), fill.price)
        charges: uint256 = self._reward(step_notional, terms)
        charges += min(fixed_math._umul_up(step_notional, terms.penalty_rate), convert(max(ledger._margin(account) - convert(charges, int256), 0), uint256))
        ratio_after: int256 = (after.equity - convert(charges, int256)) * constants.IWAD // max(convert(after.maintenance_margin, int256), 1)
        if ratio_after <= ratio_before:
            # the partial step did not help: this position closes entirely
            liquidation_policy._count_rate_limit(market, fixed_math._umul_up(convert(abs(size - close_size), uint256), index_price), True)
            fill = fills._execute(account, market, close_size - size, index_price, False)
            close_size = size
        else:
            liquidation_policy.last_partial_liquidation[account] = block.timestamp

    notional: uint256 = fixed_math._umul_up(convert(abs(close_size), uint256), fill.price)
    ledger._cover_if_flat(account)
    reward: uint256 = 0
    penalty: uint256 = 0
    reward, penalty = self._pay_keeper(account, keeper, notional, terms, terms.penalty_rate)
    log IEngine.Liquidated(account=account, market=market, keeper=keeper, size_closed=close_size, price=fill.price, notional=notional, tier=tier, keeper_reward=reward, penalty=penalty, remaining_size=size - close_size)
    return convert(abs(close_size), uint256)


@view
@internal
def _health_of(account: address, strict: bool) -> engine_types.Health:
    """
    @dev margin_health._health; in a keeper batch (not strict), the first market the account
         holds that the batch touched already is valued at its accepted round and stored
         funding index (what a feed read and an in-memory accrual give in the same block),
         without the read.
    """
    common: uint256 = 0
    if not strict:
        common = oracle_guard._batch_reads & ledger._open_markets(account) & (2**constants.MAX_MARKETS - 1)
    if common == 0:
        return margin_health._health(account, constants.MAX_MARKETS, 0)
    bit: uint256 = common & unsafe_add(~common, 1)  # the lowest set bit
    market: uint256 = 0
    if bit >= 1 << 8:
        market = 8
        bit >>= 8
    if bit >= 1 << 4:
        market += 4
        bit >>= 4
    if bit >= 1 << 2:
        market += 2
        bit >>= 2
    if bit >= 1 << 1:
        market += 1
    return margin_health._health(account, market, markets._last_round(market)[0])


@internal
def _liquidate_bankrupt(account: address, keeper: address, tier: uint256) -> uint256:
    """
    @dev Close every position of an account with negative equity (at most MAX_MARKETS),
         then the waterfall, then the keeper. No penalty: nothing is left to take.
    @return The total size closed (absolute, base units, summed over markets).
    """
    closed: uint256 = 0
    total_notional: uint256 = 0
    mask: uint256 = ledger._open_markets(account)
    for market: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            index_price: uint256 = funding._touch_market(market)
            funding._settle_funding(account, market, index_price)
            size: int256 = ledger._size(account, market)
            liquidation_policy._count_rate_limit(market, fixed_math._umul_up(convert(abs(size), uint256), index_price), True)
            fill: fills.Fill = fills._execute(account, market, -size, index_price, False)
            notional: uint256 = fixed_math._umul_up(convert(abs(size), uint256), fill.price)
            total_notional += notional
            closed += convert(abs(size), uint256)
            reward: uint256 = 0
            if mask == 1:
                # the last position: the waterfall, then the keeper
                ledger._cover_if_flat(account)
                reward = self._pay_keeper(account, keeper, total_notional, liquidation_policy._keeper_terms_of(), 0)[0]
            log IEngine.Liquidated(account=account, market=market, keeper=keeper, size_closed=size, price=fill.price, notional=notional, tier=tier, keeper_reward=reward, penalty=0, remaining_size=0)
        mask >>= 1
    return closed


@pure
@internal
def _reward(notional: uint256, terms: liquidation_policy.KeeperTerms) -> uint256:
    """
    @dev The keeper reward for `notional` closed: reward_rate of it, clamped to [floor, cap].
    """
    return min(max(fixed_math._umul_up(notional, terms.reward_rate), terms.reward_floor), terms.reward_cap)


@internal
def _pay_keeper(account: address, keeper: address, notional: uint256, terms: liquidation_policy.KeeperTerms, penalty_rate: uint256) -> (uint256, uint256):
    """
    @dev The keeper reward for `notional` closed, clamped to [floor, cap]: from the
         account's margin while positive, the rest from the insurance fund; then the
         penalty, `penalty_rate` of `notional`, from what margin the account has left
         (after the reward, and after receiving it if the account is its own keeper), to
         the insurance fund. One write of each balance.
    @return (what the keeper received, the penalty).
    """
    reward: uint256 = self._reward(notional, terms)
    margin: int256 = ledger._margin(account)
    from_margin: uint256 = min(reward, convert(max(margin, 0), uint256))
    from_insurance: uint256 = min(reward - from_margin, ledger._insurance())
    paid: int256 = convert(from_margin + from_insurance, int256)
    delta: int256 = -convert(from_margin, int256)
    if keeper == account:
        delta += paid
    penalty: uint256 = min(fixed_math._umul_up(notional, penalty_rate), convert(max(margin + delta, 0), uint256))
    ledger._add_margin(account, delta - convert(penalty, int256))
    if keeper != account:
        ledger._add_margin(keeper, paid)
    ledger._move_funds(0, convert(penalty, int256) - convert(from_insurance, int256))
    return (convert(paid, uint256), penalty)
