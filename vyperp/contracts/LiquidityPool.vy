# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title LiquidityPool
@notice ERC-4626 vault of the collateral token whose LPs are the counterparty to the
        markets' net skew: the pool earns trading fees and funding, pays winners and
        absorbs bad debt after the insurance fund. The collateral itself sits in the
        engine; this contract is the share ledger over the engine's internal
        `pool_value` (balance minus traders' unrealized PnL plus funding owed), so a
        token donation to either contract cannot move the share price.
@dev Shares use a virtual share and asset (+1 each) against inflation attacks.
     Rounding favours the pool: deposit/redeem round shares/assets down,
     mint/withdraw round up. Token amounts are in the token's decimals.
     Failure modes: "Zero amount", "Zero shares", "Pool in deficit" (no deposits
     while bad debt is pending), "Exceeds max withdraw" / "Exceeds max redeem"
     (the engine keeps a reserve against open interest), snekmate's
     "erc20: insufficient allowance" / "erc20: burn amount exceeds balance", and the
     token's own revert on a failed transferFrom.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626
from snekmate.auth import ownable
from snekmate.tokens import erc20
from interfaces import IEngine

implements: IERC4626

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
)


asset: public(immutable(address))
ENGINE: public(immutable(address))
_PRECISION: immutable(uint256)


@deploy
def __init__(asset_: address, engine: address, name_: String[25], symbol_: String[5], decimals_: uint8):
    """
    @param asset_ The collateral token (the engine's COLLATERAL).
    @param engine The engine whose ledger holds the pool's assets.
    """
    asset = asset_
    ENGINE = engine
    _PRECISION = staticcall IEngine(engine).PRECISION()
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


@view
@external
def totalAssets() -> uint256:
    """
    @notice The pool's net value in tokens (0 while in deficit), rounded down. While a
            market's oracle cannot be read (stale or jumped) the unrealized PnL against
            the pool cannot be valued and this falls back to the pool's booked balance.
    @return Tokens (token decimals).
    """
    return self._total_assets(False)


@view
@external
def convertToShares(assets: uint256) -> uint256:
    """
    @notice Shares `assets` tokens are worth at the current value (rounded down, lenient valuation).
    @param assets Tokens (token decimals).
    @return Shares.
    """
    return self._to_shares(assets, False, False)


@view
@external
def convertToAssets(shares: uint256) -> uint256:
    """
    @notice Tokens `shares` are worth at the current value (rounded down, lenient valuation).
    @param shares Shares.
    @return Tokens (token decimals).
    """
    return self._to_assets(shares, False, False)


@view
@external
def maxDeposit(receiver: address) -> uint256:
    """
    @notice Unlimited, but 0 while the pool is in deficit or cannot be valued.
    @param receiver Unused (the same for everyone).
    @return Tokens (token decimals).
    """
    valued: bool = False
    value: int256 = 0
    valued, value = self._try_view(method_id("pool_value()", output_type=Bytes[4]))
    if not valued or value < 0:
        return 0
    return max_value(uint256)


@view
@external
def maxMint(receiver: address) -> uint256:
    """
    @notice Unlimited, but 0 while the pool is in deficit or cannot be valued.
    @param receiver Unused (the same for everyone).
    @return Shares.
    """
    valued: bool = False
    value: int256 = 0
    valued, value = self._try_view(method_id("pool_value()", output_type=Bytes[4]))
    if not valued or value < 0:
        return 0
    return max_value(uint256)


@view
@external
def maxWithdraw(owner: address) -> uint256:
    """
    @notice What `owner` can withdraw now: their assets, capped by the pool reserve
            (0 while the pool cannot be valued).
    @param owner The share owner.
    @return Tokens (token decimals).
    """
    valued: bool = False
    withdrawable: int256 = 0
    valued, withdrawable = self._try_view(method_id("pool_withdrawable()", output_type=Bytes[4]))
    if not valued:
        return 0
    return min(self._to_assets(erc20.balanceOf[owner], False, True), convert(withdrawable, uint256))


@view
@external
def maxRedeem(owner: address) -> uint256:
    """
    @notice `owner`'s shares, capped by the pool reserve (0 while the pool cannot be valued).
    @param owner The share owner.
    @return Shares.
    """
    valued: bool = False
    withdrawable: int256 = 0
    valued, withdrawable = self._try_view(method_id("pool_withdrawable()", output_type=Bytes[4]))
    if not valued:
        return 0
    return min(erc20.balanceOf[owner], self._to_shares(convert(withdrawable, uint256), False, True))


@view
@external
def previewDeposit(assets: uint256) -> uint256:
    """
    @notice Shares a deposit of `assets` mints now (rounded down).
    @param assets Tokens (token decimals).
    @return Shares.
    """
    return self._to_shares(assets, False, True)


@view
@external
def previewMint(shares: uint256) -> uint256:
    """
    @notice Tokens minting `shares` costs now (rounded up).
    @param shares Shares.
    @return Tokens (token decimals).
    """
    return self._to_assets(shares, True, True)


@view
@external
def previewWithdraw(assets: uint256) -> uint256:
    """
    @notice Shares withdrawing `assets` burns now (rounded up).
    @param assets Tokens (token decimals).
    @return Shares.
    """
    return self._to_shares(assets, True, True)


@view
@external
def previewRedeem(shares: uint256) -> uint256:
    """
    @notice Tokens redeeming `shares` pays now (rounded down).
    @param shares Shares.
    @return Tokens (token decimals).
    """
    return self._to_assets(shares, False, True)


@external
def deposit(assets: uint256, receiver: address) -> uint256:
    """
    @notice Deposit `assets` tokens, mint shares (rounded down) to `receiver`.
    @param assets Tokens (token decimals).
    @param receiver Who receives the shares.
    @return Shares minted.
    """
    shares: uint256 = self._to_shares(assets, False, True)
    self._deposit(assets, shares, receiver)
    return shares


@external
def mint(shares: uint256, receiver: address) -> uint256:
    """
    @notice Mint exactly `shares` to `receiver` for the assets it costs (rounded up).
    @param shares Shares to mint.
    @param receiver Who receives them.
    @return Tokens paid (token decimals).
    """
    assets: uint256 = self._to_assets(shares, True, True)
    self._deposit(assets, shares, receiver)
    return assets


@external
def withdraw(assets: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Withdraw exactly `assets` tokens to `receiver`, burning `owner`'s shares (rounded up).
    @param assets Tokens (token decimals).
    @param receiver Who receives them.
    @param owner Whose shares burn (an allowance is spent if not the caller).
    @return Shares burned.
    """
    assert assets <= staticcall IEngine(ENGINE).pool_withdrawable(), "Exceeds max withdraw"
    shares: uint256 = self._to_shares(assets, True, True)
    self._withdraw(assets, shares, receiver, owner)
    return shares


@external
def redeem(shares: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Burn `shares` of `owner` and send the assets (rounded down) to `receiver`.
    @param shares Shares to burn.
    @param receiver Who receives the tokens.
    @param owner Whose shares burn (an allowance is spent if not the caller).
    @return Tokens paid (token decimals).
    """
    assets: uint256 = self._to_assets(shares, False, True)
    assert assets <= staticcall IEngine(ENGINE).pool_withdrawable(), "Exceeds max redeem"
    self._withdraw(assets, shares, receiver, owner)
    return assets


@view
@internal
def _try_view(selector: Bytes[4]) -> (bool, int256):
    """
    @dev A 32-byte engine view that may revert (oracle stale or jumped): (ok, value).
    """
    success: bool = False
    response: Bytes[32] = b""
    success, response = raw_call(ENGINE, selector, max_outsize=32, is_static_call=True, revert_on_failure=False)
    if not success or len(response) != 32:
        return (False, 0)
    return (True, abi_decode(response, int256))


@view
@internal
def _total_assets(strict: bool) -> uint256:
    """
    @dev The engine's pool value in tokens. `strict` (deposits, withdrawals, previews)
         reverts with the oracle reasons when a market cannot be priced; otherwise the
         booked pool balance stands in for it.
    """
    value: int256 = 0
    if strict:
        value = staticcall IEngine(ENGINE).pool_value()
    else:
        valued: bool = False
        valued, value = self._try_view(method_id("pool_value()", output_type=Bytes[4]))
        if not valued:
            value = staticcall IEngine(ENGINE).pool_balance()
    if value <= 0:
        return 0
    return convert(value, uint256) // _PRECISION


@view
@internal
def _to_shares(assets: uint256, round_up: bool, strict: bool) -> uint256:
    numerator: uint256 = assets * (erc20.totalSupply + 1)
    denominator: uint256 = self._total_assets(strict) + 1
    if round_up:
        return (numerator + denominator - 1) // denominator
    return numerator // denominator


@view
@internal
def _to_assets(shares: uint256, round_up: bool, strict: bool) -> uint256:
    numerator: uint256 = shares * (self._total_assets(strict) + 1)
    denominator: uint256 = erc20.totalSupply + 1
    if round_up:
        return (numerator + denominator - 1) // denominator
    return numerator // denominator


@internal
def _deposit(assets: uint256, shares: uint256, receiver: address):
    assert assets > 0, "Zero amount"
    assert shares > 0, "Zero shares"
    assert staticcall IEngine(ENGINE).pool_value() >= 0, "Pool in deficit"
    assert extcall IERC20(asset).transferFrom(msg.sender, ENGINE, assets, default_return_value=True), "Transfer failed"
    extcall IEngine(ENGINE).pool_credit(assets)
    erc20._mint(receiver, shares)
    log IERC4626.Deposit(sender=msg.sender, owner=receiver, assets=assets, shares=shares)


@internal
def _withdraw(assets: uint256, shares: uint256, receiver: address, owner: address):
    assert assets > 0, "Zero amount"
    if msg.sender != owner:
        erc20._spend_allowance(owner, msg.sender, shares)
    erc20._burn(owner, shares)
    extcall IEngine(ENGINE).pool_debit(assets, receiver)
    log IERC4626.Withdraw(sender=msg.sender, receiver=receiver, owner=owner, assets=assets, shares=shares)
