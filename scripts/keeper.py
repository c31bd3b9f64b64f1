"""`ape run keeper`: `vyperp keeper` with ape's --network and --account (see vyperp/ops/ape_commands.py).

    .venv/bin/ape run keeper --network ethereum:local:foundry --account TEST::0 --manifest deployments/x.json ...

ape connects to the network and the ape account signs; addresses come from the manifest
`ape run deploy` writes. For anvil impersonation (no key) use `vyperp keeper --impersonate`.
"""

from vyperp.ops.ape_commands import ape_keeper_command

cli = ape_keeper_command()
