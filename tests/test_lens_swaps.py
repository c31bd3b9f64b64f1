"""EngineLens with funding swaps: a swap-only account below maintenance is liquidatable
in every lens view (is_liquidatable, liquidatable_accounts, scan_accounts) exactly when
FundingSwaps.liquidatable says so; holds_swaps routes it; swap_margin and swap_position
are FundingSwaps' own numbers; without a FundingSwaps bound they are zero / revert."""

from __future__ import annotations

import pytest

from vyperp.chain import Chain, Reverted
from vyperp.protocol.deploy import deploy_embedded
from vyperp.protocol.system import System
from vyperp.protocol.units import wad

from .product_keeper_fixtures import BTC, T0, fund_pool, maturities, product_params, underwater_swap_holder


@pytest.fixture(scope="module")
def system() -> System:
    chain = Chain(timestamp=T0)
    system = System(chain, deploy_embedded(chain, product_params()))
    fund_pool(system)
    return system


def test_swap_only_account_in_every_liquidation_view(system: System) -> None:
    with system.chain.isolate():
        healthy = system.new_trader("healthy", 50_000)
        holder = underwater_swap_holder(system)
        far, _ = maturities(system)
        system.swaps.open(BTC, far, wad("0.1"), wad("0.01"), sender=healthy)
        accounts = [healthy, holder, system.admin]
        assert [system.lens.is_liquidatable(a) for a in accounts] == [system.swaps.liquidatable(a) for a in accounts]
        assert [system.lens.is_liquidatable(a) for a in accounts] == [False, True, False]
        assert [(int(c.index)) for c in system.lens.liquidatable_accounts(accounts)] == [1]
        assert list(system.lens.scan_accounts(accounts).below_maintenance) == [1]
        assert [system.lens.holds_swaps(a) for a in accounts] == [True, True, False]
        for account in accounts:
            assert tuple(system.lens.swap_margin(account)) == tuple(system.swaps.account_margin(account))
        read = system.lens.swap_position(holder, BTC, far)
        floating, fixed = system.swaps.accrued(holder, BTC, far)
        assert (read.floating, read.fixed, read.pending) == (floating, fixed, system.swaps.pending(holder, BTC, far))
        assert read.value == system.swaps.swap_value(holder, BTC, far)
        assert (read.initial, read.maintenance) == tuple(system.swaps.requirements(holder, BTC, far))
        assert read.pending < 0 and read.maintenance > 0
        assert tuple(system.lens.swap_position(system.admin, BTC, far)) == (0, 0, 0, 0, 0, 0)


def test_without_swaps_bound() -> None:
    plain = System.deploy()
    assert tuple(plain.lens.swap_margin(plain.admin)) == (0, 0, 0)
    assert not plain.lens.holds_swaps(plain.admin)
    with pytest.raises(Reverted) as exc:
        plain.lens.swap_position(plain.admin, 0, T0 + 86_400)
    assert exc.value.reason == "No swaps"
