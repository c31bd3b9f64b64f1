"""The issue's "done when" for funding products: the user-level flow of tests/product_flow.py
(deposit, short perp, receive-fixed hedge in the same account, a funding cap, time with
funding moving both ways, the keeper observing, fixing, settling and claiming; every
amount to the wei of the models) on the embedded chain and on anvil (started and stopped
by the test on loopback)."""

from __future__ import annotations

import pytest

from vyperp.chain.node import AnvilNotFound, find_anvil
from vyperp.ops.keeper import TRACKED_EVENTS, Keeper
from vyperp.ops.product_keeper import CAP_EVENTS, SWAP_EVENTS
from vyperp.protocol.deploy import deploy_embedded
from vyperp.protocol.system import System

from .product_flow import run_flow
from .product_keeper_fixtures import T0, LoggingChain, LogSource, fund_pool, product_params

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:  # pragma: no cover - only without the npm install
    HAVE_ANVIL = False


def test_hedged_short_with_a_cap_on_the_embedded_chain() -> None:
    chain = LoggingChain(timestamp=T0)
    system = System(chain, deploy_embedded(chain, product_params()))
    fund_pool(system)

    def keeper(label: str, **kw) -> Keeper:
        return Keeper(
            chain,
            system.engine.address,
            system.lens.address,
            1,
            None,
            sender=system.new_trader(label),
            event_source=LogSource(chain, system.engine, TRACKED_EVENTS),
            caps_address=system.caps.address,
            product_sources=(LogSource(chain, system.swaps, SWAP_EVENTS), LogSource(chain, system.caps, CAP_EVENTS)),
            **kw,
        )

    figures = run_flow(system, keeper("keeper"), keeper("claimer", claim_caps=True))
    print(figures)
    assert figures["payout"] > 0 and figures["premium"] > 0


@pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed")
def test_hedged_short_with_a_cap_on_anvil(tmp_path) -> None:
    from vyperp.chain.node import AnvilNode
    from vyperp.chain.rpc_chain import RpcChain

    with AnvilNode() as node:
        chain = RpcChain(node.url, timestamp=T0)
        system = System(chain, deploy_embedded(chain, product_params()))
        start = chain.block_number
        fund_pool(system)
        # the keepers read the events with eth_getLogs (RpcEventSource), as `vyperp keeper` does
        keeper = Keeper(chain, system.engine.address, system.lens.address, start, tmp_path / "k.json",
                        caps_address=system.caps.address)  # fmt: skip
        claimer = Keeper(chain, system.engine.address, system.lens.address, start, tmp_path / "c.json",
                         sender=system.new_trader("claimer"), caps_address=system.caps.address, claim_caps=True)  # fmt: skip
        figures = run_flow(system, keeper, claimer)
        print(figures)
        assert figures["payout"] > 0 and figures["premium"] > 0
        chain.close()
