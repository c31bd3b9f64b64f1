"""`vyperp` command line: one registry of every layer's commands (each layer's
``commands`` module lists its own in ``COMMANDS``)."""

from __future__ import annotations

import click

from . import readme_tables
from .bench import commands as bench
from .fuzz import commands as fuzz
from .ops import admin_commands as ops_admin
from .ops import commands as ops
from .protocol import commands as protocol
from .sim import commands as sim
from .sweep import commands as sweep

LAYERS = (protocol, sim, sweep, ops, ops_admin, fuzz, bench, readme_tables)
"""Every layer that contributes commands, in the order `vyperp --help` lists their modules."""


@click.group()
def main() -> None:
    """vyperp: perpetual futures in Vyper, on an embedded revm chain."""


for _layer in LAYERS:
    for _command in _layer.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()
