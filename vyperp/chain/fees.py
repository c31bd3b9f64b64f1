"""Transaction fees for a signing client: EIP-1559 with a cap, legacy where there is no base fee.

    from vyperp.chain.fees import FeePolicy, quote

    policy = FeePolicy.from_gwei(max_fee=50, priority_fee=1.5)
    fees = quote(policy, base_fee=12 * GWEI, node_tip=None, node_gas_price=None)
    fees.fields()            # {"type": 2, "maxFeePerGas": 25_500_000_000, "maxPriorityFeePerGas": 1_500_000_000}
    fees.bumped(policy)      # for a replacement: both +12.5 % (nodes ask for >= 10 %), still capped

EIP-1559: ``maxFeePerGas = min(cap, 2 * baseFee + tip)`` (twice the base fee survives six
full blocks of base-fee growth), ``maxPriorityFeePerGas = min(tip, maxFeePerGas)``; the tip
is the policy's, else the node's ``eth_maxPriorityFeePerGas``. A node whose latest block has
no ``baseFeePerGas`` gets a legacy ``gasPrice = min(cap, eth_gasPrice)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import ChainError

GWEI = 10**9
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8  # +12.5 % per replacement (geth and anvil need > 10 %)


class FeeError(ChainError):
    """The fees the network asks for are above the configured cap."""


def gwei(value: float | int | str) -> int:
    """Gwei (as typed on a command line) -> wei, exact for decimal strings."""
    return int(Decimal(str(value)) * GWEI)


@dataclass(frozen=True)
class FeePolicy:
    """What the operator allows: ``max_fee`` (wei per gas, the hard cap) and the tip
    (``priority_fee`` wei per gas; ``None``: the node's suggestion)."""

    max_fee: int = 100 * GWEI
    priority_fee: int | None = None

    @classmethod
    def from_gwei(cls, max_fee: float | int | str = 100, priority_fee: float | int | str | None = None) -> FeePolicy:
        return cls(gwei(max_fee), None if priority_fee is None else gwei(priority_fee))


@dataclass(frozen=True)
class Fees:
    """The fee fields of one transaction: EIP-1559 (``max_fee``, ``priority_fee``) or legacy (``gas_price``)."""

    max_fee: int | None = None
    priority_fee: int | None = None
    gas_price: int | None = None

    @property
    def legacy(self) -> bool:
        return self.gas_price is not None

    @property
    def per_gas(self) -> int:
        """The most one unit of gas may cost."""
        return int(self.gas_price if self.gas_price is not None else self.max_fee or 0)

    def fields(self) -> dict[str, Any]:
        """The transaction dict's fee fields (eth-account's names)."""
        if self.gas_price is not None:
            return {"gasPrice": self.gas_price}
        return {"type": 2, "maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.priority_fee}

    def bumped(self, policy: FeePolicy) -> Fees:
        """The fees of a replacement (+12.5 %, rounded up), still within the cap.

        Raises FeeError if the cap leaves no room for a replacement."""

        def up(x: int) -> int:
            return -(-x * BUMP_NUMERATOR // BUMP_DENOMINATOR) + 1

        if self.gas_price is not None:
            price = up(self.gas_price)
            if price > policy.max_fee:
                raise FeeError(f"a replacement needs gas price {price / GWEI:.3f} gwei, above the cap {_cap(policy)}")
            return Fees(gas_price=price)
        assert self.max_fee is not None and self.priority_fee is not None
        max_fee, tip = up(self.max_fee), up(self.priority_fee)
        if max_fee > policy.max_fee:
            raise FeeError(f"a replacement needs max fee {max_fee / GWEI:.3f} gwei, above the cap {_cap(policy)}")
        return Fees(max_fee=max_fee, priority_fee=tip)

    def describe(self) -> str:
        if self.gas_price is not None:
            return f"gas price {self.gas_price / GWEI:.3f} gwei (legacy)"
        assert self.max_fee is not None and self.priority_fee is not None
        return f"max fee {self.max_fee / GWEI:.3f} gwei, tip {self.priority_fee / GWEI:.3f} gwei"


def _cap(policy: FeePolicy) -> str:
    return f"{policy.max_fee / GWEI:.3f} gwei (--max-fee-gwei)"


def quote(policy: FeePolicy, base_fee: int | None, node_tip: int | None, node_gas_price: int | None) -> Fees:
    """The fees to send with now (see the module docstring).

    Raises FeeError if the base fee (or the legacy gas price) is already above the cap:
    such a transaction could not be mined, and waiting is the operator's decision."""
    if base_fee is None:
        price = int(node_gas_price or 0)
        if price > policy.max_fee:
            raise FeeError(f"the node's gas price {price / GWEI:.3f} gwei is above the cap {_cap(policy)}")
        return Fees(gas_price=price)
    if base_fee > policy.max_fee:
        raise FeeError(f"the base fee {base_fee / GWEI:.3f} gwei is above the cap {_cap(policy)}")
    tip = policy.priority_fee if policy.priority_fee is not None else int(node_tip or 0)
    max_fee = min(policy.max_fee, 2 * base_fee + tip)
    return Fees(max_fee=max_fee, priority_fee=min(tip, max_fee))


__all__ = ["GWEI", "FeeError", "FeePolicy", "Fees", "gwei", "quote"]
