"""`ape run feed`: the vyperp feed (see vyperp/ops_commands.py; same as `vyperp feed`).

    ape run feed --manifest deployments/ethereum-local-31337.json --rpc-url http://127.0.0.1:8545 ...

Addresses come from the manifest `ape run deploy` writes. The node is given with
--rpc-url (an anvil node: transactions are sent by impersonation), not ape's --network.
"""

from vyperp.ops.commands import feed_command

cli = feed_command("cli")
