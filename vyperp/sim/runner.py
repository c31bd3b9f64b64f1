"""The cascade replay: a scenario's price path against the real contracts on the
embedded chain, with directional traders, basis traders, LPs and liquidation keepers.

One step = one oracle round per market, at the path's timestamp:

1. chain time := the path's timestamp; the feeder pushes the round (the path's price,
   moved by the previous step's forced spot flow when impact is enabled) and pokes the
   market so the engine accepts it (every round, so the volatility EWMA sees each one);
2. one ``EngineLens.step_read`` call reads each market (index, mark, funding, open
   interest, risk multiplier), the engine's books, and re-reads every account the
   previous step's agents (and this step's feeder) touched; the replay re-evaluates every
   account from its exact book and checks the invariants (:mod:`vyperp.sim.metrics`);
3. keepers liquidate (and auto-deleverage if the waterfall needs it) and the accounts
   they touched are re-read; LPs, basis traders and directional traders act (the
   accounts they touch are re-read by the next step's read, before anything looks at
   them: the oracle round in between changes no account's margin or positions);
4. the step's row is recorded and its forced flow goes to the spot model.

Everything the agents do is a raw transaction (``Chain.send``) with calldata built from
precomputed selectors. ``run_replay`` returns the report dict (see
:mod:`vyperp.sim.report` for the files).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vyperp.oracles.pricepath import PricePath
from vyperp.sim.scenario import Scenario, load_scenario

from ..chain import Chain
from ..protocol.deploy import deploy_embedded
from ..protocol.params import ProtocolParams
from ..protocol.units import WAD, wad
from .agents import AgentConfig, BasisTraders, DirectionalTraders, Keepers, LiquidityProviders
from .book import AccountBook, MarketNow, MarketRules
from .chainio import TxSender, int_array, static_tuple_array, uint_at, word, word_array
from .clock import iso_utc
from .contagion import Contagion
from .deployments import DeploymentCache, deployment_key
from .funding_swaps import FundingSwapHedging
from .metrics import Globals, InvariantChecker, Metrics, usd
from .options_desk import OptionsDesk
from .overrides import Overrides
from .scenario_params import ReplayParams, replay_params, step_seconds_of
from .spot import SpotMarket
from .wire import Wire

MAX_UINT = 2**256 - 1
TIMING_FIELDS = frozenset(
    {
        "wall_seconds",
        "build_seconds",
        "loop_seconds",
        "loop_cpu_seconds",
        "tx_per_second",
        "agent_tx_per_second",
        "chain_seconds",
        "tx_per_chain_second",
        "scan_seconds",
        "read_seconds",
    }
)
"""Report fields that measure the machine, not the protocol."""
SCAN_BATCH = 1024  # EngineLens.MAX_SCAN
DEFAULT_FULL_SCAN_EVERY = 20
"""Steps between on-chain full scans by default: every 20 steps, or every accounts / 50
steps for larger populations (10,000 traders -> every ~210 steps). One scan costs ~12 us
of EVM work per account (three engine calls per position holder), so the scans cost
~0.6-0.7 ms per step from ~1,000 accounts up: about half of the step loop of the sparse
1,000-trader day (``scan_seconds`` in the report)."""


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


class Replay:
    """One replay run (build with the constructor, then :meth:`run`)."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        traders: int | None = None,
        param_set: str | None = None,
        *,
        mitigations: str | None = None,
        seed: int | None = None,
        steps: int | None = None,
        agent_config: AgentConfig | None = None,
        full_scan_every: int | None = None,
        record: bool = False,
        chain_factory: Callable[[int], Any] | None = None,
        overrides: dict[str, Any] | None = None,
        price_paths: dict[str, PricePath] | None = None,
        deployments: DeploymentCache | None = None,
    ):
        scenario = _scenario(scenario)
        if seed is not None:
            scenario = replace(scenario, seed=int(seed))
        # parameter overrides by flat name (vyperp.sim.overrides): run, population, impact, agents, protocol
        ov = Overrides.split(overrides)
        scenario = ov.scenario(scenario)
        agent_config = ov.agent_config(agent_config)
        if traders is None and "traders" in ov.run:
            traders = ov.run["traders"]
        param_set = ov.run.get("param_set", param_set)
        mitigations = ov.run.get("mitigations", mitigations)
        self.overrides = dict(overrides or {})
        self.scenario = scenario
        self.seed = scenario.seed
        self.cfg = agent_config or AgentConfig()
        self._full_scan_every = full_scan_every
        self.symbols = scenario.symbols
        self.n_markets = len(self.symbols)
        if price_paths is not None:  # a path per market from outside (e.g. a sweep's Monte Carlo path)
            missing = [sym for sym in self.symbols if sym not in price_paths]
            if missing:
                raise ValueError(f"price_paths has no path for market(s) {', '.join(missing)}")
            paths = {sym: price_paths[sym] for sym in self.symbols}
        else:
            paths = {sym: scenario.price_path(sym) for sym in self.symbols}
        n = min(len(p) for p in paths.values())
        if steps is not None:
            if steps < 1:
                raise ValueError(f"steps must be >= 1, got {steps}")
            n = min(n, int(steps))
        self.paths: dict[str, PricePath] = {sym: p.head(n) for sym, p in paths.items()}
        base = self.paths[self.symbols[0]]
        for sym in self.symbols[1:]:
            if self.paths[sym].timestamps != base.timestamps:
                raise ValueError(
                    f"scenario {scenario.name!r}: market {sym} has other timestamps than "
                    f"{self.symbols[0]}; the replay needs one clock"
                )
        self.timestamps = base.timestamps
        self.n_steps = n
        self.step_seconds = step_seconds_of(base)
        self.params: ReplayParams = replay_params(scenario, self.paths, param_set, mitigations, ov.protocol)
        pop = scenario.population
        self.directional = pop.directional if traders is None else int(traders)
        if self.directional < 0:
            raise ValueError(f"traders must be >= 0, got {traders}")
        scale = self.directional / pop.directional if pop.directional else 1.0
        self.basis_count = int(round(pop.basis * scale)) if traders is not None else pop.basis
        if pop.basis and self.directional and self.basis_count == 0:
            self.basis_count = 1
        self.record = record
        self.chain_factory = chain_factory  # timestamp -> chain (e.g. RpcChain.factory(url)); None: embedded
        self.deployments = deployments  # embedded chain only: reuse a deployment of the same parameters
        self.deployment_reused = False
        self._built = False
        self.scan_seconds = 0.0
        self.read_seconds = 0.0

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        """Deploy, create and fund the agents (not timed as replay)."""
        t0 = time.perf_counter()
        protocol: ProtocolParams = self.params.protocol
        start = self.timestamps[0] - self.step_seconds
        if self.chain_factory is not None:
            self.chain = self.chain_factory(start)
            self.p = deploy_embedded(self.chain, protocol)
        elif self.deployments is not None:
            self.chain, self.p, self.deployment_reused = self.deployments.checkout(
                deployment_key(protocol, start), lambda: self._deploy_fresh(protocol, start)
            )
        else:
            self.chain, self.p = self._deploy_fresh(protocol, start)
        self.deploy_seconds = time.perf_counter() - t0
        p = self.p
        self.engine, self.pool, self.lens, self.token = p.engine, p.pool, p.lens, p.token
        self.oracle_addrs = [o.address for o in p.oracles]
        self.precision = int(p.engine.PRECISION())
        self.decimals = protocol.token_decimals
        rules = []
        self.float_rules = []
        for market in protocol.markets:
            rules.append(
                MarketRules(
                    brackets=market.brackets_struct(),
                    tier_notional=int(market.size_tier_notional * WAD),
                    tier_multiplier=int(round(market.size_tier_multiplier * WAD)),
                    apply_to_maintenance=market.apply_to_maintenance,
                    skew_scale=market.skew_scale(),
                    max_premium=wad(market.max_premium),
                    max_pnl_pool_ratio=wad(market.max_pnl_pool_ratio),
                    adl_pnl_pool_ratio=wad(market.adl_pnl_pool_ratio),
                )
            )
            self.float_rules.append(
                {
                    "brackets": [
                        (b.notional_ceiling, b.initial_margin_rate, b.maintenance_margin_rate) for b in market.brackets
                    ],
                    "taker_fee": market.taker_fee,
                    "skew_scale_usd": market.skew_scale_usd,
                }
            )
        self.book = AccountBook(self.n_markets, rules)
        self.tx = TxSender(
            self.chain, p.engine, self.book.topic_index, self.book.index_of, self.record, self.book.addresses
        )
        self.wire = Wire(self.chain, p.engine, p.lens, p.token, p.pool, p.oracles[0], self.n_markets)
        self.spot = [
            SpotMarket(self.paths[s], self.scenario.impact, m.oracle_decimals)
            for s, m in zip(self.symbols, protocol.markets)
        ]
        tier_fractions = [t.close_fraction for t in protocol.liquidation.tiers]
        self.metrics = Metrics(self.n_markets, tier_fractions)
        self.metrics.spot = self.spot
        self.tx.only_engine_emits(
            set(p.engine.contract_type.events), [p.pool, p.lens, p.token, p.configurator, *p.oracles]
        )
        # several markets: every liquidation is also classified own-/cross-market (contagion)
        self.contagion = Contagion(self.book, self.symbols) if self.n_markets > 1 else None
        if self.contagion is None:
            self.tx.listen(p.engine, "Liquidated", self.metrics.on_liquidated)
        else:
            on_liquidated, classify = self.metrics.on_liquidated, self.contagion.on_liquidated

            def both(a: dict[str, Any]) -> None:
                on_liquidated(a)
                classify(a)

            self.tx.listen(p.engine, "Liquidated", both)
        self.tx.listen(p.engine, "BadDebtCovered", self.metrics.on_bad_debt)
        self.tx.listen(p.engine, "AutoDeleveraged", self.metrics.on_adl)

        seeds = np.random.SeedSequence(self.seed).spawn(4)
        rngs = [np.random.default_rng(s) for s in seeds]
        pop = self.scenario.population
        for label in ("admin", "feeder"):
            self.book.add(self.chain.accounts[label])
        self.traders = DirectionalTraders(self, self.directional, rngs[0], self.cfg)
        self.basis = BasisTraders(self, self.basis_count, rngs[1], self.cfg)
        self.keepers = Keepers(self, pop.keepers, pop.keeper_delay_steps, pop.keeper_gas_budget, self.cfg)
        lp_total = self.cfg.lp_capital_per_trader_usd * max(self.directional, 1)
        self.lps = LiquidityProviders(self, pop.lps, lp_total, rngs[2], self.cfg)
        self.traders.setup()
        self.basis.setup()
        self.keepers.setup()
        self.lps.setup()
        insurance_tokens = int(round(self.cfg.insurance_per_trader_usd * max(self.directional, 1))) * 10**self.decimals
        insurer, _ = self.new_agent("insurer", insurance_tokens)
        if insurance_tokens:
            self.tx.send(
                "setup_insurance", insurer, self.wire.engine_addr, self.engine.fund_insurance.calldata(insurance_tokens)
            )
        # the options desk (scenario [population.options_desk]; absent = none), the last account
        self.desk: OptionsDesk | None = None
        if pop.options_desk is not None:
            self.desk = OptionsDesk(self, pop.options_desk, self.step_seconds)
            self.desk.setup()
            self.metrics.extra_columns = list(OptionsDesk.COLUMNS)
        # basis traders hedging funding with swaps (scenario [population.funding_swaps]; absent =
        # none): its own random stream (a fifth child of the seed: the others draw as without it)
        self.swaps: FundingSwapHedging | None = None
        if pop.funding_swaps is not None:
            swaps_rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(5)[4])
            caps_rng = None
            if pop.funding_caps is not None:  # a stream of its own: the swaps' groups draw as without it
                caps_rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(6)[5])
            self.swaps = FundingSwapHedging(self, pop.funding_swaps, swaps_rng, pop.funding_caps, caps_rng)
            self.swaps.setup()
            self.metrics.extra_columns = self.metrics.extra_columns + list(self.swaps.columns)
        self.tx.touched.update(range(len(self.book)))
        self.markets = self.read_markets()
        self.sync()
        self.setup_tx = self.tx.count
        self.setup_by_kind = dict(self.tx.by_kind)
        self.setup_reverts = dict(self.tx.reverts)
        if self.setup_reverts:
            raise RuntimeError(f"replay setup failed: {self.setup_reverts}")
        self.tx.count, self.tx.by_kind, self.tx.reverts, self.tx.chain_seconds = 0, {}, {}, 0.0
        self.scan_seconds = 0.0  # inside the on-chain full scans (step loop and final)
        self.read_seconds = 0.0  # inside the per-step reads (read_step), decoding included
        self.checker = InvariantChecker(len(self.book), self.n_markets, self.precision)
        if self._full_scan_every is None:
            self.full_scan_every = max(DEFAULT_FULL_SCAN_EVERY, len(self.book) // 50)
        else:
            self.full_scan_every = max(0, int(self._full_scan_every))
        self.build_seconds = time.perf_counter() - t0
        self._built = True

    @staticmethod
    def _deploy_fresh(protocol: ProtocolParams, start: int) -> tuple[Chain, Any]:
        chain = Chain(timestamp=start, exact_gas=False)
        return chain, deploy_embedded(chain, protocol)

    def new_agent(self, label: str, mint_tokens: int) -> tuple[str, int]:
        """A labelled account with `mint_tokens` collateral, approvals for engine and pool."""
        account = self.chain.new_account(label, eth=10**20)
        idx = self.book.add(account)
        if mint_tokens:
            self.tx.send(
                "setup_mint", self.p.admin, self.wire.token_addr, self.token.mint.calldata(account, mint_tokens)
            )
        self.tx.send("setup_approve", account, self.wire.token_addr, self.wire.approve_engine)
        self.tx.send("setup_approve", account, self.wire.token_addr, self.wire.approve_pool)
        return account, idx

    # ------------------------------------------------------------------ reads
    def _market_now(self, data: bytes, base: int, state: dict[str, int], mark: int, index: int) -> MarketNow:
        """A MarketNow from a raw MarketState at `base` (byte offsets by field name)."""
        fb = int.from_bytes

        def u(name: str) -> int:
            at = base + state[name]
            return fb(data[at : at + 32], "big")

        def i(name: str) -> int:
            at = base + state[name]
            return fb(data[at : at + 32], "big", signed=True)

        return MarketNow(
            index=index,
            mark=mark,
            cumulative=i("cumulative_funding_per_unit"),
            rate=i("funding_rate"),
            long_oi=u("long_open_interest"),
            short_oi=u("short_open_interest"),
            multiplier=u("risk_multiplier"),
            last_price=u("last_price"),
            sum_size_entry=i("sum_size_entry_price"),
            long_sum_size_entry=i("long_sum_size_entry_price"),
        )

    def read_markets(self) -> list[MarketNow]:
        out = []
        call = self.chain.call
        fb = int.from_bytes
        pool_balance = self.wire.read_int(self.wire.cd_pool_balance)
        for m in range(self.n_markets):
            state = call(self.wire.engine_addr, self.wire.cd_market_state[m])
            mark = fb(call(*self.wire.cd_mark[m])[:32], "big")
            index = fb(call(*self.wire.cd_index[m])[:32], "big")
            now = self._market_now(state, 0, self.wire.state_layout, mark, index)
            now.pool_balance = pool_balance
            out.append(now)
        return out

    def read_globals(self) -> Globals:
        call = self.chain.call
        fb = int.from_bytes
        return Globals(
            token_balance=fb(call(*self.wire.cd_balance)[:32], "big"),
            pool_balance=fb(call(*self.wire.cd_pool_balance)[:32], "big", signed=True),
            pool_value=fb(call(*self.wire.cd_pool_value)[:32], "big", signed=True),
            insurance=fb(call(*self.wire.cd_insurance)[:32], "big"),
        )

    def read_step(self) -> tuple[list[MarketNow], Globals]:
        """The step's chain reads in one ``EngineLens.step_read`` call: every market
        (state and mark), the engine's books, and the re-read of the accounts touched
        since the last sync (beyond one call's worth, the rest through :meth:`sync`).
        The same values as :meth:`read_markets`, :meth:`read_globals` and :meth:`sync`."""
        t0 = time.perf_counter()
        touched = sorted(self.tx.take_touched())
        touched_head, rest = touched[: self.wire.sync_batch], touched[self.wire.sync_batch :]
        words = self.book.address_words
        out = self.chain.call(
            self.wire.lens_addr, self.wire.sel_step_read + word(32) + word_array([words[i] for i in touched_head])
        )
        fb = int.from_bytes
        body = out[32:]  # StepRead behind its head offset
        head = self.wire.step_head  # every offset by field name, from the ABI

        def field(name: str, signed: bool = False) -> int:
            return fb(body[head[name] : head[name] + 32], "big", signed=signed)

        g = Globals(
            token_balance=field("token_balance"),
            pool_balance=field("pool_balance", True),
            pool_value=field("pool_value", True),
            insurance=field("insurance_fund"),
        )
        at = field("markets")  # MarketRead[]
        markets = []
        read = self.wire.read_layout
        mark_at, index_at, stride = read["mark"], read["index"], self.wire.read_stride
        for m in range(fb(body[at : at + 32], "big")):
            base = at + 32 + stride * m
            now = self._market_now(
                body,
                base,
                read,
                fb(body[base + mark_at : base + mark_at + 32], "big"),
                fb(body[base + index_at : base + index_at + 32], "big"),
            )
            now.pool_balance = g.pool_balance
            markets.append(now)
        self.markets = markets
        if touched_head:
            at = field("margins")
            margins = [
                fb(body[o : o + 32], "big", signed=True) for o in range(at + 32, at + 32 + 32 * len(touched_head), 32)
            ]
            at = field("positions")
            n_markets = self.n_markets
            end = at + 32 + 32 * self.wire.position_words * n_markets * len(touched_head)
            values = [fb(body[o : o + 32], "big", signed=True) for o in range(at + 32, end, 32)]
            positions = self._positions(values)
            set_state = self.book.set_state
            for k, idx in enumerate(touched_head):
                set_state(idx, margins[k], positions[k * n_markets : (k + 1) * n_markets])
        if rest:
            self.tx.touched.update(rest)
            self.sync(refresh=False)
        self.read_seconds += time.perf_counter() - t0
        return markets, g

    def sync(self, refresh: bool = True) -> None:
        """Re-read every account touched since the last sync (batched lens views).

        ``refresh=False`` skips recomputing the re-read holders' equity at the current
        markets (the caller evaluates every account right after)."""
        touched = self.tx.take_touched()
        if not touched:
            return
        touched = sorted(touched)
        book = self.book
        call = self.chain.call
        lens = self.wire.lens_addr
        n_markets = self.n_markets
        words = book.address_words
        markets = self.markets
        for start in range(0, len(touched), SCAN_BATCH):
            chunk = touched[start : start + SCAN_BATCH]
            array = word_array([words[i] for i in chunk])
            margins = int_array(call(lens, self.wire.sel_margins + word(32) + array))
            if n_markets == 1:
                data = self.wire.sel_positions + word(64) + word(0) + array
                for idx, margin, position in zip(chunk, margins, self._position_array(call(lens, data))):
                    book.set_state(idx, margin, (position,))
                    if refresh:
                        book.refresh(idx, markets)
                continue
            positions = []
            for m in range(n_markets):
                data = self.wire.sel_positions + word(64) + word(m) + array
                positions.append(self._position_array(call(lens, data)))
            for k, idx in enumerate(chunk):
                book.set_state(idx, margins[k], [positions[m][k] for m in range(n_markets)])
                if refresh:
                    book.refresh(idx, markets)

    def _positions(self, words: list[int]) -> list[tuple[int, ...]]:
        """Encoded Positions (flat words) as (size, entry_price, funding_index) tuples."""
        width, order = self.wire.position_words, self.wire.position_order
        return [tuple(words[at + w] for w in order) for at in range(0, len(words), width)]

    def _position_array(self, data: bytes) -> list[tuple[int, ...]]:
        """A returned ``Position[]`` as (size, entry_price, funding_index) tuples."""
        return self._positions([w for row in static_tuple_array(data, self.wire.position_words) for w in row])

    def scan(self) -> tuple[int, int, int, int, list[int]]:
        """EngineLens.scan_accounts over every account (on-chain sums)."""
        t0 = time.perf_counter()
        totals = [0, 0, 0, 0]
        below: list[int] = []
        head = self.wire.scan_head
        words = self.book.address_words
        for start in range(0, len(words), SCAN_BATCH):
            out = self.chain.call(
                self.wire.lens_addr, self.wire.sel_scan + word(32) + word_array(words[start : start + SCAN_BATCH])
            )
            body = out[32:]  # AccountScan behind its head offset; fields by name
            for k, name in enumerate(("margin_sum", "positive_equity_sum", "negative_equity_sum")):
                at = head[name]
                totals[k] += int.from_bytes(body[at : at + 32], "big", signed=True)
            totals[3] += uint_at(body, head["with_positions"] // 32)
            offset = uint_at(body, head["below_maintenance"] // 32)
            count = int.from_bytes(body[offset : offset + 32], "big")
            below += [
                start + int.from_bytes(body[offset + 32 + 32 * i : offset + 64 + 32 * i], "big") for i in range(count)
            ]
        self.scan_seconds += time.perf_counter() - t0
        return totals[0], totals[1], totals[2], totals[3], below

    # ------------------------------------------------------------------- run
    def push_prices(self, step: int, flows: list[int]) -> None:
        feeder = self.p.feeder
        for m in range(self.n_markets):
            answer = self.spot[m].answer(step, flows[m])
            if (
                self.tx.send("oracle_push", feeder, self.oracle_addrs[m], self.wire.sel_push + word(answer) + word(0))
                is None
            ):
                raise RuntimeError(f"step {step}: oracle push rejected: {self.tx.reverts}")
            if self.tx.send("oracle_poke", feeder, self.wire.engine_addr, self.wire.cd_poke[m]) is None:
                raise RuntimeError(
                    f"step {step}: the engine rejected the {self.symbols[m]} round (answer {answer}): "
                    f"{self.tx.reverts}. max_price_jump is {self.params.protocol.markets[m].max_price_jump}"
                )

    def run(self, progress: bool | Callable[[int, int], None] = False) -> dict[str, Any]:
        if not self._built:
            self.build()
        chain = self.chain
        metrics = self.metrics
        checker = self.checker
        flows = [0] * self.n_markets
        self.exact_steps = 0
        self.insurance_path: list[int] = []
        self.pool_path: list[int] = []
        self.pool_contributed: list[int] = []  # LPs' net deposits (tokens) at the same instants
        self.share_price: list[float] = []
        max_funding = 0
        max_gap = 0.0
        bar = _progress(progress, self.n_steps, f"{self.scenario.name} [{self.params.mitigations}]")
        spot = self.spot
        prices = [self.paths[s].prices for s in self.symbols]
        by_kind = self.tx.by_kind
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        try:
            for step, ts in enumerate(self.timestamps):
                metrics.step = step
                chain.advance(ts - chain.time)
                self.push_prices(step, flows)
                # markets, books, and the accounts the previous step's agents (and the feeder) touched
                markets, g = self.read_step()
                if self.contagion is not None:
                    self.contagion.on_step(step, markets)
                scan_due = bool(self.full_scan_every) and step % self.full_scan_every == 0
                ev = self.book.evaluate(markets, exact=scan_due)
                if checker.needs_exact(ev, g):
                    ev = self.book.evaluate(markets, exact=True)
                    self.exact_steps += 1
                checker.check(step, ev, g, markets)
                if scan_due:
                    checker.check_scan(step, ev, self.scan())
                self._record_money(g)
                for now in markets:
                    if abs(now.rate) > max_funding:
                        max_funding = abs(now.rate)
                    gap = abs(now.mark - now.index) / now.index
                    if gap > max_gap:
                        max_gap = gap
                # keepers, then the waterfall's last step
                batches = by_kind.get("liquidate_many", 0)
                self.keepers.act(step, ev.below_maintenance)
                self.sync()
                # the waterfall's last step: only liquidations (bad debt) can empty the insurance fund
                liquidated = by_kind.get("liquidate_many", 0) != batches
                triggered = any(now.adl_triggered(rules) for now, rules in zip(markets, self.book.rules))
                if triggered or (
                    (liquidated or (g.insurance == 0 and g.pool_value < 0))
                    and self.wire.read_uint(self.wire.cd_insurance) == 0
                    and self.wire.read_int(self.wire.cd_pool_value) < 0
                ):
                    self.keepers.deleverage(step)
                desk = self.desk
                if desk is not None:
                    desk.act(step)
                self.lps.act(step, g.pool_value)
                swaps = self.swaps
                if swaps is not None:
                    swaps.act(step)
                changed = self.book.take_changed()
                self.basis.act(step, changed)
                self.traders.act(step, changed)
                if swaps is not None:
                    swaps.after_agents(step)
                # (the accounts they touched are re-read at the start of the next step)
                flow_list = [s.take_flow()[0] for s in spot]
                metrics.row(
                    step,
                    ts,
                    markets,
                    g,
                    ev,
                    [p[step] for p in prices],
                    flow_list,
                    [s.log_impact for s in spot],
                    self.symbols,
                )
                if desk is not None:
                    desk.annotate(metrics.rows[-1])
                if swaps is not None:
                    swaps.annotate(metrics.rows[-1])
                flows = flow_list
                if bar is not None:
                    bar(step + 1, self.n_steps)
        finally:
            if bar is not None and hasattr(bar, "close"):
                bar.close()
        loop_seconds = time.perf_counter() - t0
        self.loop_cpu_seconds = time.process_time() - cpu0  # this process's CPU time (robust to load)
        self.loop_scan_seconds, self.loop_read_seconds = self.scan_seconds, self.read_seconds
        # the books after the last step's transactions
        t_final = time.perf_counter()
        markets, g = self.read_step()
        ev = self.book.evaluate(markets, exact=True)
        checker.check(self.n_steps, ev, g, markets)
        checker.check_scan(self.n_steps, ev, self.scan())
        self._record_money(g)
        self.final = (g, ev)
        self.final_check_seconds = time.perf_counter() - t_final  # not in the report (timing)
        return self.report(loop_seconds, max_funding, max_gap)

    def _record_money(self, g: Globals) -> None:
        self.insurance_path.append(g.insurance)
        self.pool_path.append(g.pool_value)
        self.pool_contributed.append(self.lps.net_tokens)
        self.share_price.append(self.lps.share_price(g.pool_value))

    # ----------------------------------------------------------------- report
    def report(self, loop_seconds: float, max_funding: int, max_gap: float) -> dict[str, Any]:
        m = self.metrics
        g, ev = self.final
        tx_count = self.tx.count
        oracle_tx = self.tx.by_kind.get("oracle_push", 0) + self.tx.by_kind.get("oracle_poke", 0)
        insurance = [usd(x) for x in self.insurance_path]
        pool = [usd(x) for x in self.pool_path]
        # the LPs' result: pool value minus what they put in net (withdrawals are not losses)
        pool_pnl = [v - c / 10**self.decimals for v, c in zip(pool, self.pool_contributed)]
        wall = self.build_seconds + loop_seconds
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "param_set": self.params.param_set,
            "mitigations": self.params.mitigations,
            "markets": self.symbols,
            "traders": self.directional,
            "basis_traders": self.basis_count,
            "lps": self.lps.n,
            "keepers": self.keepers.n,
            "keeper_delay_steps": self.keepers.delay,
            "keeper_batch": self.keepers.batch,
            "steps": self.n_steps,
            "step_seconds": self.step_seconds,
            "start": iso_utc(self.timestamps[0]),
            "end": iso_utc(self.timestamps[-1]),
            "impact_enabled": bool(self.scenario.impact.enabled),
            "tx_count": tx_count,
            "agent_tx_count": tx_count - oracle_tx,
            "tx_by_kind": dict(sorted(self.tx.by_kind.items())),
            "reverted_tx": dict(sorted(self.tx.reverts.items())),
            "setup_tx_count": self.setup_tx,
            "wall_seconds": round(wall, 3),
            "build_seconds": round(self.build_seconds, 3),
            "loop_seconds": round(loop_seconds, 3),
            "loop_cpu_seconds": round(self.loop_cpu_seconds, 3),
            "tx_per_second": round(tx_count / loop_seconds, 1) if loop_seconds > 0 else None,
            "agent_tx_per_second": round((tx_count - oracle_tx) / loop_seconds, 1) if loop_seconds > 0 else None,
            "chain_seconds": round(self.tx.chain_seconds, 3),
            "tx_per_chain_second": round(tx_count / self.tx.chain_seconds, 1) if self.tx.chain_seconds > 0 else None,
            "scan_seconds": round(self.loop_scan_seconds, 3),
            "read_seconds": round(self.loop_read_seconds, 3),
            "liquidations": sum(int(v[0]) for v in m.by_tier.values()),
            "liquidated_notional": sum(v[1] for v in m.by_tier.values()),
            "liquidations_by_tier": m.tiers(),
            "largest_liquidation_notional": m.largest_liquidation,
            "bad_debt": usd(m.bad_debt),
            "bad_debt_from_insurance": usd(m.bad_debt_from_insurance),
            "bad_debt_from_pool": usd(m.bad_debt_from_pool),
            "bad_debt_events": m.bad_debt_events,
            "pending_bad_debt_end": usd(ev.negative_equity),
            "keeper_rewards": usd(m.keeper_rewards),
            "liquidation_penalties": usd(m.penalties),
            "insurance_fund_start": insurance[0],
            "insurance_fund_min": min(insurance),
            "insurance_fund_end": insurance[-1],
            "insurance_fund_drawdown": insurance[0] - min(insurance),
            "pool_assets_start": pool[0],
            "pool_assets_min": min(pool),
            "pool_assets_end": pool[-1],
            "pool_drawdown": _max_drawdown(pool_pnl),
            "pool_pnl_end": pool_pnl[-1],
            "pool_share_price_drawdown": _max_drawdown(self.share_price) / max(max(self.share_price), 1e-18),
            "lp_net_withdrawn": (self.pool_contributed[0] - self.pool_contributed[-1]) / 10**self.decimals,
            "adl_events": m.adl_events,
            "adl_haircut": usd(m.adl_haircut),
            "adl_notional": m.adl_notional,
            "adl_policy": self.keepers.cfg.adl_policy,
            "adl_minimal_haircut": round(self.keepers.stats["adl_minimal_haircut"], 2),
            "adl_trader_loss": round(self.keepers.stats["adl_trader_loss"], 2),
            "adl_overshoot": round(
                self.keepers.stats["adl_trader_loss"] - self.keepers.stats["adl_minimal_haircut"], 2
            ),
            "max_abs_funding_rate": max_funding / WAD,
            "max_mark_index_gap": max_gap,
            "lp_withdrawals": m.lp_withdrawals,
            "agents": {
                "directional": self.traders.stats,
                "basis": self.basis.stats,
                "lps": self.lps.stats,
                "keepers": self.keepers.stats,
            },
            "spot": {
                sym: {
                    "min_price": min(r.get("index" if k == 0 else f"{sym}_index") for r in m.rows),
                    "max_price": max(r.get("index" if k == 0 else f"{sym}_index") for r in m.rows),
                    "path_min_price": usd(self.paths[sym].min_price()),
                    "path_max_price": usd(self.paths[sym].max_price()),
                }
                for k, sym in enumerate(self.symbols)
            },
            "parameters": self.params.describe(),
            "agent_config": {k: v for k, v in self.cfg.__dict__.items()},
            "full_scan_every": self.full_scan_every,
            "exact_reevaluations": self.exact_steps,
            "units": "money in USD; funding per 8 h as a fraction; gap = |mark / index - 1|",
            "notes": (
                "tx_count counts every transaction of the step loop, the feeder's oracle pushes and pokes "
                "included (agent_tx_count excludes them); tx_per_second = tx_count / loop_seconds "
                "(deployment and agent setup excluded, wall_seconds includes them); pool_assets = the "
                "pool's value (balance - traders' unrealized PnL + funding owed); pool_drawdown is the "
                "largest fall of pool value net of LP deposits and withdrawals"
            ),
        }
        out.update(self.checker.summary())
        if self.desk is not None:
            out["options_desk"] = self.desk.report()
        if self.swaps is not None:
            out["funding_swaps"] = self.swaps.report()
        if self.contagion is not None:  # multi-market only: single-market reports are unchanged
            out["contagion"] = self.contagion.summary(m.rows, self.timestamps, bool(self.scenario.impact.enabled))
        return out


def _max_drawdown(values: list[float]) -> float:
    """Largest fall from a running peak (same units as `values`)."""
    peak = float("-inf")
    worst = 0.0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, peak - v)
    return worst


def _progress(progress: bool | Callable[[int, int], None], total: int, label: str) -> Any:
    if callable(progress):
        return progress
    if not progress:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
        transient=False,
    )
    bar.start()
    task = bar.add_task(label, total=total)

    every = max(5, total // 100)  # at most ~100 redraws, whatever the horizon

    class _Bar:
        def __call__(self, done: int, _total: int) -> None:
            if done % every == 0 or done == total:
                bar.update(task, completed=done)

        def close(self) -> None:
            bar.update(task, completed=total)
            bar.stop()

    return _Bar()


def run_replay(
    scenario: Scenario | str | Path,
    traders: int | None = None,
    param_set: str | None = None,
    out_dir: str | Path | None = None,
    progress: bool | Callable[[int, int], None] = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Replay `scenario` and return the report dict; with `out_dir`, also write
    report.json, timeseries.csv and cascade.png there.

    Keyword arguments: ``mitigations`` ("off"/"on", overrides the parameter set),
    ``seed``, ``steps`` (cap on the horizon), ``agent_config`` (:class:`AgentConfig`),
    ``full_scan_every`` (steps between on-chain full scans; 1 = every step, 0 = only at
    the end; default :data:`DEFAULT_FULL_SCAN_EVERY`), ``overrides`` (parameters by flat name, e.g.
    ``{"max_leverage": 20, "keeper_delay_steps": 3, "bracket_scale": 1.5}``: see
    :mod:`vyperp.sim.overrides`), ``price_paths`` (symbol -> :class:`PricePath`, instead of the
    scenario's), ``record``, ``chain_factory`` (start timestamp ->
    a chain with ``Chain``'s API, e.g. ``vyperp.chain.rpc_chain.RpcChain.factory(node_url)`` for anvil;
    default: the embedded ``Chain(exact_gas=False)``).
    """
    return replay_and_report(scenario, traders, param_set, out_dir, progress, **kwargs)[1]


def replay_and_report(
    scenario: Scenario | str | Path,
    traders: int | None = None,
    param_set: str | None = None,
    out_dir: str | Path | None = None,
    progress: bool | Callable[[int, int], None] = True,
    **kwargs: Any,
) -> tuple[Replay, dict[str, Any]]:
    """As :func:`run_replay`, also returning the :class:`Replay` (its rows, agents, chain)."""
    replay = Replay(scenario, traders, param_set, **kwargs)
    report = replay.run(progress)
    if out_dir is not None:
        from .report import write_outputs

        write_outputs(replay, report, Path(out_dir))
    return replay, report


__all__ = ["DEFAULT_FULL_SCAN_EVERY", "Replay", "replay_and_report", "run_replay"]
