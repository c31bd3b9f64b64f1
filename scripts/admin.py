"""`ape run admin`: administer a deployment with an ape account (same subcommands as `vyperp admin`).

    ape run admin status --network ethereum:local:foundry --manifest deployments/x.json
    ape run admin set BTC.taker_fee 0.0006 --network ethereum:sepolia:node --account admin --manifest ... --yes
    ape run admin propose-admin 0xNEW --network ... --account admin --manifest ...
    ape run admin accept-admin --network ... --account new-admin --manifest ...

Each subcommand connects with ape's --network and signs with --account (on a local network
the first test account by default, i.e. the deployer of `ape run deploy`). With --yes a
keyfile account is unlocked once (passphrase from APE_ACCOUNTS_<alias>_PASSPHRASE, else
asked once) and signs without a prompt per transaction.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from vyperp.ops.admin import ZERO, AdminError, Deployment, load_manifest
from vyperp.ops.admin_commands import Connection, admin_group, dry_run_option, manifest_option
from vyperp.ops.ape_signer import ape_send, enable_autosign, provider_request

# ape-vyper compiles with the `vyper` on PATH when it is the installed package's version
# (see scripts/deploy.py): put the interpreter's bin directory first.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


def _options(f: Any) -> Any:
    f = click.option("--yes", "c_yes", is_flag=True, help="No confirmation prompt, no per-transaction signing prompt.")(
        f
    )
    f = dry_run_option(f)
    f = manifest_option(f)
    f = account_option("--account", "c_account", prompt=False)(f)
    f = network_option()(f)
    return f


def _connect(options: dict[str, Any]) -> Connection:
    from ape import accounts, networks

    provider = networks.provider
    manifest = load_manifest(options["c_manifest"])
    account = options["c_account"]
    if account is None and provider.network.is_local:
        account = accounts.test_accounts[0]  # the deployer of `ape run deploy` on a local network
    caller = str(account.address) if account is not None else ZERO
    deployment = Deployment.open(manifest, provider_request(provider), caller)
    yes = bool(options["c_yes"])

    def send() -> Any:
        if account is None:
            raise AdminError(f"--account is required to send on {provider.network_choice}")
        if yes:
            enable_autosign(account)
        return ape_send(account, provider)

    return Connection(deployment, send, caller, yes, bool(options.get("c_dry_run")))


cli = admin_group("admin", _options, _connect, command_cls=ConnectedProviderCommand)
