"""Embedded chain driver: Vyper compilation + a pyrevm EVM with a small,
fast, web3-like API.

    from vyperp.chain import Chain
    chain = Chain(timestamp=1_700_000_000, chain_id=31337)
    alice = chain.new_account("alice", eth=10**21)
    oracle = chain.deploy("MockOracle", 8, sender=alice)
    oracle.setAnswer(123, sender=alice)       # committed tx
    oracle.latestRoundData()                  # static call
    chain.last_receipt.gas_used               # real tx gas (see evm.py)

Modules: ``compiler`` (vyper + disk cache), ``abi`` (cached codecs),
``evm`` (pyrevm backends), ``contract`` (wrappers), ``chain`` (Chain).
"""

from .abi import ABIError
from .chain import Chain, Event, Receipt
from .compiler import Artifact, CompileError, compile_contract
from .contract import Contract, ContractFunction, OverloadedFunction
from .errors import ChainError, Reverted

__all__ = [
    "ABIError",
    "Artifact",
    "Chain",
    "ChainError",
    "CompileError",
    "Contract",
    "ContractFunction",
    "Event",
    "OverloadedFunction",
    "Receipt",
    "Reverted",
    "compile_contract",
]
