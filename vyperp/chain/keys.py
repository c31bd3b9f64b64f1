"""Where a signing client's keys come from: keystore files, environment variables, a mnemonic.

    from vyperp.chain.keys import key_from_env, load_keystore, mnemonic_signer

    keeper = load_keystore("keeper.json", password)        # an encrypted JSON keystore (geth / ape / cast)
    feeder = key_from_env("VYPERP_FEEDER_KEY")             # a hex private key in an environment variable
    trader = mnemonic_signer("test test ... junk", 12)     # m/44'/60'/0'/0/12

Every source gives a :class:`Signer`: an ``address`` and ``sign_transaction(tx) -> raw
bytes`` (a typed EIP-1559 or legacy transaction dict, as eth-account takes it). The ape
account adapter lives beside the ``ape run`` scripts (:mod:`vyperp.ops.ape_signer`), so
this module needs only eth-account.

Every failure is a :class:`KeySourceError` (a ``ChainError``) whose
message names the source and what to do: a missing file, a file that is not a keystore,
a wrong password, an unset or malformed environment variable, a bad mnemonic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from .errors import ChainError

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
"""anvil's (and hardhat's) development mnemonic: its first 10 accounts are funded on a fresh anvil."""


class KeySourceError(ChainError):
    """A key could not be loaded (the message says from where and why)."""


class Signer(Protocol):
    """Signs transactions for one address."""

    @property
    def address(self) -> str:
        """The checksummed address."""

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """The raw signed transaction (``eth_sendRawTransaction``'s argument, as bytes)."""


class LocalSigner:
    """A :class:`Signer` over an eth-account ``LocalAccount`` (the key stays in this process)."""

    def __init__(self, account: Any, source: str = "key"):
        self._account = account
        self.source = source

    @property
    def address(self) -> str:
        return str(self._account.address)

    @property
    def key(self) -> bytes:
        """The private key (tests write keystores from it)."""
        return bytes(self._account.key)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(tx).raw_transaction)

    def __repr__(self) -> str:
        return f"<LocalSigner {self.address} from {self.source}>"


def _account_api() -> Any:
    from eth_account import Account

    return Account


def from_private_key(key: str | bytes, source: str = "key") -> LocalSigner:
    """A signer for a hex (``0x``-prefixed or not) or raw 32-byte private key.

    Raises KeySourceError if it is not a valid secp256k1 key (the key is never echoed)."""
    try:
        return LocalSigner(_account_api().from_key(key), source)
    except (ValueError, TypeError) as e:
        raise KeySourceError(f"{source}: not a private key ({type(e).__name__})") from None


def key_from_env(name: str) -> LocalSigner:
    """The private key in environment variable `name` (hex).

    Raises KeySourceError if the variable is unset, empty or not a key."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise KeySourceError(f"environment variable {name} is not set (it should hold the account's hex private key)")
    return from_private_key(value, f"${name}")


def load_keystore(path: str | os.PathLike[str], password: str) -> LocalSigner:
    """Decrypt a JSON keystore (Web3 Secret Storage v3: geth, ape, cast, eth-account).

    Raises KeySourceError if the file is missing or unreadable, is not a keystore, or the
    password is wrong."""
    p = Path(path)
    try:
        keyfile = json.loads(p.read_text())
    except FileNotFoundError:
        raise KeySourceError(f"keystore {p} does not exist") from None
    except (OSError, ValueError) as e:
        raise KeySourceError(f"keystore {p} is not readable JSON: {e}") from None
    if not isinstance(keyfile, dict) or "crypto" not in keyfile and "Crypto" not in keyfile:
        raise KeySourceError(f"{p} is not a keystore (no 'crypto' section)")
    try:
        key = _account_api().decrypt(keyfile, password)
    except ValueError as e:
        if "MAC" in str(e):
            raise KeySourceError(f"wrong password for keystore {p}") from None
        raise KeySourceError(f"keystore {p} cannot be decrypted: {e}") from None
    return from_private_key(key, str(p))


def write_keystore(
    signer: LocalSigner, path: str | os.PathLike[str], password: str, *, iterations: int | None = None
) -> Path:
    """Encrypt `signer`'s key into a keystore file at `path` (scrypt; ``iterations`` is its
    cost parameter n, default eth-account's 2**18: lower it only for tests). Raises
    OSError if the file cannot be written."""
    keyfile = _account_api().encrypt(signer.key, password, iterations=iterations)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(keyfile))
    return p


def mnemonic_signer(mnemonic: str, index: int, *, path_prefix: str = "m/44'/60'/0'/0") -> LocalSigner:
    """The signer of BIP-44 account `index` of `mnemonic` (``m/44'/60'/0'/0/index``).

    Raises KeySourceError for an invalid mnemonic or a negative index."""
    if index < 0:
        raise KeySourceError(f"mnemonic account index must be >= 0, got {index}")
    from eth_utils.exceptions import ValidationError

    api = _account_api()
    api.enable_unaudited_hdwallet_features()
    try:
        account = api.from_mnemonic(mnemonic, account_path=f"{path_prefix}/{index}")
    except (ValueError, TypeError, ValidationError) as e:
        raise KeySourceError(f"not a usable mnemonic: {e}") from None
    return LocalSigner(account, f"mnemonic #{index}")


__all__ = [
    "DEFAULT_MNEMONIC",
    "KeySourceError",
    "LocalSigner",
    "Signer",
    "from_private_key",
    "key_from_env",
    "load_keystore",
    "mnemonic_signer",
    "write_keystore",
]
