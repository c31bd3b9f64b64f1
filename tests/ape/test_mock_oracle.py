"""MockOracle, deployed on its own: rounds, their packing (negative answers, timestamps),
the feeder and admin roles, and Chainlink's "No data present"."""

from __future__ import annotations

from typing import Any

import ape
import pytest


@pytest.fixture
def oracle(project: Any, admin: Any, feeder: Any) -> Any:
    return project.MockOracle.deploy(8, "ETH / USD", feeder, sender=admin)


def test_deployment_grants_roles_and_starts_empty(oracle: Any, admin: Any, feeder: Any, chain: Any) -> None:
    receipt = chain.get_receipt(oracle.txn_hash)
    assert receipt.events.filter(oracle.AdminTransferred) == [
        oracle.AdminTransferred(previous_admin=ape.utils.ZERO_ADDRESS, new_admin=admin)
    ]
    assert receipt.events.filter(oracle.FeederUpdated) == [oracle.FeederUpdated(feeder=feeder, enabled=True)]
    assert (oracle.decimals(), oracle.description(), oracle.version()) == (8, "ETH / USD", 4)
    assert oracle.admin() == admin and oracle.is_feeder(feeder) and not oracle.is_feeder(admin)
    assert oracle.latestRoundData() == (0, 0, 0, 0, 0)
    with ape.reverts("No data present"):
        oracle.getRoundData(0)


def test_rounds_are_numbered_and_kept(oracle: Any, feeder: Any, chain: Any) -> None:
    first = oracle.push_round(4_000 * 10**8, 0, sender=feeder)
    t1 = chain.blocks[first.block_number].timestamp  # updated_at 0 = the block's time
    assert first.events == [oracle.RoundPushed(round_id=1, answer=4_000 * 10**8, updated_at=t1, feeder=feeder)]
    assert oracle.latestRoundData() == (1, 4_000 * 10**8, t1, t1, 1)

    # a negative answer and an explicit past timestamp (not before the last round) survive the packing
    second = oracle.push_round(-(2**191), t1, sender=feeder)
    assert second.events == [oracle.RoundPushed(round_id=2, answer=-(2**191), updated_at=t1, feeder=feeder)]
    assert oracle.latestRoundData() == (2, -(2**191), t1, t1, 2)
    assert oracle.latestAnswer() == -(2**191)
    assert oracle.getRoundData(1) == (1, 4_000 * 10**8, t1, t1, 1)  # the old round is untouched
    assert oracle.latest_round_id() == 2
    with ape.reverts("No data present"):
        oracle.getRoundData(3)


def test_push_round_rejects(oracle: Any, feeder: Any, outsider: Any, chain: Any) -> None:
    with ape.reverts("Not feeder"):
        oracle.push_round(1, 0, sender=outsider)
    with ape.reverts("Answer out of range"):
        oracle.push_round(2**191, 0, sender=feeder)
    with ape.reverts("Timestamp in future"):
        oracle.push_round(1, chain.pending_timestamp + 3_600, sender=feeder)
    receipt = oracle.push_round(1, 0, sender=feeder)
    t1 = chain.blocks[receipt.block_number].timestamp
    with ape.reverts("Timestamp before last round"):
        oracle.push_round(2, t1 - 1, sender=feeder)
    assert oracle.latest_round_id() == 1  # nothing a revert did stayed


def test_only_the_admin_manages_feeders(oracle: Any, admin: Any, feeder: Any, outsider: Any) -> None:
    with ape.reverts("Not admin"):
        oracle.set_feeder(outsider, True, sender=outsider)
    with ape.reverts("Not admin"):
        oracle.transfer_admin(outsider, sender=feeder)
    with ape.reverts("Zero address"):
        oracle.set_feeder(ape.utils.ZERO_ADDRESS, True, sender=admin)

    revoked = oracle.set_feeder(feeder, False, sender=admin)
    assert revoked.events == [oracle.FeederUpdated(feeder=feeder, enabled=False)]
    with ape.reverts("Not feeder"):
        oracle.push_round(1, 0, sender=feeder)

    handed = oracle.transfer_admin(outsider, sender=admin)
    assert handed.events == [oracle.AdminTransferred(previous_admin=admin, new_admin=outsider)]
    oracle.set_feeder(outsider, True, sender=outsider)  # the new admin may, the old one not
    with ape.reverts("Not admin"):
        oracle.set_feeder(admin, True, sender=admin)
    assert oracle.push_round(7, 0, sender=outsider).events.filter(oracle.RoundPushed)[0].round_id == 1
