"""Deploy with local keys to any JSON-RPC node (no ape, no anvil-only methods), and the
minimal manifest the keeper, feeder, traders and admin commands read.

``ape run deploy`` is the operator's deploy (full manifest, ape accounts); this is the same
deployment sequence (:func:`vyperp.protocol.deploy.deploy_embedded`) over a
:class:`~vyperp.chain.signing_chain.SigningChain`, for tests and benches that run the whole
operator flow against a node that looks public.
"""

from __future__ import annotations

from typing import Any

from ..chain.keys import Signer
from ..chain.signing_chain import SigningChain
from ..protocol.deploy import deploy_embedded
from ..protocol.params import ProtocolParams


def deploy_with_keys(
    url: str, params: ProtocolParams, deployer: Signer, feeder: Signer
) -> tuple[dict[str, Any], SigningChain, Any]:
    """Deploy `params` from `deployer` (admin) with `feeder` as the oracles' feeder; returns
    (manifest, the signing chain holding both keys, the deployed protocol). Raises
    ChainError (unreachable node, no funds) or Reverted as the chain does."""
    chain = SigningChain(url, [deployer, feeder])
    start = chain.block_number + 1
    protocol = deploy_embedded(chain, params, admin=deployer.address, feeder=feeder.address)
    manifest = {
        "chain_id": chain.chain_id,
        "block_number": start,
        "deployer": deployer.address,
        "feeder": feeder.address,
        "addresses": protocol.addresses(),
        "market_ids": {s: i for i, s in enumerate(protocol.symbols)},
        **protocol.record(),
    }
    return manifest, chain, protocol


__all__ = ["deploy_with_keys"]
