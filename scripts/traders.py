"""`ape run traders`: `vyperp traders` with ape's --network and --account (see vyperp/ops/ape_commands.py).

    .venv/bin/ape run traders --network ethereum:local:foundry --account TEST::0 --manifest deployments/x.json ...

ape connects to the network and the ape account signs; addresses come from the manifest
`ape run deploy` writes. For anvil impersonation (no key) use `vyperp traders --impersonate`.
"""

from vyperp.ops.ape_commands import ape_traders_command

cli = ape_traders_command()
