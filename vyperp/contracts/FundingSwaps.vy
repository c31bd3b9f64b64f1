# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title FundingSwaps
@notice Fixed-for-floating swaps on the engine's own cumulative funding index, per
        market and maturity (first slice of issue 14).

        NOT FOR DEPLOYMENT YET (deploy_protocol does not deploy it): `withdraw` checks
        only realized margin against the initial margin (unsettled losses are ignored)
        and nothing liquidates a swap account, so a holder's margin, and the pool side,
        can go negative. The margin and liquidation slice of issue 14 closes that.

        Convention. A swap has a signed base size S (1e18 base units), like a position:
          S > 0  pay fixed, receive floating: over [t0, t1] it receives the funding a
                 LONG perp of size S pays, S * (I(t1) - I(t0)), and pays the fixed leg.
                 It hedges a long perp of size S (long perp + this swap = fixed carry).
          S < 0  receive fixed, pay floating: the hedge of a short perp of size |S|.
        I is the engine's `cumulative_funding_per_unit` (1e18 USD per 1 base unit:
        rate per 8h * index price * elapsed / 8h, accrued at every engine touch).

        Floating leg: floor(S * (I(t1) - I(t0)) / 1e18). Every touch of a swap first
        pokes the engine, so I(t) is a point on the engine's own index path, the very
        value a perp touched in the same block settles against (a perp rounds what it
        owes up, the swap rounds what it receives down: at most 1 wei apart, the
        protocol's).

        Fixed leg (Boros's base-sized convention, quoted in USD): a fixed rate r per 8h
        (1e18, the unit of the engine's funding rate, signed) on the notional at open,
        S * P0 with P0 the engine's index price at open. Each open adds the fixed flow
        ceil(S * r * P0 / 1e18) (1e36 USD per 8h) to the swap; over dt seconds the swap
        pays ceil(flow * dt / (1e18 * 8h)). So a constant funding rate r at a constant
        price nets a swap to zero, and the fixed leg does not follow later price moves
        (the floating leg does, as the perp's funding does).

        Rounding: every amount is rounded in the protocol's favour (what a holder
        receives down, what it pays up).

        Settlement is lazy and O(1): a touch moves (floating - fixed) since the swap's
        last touch between the holder's swap margin and the pool side, both held here in
        the collateral token (1e18 USD inside, token decimals at the boundary). The pool
        side's unrealized PnL is O(1) from four sums per book (total size, total fixed
        flow, sum of size * last index, sum of flow * last time), IPOR-style: no loop
        over holders anywhere.

        Maturity: both legs run to the first touch at or after the maturity (its
        snapshot of the index and time, taken by any settle/open/close; a keeper calls
        `settle` in the maturity block to make it exact). A matured swap is settled and
        removed by `settle`.

        Early close = an offsetting swap at the current quote for the remaining time,
        its fixed legs' difference paid now (undiscounted): floor(-(flow + ceil(-S * q *
        P / 1e18)) * (maturity - now) / (1e18 * 8h)).

        Quotes (this slice): one fixed rate per maturity set by the admin. An index EMA
        plus a spread on swap skew and utilisation is the next slice, as are the mark
        rate, rate-sensitivity margin, liquidation and cross-margin with the perps.
        Margin here: realized swap margin >= initial_margin_ratio * sum of entry
        notionals after every open and withdrawal (unsettled accrual is not counted).
@dev Reads the engine only through `poke`, `funding_now` and `index_price`.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from interfaces import IEngine
from interfaces import IFundingSwaps
import constants
import fixed_math

implements: IFundingSwaps

FUNDING_PERIOD: constant(int256) = 8 * 3600
FLOW_UNIT: constant(int256) = 10**18 * FUNDING_PERIOD   # flow * seconds / FLOW_UNIT = 1e18 USD
MAX_MATURITIES: constant(uint256) = 8                    # per market
MAX_FIXED_RATE: constant(int256) = 10**16                # |r| <= 1 % per 8h


struct Swap:
    size: int256          # signed base size (1e18); + pays fixed
    fixed_flow: int256    # sum of ceil(size * rate * price / 1e18) over its opens (1e36 USD per 8h)
    last_index: int256    # engine cumulative funding per unit at the last touch
    last_time: uint256    # time of the last touch
    notional: uint256     # sum of |size| * price at open (1e18 USD), for the initial margin


struct Book:
    listed: bool
    fixed_rate: int256       # the quote, per 8h (1e18)
    total_size: int256       # sum of holders' sizes
    total_flow: int256       # sum of holders' fixed flows
    sum_size_index: int256   # sum of size * last_index (unscaled)
    sum_flow_time: int256    # sum of fixed_flow * last_time (unscaled)
    final_index: int256      # index at the maturity snapshot
    final_time: uint256      # time of the snapshot (0: not taken)


ENGINE: public(immutable(IEngine))
COLLATERAL: public(immutable(address))
PRECISION: public(immutable(uint256))   # 10 ** (18 - token decimals)

admin: public(address)
initial_margin_ratio: public(uint256)   # 1e18 fraction of entry notional
books: public(HashMap[uint256, HashMap[uint256, Book]])             # market -> maturity -> Book
maturity_count: public(HashMap[uint256, uint256])
swaps: public(HashMap[address, HashMap[uint256, HashMap[uint256, Swap]]])
margin: public(HashMap[address, int256])        # 1e18 USD
account_notional: public(HashMap[address, uint256])
pool_balance: public(int256)                    # 1e18 USD


@deploy
def __init__(engine: address, collateral: address, initial_margin_ratio: uint256):
    """
    @param engine The perp engine whose funding index the swaps settle on.
    @param collateral The margin token (at most 18 decimals).
    @param initial_margin_ratio Initial margin as a 1e18 fraction of entry notional.
    @dev Reverts "Token decimals above 18", "Zero address".
    """
    assert engine != empty(address) and collateral != empty(address), "Zero address"
    decimals: uint8 = staticcall IERC20Detailed(collateral).decimals()
    assert decimals <= 18, "Token decimals above 18"
    ENGINE = IEngine(engine)
    COLLATERAL = collateral
    PRECISION = 10 ** convert(18 - decimals, uint256)
    self.admin = msg.sender
    self.initial_margin_ratio = initial_margin_ratio

# ================================================================== admin


@internal
def _only_admin():
    assert msg.sender == self.admin, "Not admin"


@external
def list_maturity(market: uint256, maturity: uint256, fixed_rate: int256):
    """
    @notice Open a book for `market` maturing at `maturity` with a quoted fixed rate.
    @dev Reverts "Not admin", "Maturity in the past", "Maturity listed",
         "Too many maturities", "Rate beyond bound", and the engine's "Unknown market"
         and oracle reasons.
    @param market The engine market id.
    @param maturity Unix time at which the swaps stop accruing.
    @param fixed_rate The quoted fixed rate per 8h (1e18, signed).
    """
    self._only_admin()
    assert maturity > block.timestamp, "Maturity in the past"
    assert not self.books[market][maturity].listed, "Maturity listed"
    assert self.maturity_count[market] < MAX_MATURITIES, "Too many maturities"
    assert abs(fixed_rate) <= MAX_FIXED_RATE, "Rate beyond bound"
    extcall ENGINE.poke(market)  # "Unknown market" and the oracle reasons
    self.maturity_count[market] += 1
    self.books[market][maturity].listed = True
    self.books[market][maturity].fixed_rate = fixed_rate
    log IFundingSwaps.MaturityListed(market=market, maturity=maturity, fixed_rate=fixed_rate)


@external
def set_fixed_rate(market: uint256, maturity: uint256, fixed_rate: int256):
    """
    @notice Change the quote of a live book.
    @dev Reverts "Not admin", "Unknown maturity", "Expired", "Rate beyond bound".
    @param market The engine market id.
    @param maturity The book's maturity.
    @param fixed_rate The new fixed rate per 8h (1e18, signed).
    """
    self._only_admin()
    self._live(market, maturity)
    assert abs(fixed_rate) <= MAX_FIXED_RATE, "Rate beyond bound"
    self.books[market][maturity].fixed_rate = fixed_rate
    log IFundingSwaps.FixedRateSet(market=market, maturity=maturity, fixed_rate=fixed_rate)


@external
def set_initial_margin_ratio(ratio: uint256):
    """
    @notice Set the initial margin as a fraction of entry notional.
    @dev Reverts "Not admin", "Ratio above 1".
    @param ratio 1e18 fraction.
    """
    self._only_admin()
    assert ratio <= constants.WAD, "Ratio above 1"
    self.initial_margin_ratio = ratio
    log IFundingSwaps.InitialMarginRatioSet(ratio=ratio)


@external
def withdraw_pool(amount: uint256, receiver: address):
    """
    @notice Pay `amount` tokens of the pool side's cash to `receiver`.
    @dev Reverts "Not admin", "Zero amount", "Insufficient pool balance".
    @param amount Tokens (token decimals).
    @param receiver Who receives them.
    """
    self._only_admin()
    assert amount > 0, "Zero amount"
    value: int256 = convert(amount * PRECISION, int256)
    assert self.pool_balance >= value, "Insufficient pool balance"
    self.pool_balance -= value
    self._push(receiver, amount)
    log IFundingSwaps.PoolWithdrawn(receiver=receiver, amount=amount)

# ================================================================== money


@external
def deposit(amount: uint256):
    """
    @notice Move `amount` collateral tokens into the caller's swap margin.
    @dev Reverts "Zero amount"; the token's own revert if allowance/balance is short.
    @param amount Tokens (token decimals).
    """
    assert amount > 0, "Zero amount"
    self._pull(amount)
    self.margin[msg.sender] += convert(amount * PRECISION, int256)
    log IFundingSwaps.Deposited(account=msg.sender, amount=amount)


@external
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` tokens of realized swap margin.
    @dev Reverts "Zero amount", "Insufficient margin", "Below initial margin".
    @param amount Tokens (token decimals).
    """
    assert amount > 0, "Zero amount"
    remaining: int256 = self.margin[msg.sender] - convert(amount * PRECISION, int256)
    assert remaining >= 0, "Insufficient margin"
    assert remaining >= convert(self._initial_margin(msg.sender), int256), "Below initial margin"
    self.margin[msg.sender] = remaining
    self._push(msg.sender, amount)
    log IFundingSwaps.Withdrawn(account=msg.sender, amount=amount)


@external
def fund_pool(amount: uint256):
    """
    @notice Add `amount` tokens to the pool side (the swaps' counterparty).
    @dev Reverts "Zero amount"; the token's own revert if allowance/balance is short.
    @param amount Tokens (token decimals).
    """
    assert amount > 0, "Zero amount"
    self._pull(amount)
    self.pool_balance += convert(amount * PRECISION, int256)
    log IFundingSwaps.PoolFunded(funder=msg.sender, amount=amount)

# ================================================================== swaps


@external
def open(market: uint256, maturity: uint256, size: int256, rate_limit: int256):
    """
    @notice Open (or add to) a swap of `size` at the book's quoted fixed rate.
    @dev Reverts "Zero size", "Unknown maturity", "Expired", "Slippage" (quote above
         `rate_limit` for a pay-fixed open, below it for a receive-fixed one),
         "Below initial margin", and the engine's oracle reasons.
    @param market The engine market id.
    @param maturity The book's maturity.
    @param size Signed base size (1e18): + pay fixed / receive floating, - the reverse.
    @param rate_limit The highest fixed rate a pay-fixed open accepts, the lowest a
           receive-fixed open accepts (per 8h, 1e18).
    """
    assert size != 0, "Zero size"
    self._live(market, maturity)
    rate: int256 = self.books[market][maturity].fixed_rate
    self._check_slippage(size > 0, rate, rate_limit)
    index: int256 = self._poke(market)
    self._settle(msg.sender, market, maturity, index, block.timestamp)
    price: uint256 = staticcall ENGINE.index_price(market)
    flow: int256 = fixed_math._ceil_div(size * rate * convert(price, int256), constants.IWAD)
    notional: uint256 = fixed_math._umul_up(convert(abs(size), uint256), price)
    swap: Swap = self.swaps[msg.sender][market][maturity]
    if swap.size == 0 and swap.fixed_flow == 0:
        swap.last_index = index
        swap.last_time = block.timestamp
    swap.size += size
    swap.fixed_flow += flow
    swap.notional += notional
    self.swaps[msg.sender][market][maturity] = swap
    self.books[market][maturity].total_size += size
    self.books[market][maturity].total_flow += flow
    self.books[market][maturity].sum_size_index += size * index
    self.books[market][maturity].sum_flow_time += flow * convert(block.timestamp, int256)
    self.account_notional[msg.sender] += notional
    assert self.margin[msg.sender] >= convert(self._initial_margin(msg.sender), int256), "Below initial margin"
    log IFundingSwaps.SwapOpened(account=msg.sender, market=market, maturity=maturity, size=size, fixed_rate=rate, index_price=price, fixed_flow=flow)


@external
def settle(account: address, market: uint256, maturity: uint256):
    """
    @notice Settle `account`'s swap up to now (or to the maturity snapshot); a matured
            swap is then removed. Anyone may call it.
    @dev Reverts "Unknown maturity", "No swap", and the engine's oracle reasons.
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    """
    assert self.books[market][maturity].listed, "Unknown maturity"
    swap: Swap = self.swaps[account][market][maturity]
    assert swap.size != 0 or swap.fixed_flow != 0, "No swap"
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint(market, maturity)
    self._settle(account, market, maturity, index, time)
    if block.timestamp >= maturity:
        self._remove(account, market, maturity, index, time)
        log IFundingSwaps.SwapClosed(account=account, market=market, maturity=maturity, size=swap.size, unwind=0)


@external
def close(market: uint256, maturity: uint256, rate_limit: int256):
    """
    @notice Close the caller's swap before maturity: settle it, then offset it at the
            book's quote, the remaining fixed legs' difference paid now.
    @dev Reverts "Unknown maturity", "Expired" (a matured swap is settled by `settle`),
         "No swap", "Slippage" (closing a pay-fixed receives the quote: below
         `rate_limit` reverts; closing a receive-fixed pays it: above reverts), and the
         engine's oracle reasons.
    @param market The engine market id.
    @param maturity The book's maturity.
    @param rate_limit The bound on the quote the offsetting swap trades at (per 8h, 1e18).
    """
    self._live(market, maturity)
    swap: Swap = self.swaps[msg.sender][market][maturity]
    assert swap.size != 0 or swap.fixed_flow != 0, "No swap"
    rate: int256 = self.books[market][maturity].fixed_rate
    self._check_slippage(swap.size < 0, rate, rate_limit)
    index: int256 = self._poke(market)
    self._settle(msg.sender, market, maturity, index, block.timestamp)
    price: uint256 = staticcall ENGINE.index_price(market)
    offset_flow: int256 = fixed_math._ceil_div(-swap.size * rate * convert(price, int256), constants.IWAD)
    remaining: int256 = convert(maturity - block.timestamp, int256)
    unwind: int256 = fixed_math._floor_div(-(swap.fixed_flow + offset_flow) * remaining, FLOW_UNIT)
    self._remove(msg.sender, market, maturity, index, block.timestamp)
    self.margin[msg.sender] += unwind
    self.pool_balance -= unwind
    log IFundingSwaps.SwapClosed(account=msg.sender, market=market, maturity=maturity, size=swap.size, unwind=unwind)

# ================================================================== views


@view
@external
def pool_unrealized(market: uint256, maturity: uint256) -> int256:
    """
    @notice The pool side's unsettled PnL on a book (the negative of every holder's
            exact unsettled accrual, summed in O(1)), rounded down.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return 1e18 USD (positive: holders owe the pool), each leg rounded against the pool.
    """
    book: Book = self.books[market][maturity]
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint_view(market, maturity)
    floating: int256 = book.total_size * index - book.sum_size_index
    fixed: int256 = book.total_flow * convert(time, int256) - book.sum_flow_time
    return fixed_math._floor_div(fixed, FLOW_UNIT) + fixed_math._floor_div(-floating, constants.IWAD)


@view
@external
def pending(account: address, market: uint256, maturity: uint256) -> int256:
    """
    @notice What settling `account`'s swap now would move into its margin.
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return 1e18 USD (floating received minus fixed paid, as settled).
    """
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint_view(market, maturity)
    floating: int256 = 0
    fixed: int256 = 0
    floating, fixed = self._accrued(self.swaps[account][market][maturity], index, time)
    return floating - fixed


@view
@external
def initial_margin(account: address) -> uint256:
    """
    @notice The swap margin `account` must keep after an open or a withdrawal.
    @param account The holder.
    @return 1e18 USD.
    """
    return self._initial_margin(account)

# ================================================================== internals


@view
@internal
def _live(market: uint256, maturity: uint256):
    assert self.books[market][maturity].listed, "Unknown maturity"
    assert block.timestamp < maturity, "Expired"


@pure
@internal
def _check_slippage(pays_fixed: bool, rate: int256, rate_limit: int256):
    if pays_fixed:
        assert rate <= rate_limit, "Slippage"
    else:
        assert rate >= rate_limit, "Slippage"


@view
@internal
def _initial_margin(account: address) -> uint256:
    return fixed_math._umul_up(self.account_notional[account], self.initial_margin_ratio)


@internal
def _poke(market: uint256) -> int256:
    """
    @dev Touch the engine's market, so the index read is on the engine's own path.
    """
    extcall ENGINE.poke(market)
    return (staticcall ENGINE.funding_now(market))[0]


@internal
def _endpoint(market: uint256, maturity: uint256) -> (int256, uint256):
    """
    @dev (index, time) the legs run to now: the maturity snapshot, taken here on the
         first touch at or after the maturity.
    """
    if self.books[market][maturity].final_time != 0:
        return (self.books[market][maturity].final_index, self.books[market][maturity].final_time)
    index: int256 = self._poke(market)
    if block.timestamp >= maturity:
        self.books[market][maturity].final_index = index
        self.books[market][maturity].final_time = block.timestamp
        log IFundingSwaps.MaturitySnapshot(market=market, maturity=maturity, index=index, time=block.timestamp)
    return (index, block.timestamp)


@view
@internal
def _endpoint_view(market: uint256, maturity: uint256) -> (int256, uint256):
    if self.books[market][maturity].final_time != 0:
        return (self.books[market][maturity].final_index, self.books[market][maturity].final_time)
    return ((staticcall ENGINE.funding_now(market))[0], block.timestamp)


@pure
@internal
def _accrued(swap: Swap, index: int256, time: uint256) -> (int256, int256):
    """
    @dev (floating received, fixed paid) since the swap's last touch, each rounded in
         the protocol's favour.
    """
    if swap.size == 0 and swap.fixed_flow == 0:
        return (0, 0)
    floating: int256 = fixed_math._floor_div(swap.size * (index - swap.last_index), constants.IWAD)
    fixed: int256 = fixed_math._ceil_div(swap.fixed_flow * convert(time - swap.last_time, int256), FLOW_UNIT)
    return (floating, fixed)


@internal
def _settle(account: address, market: uint256, maturity: uint256, index: int256, time: uint256):
    """
    @dev Move the accrual since the last touch between the holder's margin and the pool
         side, and advance the swap and the book's sums to (index, time).
    """
    swap: Swap = self.swaps[account][market][maturity]
    if swap.size == 0 and swap.fixed_flow == 0:
        return
    if index == swap.last_index and time == swap.last_time:
        return
    floating: int256 = 0
    fixed: int256 = 0
    floating, fixed = self._accrued(swap, index, time)
    self.margin[account] += floating - fixed
    self.pool_balance -= floating - fixed
    self.books[market][maturity].sum_size_index += swap.size * (index - swap.last_index)
    self.books[market][maturity].sum_flow_time += swap.fixed_flow * convert(time - swap.last_time, int256)
    self.swaps[account][market][maturity].last_index = index
    self.swaps[account][market][maturity].last_time = time
    log IFundingSwaps.SwapSettled(account=account, market=market, maturity=maturity, floating=floating, fixed=fixed)


@internal
def _remove(account: address, market: uint256, maturity: uint256, index: int256, time: uint256):
    """
    @dev Take a settled swap (last touch at (index, time)) out of the book.
    """
    swap: Swap = self.swaps[account][market][maturity]
    self.books[market][maturity].total_size -= swap.size
    self.books[market][maturity].total_flow -= swap.fixed_flow
    self.books[market][maturity].sum_size_index -= swap.size * index
    self.books[market][maturity].sum_flow_time -= swap.fixed_flow * convert(time, int256)
    self.account_notional[account] -= swap.notional
    self.swaps[account][market][maturity] = empty(Swap)


@internal
def _pull(amount: uint256):
    assert extcall IERC20(COLLATERAL).transferFrom(msg.sender, self, amount, default_return_value=True), "Transfer failed"


@internal
def _push(receiver: address, amount: uint256):
    assert extcall IERC20(COLLATERAL).transfer(receiver, amount, default_return_value=True), "Transfer failed"
