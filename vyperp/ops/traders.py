"""`vyperp traders`: a population of leveraged traders on a live deployment.

    vyperp traders --manifest deployments/x.json --rpc-url URL --key-env VYPERP_FUNDER_KEY \\
        --mnemonic-env VYPERP_TRADERS_MNEMONIC --count 8 --market BTC --leverage 9,8,6,-3 --margin-usd 2000

Trader ``k`` is account ``--first-index + k`` of the mnemonic (``m/44'/60'/0'/0/i``). The
funder key (``--keystore``/``--key-env``) tops each trader up to ``--gas-eth`` ether and gives
it ``--margin-usd`` of collateral -- minted when the collateral is the deployment's
``TestToken`` and the funder may mint (``--collateral mint``, the deployer can), else
transferred from the funder's balance (``--collateral transfer``). The trader approves the
engine, deposits the margin and trades ``leverage x margin`` of notional at the index price
(a negative leverage opens a short), leverages taken in turn from ``--leverage``. Optionally
the funder first deposits ``--lp-usd`` into the pool and ``--insurance-usd`` into the
insurance fund. A trader that already holds a position in the market is left alone, so a
re-run opens only the missing ones.

Trades carry no slippage bound (``acceptable_price`` 0 / max): this is a load and demo
tool, not a trading client. Failures (a trade the engine refuses, a key without funds)
are reported as one-line errors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import click

from ..chain.errors import ChainError, Reverted
from ..chain.keys import DEFAULT_MNEMONIC, KeySourceError, mnemonic_signer
from ..protocol.units import WAD

log = logging.getLogger("vyperp.traders")
MAX_UINT = 2**256 - 1
DEFAULT_MNEMONIC_ENV = "VYPERP_TRADERS_MNEMONIC"


def parse_leverages(text: str) -> list[Decimal]:
    """``"9,8,-3"`` -> leverages (negative: short). Raises click.BadParameter for a
    malformed or zero value."""
    out = []
    for part in text.split(","):
        try:
            value = Decimal(part.strip())
        except ArithmeticError:
            raise click.BadParameter(f"not a number: {part!r}", param_hint="--leverage") from None
        if value == 0:
            raise click.BadParameter("a leverage of 0 opens nothing", param_hint="--leverage")
        out.append(value)
    return out


def traders_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--mnemonic-env",
            default=DEFAULT_MNEMONIC_ENV,
            show_default=True,
            metavar="NAME",
            help="Environment variable holding the traders' mnemonic.",
        ),
        click.option(
            "--dev-mnemonic", is_flag=True, help="Use anvil's public development mnemonic (local demos only)."
        ),
        click.option(
            "--first-index", type=click.IntRange(0), default=10, show_default=True, help="First account index."
        ),
        click.option("--count", type=click.IntRange(1), default=8, show_default=True, help="Number of traders."),
        click.option("--market", default=None, help="Market symbol [default: the manifest's first market]."),
        click.option(
            "--leverage",
            "leverages",
            default="9,8,7,-3",
            show_default=True,
            help="Comma-separated leverages, used in turn (negative = short).",
        ),
        click.option("--margin-usd", type=float, default=2_000.0, show_default=True, help="Margin per trader, USD."),
        click.option(
            "--gas-eth", type=float, default=0.05, show_default=True, help="Ether each trader is topped up to."
        ),
        click.option(
            "--collateral",
            type=click.Choice(["mint", "transfer"]),
            default="mint",
            show_default=True,
            help="Mint the TestToken collateral (the funder is its minter) or transfer it from the funder.",
        ),
        click.option("--lp-usd", type=float, default=0.0, show_default=True, help="Funder's pool deposit first, USD."),
        click.option(
            "--insurance-usd", type=float, default=0.0, show_default=True, help="Funder's insurance-fund deposit, USD."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _mnemonic(env: str, dev: bool) -> str:
    if dev:
        return DEFAULT_MNEMONIC
    value = os.environ.get(env, "").strip()
    if not value:
        raise click.UsageError(f"set {env} to the traders' mnemonic (or --dev-mnemonic on a local chain)")
    return value


class Population:
    """Funds and opens the traders on `chain` (a SigningChain holding the funder's key)."""

    def __init__(self, chain: Any, manifest: dict[str, Any], collateral: str = "mint"):
        addresses = manifest["addresses"]
        self.chain = chain
        self.funder = chain.default_sender
        self.token = chain.at("TestToken", addresses["token"])
        self.engine = chain.at("Engine", addresses["engine"])
        self.pool = chain.at("LiquidityPool", addresses["pool"])
        self.decimals = int(self.token.decimals())
        self.collateral = collateral

    def units(self, usd: float | Decimal) -> int:
        return int(Decimal(str(usd)) * 10**self.decimals)

    def give(self, to: str, amount: int) -> None:
        if self.collateral == "mint":
            self.token.mint(to, amount, sender=self.funder)
        else:
            self.token.transfer(to, amount, sender=self.funder)

    def seed(self, lp_usd: float, insurance_usd: float) -> None:
        """The funder's pool and insurance deposits."""
        for usd, what in ((lp_usd, "pool"), (insurance_usd, "insurance")):
            if usd <= 0:
                continue
            amount = self.units(usd)
            self.give(self.funder, amount)
            if what == "pool":
                self.token.approve(self.pool, amount, sender=self.funder)
                self.pool.deposit(amount, self.funder, sender=self.funder)
            else:
                self.token.approve(self.engine, amount, sender=self.funder)
                self.engine.deposit(amount, sender=self.funder)
                self.engine.fund_insurance(amount, sender=self.funder)
            log.info("funder deposited %s USD into the %s", f"{usd:,.2f}", what)

    def open(self, trader: str, market: int, leverage: Decimal, margin_usd: float, gas_wei: int) -> dict[str, Any]:
        """Fund `trader` and open its position; returns a row for the report."""
        held = int(self.engine.position(trader, market).size)
        if held:
            return {"account": trader, "size": held, "note": "already open"}
        if self.chain.get_balance(trader) < gas_wei // 2:
            self.chain.transfer(self.funder, trader, gas_wei - self.chain.get_balance(trader))
        amount = self.units(margin_usd)
        self.give(trader, amount)
        self.token.approve(self.engine, MAX_UINT, sender=trader)
        self.engine.deposit(amount, sender=trader)
        price = int(self.engine.index_price(market))
        notional = int(abs(leverage) * Decimal(str(margin_usd)) * WAD)
        size = notional * WAD // price * (1 if leverage > 0 else -1)
        self.engine.trade(market, size, MAX_UINT if size > 0 else 0, sender=trader)
        log.info("%s: %sx %s, margin %s USD", trader, leverage, "long" if size > 0 else "short", f"{margin_usd:,.2f}")
        return {"account": trader, "size": int(self.engine.position(trader, market).size), "note": f"{leverage}x"}


def run_traders(chain: Any, manifest: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    """`vyperp traders` on a connected SigningChain (funder = its default sender)."""
    from rich.console import Console
    from rich.table import Table

    leverages = parse_leverages(kw["leverages"])
    mnemonic = _mnemonic(kw["mnemonic_env"], kw["dev_mnemonic"])
    market_ids = manifest.get("market_ids") or {s: i for i, s in enumerate(manifest["addresses"].get("oracles", {}))}
    symbol = kw["market"] or next(iter(market_ids), None)
    if symbol not in market_ids:
        raise click.BadParameter(f"{symbol!r} not in the manifest ({', '.join(market_ids)})", param_hint="--market")
    market = int(market_ids[symbol])
    rows = []
    try:
        population = Population(chain, manifest, kw["collateral"])
        population.seed(kw["lp_usd"], kw["insurance_usd"])
        for k in range(kw["count"]):
            signer = mnemonic_signer(mnemonic, kw["first_index"] + k)
            trader = chain.add_signer(signer, f"trader{k}")
            row = population.open(
                trader,
                market,
                leverages[k % len(leverages)],
                kw["margin_usd"],
                int(Decimal(str(kw["gas_eth"])) * 10**18),
            )
            rows.append(row)
    except Reverted as exc:
        raise click.ClickException(f"the chain refused it: {exc}") from None
    except (KeySourceError, ChainError) as exc:
        raise click.ClickException(str(exc)) from None
    table = Table(title=f"{len(rows)} traders on {symbol}")
    for column in ("account", "size", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["account"], f"{row['size'] / WAD:,.6f}", row["note"])
    Console().print(table)
    return rows


__all__ = ["Population", "parse_leverages", "run_traders", "traders_options"]
