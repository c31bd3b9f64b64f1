"""Exceptions raised by the embedded chain, and revert-data decoding."""

from __future__ import annotations

import re

from eth_abi import decode as _abi_decode

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

_REVERT_RE = re.compile(r"Revert \{ gas_used: (\d+), output: 0x([0-9a-fA-F]*) \}")
_HALT_RE = re.compile(r"Halt \{ reason: (.*), gas_used: (\d+) \}")


class ChainError(RuntimeError):
    """The EVM refused the transaction itself (not a revert): e.g. gas limit
    below intrinsic gas or above the block gas limit, or insufficient balance
    for ``value``. State is unchanged."""


class Reverted(Exception):
    """A call or transaction reverted (or halted: out of gas, invalid opcode).

    Attributes:
        reason: the ``Error(string)`` message; ``""`` for empty revert data or
            a halt; ``"0x..."`` hex of the raw data for anything else
            (custom errors, ``Panic(uint256)``).
        data: raw revert data.
        gas_used: gas the failed transaction consumed (incl. intrinsic gas).
        halt: revm halt reason (e.g. ``"OutOfGas(Basic)"``) or ``None`` for a
            plain REVERT.
    """

    def __init__(self, reason: str, data: bytes = b"", gas_used: int = 0, halt: str | None = None):
        self.reason = reason
        self.data = data
        self.gas_used = gas_used
        self.halt = halt
        if halt is not None:
            msg = f"execution halted: {halt}"
        elif reason:
            msg = f"execution reverted: {reason}"
        else:
            msg = "execution reverted (no reason)"
        super().__init__(msg)


def decode_revert_reason(data: bytes) -> str:
    """``Error(string)`` -> message; empty -> ``""``; anything else -> hex."""
    if not data:
        return ""
    if data[:4] == ERROR_SELECTOR:
        try:
            (msg,) = _abi_decode(["string"], data[4:])
            return str(msg)
        except Exception:
            pass
    return "0x" + data.hex()


def error_from_pyrevm(exc: BaseException) -> Reverted | ChainError:
    """Translate a pyrevm ``RuntimeError`` into ``Reverted`` or ``ChainError``."""
    text = str(exc)
    m = _REVERT_RE.search(text)
    if m is not None:
        data = bytes.fromhex(m.group(2))
        return Reverted(decode_revert_reason(data), data, int(m.group(1)))
    m = _HALT_RE.search(text)
    if m is not None:
        gas = int(m.group(2))
        if gas >= 2**64 - 1:  # revm reports u64::MAX for some halts
            gas = 0
        return Reverted("", b"", gas, halt=m.group(1))
    return ChainError(text)
