# pragma version ~=0.4.3
"""
@title constants
@notice The units and bounds the contracts share, each defined once here: the 1e18
        fixed-point unit (unsigned and signed), how many markets the engine lists, how
        many liquidation tiers it applies and how many accounts a keeper batch takes.
@dev Constants only: import it, no `initializes` needed. Bounds that belong to one
     struct stay beside it (margin_brackets.MAX_BRACKETS); the lens's batch sizes are
     its own (EngineLens.vy).
"""

WAD: constant(uint256) = 10**18          # 1.0 in unsigned 1e18 fixed point
IWAD: constant(int256) = 10**18          # 1.0 in signed 1e18 fixed point
MAX_MARKETS: constant(uint256) = 16      # markets the engine lists (one bit each in an account's open-market mask)
SWAP_FLAG: constant(uint256) = 1 << MAX_MARKETS  # open-market mask bit: the account holds funding swaps
MAX_TIERS: constant(uint256) = 4         # liquidation tiers
MAX_BATCH: constant(uint256) = 64        # accounts per engine keeper batch (liquidate_many, auto_deleverage*)
