# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title ledger
@notice Where the money is: the collateral token and its decimals scale, every
        account's realized margin, positions and open-market mask, the pool's balance
        and the insurance fund; the token transfers in and out; and the bad-debt
        waterfall (insurance fund first, then the pool).
@dev Stateful module, initialized by the Engine; the other engine modules `uses:` it.
     Every value that moves between two of these ledgers moves the same integer on
     both sides, so token.balanceOf(engine) * PRECISION == sum(margin) + pool_balance +
     insurance_fund holds to the wei (absent direct donations).
"""

from ethereum.ercs import IERC20
from interfaces import IEngine
import engine_types
import fixed_math

COLLATERAL: public(immutable(address))
PRECISION: public(immutable(uint256))         # 10 ** (18 - token decimals)


struct StoredPosition:
    size_entry: uint256              # size (int128, two's complement) | entry_price (uint128) << 128
    funding_index: int256            # cumulative funding per unit at last settlement

# engine_types.Position in two slots instead of three (Engine.position unpacks it)
_positions: HashMap[address, HashMap[uint256, StoredPosition]]
# An account's realized margin (int232, two's complement) | its open-market mask << 232
# (24 bits: bit m set = the account holds market m, m < MAX_MARKETS = 16; bit MAX_MARKETS =
# constants.SWAP_FLAG: it holds funding swaps), one slot: the first
# position an account opens sets a bit in a slot its fee has already dirtied. The public
# getters are Engine.margin and Engine.open_markets.
_accounts: HashMap[address, uint256]

# pool_balance (int128, two's complement) | insurance_fund (uint128) << 128, one slot (a fee
# moves both); the public getters are Engine.pool_balance and Engine.insurance_fund.
_funds: uint256
swaps: public(address)                        # the FundingSwaps contract (0: none bound)


@deploy
def __init__(collateral: address, precision: uint256):
    """
    @param collateral The margin token.
    @param precision 10 ** (18 - its decimals): token units to 1e18.
    """
    COLLATERAL = collateral
    PRECISION = precision


@view
@internal
def _pool() -> int256:
    """
    @dev The pool's balance (1e18 USD; sign-extended by the arithmetic shift).
    """
    return convert(convert(self._funds << 128, bytes32), int256) >> 128


@view
@internal
def _insurance() -> uint256:
    """
    @dev The insurance fund (1e18 USD).
    """
    return self._funds >> 128


@internal
def _move_funds(pool_delta: int256, insurance_delta: int256):
    """
    @dev pool_balance += pool_delta, insurance_fund += insurance_delta, in one write.
         Bounds (a conversion reverts past them, as the unpacked arithmetic reverted on an
         insurance underflow): |pool_balance| < 2**127, 0 <= insurance_fund < 2**128
         (1.7e20 / 3.4e20 USD).
    """
    word: uint256 = self._funds
    pool: int256 = convert(convert(word << 128, bytes32), int256) >> 128
    self._funds = convert(convert(convert(pool + pool_delta, int128), bytes32), uint256) & (2**128 - 1) | convert(convert(convert(word >> 128, int256) + insurance_delta, uint128), uint256) << 128


@view
@internal
def _margin(account: address) -> int256:
    """
    @dev An account's realized margin (1e18 USD; sign-extended by the arithmetic shift).
    """
    return convert(convert(self._accounts[account] << 24, bytes32), int256) >> 24


@view
@internal
def _margin_cash(account: address) -> uint256:
    """
    @dev An account's margin floored at zero (what can be taken from it).
    """
    return convert(max(self._margin(account), 0), uint256)


@view
@internal
def _open_markets(account: address) -> uint256:
    """
    @dev An account's open-market mask.
    """
    return self._accounts[account] >> 232


@view
@internal
def _account(account: address) -> (int256, uint256):
    """
    @dev (realized margin, open-market mask) from one read of the account's word.
    """
    word: uint256 = self._accounts[account]
    return (convert(convert(word << 24, bytes32), int256) >> 24, word >> 232)


@internal
def _add_margin(account: address, delta: int256):
    """
    @dev margin += delta. Bound (the conversion reverts past it): |margin| < 2**231
         (3.4e51 USD; every margin is backed by collateral tokens).
    """
    word: uint256 = self._accounts[account]
    margin: int256 = convert(convert(word << 24, bytes32), int256) >> 24
    self._accounts[account] = word & ~(2**232 - 1) | convert(convert(convert(margin + delta, int232), bytes32), uint256) & (2**232 - 1)


@internal
def _set_open_markets(account: address, mask: uint256):
    self._accounts[account] = self._accounts[account] & (2**232 - 1) | mask << 232


@view
@internal
def _size_entry(account: address, market: uint256) -> (int256, uint256):
    """
    @dev (size, entry price) of a position, unpacked.
    """
    word: uint256 = self._positions[account][market].size_entry
    return (convert(convert(word << 128, bytes32), int256) >> 128, word >> 128)  # dev: size sign-extends through the arithmetic shift


@view
@internal
def _size(account: address, market: uint256) -> int256:
    """
    @dev A position's signed size (base units).
    """
    return self._size_entry(account, market)[0]


@internal
def _set_size_entry(account: address, market: uint256, size: int256, entry_price: uint256):
    """
    @dev Pack and write a position's size and entry price. Bounds (a conversion reverts
         past them): |size| < 2**127 base units (1.7e20 coins), entry_price < 2**128
         (3.4e20 USD per coin).
    """
    self._positions[account][market].size_entry = convert(convert(convert(size, int128), bytes32), uint256) & (2**128 - 1) | convert(convert(entry_price, uint128), uint256) << 128


@internal
def _pull(amount: uint256):
    """
    @dev Take `amount` tokens from the caller (the token's own revert if short).
    """
    self._transferred(extcall IERC20(COLLATERAL).transferFrom(msg.sender, self, amount, default_return_value=True))


@internal
def _push(receiver: address, amount: uint256):
    """
    @dev Pay `amount` tokens to `receiver`.
    """
    self._transferred(extcall IERC20(COLLATERAL).transfer(receiver, amount, default_return_value=True))


@view
@internal
def _pool_share(ratio: uint256) -> uint256:
    """
    @dev `ratio` x the pool's cash (its balance, floored at zero), rounded down.
    """
    return fixed_math._umul_down(convert(max(self._pool(), 0), uint256), ratio)


@pure
@internal
def _transferred(ok: bool):
    """
    @dev Reverts "Transfer failed" (one reason string for both directions: code size).
    """
    assert ok, "Transfer failed"


@internal
def _cover_bad_debt(account: address):
    """
    @dev Waterfall: insurance fund first, then the pool's balance, which this cannot take
         below zero. Proof: no account rests with positions and a negative margin (trades
         require margin >= 0 when positions remain; a liquidation step that would leave one
         closes every position), so an account enters the transaction that ends in its
         shortfall with margin m0 >= 0, and everything it lost in that transaction went to
         the pool or the insurance fund: shortfall - insurance - pool <= -m0 - I0 - P0 <= 0.
         So every margin, the pool's and the insurance fund's balances are >= 0 at rest and
         the token balance backs each one: no flat account is ever held back.
    """
    bad_debt: uint256 = convert(-self._margin(account), uint256)
    from_insurance: uint256 = min(bad_debt, self._insurance())
    from_pool: uint256 = bad_debt - from_insurance
    self._move_funds(-convert(from_pool, int256), -convert(from_insurance, int256))
    self._accounts[account] &= ~(2**232 - 1)  # margin = 0, mask kept
    log IEngine.BadDebtCovered(account=account, bad_debt=bad_debt, from_insurance=from_insurance, from_pool=from_pool)


@internal
def _cover_if_flat(account: address):
    """
    @dev The waterfall for an account left with no position and a negative margin.
    """
    if self._open_markets(account) == 0 and self._margin(account) < 0:
        self._cover_bad_debt(account)


@internal
def _deficit_after_insurance(pool_value: int256) -> uint256:
    """
    @dev The insurance fund covers what it can of a negative pool value first.
    @return The deficit left.
    """
    deficit: uint256 = convert(-pool_value, uint256)
    from_insurance: uint256 = min(deficit, self._insurance())
    if from_insurance > 0:
        self._move_funds(convert(from_insurance, int256), -convert(from_insurance, int256))
        deficit -= from_insurance
        log IEngine.DeficitCoveredByInsurance(amount=from_insurance, remaining_deficit=deficit)
    return deficit
