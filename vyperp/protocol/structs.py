"""Engine structs built by field name, in the order the compiled ABI gives.

The Python side never lists a struct's fields by position: parameters are mappings
``{field name: value}`` and :func:`ordered` turns them into the tuple the ABI expects,
taking the component names and their order from the contract's ABI. A struct that gains,
loses or reorders a field then fails loudly (:class:`StructMismatch` names the fields)
instead of sending a value into the wrong field.

    config = ordered(struct_param("MarketConfig"), market.config_fields(oracle))
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

STRUCT_PARAMS: dict[str, tuple[str, str, str]] = {
    "MarketConfig": ("MarketConfigurator", "add_market", "config"),
    "MarginBracket": ("MarketConfigurator", "add_market", "brackets"),
    "RiskConfig": ("MarketConfigurator", "add_market", "risk"),
    "RateLimit": ("MarketConfigurator", "set_rate_limit", "limit"),
    "LiquidationConfig": ("MarketConfigurator", "set_liquidation_config", "config"),
    "LiquidationTier": ("MarketConfigurator", "set_liquidation_config", "tiers"),
}
"""Where each struct the deployment sends appears as a function input: (contract, function, input)."""


class StructMismatch(ValueError):
    """The fields given do not match the struct's fields in the ABI."""


def function_inputs(abi: list[dict[str, Any]], function: str) -> list[dict[str, Any]]:
    """The ABI inputs of `function` (the first overload) as JSON dicts."""
    for item in abi:
        if item.get("type") == "function" and item.get("name") == function:
            return list(item.get("inputs", []))
    raise StructMismatch(f"the ABI has no function {function!r}")


def contract_abi(contract: Any) -> list[dict[str, Any]]:
    """The JSON ABI of a contract object of any backend (vyperp's wrappers or ape's)."""
    abi = contract.contract_type.abi
    if isinstance(abi, list) and abi and isinstance(abi[0], dict):
        return abi
    return [item.model_dump(mode="json", by_alias=True) for item in abi]  # ape's ContractType


@cache
def _shipped_abi(contract: str) -> tuple[dict[str, Any], ...]:
    from ..chain.compiler import compile_contract

    return tuple(compile_contract(contract).abi)


def struct_param(struct: str, abi: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ABI parameter carrying `struct` (from the shipped contracts unless `abi` is given)."""
    contract, function, name = STRUCT_PARAMS[struct]
    inputs = function_inputs(list(abi) if abi is not None else list(_shipped_abi(contract)), function)
    for param in inputs:
        if param.get("name") == name:
            return param
    raise StructMismatch(f"{function} has no input {name!r}")


def field_names(param: dict[str, Any]) -> list[str]:
    return [c["name"] for c in param.get("components", [])]


def ordered(param: dict[str, Any], value: Any, drop: frozenset[str] = frozenset()) -> Any:
    """`value` (mappings for structs, lists of them for struct arrays) as the ABI's tuples.

    Every field of the struct must be given; a given field the struct lacks is an error
    unless it is in `drop` (fields an older contract version does not have)."""
    t: str = param["type"]
    if not t.startswith("tuple"):
        return value
    if t != "tuple":  # an array of structs
        return [ordered(element(param), v, drop) for v in value]
    if not isinstance(value, Mapping):
        raise StructMismatch(f"{param.get('name', 'struct')}: expected a mapping of field names, got {value!r}")
    names = field_names(param)
    missing = [n for n in names if n not in value]
    extra = sorted(set(value) - set(names) - drop)
    if missing or extra:
        raise StructMismatch(
            f"{param.get('name', 'struct')}: missing fields {missing}, unknown fields {extra} (the ABI has {names})"
        )
    return tuple(ordered(c, value[c["name"]], drop) for c in param["components"])


def element(param: dict[str, Any]) -> dict[str, Any]:
    """The parameter of one element of an array parameter (the parameter itself otherwise)."""
    t: str = param["type"]
    return {**param, "type": t[: t.rindex("[")]} if t.endswith("]") else param


def struct(name: str, value: Any) -> Any:
    """`value` (a mapping, or a list of them) as the shipped contracts' `name` struct(s)."""
    param = struct_param(name)
    return ordered(element(param) if isinstance(value, Mapping) else param, value)
