# pragma version ~=0.4.3
# proves `from interfaces import ...` resolution and nested-call logs/gas
from interfaces import ICounter

target: public(ICounter)


@deploy
def __init__(t: ICounter):
    self.target = t


@external
def forward(v: uint256) -> uint256:
    return extcall self.target.set_count(v)


@external
@view
def read() -> uint256:
    return staticcall self.target.count()


@external
def clone() -> address:
    """CREATE from a contract: an EIP-1167 proxy to the target."""
    return create_minimal_proxy_to(self.target.address)
