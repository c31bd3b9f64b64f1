# pragma version ~=0.4.3
# snekmate ERC-20 (proves the site-packages search path)
from snekmate.auth import ownable as ow
from snekmate.tokens import erc20

initializes: ow
initializes: erc20[ownable := ow]

exports: erc20.__interface__


@deploy
def __init__(supply: uint256):
    ow.__init__()
    erc20.__init__("Test Token", "TT", 18, "Test Token", "1")
    erc20._mint(msg.sender, supply)
