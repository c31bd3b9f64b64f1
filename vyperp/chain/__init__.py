"""Chain drivers: Vyper compilation plus four backends behind one interface.

    from vyperp.chain import Chain
    chain = Chain(timestamp=1_700_000_000, chain_id=31337)
    alice = chain.new_account("alice", eth=10**21)
    oracle = chain.deploy("MockOracle", 8, sender=alice)
    oracle.setAnswer(123, sender=alice)       # committed tx
    oracle.latestRoundData()                  # static call
    chain.last_receipt.gas_used               # real tx gas (see evm.py)

The interface (``base``):

* :class:`ChainAPI` -- a ``typing.Protocol``: what consumers (``System``, the deployment,
  the replay, the fuzzer, the ops tools) may call on any backend: ``chain_id``,
  ``accounts``, ``time``, ``block_number``, ``advance``, ``set_time``, ``new_account``,
  ``default_sender``, ``get_balance``/``get_nonce``/``get_code``/``get_storage``,
  ``deploy``, ``at``, ``send`` (raw transaction), ``call`` (raw static call),
  ``last_receipt``, ``decode_logs``, ``snapshot``/``revert``/``isolate``.
* :class:`BaseChain` -- the abstract base every backend derives from; it implements,
  once, accounts (labels, the default sender), contract wrapping (``at``, ``deploy``
  plumbing, the event index), log decoding into :class:`Event`, failed-transaction
  receipts and the snapshot bookkeeping. A backend implements only its transport:
  ``send``, ``call``, ``_deploy_code``, ``_create_account``, ``block_number``,
  ``advance``, ``set_time``, the ``get_*`` reads, ``_raw_snapshot``/``_revert_to``.

The backends:

* :class:`Chain` (``chain``/``evm``): pyrevm in process, the fast one;
* ``rpc_chain.RpcChain``: a node (anvil) over JSON-RPC (``node.AnvilNode`` starts one);
* ``signing_chain.SigningChain``: any node over JSON-RPC, transactions signed locally
  (keys from ``keys``, fees from ``fees``): testnets, L2s, public nodes;
* ``ape_chain.ApeChain``: ape's local ``ethereum:local:test`` network (eth-tester).

All three return the same values: ints, bools, checksummed address strings, one named
tuple type per ABI struct (``abi.named_decoder``), tuples for several outputs, lists for
dynamic arrays; events as :class:`Event` with ``args`` by name; reverts as
:class:`Reverted` with the revert string as ``.reason``.

Modules: ``compiler`` (vyper + disk cache), ``abi`` (cached codecs, named structs,
static layouts), ``contract`` (wrappers), ``base`` (the interface), ``chain``/``evm``,
``rpc_chain``/``node``, ``ape_chain``, ``errors``.
"""

from .abi import ABIError
from .base import BaseChain, ChainAPI, Event, Receipt
from .chain import Chain
from .compiler import Artifact, CompileError, compile_contract
from .contract import Contract, ContractFunction, OverloadedFunction
from .errors import ChainError, Reverted

__all__ = [
    "ABIError",
    "Artifact",
    "BaseChain",
    "Chain",
    "ChainAPI",
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
