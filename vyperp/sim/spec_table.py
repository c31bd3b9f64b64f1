"""One reader for the optional population sections of a scenario (``[population.options_desk]``,
``[population.funding_swaps]``, ``[population.funding_caps]``): a TOML table into a spec
dataclass, every key checked against the dataclass's fields and its kind, errors naming
the key (the scenario loader prefixes the section)."""

from __future__ import annotations

import math
from typing import Any, Literal

Kind = Literal["number", "integer", "bool", "string", "numbers"]


def is_number(value: Any) -> bool:
    """An int or a float, not a bool and not NaN."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _coerce(key: str, value: Any, kind: Kind) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"key {key!r} must be true or false, got {value!r}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"key {key!r} must be a string, got {value!r}")
        return value
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"key {key!r} must be an integer, got {value!r}")
        return value
    if kind == "numbers":
        if not isinstance(value, list) or not all(is_number(x) for x in value):
            raise ValueError(f"key {key!r} must be a list of numbers, got {value!r}")
        return tuple(float(x) for x in value)
    if not is_number(value):
        raise ValueError(f"key {key!r} must be a number, got {value!r}")
    return float(value)


def spec_from_table(cls: type, tbl: dict[str, Any], kinds: dict[str, Kind] | None = None) -> Any:
    """``cls(**tbl)`` with every key a field of the dataclass `cls` and each value of its
    kind (`kinds` by key; any other key is a number, read as a float). Raises
    ``ValueError`` naming an unknown key or a value of the wrong kind."""
    allowed = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    unknown = sorted(set(tbl) - allowed)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    kinds = kinds or {}
    return cls(**{key: _coerce(key, value, kinds.get(key, "number")) for key, value in tbl.items()})
