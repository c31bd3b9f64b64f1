"""ABI handling tuned for the hot path.

Everything that can be computed once per ABI entry (selector, canonical
types, encoder, decoder, event topic) is computed once, in :class:`ContractType`.

Encoding of the common static elementary types (``uintN``, ``intN``,
``address``, ``bool``, ``bytesN``) is done by hand (``int.to_bytes``) and
falls back to eth-abi for anything else -- and also whenever the fast path
rejects a value, so error messages are eth-abi's. Decoding of fully static
outputs (including static structs/arrays) is done by slicing; dynamic outputs
use eth-abi. Addresses are always returned checksummed.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from eth_abi.codec import ABICodec
from eth_abi.decoding import AddressDecoder
from eth_abi.encoding import AddressEncoder
from eth_abi.grammar import ABIType, TupleType, parse
from eth_abi.registry import BaseEquals
from eth_abi.registry import registry as _default_registry
from eth_utils import keccak, to_checksum_address

Encoder = Callable[[tuple[Any, ...] | list[Any]], bytes]
Decoder = Callable[[bytes], Any]


class ABIError(ValueError):
    """Bad arguments for an ABI function, or undecodable return data."""


# --------------------------------------------------------------------------
# addresses


@lru_cache(maxsize=1 << 16)
def _checksum_raw(raw20: bytes) -> str:
    return to_checksum_address("0x" + raw20.hex())


@lru_cache(maxsize=1 << 16)
def checksum(address: str) -> str:
    """Checksum an address string (cached)."""
    return to_checksum_address(address)


def _checksum_from_any(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return _checksum_raw(bytes(value[-20:]))
    return checksum(value)


class _ChecksumAddressDecoder(AddressDecoder):
    decoder_fn = staticmethod(_checksum_from_any)


_registry = _default_registry.copy()
_registry.unregister("address")
_registry.register(BaseEquals("address"), AddressEncoder, _ChecksumAddressDecoder, label="address")
CODEC = ABICodec(_registry)


# --------------------------------------------------------------------------
# canonical types


def canonical_type(param: dict[str, Any]) -> str:
    """``{"type": "tuple[]", "components": [...]}`` -> ``"(uint256,address)[]"``."""
    t: str = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){t[5:]}"
    return t


# --------------------------------------------------------------------------
# fast encoders (per elementary value -> 32 bytes)

_Z12 = b"\x00" * 12
_Z32 = b"\x00" * 32
_TRUE = b"\x00" * 31 + b"\x01"


class _Reject(Exception):
    pass


def _fast_value_encoder(type_str: str) -> Callable[[Any], bytes] | None:
    try:
        t = parse(type_str)
    except Exception:
        return None
    if isinstance(t, TupleType) or t.arrlist or t.is_dynamic:
        return None
    base, sub = t.base, t.sub
    if base == "uint":
        hi = 1 << sub

        def enc_uint(v: Any) -> bytes:
            if v.__class__ is int and 0 <= v < hi:
                return v.to_bytes(32, "big")
            raise _Reject

        return enc_uint
    if base == "int":
        lo, hi = -(1 << (sub - 1)), 1 << (sub - 1)

        def enc_int(v: Any) -> bytes:
            if v.__class__ is int and lo <= v < hi:
                return v.to_bytes(32, "big", signed=True)
            raise _Reject

        return enc_int
    if base == "address":

        def enc_addr(v: Any) -> bytes:
            if v.__class__ is not str:
                v = v.address  # Contract objects
            if len(v) == 42:
                return _Z12 + bytes.fromhex(v[2:])
            raise _Reject

        return enc_addr
    if base == "bool":

        def enc_bool(v: Any) -> bytes:
            if v is True:
                return _TRUE
            if v is False:
                return _Z32
            raise _Reject

        return enc_bool
    if base == "bytes" and sub:
        n = sub

        def enc_bytesn(v: Any) -> bytes:
            if v.__class__ is bytes and len(v) <= n:
                return v.ljust(32, b"\x00")
            raise _Reject

        return enc_bytesn
    return None


def make_encoder(types: list[str]) -> Encoder:
    """Return ``encode(args) -> bytes`` for a fixed list of ABI types.

    The caller must have checked ``len(args) == len(types)``.
    """
    types = list(types)
    fast = [_fast_value_encoder(t) for t in types]

    def slow(args: Any) -> bytes:
        prepped = [(a.address if t == "address" and hasattr(a, "address") else a) for t, a in zip(types, args)]
        try:
            return CODEC.encode(types, prepped)
        except Exception as e:
            raise ABIError(f"cannot encode {list(args)!r} as ({','.join(types)}): {e}") from e

    if not all(fast):
        return slow
    n = len(types)
    if n == 0:
        return lambda args: b""
    if n == 1:
        (f0,) = fast

        def enc1(args: Any) -> bytes:
            try:
                return f0(args[0])
            except Exception:
                return slow(args)

        return enc1
    if n == 2:
        f0, f1 = fast

        def enc2(args: Any) -> bytes:
            try:
                return f0(args[0]) + f1(args[1])
            except Exception:
                return slow(args)

        return enc2
    pairs = fast

    def encn(args: Any) -> bytes:
        try:
            return b"".join([f(a) for f, a in zip(pairs, args)])
        except Exception:
            return slow(args)

    return encn


# --------------------------------------------------------------------------
# fast decoders (static types only): (n_words, fn(data, offset) -> value)

_WordDecoder = tuple[int, Callable[[bytes, int], Any]]


def _static_decoder(t: ABIType) -> _WordDecoder | None:
    if t.is_dynamic:
        return None
    if t.arrlist:
        dim = t.arrlist[-1][0]
        sub = _static_decoder(t.item_type)
        if sub is None:
            return None
        w, f = sub
        step = w * 32

        def dec_arr(d: bytes, o: int) -> tuple[Any, ...]:
            return tuple([f(d, o + i * step) for i in range(dim)])

        return w * dim, dec_arr
    if isinstance(t, TupleType):
        parts = []
        words = 0
        for c in t.components:
            sub = _static_decoder(c)
            if sub is None:
                return None
            parts.append((words * 32, sub[1]))
            words += sub[0]

        def dec_tuple(d: bytes, o: int) -> tuple[Any, ...]:
            return tuple([f(d, o + off) for off, f in parts])

        return words, dec_tuple
    base, sub_ = t.base, t.sub
    if base == "uint":
        return 1, lambda d, o: int.from_bytes(d[o : o + 32], "big")
    if base == "int":
        return 1, lambda d, o: int.from_bytes(d[o : o + 32], "big", signed=True)
    if base == "address":
        return 1, lambda d, o: _checksum_raw(d[o + 12 : o + 32])
    if base == "bool":
        return 1, lambda d, o: d[o + 31] != 0
    if base == "bytes" and sub_:
        n = sub_
        return 1, lambda d, o: d[o : o + n]
    return None


def make_decoder(types: list[str], unwrap: bool = True) -> Decoder:
    """Return ``decode(data)``.

    With ``unwrap``: no types -> ``None``, one type -> the value, several ->
    tuple. Without: always a tuple.
    """
    types = list(types)
    n = len(types)
    label = ",".join(types)

    def slow(data: bytes) -> Any:
        try:
            out = CODEC.decode(types, data)
        except Exception as e:
            raise ABIError(f"cannot decode {data.hex()!r} as ({label}): {e}") from e
        return out[0] if unwrap and n == 1 else out

    if n == 0:
        return (lambda data: None) if unwrap else (lambda data: ())
    try:
        subs = [_static_decoder(parse(t)) for t in types]
    except Exception:
        return slow
    if any(s is None for s in subs):
        return slow
    size = sum(s[0] for s in subs) * 32  # type: ignore[index]

    def short(data: bytes) -> ABIError:
        return ABIError(f"return data too short for ({label}): {len(data)} < {size} bytes")

    if n == 1 and unwrap:
        f0 = subs[0][1]  # type: ignore[index]

        def dec1(data: bytes) -> Any:
            if len(data) < size:
                raise short(data)
            return f0(data, 0)

        return dec1
    parts = []
    off = 0
    for s in subs:
        parts.append((off, s[1]))  # type: ignore[index]
        off += s[0] * 32  # type: ignore[index]

    def decn(data: bytes) -> tuple[Any, ...]:
        if len(data) < size:
            raise short(data)
        return tuple([f(data, o) for o, f in parts])

    return decn


# --------------------------------------------------------------------------
# named structs: one namedtuple type per ABI struct, built once


def _struct_name(param: dict[str, Any]) -> str:
    internal = param.get("internalType", "") or ""
    name = internal.split()[-1].split(".")[-1].split("[")[0] if internal else ""
    return name if name.isidentifier() else "Struct"


class PositionalStructRead(TypeError):
    """A struct was read by position (``state[8]``) instead of by field name (``state.last_price``)."""


def _by_name_only(self: tuple[Any, ...], key: Any) -> Any:
    if isinstance(key, (int, slice)):
        raise PositionalStructRead(
            f"{type(self).__name__} is a struct: read its fields by name ({', '.join(self._fields)}), not [{key}]"
        )
    return tuple.__getitem__(self, key)


@cache
def struct_class(name: str, fields: tuple[str, ...]) -> type:
    """The named tuple type of struct `name` with `fields`: one per (name, fields) in the
    process, so every backend's, every contract type's decoded struct is of the very
    same type. Its fields are read by name only: indexing or slicing by position raises
    :class:`PositionalStructRead` (iteration, and so ABI encoding, ``_asdict`` and
    ``_replace``, still work), so a reordered or inserted struct field cannot be misread."""
    base = namedtuple(name, fields, rename=True)  # type: ignore[misc]
    return type(name, (base,), {"__slots__": (), "__getitem__": _by_name_only})


def _namer(param: dict[str, Any]) -> Callable[[Any], Any] | None:
    """A function turning a decoded value of `param` into named tuples (None: nothing to name)."""
    t: str = param["type"]
    if not t.startswith("tuple"):
        return None
    components = param.get("components", [])
    names = [c.get("name", "") or f"field{i}" for i, c in enumerate(components)]
    if not all(n.isidentifier() for n in names):
        return None
    cls = struct_class(_struct_name(param), tuple(names))
    subs = [_namer(c) for c in components]

    def name_struct(value: Any) -> Any:
        return cls(*[f(v) if f is not None else v for f, v in zip(subs, value)])

    if t == "tuple":
        return name_struct
    depth = t.count("[")

    def name_array(value: Any, level: int = depth) -> Any:
        if level == 0:
            return name_struct(value)
        return [name_array(v, level - 1) for v in value]

    return name_array


def named_decoder(outputs: list[dict[str, Any]], decode: Decoder, unwrap: bool = True) -> Decoder:
    """Wrap `decode` so that struct outputs come back as named tuples (positions still work).
    `unwrap`: as `decode` was made (one output unwrapped, or always a tuple)."""
    namers = [_namer(p) for p in outputs]
    if not any(namers):
        return decode
    if len(outputs) == 1 and unwrap:
        (only,) = namers
        return lambda data: only(decode(data))  # type: ignore[misc]

    def decode_named(data: bytes) -> tuple[Any, ...]:
        return tuple(f(v) if f is not None else v for f, v in zip(namers, decode(data)))

    return decode_named


# --------------------------------------------------------------------------
# functions, events, contract types


class FunctionSpec:
    """One ABI function (or the constructor) with cached codec."""

    __slots__ = (
        "abi",
        "name",
        "signature",
        "selector",
        "input_types",
        "input_names",
        "output_types",
        "n_inputs",
        "is_view",
        "is_payable",
        "encode_args",
        "decode_output",
    )

    def __init__(self, abi: dict[str, Any]):
        self.abi = abi
        self.name: str = abi.get("name", "constructor")
        self.input_types = [canonical_type(p) for p in abi.get("inputs", [])]
        self.input_names = [p.get("name", "") for p in abi.get("inputs", [])]
        self.output_types = [canonical_type(p) for p in abi.get("outputs", [])]
        self.n_inputs = len(self.input_types)
        self.signature = f"{self.name}({','.join(self.input_types)})"
        is_ctor = abi.get("type") == "constructor"
        self.selector = b"" if is_ctor else keccak(text=self.signature)[:4]
        mut = abi.get("stateMutability", "nonpayable")
        self.is_view = mut in ("view", "pure")
        self.is_payable = mut == "payable"
        self.encode_args: Encoder = make_encoder(self.input_types)
        self.decode_output: Decoder = named_decoder(abi.get("outputs", []), make_decoder(self.output_types))

    def calldata(self, args: tuple[Any, ...] | list[Any]) -> bytes:
        """Selector + encoded arguments."""
        if len(args) != self.n_inputs:
            raise ABIError(f"{self.signature} takes {self.n_inputs} arguments, got {len(args)}")
        return self.selector + self.encode_args(args)

    def __repr__(self) -> str:
        return f"<FunctionSpec {self.signature}>"


class EventSpec:
    """One ABI event: topic0 and a decoder for (topics, data)."""

    __slots__ = ("abi", "name", "signature", "topic0", "n_indexed", "_fields", "_data_dec")

    def __init__(self, abi: dict[str, Any]):
        self.abi = abi
        self.name: str = abi["name"]
        inputs = abi.get("inputs", [])
        types = [canonical_type(p) for p in inputs]
        self.signature = f"{self.name}({','.join(types)})"
        self.topic0 = keccak(text=self.signature)
        fields: list[tuple[str, bool, Any]] = []
        data_types = []
        for p, t in zip(inputs, types):
            if p.get("indexed"):
                dec = None
                try:
                    dec = _static_decoder(parse(t))
                except Exception:
                    pass
                # dynamic indexed values are stored as their keccak hash
                fields.append((p["name"], True, dec[1] if dec else None))
            else:
                fields.append((p["name"], False, None))
                data_types.append(t)
        self.n_indexed = sum(1 for f in fields if f[1])
        self._fields = fields
        data_params = [p for p in inputs if not p.get("indexed")]
        self._data_dec = named_decoder(data_params, make_decoder(data_types, unwrap=False), unwrap=False)

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """Decode a log into an ordered ``{arg name: value}`` dict."""
        values = iter(self._data_dec(data))
        ti = 1
        args: dict[str, Any] = {}
        for name, indexed, dec in self._fields:
            if indexed:
                topic = topics[ti]
                ti += 1
                args[name] = dec(topic, 0) if dec is not None else topic
            else:
                args[name] = next(values)
        return args

    def __repr__(self) -> str:
        return f"<EventSpec {self.signature}>"


class ContractType:
    """All pre-computed ABI information of one contract type."""

    def __init__(self, abi: list[dict[str, Any]], name: str = ""):
        self.name = name
        self.abi = abi
        self.functions: list[FunctionSpec] = []
        self.by_name: dict[str, list[FunctionSpec]] = {}
        self.by_signature: dict[str, FunctionSpec] = {}
        self.by_selector: dict[bytes, FunctionSpec] = {}
        self.constructor: FunctionSpec | None = None
        self.events: dict[bytes, EventSpec] = {}
        self.events_by_name: dict[str, EventSpec] = {}
        self.layouts: dict[str, dict[str, tuple[int, int]]] = {}  # filled by layout()
        for item in abi:
            kind = item.get("type", "function")
            if kind == "function":
                fs = FunctionSpec(item)
                self.functions.append(fs)
                self.by_name.setdefault(fs.name, []).append(fs)
                self.by_signature[fs.signature] = fs
                self.by_selector[fs.selector] = fs
            elif kind == "constructor":
                self.constructor = FunctionSpec(item)
            elif kind == "event" and not item.get("anonymous"):
                ev = EventSpec(item)
                self.events[ev.topic0] = ev
                self.events_by_name[ev.name] = ev

    def constructor_args(self, args: tuple[Any, ...] | list[Any]) -> bytes:
        """ABI-encode constructor arguments."""
        if self.constructor is None:
            if args:
                raise ABIError(f"{self.name} has no constructor but got {len(args)} arguments")
            return b""
        return self.constructor.calldata(args)


# --------------------------------------------------------------------------
# static layouts: word offsets of named struct fields (for raw fast paths)


def static_words(param: dict[str, Any]) -> int:
    """Words a static ABI value occupies inline (raises ABIError for a dynamic type)."""
    t = parse(canonical_type(param))
    if t.is_dynamic:
        raise ABIError(f"{param.get('name', '?')}: {canonical_type(param)} is dynamic")
    return _static_decoder(t)[0]  # type: ignore[index]


def static_layout(param: dict[str, Any], prefix: str = "") -> dict[str, int]:
    """``{"state.last_price": byte offset, ...}`` of every field of a static struct,
    nested names joined by dots, taken from the ABI's component names (never by hand)."""
    out: dict[str, int] = {}
    offset = 0
    for component in param.get("components", []):
        name = prefix + component["name"]
        if component["type"] == "tuple":
            for sub, at in static_layout(component, name + ".").items():
                out[sub] = offset + at
        else:
            out[name] = offset
        offset += static_words(component) * 32
    return out


def output_param(contract_type: ContractType, function: str, *path: str) -> dict[str, Any]:
    """The ABI parameter of `function`'s (single) output, or of a component reached by
    `path` (struct field names; a dynamic array's element is reached through its field)."""
    specs = contract_type.by_name.get(function)
    if not specs:
        raise ABIError(f"{contract_type.name} has no function {function!r}")
    outputs = specs[0].abi.get("outputs", [])
    if len(outputs) != 1:
        raise ABIError(f"{function} has {len(outputs)} outputs, expected one")
    param = outputs[0]
    for name in path:
        by_name = {c["name"]: c for c in param.get("components", [])}
        if name not in by_name:
            raise ABIError(f"{function}: no field {name!r} (fields: {', '.join(by_name)})")
        param = by_name[name]
    return param


def head_offsets(param: dict[str, Any]) -> dict[str, int]:
    """``{field: byte offset}`` of every top-level field in the head of an encoded tuple
    (a static field's value, a dynamic field's offset word), from the ABI's component names."""
    out: dict[str, int] = {}
    offset = 0
    for component in param.get("components", []):
        out[component["name"]] = offset
        offset += 32 if parse(canonical_type(component)).is_dynamic else static_words(component) * 32
    return out


def element_words(param: dict[str, Any]) -> int:
    """Words one element of a static struct (or of an array of such structs) occupies."""
    return sum(static_words(c) for c in param.get("components", []))


def _ranges(components: list[dict[str, Any]], base: int = 0, prefix: str = "") -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    offset = base
    for i, component in enumerate(components):
        name = prefix + (component.get("name") or str(i))
        size = static_words(component) * 32
        out[name] = (offset, offset + size)
        if component["type"] == "tuple":
            out.update(_ranges(component["components"], offset, name + "."))
        offset += size
    return out


def _function_layout(contract_type: ContractType, function: str) -> dict[str, tuple[int, int]]:
    cached = contract_type.layouts.get(function)
    if cached is not None:
        return cached
    specs = contract_type.by_name.get(function)
    if not specs:
        raise ABIError(f"{contract_type.name or 'contract'} has no function {function!r}")
    outputs = specs[0].abi.get("outputs", [])
    try:
        if len(outputs) == 1 and outputs[0]["type"] == "tuple":
            ranges = _ranges(outputs[0]["components"])  # one struct: its fields by name
        else:
            ranges = _ranges(outputs)  # several outputs: by name (or index)
    except ABIError as e:
        raise ABIError(f"{function}: layout() needs static outputs ({e})") from None
    contract_type.layouts[function] = ranges
    return ranges


def layout(contract: ContractType | list[dict[str, Any]], function: str, field: str) -> tuple[int, int]:
    """``(start_byte, end_byte)`` of `field` in the return data of `function` (static
    outputs only), taken from the ABI by name: ``data[start:end]`` is the field's
    encoding. A function returning one struct is addressed by its field names, nested
    fields by dots (``"state.last_price"``); several outputs by their names (or their
    index, ``"0"``, for unnamed ones). Computed once per contract type and function."""
    ct = contract if isinstance(contract, ContractType) else ContractType(contract)
    ranges = _function_layout(ct, function)
    try:
        return ranges[field]
    except KeyError:
        raise ABIError(f"{function}: no field {field!r} (fields: {', '.join(ranges)})") from None
