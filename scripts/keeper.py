"""`ape run keeper`: the vyperp keeper (see vyperp/ops_commands.py; same as `vyperp keeper`).

    ape run keeper --manifest deployments/ethereum-local-31337.json --rpc-url http://127.0.0.1:8545 ...

Addresses come from the manifest `ape run deploy` writes. The node is given with
--rpc-url (an anvil node: transactions are sent by impersonation), not ape's --network.
"""

from vyperp.ops.commands import keeper_command

cli = keeper_command("cli")
