# pragma version ~=0.4.3
"""
@title Counter (test fixture for vyperp.chain)
"""
import lib_math

event CountChanged:
    who: indexed(address)
    old: uint256
    new: uint256
    note: String[32]

event Deposited:
    who: indexed(address)
    amount: uint256

struct Info:
    count: uint256
    owner: address
    flag: bool
    delta: int128

count: public(uint256)
owner: public(address)
last_ts: public(uint256)
scratch: public(HashMap[uint256, uint256])


@deploy
def __init__(start: uint256):
    self.count = start
    self.owner = msg.sender


@external
def set_count(v: uint256, note: String[32] = "set") -> uint256:
    """Sets the counter; default arg -> two overloads (1 and 2 args)."""
    assert v != 13, "unlucky number"
    old: uint256 = self.count
    self.count = v
    self.last_ts = block.timestamp
    log CountChanged(who=msg.sender, old=old, new=v, note=note)
    return old


@external
@nonreentrant
def bump() -> uint256:
    """Uses transient storage (nonreentrant lock on cancun)."""
    self.count = lib_math.add_checked(self.count, 1)
    return self.count


@external
def write(k: uint256, v: uint256):
    self.scratch[k] = v


@external
def fail_empty():
    raise


@external
@payable
def deposit():
    log Deposited(who=msg.sender, amount=msg.value)


@external
@view
def now() -> (uint256, uint256, uint256):
    return block.timestamp, block.number, chain.id


@external
@view
def info() -> Info:
    return Info(count=self.count, owner=self.owner, flag=self.count > 10, delta=-5)


@external
@view
def names() -> (String[16], DynArray[uint256, 4]):
    return "counter", [1, 2, 3]


@external
@pure
def add(a: int256, b: int256 = 1) -> int256:
    return a + b
