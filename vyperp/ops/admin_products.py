"""`vyperp admin` for the funding products (issue 14): FundingSwaps and FundingCaps
parameters by name, listing swap maturities and cap products.

FundingSwaps and FundingCaps have one ``admin`` each (their deployer, the protocol
admin), not the configurator's roles: a change is planned against the contract's own
getters (read-modify-write of the setter's whole argument group, so a change of one
field keeps the others), shown old -> new in human units and refused before sending
when the sender is not that admin.

    swaps.FIELD              FundingSwaps: initial_k, maintenance_k, time_floor, rate_floor
                             (set_margin_config), ema_period, base_spread, skew_slope,
                             utilisation_slope (set_quote_config), reward_rate, penalty_rate
                             (set_liquidation_config), skew_scale_fraction,
                             perp_open_interest_fraction (set_open_interest_cap)
    caps.spread / caps.min_premium      FundingCaps.set_pricing
    caps.volatility.SYMBOL              FundingCaps.set_volatility (sigma; 0 halts sales)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address

from .admin import AdminError, Change, Deployment, _int, human, parse_value

SWAP_SETTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "margin": ("set_margin_config", ("initial_k", "maintenance_k", "time_floor", "rate_floor")),
    "quote": ("set_quote_config", ("ema_period", "base_spread", "skew_slope", "utilisation_slope")),
    "liquidation": ("set_liquidation_config", ("reward_rate", "penalty_rate")),
    "oi_cap": ("set_open_interest_cap", ("skew_scale_fraction", "perp_open_interest_fraction")),
}
"""FundingSwaps' setters and the getters of their arguments, in argument order."""
SWAP_FIELDS = {name: group for group, (_, names) in SWAP_SETTERS.items() for name in names}
SECONDS = frozenset({"time_floor", "ema_period"})
DAY = 86_400
FUNDING_PERIOD = 8 * 3600

PRODUCTS_HELP = """
\b
  swaps.FIELD                FundingSwaps: initial_k maintenance_k time_floor rate_floor
                             ema_period base_spread skew_slope utilisation_slope
                             reward_rate penalty_rate skew_scale_fraction
                             perp_open_interest_fraction, e.g. swaps.base_spread 0.00003
  caps.spread, caps.min_premium          FundingCaps pricing, e.g. caps.spread 0.15
  caps.volatility.SYMBOL                 a market's sigma, e.g. caps.volatility.BTC 0.003
"""


def _contract(d: Deployment, key: str) -> Any:
    contract = d.contracts.get(key)
    if contract is None:
        name = "FundingSwaps" if key == "swaps" else "FundingCaps"
        raise AdminError(f"the manifest has no {key} address: this deployment has no {name}")
    return contract


def _raw(name: str, value: int) -> str:
    return f"{value:,}" if name in SECONDS else human(name, value)


def _parse(name: str, text: str, label: str) -> int:
    if name in SECONDS:
        text = text.strip().replace("_", "")
        if not text.isdigit():
            raise AdminError(f"{label}: expected a whole number of seconds, got {text!r}")
        return int(text)
    value = parse_value(name, "uint256", text, label)
    assert isinstance(value, int)
    return value


def is_product_param(param: str) -> bool:
    return param.split(".")[0].lower() in ("swaps", "caps")


def plan_product_set(d: Deployment, param: str, text: str) -> Change:
    """The FundingSwaps / FundingCaps call that sets `param` (see the module docstring)."""
    parts = param.split(".")
    head = parts[0].lower()
    if head == "swaps" and len(parts) == 2:
        swaps = _contract(d, "swaps")
        group = SWAP_FIELDS.get(parts[1])
        if group is None:
            raise AdminError(f"unknown field {param} (fields: {', '.join(SWAP_FIELDS)})")
        function, names = SWAP_SETTERS[group]
        current = [int(getattr(swaps, n)()) for n in names]
        new = list(current)
        new[names.index(parts[1])] = _parse(parts[1], text, param)
        row = (param, _raw(parts[1], current[names.index(parts[1])]), _raw(parts[1], new[names.index(parts[1])]))
        return Change(f"set {param}", function, tuple(new), [row], role="swaps admin", target="swaps")
    if head == "caps" and len(parts) == 2 and parts[1] in ("spread", "min_premium"):
        caps = _contract(d, "caps")
        current = [int(caps.spread()), int(caps.min_premium())]
        new = list(current)
        i = ("spread", "min_premium").index(parts[1])
        new[i] = _parse(parts[1], text, param)
        row = (param, human(parts[1], current[i]), human(parts[1], new[i]))
        return Change(f"set {param}", "set_pricing", tuple(new), [row], role="caps admin", target="caps")
    if head == "caps" and len(parts) == 3 and parts[1] == "volatility":
        caps = _contract(d, "caps")
        market = d.market(parts[2])
        old = int(caps.volatility(market))
        sigma = _parse("volatility", text, param)
        row = (f"caps.volatility.{d.symbol(market)}", human("", old), human("", sigma))
        return Change(f"set {param}", "set_volatility", (market, sigma), [row], role="caps admin", target="caps")
    raise AdminError(f"unknown parameter {param!r}\n{PRODUCTS_HELP}")


def chain_time(d: Deployment) -> int:
    """The latest block's timestamp."""
    block = d.request("eth_getBlockByNumber", ["latest", False])
    return _int(block["timestamp"])


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def resolve_time(d: Deployment, at: int | None, days: float | None, what: str) -> int:
    """`at` (unix time), or `days` from the chain's time rounded up to an 8h boundary."""
    if (at is None) == (days is None):
        raise AdminError(f"give exactly one of --at (unix time) or --days for the {what}")
    if at is not None:
        return int(at)
    assert days is not None
    if days <= 0:
        raise AdminError(f"--days: must be above 0, got {days}")
    target = chain_time(d) + int(round(days * DAY))
    return -(-target // FUNDING_PERIOD) * FUNDING_PERIOD


def plan_list_maturity(d: Deployment, symbol: str, at: int | None, days: float | None) -> Change:
    """FundingSwaps.list_maturity(market, maturity)."""
    swaps = _contract(d, "swaps")
    market = d.market(symbol)
    maturity = resolve_time(d, at, days, "maturity")
    count = int(swaps.maturity_count(market))
    if swaps.books(market, maturity).listed:
        raise AdminError(f"{d.symbol(market)} maturity {maturity} ({_when(maturity)}) is already listed")
    rows = [
        (f"{d.symbol(market)} swap maturities", str(count), str(count + 1)),
        ("new maturity", "", f"{maturity} ({_when(maturity)})"),
    ]
    return Change(
        f"list a {d.symbol(market)} swap maturity", "list_maturity", (market, maturity), rows, "swaps admin", "swaps"
    )


def plan_list_product(
    d: Deployment,
    symbol: str,
    kind: str,
    strike: str,
    at: int | None,
    days: float | None,
    period: int,
    periods: int,
    max_notional: str,
) -> Change:
    """FundingCaps.list_product(market, is_floor, strike, start, period, periods, max_notional)."""
    caps = _contract(d, "caps")
    market = d.market(symbol)
    if kind not in ("cap", "floor"):
        raise AdminError(f"--kind: cap or floor, got {kind!r}")
    value = parse_value("strike", "int256", strike, "--strike")
    notional = parse_value("max_notional", "uint256", max_notional, "--max-notional")
    start = resolve_time(d, at, days, "start")
    product = int(caps.product_count())
    terms = (
        f"{kind} at {human('strike', value)} per 8h, {periods} x {period:,} s from {start} ({_when(start)}), "
        f"at most {human('', notional)} USD"
    )
    rows = [("cap products", str(product), str(product + 1)), (f"product {product}", "", terms)]
    args = (market, kind == "floor", value, start, int(period), int(periods), notional)
    return Change(f"list a {d.symbol(market)} {kind} product", "list_product", args, rows, "caps admin", "caps")


def product_admin(d: Deployment, change: Change) -> str:
    """The address holding the change's contract's admin."""
    return to_checksum_address(str(d.contracts[change.target].admin()))


__all__ = [
    "PRODUCTS_HELP",
    "SWAP_SETTERS",
    "is_product_param",
    "plan_list_maturity",
    "plan_list_product",
    "plan_product_set",
    "product_admin",
    "resolve_time",
]


def products_status(d: Deployment) -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, rows) tables for `vyperp admin status`: FundingSwaps' and FundingCaps'
    configuration, listings and balances in human units (none without them)."""
    tables: list[tuple[str, list[tuple[str, str]]]] = []
    swaps, caps = d.contracts.get("swaps"), d.contracts.get("caps")
    if swaps is not None:
        rows = [
            ("admin", str(swaps.admin())),
            ("bound to the engine", "yes" if _same(d.engine.swaps(), swaps) else "NO"),
        ]
        for _, names in SWAP_SETTERS.values():
            rows += [(name, _raw(name, int(getattr(swaps, name)()))) for name in names]
        listed = listed_maturities(d)
        for symbol, market in d.market_ids.items():
            when = ", ".join(_when(t) for t in sorted(listed.get(market, []))) or "-"
            rows.append((f"{symbol} maturities ({int(swaps.maturity_count(market))} listed)", when))
        rows.append(("pool unrealized (USD)", human("", int(swaps.pool_unrealized_total()))))
        tables.append((f"FundingSwaps {swaps.address}", rows))
    if caps is not None:
        rows = [
            ("admin", str(caps.admin())),
            ("TWAP_WINDOW (s)", f"{int(caps.TWAP_WINDOW()):,}"),
            ("spread", human("spread", int(caps.spread()))),
            ("min_premium (USD)", human("", int(caps.min_premium()))),
        ]
        rows += [(f"{s} sigma", human("", int(caps.volatility(m)))) for s, m in d.market_ids.items()]
        rows += [
            ("products", f"{int(caps.product_count())}"),
            (
                "vault assets / locked (USD)",
                f"{human('', int(caps.vault_assets()))} / {human('', int(caps.vault_locked()))}",
            ),
            ("buyers' reserve (USD)", human("", int(caps.buyer_reserve()))),
        ]
        tables.append((f"FundingCaps {caps.address}", rows))
    return tables


def listed_maturities(d: Deployment) -> dict[int, list[int]]:
    """market -> maturities, from FundingSwaps' MaturityListed events since the manifest's
    deploy block (the deployment's listings and every later list-maturity)."""
    from .admin import LOG_RANGE, _rpc_logs

    swaps = _contract(d, "swaps")
    spec = swaps.contract_type.events_by_name["MaturityListed"]
    topic = "0x" + spec.topic0.hex()
    start, head = int(d.manifest.get("block_number") or 0), d.head()
    out: dict[int, list[int]] = {}
    while start <= head:
        end = min(start + LOG_RANGE - 1, head)
        logs = d.request(
            "eth_getLogs", [{"address": swaps.address, "topics": [topic], "fromBlock": hex(start), "toBlock": hex(end)}]
        )
        for event in d.decode(_rpc_logs(logs)):
            out.setdefault(int(event.args["market"]), []).append(int(event.args["maturity"]))
        start = end + 1
    return out


def _same(a: Any, contract: Any) -> bool:
    return str(a).lower() == str(contract.address).lower()
