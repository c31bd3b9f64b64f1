# pragma version ~=0.4.3
"""
@title TestToken
@notice Collateral token for tests and local deployments: snekmate's ERC-20 with
        configurable decimals (6 like USDC by default). The deployer is owner and
        minter; anyone can be made a minter with `set_minter`.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")
