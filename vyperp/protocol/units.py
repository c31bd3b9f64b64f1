"""Fixed-point helpers: the protocol keeps money, prices, sizes and rates as 1e18 integers."""

from __future__ import annotations

from decimal import Decimal

WAD = 10**18
Number = int | float | str | Decimal


def wad(x: Number) -> int:
    """Human number -> 1e18 integer, exactly for int/str/Decimal (floats go through repr)."""
    if isinstance(x, float):
        x = repr(x)
    value = Decimal(x) * WAD
    if value != value.to_integral_value():
        raise ValueError(f"{x} has more than 18 decimals")
    return int(value)


def unwad(x: int) -> float:
    """1e18 integer -> float, for display only."""
    return x / WAD


def floor_div(a: int, b: int) -> int:
    """a / b rounded toward -inf (b > 0), as the contracts' fixed_math._floor_div."""
    return a // b


def ceil_div(a: int, b: int) -> int:
    """a / b rounded toward +inf (b > 0)."""
    return -((-a) // b)


def trunc_div(a: int, b: int) -> int:
    """a / b rounded toward zero, as the EVM's SDIV (Vyper's // on signed ints)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q
