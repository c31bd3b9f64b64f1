"""`ape run replay`: the cascade replay on the embedded chain (same options as `vyperp replay`).

    ape run replay --scenario btc-2025-10-10 --out out/btc-2025-10-10
    ape run replay --scenario crash-30pct --compare baseline mitigated

The replay drives the contracts on the in-process revm chain (vyperp.chain), not through an
ape provider, so it needs no network connection. `--network` is accepted for symmetry with
the other scripts, but only the embedded chain is supported now: any other network is
refused with a clear message.
"""

from __future__ import annotations

from typing import Any

import click

from vyperp.sim.commands import EMBEDDED_NETWORKS, do_replay, replay_options


@click.command(name="replay")
@click.option(
    "--network",
    default=None,
    metavar="NETWORK",
    help="Only the embedded chain is supported: omit the option or pass 'embedded'.",
)
@replay_options
def cli(network: str | None, **kwargs: Any) -> None:
    """Replay a cascade scenario against the contracts on the embedded revm chain."""
    if network is not None and network not in EMBEDDED_NETWORKS:
        raise click.UsageError(
            f"--network {network}: the replay runs only on the embedded in-process chain for now "
            "(thousands of agent transactions per second; ape providers manage ~20-300). "
            "Omit --network or pass --network embedded."
        )
    do_replay(**kwargs)


if __name__ == "__main__":
    cli()
