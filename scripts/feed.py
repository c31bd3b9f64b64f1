"""`ape run feed`: `vyperp feed` with ape's --network and --account (see vyperp/ops/ape_commands.py).

    .venv/bin/ape run feed --network ethereum:local:foundry --account TEST::0 --manifest deployments/x.json ...

ape connects to the network and the ape account signs; addresses come from the manifest
`ape run deploy` writes. For anvil impersonation (no key) use `vyperp feed --impersonate`.
"""

from vyperp.ops.ape_commands import ape_feed_command

cli = ape_feed_command()
