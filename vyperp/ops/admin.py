"""Administer a deployment through its MarketConfigurator: read its state, plan a change
(read-modify-write by field name, in human units) and send it.

The module is transport-neutral. Reads go through a JSON-RPC ``request(method, params)``
function (``RpcChain.rpc`` or ape's ``provider.make_request``); a change is sent through a
:data:`Send` callable, ``send(contract, function, args) -> raw logs``, which is the whole
signing layer: :func:`impersonating_send` (anvil, `RpcChain`) here, an ape account in
:mod:`vyperp.ops.ape_signer`; a local-key signer plugs in the same way.

    deployment = Deployment.open(manifest, request)      # checks the chain id
    change = plan_set(deployment, "BTC.taker_fee", "0.0006")
    change.rows                                          # [("BTC.taker_fee", "0.0005", "0.0006")]
    events = apply(deployment, change, impersonating_send(chain, admin))

Units: the same as the parameter TOML files, i.e. what the structs hold divided by 1e18
(fees, rates and ratios as fractions, USD amounts, coins for ``skew_scale``), except
the integer fields in :data:`RAW_FIELDS` (seconds, counts, the funding model) and
booleans/addresses. ``inf`` is the largest uint256 (an open-ended bracket).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from ..chain.abi import ContractType
from ..chain.base import Event, _log_parts
from ..chain.compiler import compile_contract
from ..chain.contract import Contract
from ..chain.errors import ChainError, Reverted, decode_revert_reason
from ..protocol.params import FUNDING_MODELS
from ..protocol.units import WAD

MAX_UINT = 2**256 - 1
ZERO = "0x0000000000000000000000000000000000000000"
ADMIN, GUARDIAN = 1, 2
ROLE_NAMES = {"admin": ADMIN, "guardian": GUARDIAN}
RAW_FIELDS = frozenset(
    {"max_oracle_age", "funding_model", "order_ttl", "cooldown", "window", "funding_ema_period", "last_round_id"}
)
"""Integer fields stored as they are (seconds, counts, an enum), not as 1e18 fixed point."""
LOG_RANGE = 10_000

Request = Callable[[str, list[Any]], Any]
"""A JSON-RPC request: ``request("eth_call", [...])`` -> the result (raises on an error)."""
Send = Callable[[Contract, str, tuple[Any, ...]], Sequence[Any]]
"""The signing layer: send ``contract.function(*args)`` as one transaction from the
operator's account and return its raw logs; raise :class:`Reverted` (with the decoded
reason) if it reverts, :class:`ChainError` if it cannot be sent."""


class AdminError(ValueError):
    """An operator error: a bad manifest, another chain, an unknown market or field, a bad value."""


# ----------------------------------------------------------------------------- reading
class _Reads:
    """The part of a chain a :class:`Contract` needs for view calls, over JSON-RPC.
    Transactions are not sent through it (see :data:`Send`)."""

    def __init__(self, request: Request, caller: str = ZERO):
        self.request = request
        self.caller = caller

    def call(self, to: Any, calldata: bytes, sender: Any = None, value: int = 0, gas: int | None = None) -> bytes:
        # eth-tester (ape's local network) requires a sender even for a call
        tx = {"from": str(sender or self.caller), "to": str(to), "data": "0x" + calldata.hex()}
        try:
            result = self.request("eth_call", [tx, "latest"])
        except Exception as exc:  # noqa: BLE001 - transports raise their own error types
            raise rpc_revert(exc) from exc
        return _bytes(result)

    def _static_call(self, to: str, data: bytes, sender: Any, gas: int | None) -> bytes:
        return self.call(to, data, sender=sender)

    def _transact(self, *args: Any) -> bytes:
        raise ChainError("this contract handle is read-only: send changes through a Send function")


def _bytes(value: Any) -> bytes:
    """A JSON-RPC data result (hex text, or bytes where the transport decoded it already)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def _int(value: Any) -> int:
    """A JSON-RPC quantity (hex text, or an int where the transport decoded it already)."""
    return value if isinstance(value, int) else int(str(value), 16)


def rpc_revert(exc: Exception) -> Exception:
    """A JSON-RPC eth_call error as :class:`Reverted` with the reason, when it carries revert data."""
    if isinstance(exc, Reverted):
        return exc
    data: Any = None
    for source in (getattr(exc, "error", None), getattr(exc, "data", None), getattr(exc, "args", (None,))[0]):
        if isinstance(source, dict):
            data = source.get("data")
        elif isinstance(source, str) and source.startswith("0x"):
            data = source
        if isinstance(data, str) and data.startswith("0x"):
            raw = bytes.fromhex(data[2:])
            return Reverted(decode_revert_reason(raw), raw, 0)
    # ape's errors carry the reason as text only: ContractLogicError.revert_message, or the
    # node's message ("execution reverted: Not admin")
    message = getattr(exc, "revert_message", None)
    if isinstance(message, str) and message:
        return Reverted(message.removeprefix("execution reverted").lstrip(": "), b"", 0)
    if str(exc).startswith("execution reverted"):
        return Reverted(str(exc).removeprefix("execution reverted").lstrip(": "), b"", 0)
    return ChainError(f"eth_call failed: {exc}")


@dataclass
class Deployment:
    """A deployment's contracts (read-only handles) from its manifest, on a checked chain."""

    manifest: dict[str, Any]
    request: Request
    chain_id: int
    configurator: Contract
    engine: Contract
    contracts: dict[str, Contract] = field(default_factory=dict)
    market_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(cls, manifest: dict[str, Any], request: Request, caller: str = ZERO) -> Deployment:
        """Wrap the manifest's contracts on the node behind `request` (views are called from
        `caller`: eth-tester wants a sender that can pay for a call's gas).

        Raises AdminError when the manifest lacks the configurator or engine, when the node's
        chain id is not the manifest's, or when the configurator has no code there;
        ChainError when the node cannot be reached."""
        addresses = manifest.get("addresses") or {}
        for key in ("configurator", "engine"):
            if not is_address(addresses.get(key) or ""):
                raise AdminError(f"the manifest has no {key} address")
        try:
            chain_id = _int(request("eth_chainId", []))
        except Exception as exc:  # noqa: BLE001 - transports raise their own error types
            raise ChainError(f"cannot reach the node: {exc}") from exc
        recorded = manifest.get("chain_id")
        if recorded is not None and int(recorded) != chain_id:
            raise AdminError(f"the manifest is for chain id {recorded}, the node has chain id {chain_id}")
        reads = _Reads(request, caller)
        contracts = {}
        for key, name in (
            ("configurator", "MarketConfigurator"),
            ("engine", "Engine"),
            ("pool", "LiquidityPool"),
            ("token", "TestToken"),
            ("swaps", "FundingSwaps"),
            ("caps", "FundingCaps"),
        ):
            if is_address(addresses.get(key) or ""):
                ct: ContractType = compile_contract(name).contract_type
                contracts[key] = Contract(reads, to_checksum_address(addresses[key]), ct)  # type: ignore[arg-type]
        code = request("eth_getCode", [contracts["configurator"].address, "latest"])
        if not _bytes(code):
            raise AdminError(
                f"no code at the manifest's configurator {contracts['configurator'].address} on chain id "
                f"{chain_id}: this chain does not hold the deployment (a restarted local node?)"
            )
        ids = manifest.get("market_ids") or {s: i for i, s in enumerate(addresses.get("oracles") or {})}
        return cls(manifest, request, chain_id, contracts["configurator"], contracts["engine"], contracts, dict(ids))

    def market(self, symbol: str) -> int:
        """The market id of `symbol` (a symbol of the manifest, or a numeric id). Raises AdminError."""
        if symbol in self.market_ids:
            return self.market_ids[symbol]
        upper = {s.upper(): i for s, i in self.market_ids.items()}
        if symbol.upper() in upper:
            return upper[symbol.upper()]
        count = int(self.engine.market_count())
        if symbol.isdigit() and int(symbol) < count:
            return int(symbol)
        raise AdminError(f"unknown market {symbol!r} (markets: {', '.join(self.market_ids) or 'none'})")

    def symbol(self, market: int) -> str:
        return next((s for s, i in self.market_ids.items() if i == market), str(market))

    def decode(self, raw_logs: Iterable[Any]) -> list[Event]:
        """Raw logs of a transaction, decoded by the deployment's ABIs (others are skipped)."""
        by_address = {c.address.lower(): c for c in self.contracts.values()}
        out = []
        for log in raw_logs:
            address, topics, data = _log_parts(log)
            contract = by_address.get(str(address).lower())
            if contract is None or not topics:
                continue
            spec = contract.contract_type.events.get(topics[0])
            if spec is not None and len(topics) == spec.n_indexed + 1:
                out.append(Event(spec.name, spec.decode(topics, data), contract.address))
        return out

    def head(self) -> int:
        return _int(self.request("eth_blockNumber", []))

    def role_holders(self) -> dict[str, int]:
        """Every account's current roles, from the configurator's RolesUpdated events since the
        manifest's deploy block (accounts left with none are dropped)."""
        spec = next(e for e in self.configurator.contract_type.events.values() if e.name == "RolesUpdated")
        topic = "0x" + spec.topic0.hex()
        start, head = int(self.manifest.get("block_number") or 0), self.head()
        roles: dict[str, int] = {}
        while start <= head:
            end = min(start + LOG_RANGE - 1, head)
            logs = self.request(
                "eth_getLogs",
                [
                    {
                        "address": self.configurator.address,
                        "topics": [topic],
                        "fromBlock": hex(start),
                        "toBlock": hex(end),
                    }
                ],
            )
            for log in self.decode(_rpc_logs(logs)):
                roles[to_checksum_address(log.args["account"])] = int(log.args["roles"])
            start = end + 1
        return {a: r for a, r in roles.items() if r}


def _rpc_logs(logs: Iterable[dict[str, Any]]) -> list[tuple[str, list[bytes], bytes]]:
    return [(str(log["address"]), [_bytes(t) for t in log["topics"]], _bytes(log["data"])) for log in logs]


def load_manifest(path: str | Path) -> dict[str, Any]:
    """A manifest written by ``ape run deploy``. Raises AdminError if unreadable or not one."""
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise AdminError(f"{path}: not a readable manifest: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("addresses"), dict):
        raise AdminError(f"{path}: not a vyperp deployment manifest (no addresses)")
    return manifest


# ----------------------------------------------------------------------------- units
def role_names(roles: int) -> str:
    names = [n.upper() for n, bit in ROLE_NAMES.items() if roles & bit]
    return "|".join(names) or "none"


def human(name: str, value: Any) -> str:
    """A struct field as the operator reads it (see the module docstring for the units)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if name == "funding_model":
        return next((k for k, v in FUNDING_MODELS.items() if v == value), str(value))
    if name in RAW_FIELDS:
        return f"{value:,}"
    if value == MAX_UINT:
        return "inf"
    text = format((Decimal(int(value)) / WAD).normalize(), "f")
    return f"{Decimal(text):,}" if abs(Decimal(text)) >= 1000 else text


def parse_value(field_name: str, abi_type: str, text: str, label: str | None = None) -> Any:
    """Operator text -> the value of struct field `field_name` (its units follow the field's
    name, see the module docstring). Raises AdminError naming the field (`label` if given)."""
    name = label or field_name
    text = text.strip().replace("_", "")
    if abi_type == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise AdminError(f"{name}: expected true or false, got {text!r}")
    if abi_type == "address":
        if not is_address(text):
            raise AdminError(f"{name}: not an address: {text!r}")
        return to_checksum_address(text)
    if field_name == "funding_model" and text.lower() in FUNDING_MODELS:
        return FUNDING_MODELS[text.lower()]
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise AdminError(f"{name}: not a number: {text!r}") from None
    if number.is_infinite():
        if abi_type == "uint256" and number > 0:
            return MAX_UINT
        raise AdminError(f"{name}: {text!r} is out of range")
    raw = field_name in RAW_FIELDS
    scaled = number if raw else number * WAD
    if scaled != scaled.to_integral_value():
        raise AdminError(f"{name}: {text!r} is not a whole number" + ("" if raw else " of 1e-18 units"))
    value = int(scaled)
    if abi_type.startswith("uint") and value < 0:
        raise AdminError(f"{name}: must not be negative, got {text!r}")
    bits = int(abi_type.removeprefix("uint").removeprefix("int") or 256)
    if abi_type.startswith("uint") and value >= 2**bits or abi_type.startswith("int") and abs(value) >= 2 ** (bits - 1):
        raise AdminError(f"{name}: {text!r} is out of range for {abi_type}")
    return value


# ----------------------------------------------------------------------------- changes
@dataclass
class Change:
    """One configurator transaction, with what it changes in human units."""

    summary: str
    function: str
    args: tuple[Any, ...]
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (what, old, new)
    role: str = "admin"  # the role the sender needs
    target: str = "configurator"  # the contract (a Deployment.contracts key): swaps, caps

    @property
    def changes_anything(self) -> bool:
        return not self.rows or any(old != new for _, old, new in self.rows)


def _components(contract: Contract, function: str, arg: int) -> list[dict[str, Any]]:
    spec = contract.contract_type.by_name[function][0]
    components: list[dict[str, Any]] = spec.abi["inputs"][arg]["components"]
    return components


def _struct_change(
    d: Deployment, label: str, function: str, arg: int, current: Any, field_name: str, text: str
) -> tuple[Any, tuple[str, str, str]]:
    """`current` (a named struct) with `field_name` set from `text`; raises AdminError if unknown."""
    components = {c["name"]: c["type"] for c in _components(d.configurator, function, arg)}
    if field_name not in components:
        raise AdminError(f"unknown field {label}.{field_name} (fields: {', '.join(components)})")
    value = parse_value(field_name, components[field_name], text, f"{label}.{field_name}")
    old = getattr(current, field_name)
    new_struct = current._replace(**{field_name: value})
    return new_struct, (f"{label}.{field_name}", human(field_name, old), human(field_name, value))


def _brackets(text: str) -> list[tuple[int, int, int]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        pieces = part.split(":")
        if len(pieces) != 3:
            raise AdminError(f"brackets: {part!r} is not CEILING:INITIAL_RATE:MAINTENANCE_RATE")
        out.append(
            (
                parse_value("notional_ceiling", "uint256", pieces[0]),
                parse_value("initial_margin_rate", "uint256", pieces[1]),
                parse_value("maintenance_margin_rate", "uint256", pieces[2]),
            )
        )
    if not out:
        raise AdminError("brackets: give at least one CEILING:INITIAL_RATE:MAINTENANCE_RATE")
    return out


def _tiers(text: str) -> list[tuple[int, int]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        pieces = part.split(":")
        if len(pieces) != 2:
            raise AdminError(f"tiers: {part!r} is not MARGIN_RATIO_BELOW:CLOSE_FRACTION")
        out.append(
            (
                parse_value("margin_ratio_below", "uint256", pieces[0]),
                parse_value("close_fraction", "uint256", pieces[1]),
            )
        )
    return out


def _show_brackets(brackets: Iterable[Any]) -> str:
    return ", ".join(":".join(human("", int(v)) for v in b) for b in brackets) or "(none)"


PARAM_HELP = """PARAM names what to change, VALUE its new value in human units:

\b
  SYMBOL.FIELD               a MarketConfig field, e.g. BTC.taker_fee 0.0006
  SYMBOL.rate_limit.FIELD    window (seconds) or max_notional (USD), e.g. BTC.rate_limit.window 600
  SYMBOL.risk.FIELD          a RiskConfig field, e.g. ETH.risk.max_multiplier 2
  SYMBOL.brackets            CEILING:IM:MM,... e.g. "250000:0.02:0.01,inf:0.05:0.025"
  liquidation.FIELD          a LiquidationConfig field, e.g. liquidation.reward_cap 500
  liquidation.tiers          RATIO_BELOW:FRACTION,... e.g. "1:0.25,0.75:0.5,0.5:1"

Funding products (FundingSwaps / FundingCaps, their own admin):
\b
  swaps.FIELD                initial_k maintenance_k time_floor rate_floor ema_period
                             base_spread skew_slope utilisation_slope reward_rate
                             penalty_rate skew_scale_fraction perp_open_interest_fraction
  caps.spread, caps.min_premium, caps.volatility.SYMBOL
"""


def plan_set(d: Deployment, param: str, text: str) -> Change:
    """The configurator call that sets `param` to `text`, read-modify-write on the rest of its
    struct (see PARAM_HELP). Raises AdminError for an unknown market or field, a bad value,
    or the oracle (a listed market's feed never changes)."""
    from .admin_products import is_product_param, plan_product_set

    if is_product_param(param):
        return plan_product_set(d, param, text)
    parts = param.split(".")
    e = d.engine
    if parts[0].lower() == "liquidation" and len(parts) == 2:
        config, tiers = e.liquidation_config(), list(e.liquidation_tiers())
        if parts[1] == "tiers":
            new_tiers = _tiers(text)
            row = ("liquidation.tiers", _show_brackets(tiers), _show_brackets(new_tiers))
            return Change(f"set {param}", "set_liquidation_config", (config, new_tiers), [row])
        new, row = _struct_change(d, "liquidation", "set_liquidation_config", 0, config, parts[1], text)
        return Change(f"set {param}", "set_liquidation_config", (new, tiers), [row])
    if len(parts) < 2:
        raise AdminError(f"unknown parameter {param!r}\n\n{PARAM_HELP}")
    market = d.market(parts[0])
    symbol = d.symbol(market)
    if len(parts) == 2 and parts[1] == "brackets":
        old = list(e.brackets_of(market))
        new_brackets = _brackets(text)
        row = (f"{symbol}.brackets", _show_brackets(old), _show_brackets(new_brackets))
        return Change(f"set {param}", "set_margin_brackets", (market, new_brackets), [row])
    if len(parts) == 3 and parts[1] == "rate_limit":
        new, row = _struct_change(d, f"{symbol}.rate_limit", "set_rate_limit", 1, e.rate_limit(market), parts[2], text)
        return Change(f"set {param}", "set_rate_limit", (market, new), [row])
    if len(parts) == 3 and parts[1] == "risk":
        new, row = _struct_change(d, f"{symbol}.risk", "set_risk_config", 1, e.risk_config(market), parts[2], text)
        return Change(f"set {param}", "set_risk_config", (market, new), [row])
    if len(parts) == 2:
        if parts[1] == "oracle":
            raise AdminError("the oracle of a listed market cannot change (the engine refuses: 'Oracle changed')")
        new, row = _struct_change(d, symbol, "set_market_config", 1, e.market_config(market), parts[1], text)
        return Change(f"set {param}", "set_market_config", (market, new), [row])
    raise AdminError(f"unknown parameter {param!r}\n\n{PARAM_HELP}")


def plan_pause(d: Deployment, symbol: str, paused: bool) -> Change:
    market = d.market(symbol)
    old = bool(d.engine.market_state(market).paused)
    verb = "pause" if paused else "unpause"
    row = (f"{d.symbol(market)}.paused", human("paused", old), human("paused", paused))
    return Change(f"{verb} {d.symbol(market)}", "set_paused", (market, paused), [row], role="guardian")


def plan_settle(d: Deployment, symbol: str, price: str) -> Change:
    market = d.market(symbol)
    value = parse_value("price", "uint256", price)
    if value == 0 or value == MAX_UINT:
        raise AdminError(f"price: must be a positive USD price, got {price!r}")
    old = int(d.engine.settlement_price(market))
    row = (f"{d.symbol(market)}.settlement_price", human("", old) if old else "(trading)", human("", value))
    return Change(
        f"settle {d.symbol(market)} at {human('', value)} USD (irreversible: every position closes there)",
        "settle_market",
        (market, value),
        [row],
        role="guardian",
    )


def plan_roles(d: Deployment, account: str, role: str, grant: bool) -> Change:
    """Grant or revoke one non-ADMIN role, keeping the account's others."""
    if not is_address(account):
        raise AdminError(f"not an address: {account!r}")
    account = to_checksum_address(account)
    bit = ROLE_NAMES.get(role.lower())
    if bit is None:
        raise AdminError(f"unknown role {role!r} (roles: guardian)")
    if bit == ADMIN:
        raise AdminError("ADMIN moves only in two steps: propose-admin ADDRESS, then accept-admin from ADDRESS")
    old = int(d.configurator.roles_of(account))
    new = old | bit if grant else old & ~bit
    row = (f"roles of {account}", role_names(old), role_names(new))
    return Change(f"{'grant' if grant else 'revoke'} {role.upper()}", "set_roles", (account, new), [row])


def plan_propose_admin(d: Deployment, account: str) -> Change:
    if not is_address(account):
        raise AdminError(f"not an address: {account!r}")
    account = to_checksum_address(account)
    if int(account, 16) == 0:
        raise AdminError("the zero address cannot be proposed (to withdraw a proposal: cancel-admin)")
    pending = d.configurator.pending_admin()
    return Change(
        f"propose {account} as admin (it must then run accept-admin)",
        "propose_admin",
        (account,),
        [("pending admin", pending if int(pending, 16) else "(none)", account)],
    )


def plan_accept_admin(d: Deployment) -> Change:
    c = d.configurator
    admin, pending = c.admin(), c.pending_admin()
    if int(pending, 16) == 0:
        raise AdminError("no admin transfer is pending (the admin proposes one with propose-admin)")
    return Change(f"accept ADMIN as {pending}", "accept_admin", (), [("admin", admin, pending)], role="pending admin")


def plan_cancel_admin(d: Deployment) -> Change:
    pending = d.configurator.pending_admin()
    if int(pending, 16) == 0:
        raise AdminError("no admin transfer is pending")
    return Change(
        "cancel the pending admin transfer", "cancel_admin_transfer", (), [("pending admin", pending, "(none)")]
    )


def apply(d: Deployment, change: Change, send: Send) -> list[Event]:
    """Send `change` to its contract (the configurator, or FundingSwaps / FundingCaps);
    returns the events of its transaction. Raises Reverted (reason decoded) or ChainError
    from `send`."""
    return d.decode(send(d.contracts[change.target], change.function, change.args))


def preflight(d: Deployment, change: Change, sender: str) -> str | None:
    """What `change` would do if sent now from `sender`, by an eth_call (nothing is sent):
    None if it would succeed, else the revert reason. Raises ChainError if the node fails."""
    contract = d.contracts[change.target]
    data = contract.functions[change.function].calldata(*change.args)
    tx = {"from": sender, "to": contract.address, "data": "0x" + data.hex()}
    try:
        d.request("eth_call", [tx, "latest"])
    except Exception as exc:  # noqa: BLE001 - transports raise their own error types
        error = rpc_revert(exc)
        if isinstance(error, Reverted):
            return error.reason or "(no reason)"
        raise error from exc
    return None


# ----------------------------------------------------------------------------- status
@dataclass
class MarketStatus:
    market: int
    symbol: str
    index_price: str
    paused: bool
    settlement_price: str
    fields: dict[str, str]


@dataclass
class Status:
    chain_id: int
    block: int
    admin: str
    pending_admin: str
    roles: dict[str, str]
    markets: list[MarketStatus]
    liquidation: dict[str, str]
    tiers: str
    balances: dict[str, str]


STATUS_MARKET_FIELDS = (
    "taker_fee",
    "maker_fee",
    "max_open_interest",
    "skew_scale",
    "max_premium",
    "max_funding_rate",
    "funding_model",
    "max_oracle_age",
    "max_price_jump",
    "delayed_orders",
)


def status(d: Deployment) -> Status:
    """What an operator checks first, read from the chain in human units. Raises ChainError if
    the node fails (a market whose oracle read reverts shows the reason instead of a price)."""
    c, e = d.configurator, d.engine
    markets = []
    for m in range(int(e.market_count())):
        config, state = e.market_config(m), e.market_state(m)
        try:
            index = human("", int(e.index_price(m)))
        except Reverted as exc:
            index = f"reverts: {exc.reason}"
        except ChainError as exc:
            index = f"unreadable: {exc}"
        settled = int(e.settlement_price(m))
        limit = e.rate_limit(m)
        fields = {name: human(name, getattr(config, name)) for name in STATUS_MARKET_FIELDS}
        fields["long / short OI (coins)"] = (
            f"{human('', state.long_open_interest)} / {human('', state.short_open_interest)}"
        )
        fields["rate_limit"] = (
            f"{human('max_notional', limit.max_notional)} USD / {human('window', limit.window)} s"
            if limit.window
            else "off"
        )
        markets.append(
            MarketStatus(m, d.symbol(m), index, bool(state.paused), human("", settled) if settled else "", fields)
        )
    liquidation = e.liquidation_config()
    return Status(
        d.chain_id,
        d.head(),
        c.admin(),
        c.pending_admin(),
        {a: role_names(r) for a, r in d.role_holders().items()},
        markets,
        {name: human(name, getattr(liquidation, name)) for name in liquidation._fields},
        _show_brackets(e.liquidation_tiers()),
        {"pool balance (USD)": human("", e.pool_balance()), "insurance fund (USD)": human("", e.insurance_fund())},
    )


# ----------------------------------------------------------------------------- signing
def impersonating_send(chain: Any, sender: str) -> Send:
    """A :data:`Send` through `chain` (an :class:`~vyperp.chain.rpc_chain.RpcChain` on anvil,
    which sends from any address by impersonation): the revert reason comes from its
    preflight call."""

    def send(contract: Contract, function: str, args: tuple[Any, ...]) -> Sequence[Any]:
        data = contract.functions[function].calldata(*args)
        chain.send(sender, contract.address, data)
        receipt = chain.last_receipt
        return list(receipt.raw_logs) if receipt is not None else []

    return send


__all__ = [
    "AdminError",
    "Change",
    "Deployment",
    "PARAM_HELP",
    "Send",
    "Status",
    "apply",
    "human",
    "impersonating_send",
    "load_manifest",
    "parse_value",
    "plan_accept_admin",
    "plan_cancel_admin",
    "plan_pause",
    "plan_propose_admin",
    "plan_roles",
    "plan_set",
    "plan_settle",
    "preflight",
    "role_names",
    "rpc_revert",
    "status",
]
