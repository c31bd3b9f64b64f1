"""Contract wrappers: ``c.fn(*args, sender=, gas=, value=)``.

Every ABI function becomes an attribute holding a :class:`ContractFunction`
(or an :class:`OverloadedFunction` when Vyper default arguments produced
several overloads of the same name; the overload is picked by the number of
positional arguments). Names that would shadow the wrapper's own attributes
(``address``, ``chain``, ``artifact``, ``functions``, ``decode_output``,
``decode_logs``) are reachable through ``c.functions[name]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .abi import ABIError, ContractType, FunctionSpec

if TYPE_CHECKING:
    from .base import BaseChain, Event, Receipt
    from .compiler import Artifact

_RESERVED = frozenset({"address", "chain", "artifact", "contract_type", "functions", "decode_output", "decode_logs"})


class ContractFunction:
    """A function bound to a deployed contract.

    Calling it runs a static call for ``view``/``pure`` functions and a
    committed transaction otherwise; both return the decoded output (single
    value unwrapped, several -> tuple, struct -> tuple, nothing -> ``None``).
    """

    __slots__ = ("_chain", "_address", "spec", "_selector", "_n", "_enc", "_dec", "_view", "__weakref__")

    def __init__(self, chain: BaseChain, address: str, spec: FunctionSpec):
        self._chain = chain
        self._address = address
        self.spec = spec
        self._selector = spec.selector
        self._n = spec.n_inputs
        self._enc = spec.encode_args
        self._dec = spec.decode_output
        self._view = spec.is_view

    def __call__(self, *args: Any, sender: Any = None, gas: int | None = None, value: int = 0) -> Any:
        if len(args) != self._n:
            raise ABIError(f"{self.spec.signature} takes {self._n} arguments, got {len(args)}")
        data = self._selector + self._enc(args)
        if self._view:
            return self._dec(self._chain._static_call(self._address, data, sender, gas))
        return self._dec(self._chain._transact(sender, self._address, data, value, gas))

    def calldata(self, *args: Any) -> bytes:
        """Selector + ABI-encoded arguments (for ``chain.send`` batches)."""
        if len(args) != self._n:
            raise ABIError(f"{self.spec.signature} takes {self._n} arguments, got {len(args)}")
        return self._selector + self._enc(args)

    def call(self, *args: Any, sender: Any = None, gas: int | None = None, value: int = 0) -> Any:
        """Simulate (eth_call): run even a state-changing function without committing."""
        data = self.calldata(*args)
        return self._dec(self._chain.call(self._address, data, sender=sender, gas=gas, value=value))

    def transact(self, *args: Any, sender: Any = None, gas: int | None = None, value: int = 0) -> Any:
        """Force a committed transaction, even for a view function."""
        data = self.calldata(*args)
        return self._dec(self._chain._transact(sender, self._address, data, value, gas))

    def decode_output(self, data: bytes) -> Any:
        return self._dec(data)

    @property
    def selector(self) -> bytes:
        return self._selector

    @property
    def signature(self) -> str:
        return self.spec.signature

    def __repr__(self) -> str:
        return f"<ContractFunction {self.spec.signature} @ {self._address}>"


class OverloadedFunction:
    """Several overloads of one name, dispatched on the number of arguments."""

    __slots__ = ("name", "by_arity")

    def __init__(self, name: str, fns: list[ContractFunction]):
        self.name = name
        self.by_arity: dict[int, ContractFunction] = {}
        for f in fns:
            if f._n in self.by_arity:
                raise ABIError(
                    f"ambiguous overloads for {name}: {self.by_arity[f._n].signature} and {f.signature};"
                    " use contract.functions[signature]"
                )
            self.by_arity[f._n] = f

    def _pick(self, n: int) -> ContractFunction:
        f = self.by_arity.get(n)
        if f is None:
            raise ABIError(f"no overload of {self.name} takes {n} arguments (have {sorted(self.by_arity)})")
        return f

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self._pick(len(args))(*args, **kw)

    def calldata(self, *args: Any) -> bytes:
        return self._pick(len(args)).calldata(*args)

    def call(self, *args: Any, **kw: Any) -> Any:
        return self._pick(len(args)).call(*args, **kw)

    def transact(self, *args: Any, **kw: Any) -> Any:
        return self._pick(len(args)).transact(*args, **kw)

    def decode_output(self, data: bytes) -> Any:
        outs = {tuple(f.spec.output_types) for f in self.by_arity.values()}
        if len(outs) != 1:
            raise ABIError(f"overloads of {self.name} have different outputs; use functions[signature]")
        return next(iter(self.by_arity.values())).decode_output(data)

    def __repr__(self) -> str:
        return f"<OverloadedFunction {self.name}: {[f.signature for f in self.by_arity.values()]}>"


class Contract:
    """A deployed contract bound to a chain (any :class:`~vyperp.chain.BaseChain` backend)."""

    def __init__(self, chain: BaseChain, address: str, contract_type: ContractType, artifact: Artifact | None = None):
        self.chain = chain
        self.address = address
        self.contract_type = contract_type
        self.artifact = artifact
        self.functions: dict[str, ContractFunction | OverloadedFunction] = {}
        for name, specs in contract_type.by_name.items():
            fns = [ContractFunction(chain, address, s) for s in specs]
            for f in fns:
                self.functions[f.signature] = f
            obj: ContractFunction | OverloadedFunction = fns[0] if len(fns) == 1 else OverloadedFunction(name, fns)
            self.functions[name] = obj
            if name not in _RESERVED:
                self.__dict__[name] = obj

    def decode_output(self, fn: str, data: bytes) -> Any:
        """Decode return data of function ``fn`` (name or signature)."""
        f = self.functions.get(fn)
        if f is None:
            raise AttributeError(f"{self.contract_type.name} has no function {fn!r}")
        return f.decode_output(data)

    def decode_logs(self, logs: Receipt | Iterable[Any], *, any_address: bool = False) -> list[Event]:
        """Decode the logs this contract emitted (those matching its ABI).

        ``logs`` is a :class:`Receipt` or raw logs (pyrevm ``Log`` objects or
        ``(address, topics, data)`` tuples). With ``any_address`` logs from
        other addresses that match this ABI are decoded too.
        """
        from .base import Event, Receipt, _log_parts

        raw = logs.raw_logs if isinstance(logs, Receipt) else logs
        events = self.contract_type.events
        me = self.address
        out: list[Event] = []
        for log in raw:
            addr, topics, data = _log_parts(log)
            if not topics or (not any_address and addr != me):
                continue
            ev = events.get(topics[0])
            if ev is None or len(topics) != ev.n_indexed + 1:
                continue
            out.append(Event(ev.name, ev.decode(topics, data), addr))
        return out

    def __repr__(self) -> str:
        return f"<Contract {self.contract_type.name} @ {self.address}>"
