"""A deployed protocol on the embedded chain plus the verbs tests, the demo and the
replay share: fund an account, move a price, let time pass, trade, read the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..chain import Chain, ChainAPI
from .deploy import Protocol, deploy_embedded, oracle_answer
from .params import ProtocolParams
from .units import WAD

MAX_UINT = 2**256 - 1
START_TIME = 1_700_000_000


@dataclass
class Ledger:
    """The engine's books at one instant (internal 1e18 units)."""

    token_balance: int  # collateral tokens held by the engine (token units)
    margins: int  # sum of the listed accounts' margins
    pool_balance: int
    insurance_fund: int
    precision: int

    @property
    def held(self) -> int:
        return self.token_balance * self.precision

    @property
    def booked(self) -> int:
        return self.margins + self.pool_balance + self.insurance_fund


class System:
    """Protocol + chain with convenience verbs. Prices are USD floats/ints/strings."""

    def __init__(self, chain: ChainAPI, protocol: Protocol):
        self.chain = chain
        self.p = protocol
        self.engine = protocol.engine
        self.token = protocol.token
        self.pool = protocol.pool
        self.lens = protocol.lens
        self.order_book = protocol.order_book
        self.configurator = protocol.configurator
        self.swaps = protocol.swaps  # FundingSwaps when the parameters deploy it, else None
        self.caps = protocol.caps  # FundingCaps when the parameters deploy it, else None
        self.oracles = protocol.oracles
        self.admin = protocol.admin
        self.feeder = protocol.feeder
        self.precision = int(self.engine.PRECISION())
        self.decimals = protocol.params.token_decimals
        self.prices: list[Any] = [m.initial_price for m in protocol.params.markets]
        self.accounts: list[str] = []
        self.node: Any = None  # the AnvilNode deploy_anvil started (backend "anvil")

    @classmethod
    def deploy(
        cls,
        params: ProtocolParams | None = None,
        timestamp: int | None = None,
        backend: str = "revm",
        **chain_kwargs: Any,
    ) -> System:
        """Deploy on a fresh embedded chain (pyrevm) at `timestamp` (default START_TIME);
        `backend="ape"` deploys on ape's local network instead (see deploy_ape),
        `backend="anvil"` on a local anvil node through RpcChain (see deploy_anvil)."""
        if backend == "ape":
            return cls.deploy_ape(params, timestamp, **chain_kwargs)
        if backend == "anvil":
            return cls.deploy_anvil(params, timestamp, **chain_kwargs)
        if backend != "revm":
            raise ValueError(f"unknown backend {backend!r} (revm, anvil or ape)")
        chain = Chain(timestamp=START_TIME if timestamp is None else timestamp, **chain_kwargs)
        return cls(chain, deploy_embedded(chain, params))

    # ---------------------------------------------------------------- second backend: ape
    @classmethod
    def deploy_ape(
        cls, params: ProtocolParams | None = None, timestamp: int | None = None, **chain_kwargs: Any
    ) -> System:
        """Deploy on ape's local network (`ethereum:local:test`, eth-tester) through
        `vyperp.chain.ape_chain.ApeChain`: slower, same API. `timestamp` defaults to the
        newest block's time (ape's chain starts at the wall clock and cannot go back);
        `chain_kwargs` go to ApeChain (contracts_dir, gas_limit)."""
        from ..chain.ape_chain import ApeChain

        chain = ApeChain(timestamp=timestamp, **chain_kwargs)
        return cls(chain, deploy_embedded(chain, params))

    # ---------------------------------------------------------------- third backend: anvil
    @classmethod
    def deploy_anvil(
        cls,
        params: ProtocolParams | None = None,
        timestamp: int | None = None,
        *,
        node: Any = None,
        url: str | None = None,
        **chain_kwargs: Any,
    ) -> System:
        """Deploy on anvil through `vyperp.chain.rpc_chain.RpcChain` at `timestamp`
        (default START_TIME), after ``anvil_reset``. Uses the node at `url`, else `node`
        (a running :class:`vyperp.node.AnvilNode`), else starts a private AnvilNode (kept
        in ``system.node``; stopped by ``node.stop()`` or at interpreter exit).
        `chain_kwargs` go to RpcChain (gas_limit, contracts_dir, exact_gas; ``code_size_limit``
        goes to the node it starts)."""
        from ..chain.node import AnvilNode
        from ..chain.rpc_chain import RpcChain

        code_size_limit = chain_kwargs.pop("code_size_limit", None)
        if url is None:
            if node is None:
                node = AnvilNode(code_size_limit=code_size_limit).start()
            url = node.url
        chain = RpcChain(url, timestamp=START_TIME if timestamp is None else timestamp, reset=True, **chain_kwargs)
        system = cls(chain, deploy_embedded(chain, params))
        system.node = node
        return system

    # ---------------------------------------------------------------- accounts
    def new_trader(self, label: str, deposit_usd: float | int = 0) -> str:
        account = self.chain.new_account(label, eth=10**20)
        self.token.approve(self.engine, MAX_UINT, sender=account)
        self.token.approve(self.pool, MAX_UINT, sender=account)
        self.accounts.append(account)
        if deposit_usd:
            self.fund(account, deposit_usd)
        return account

    def tokens(self, usd: float | int | str) -> int:
        """USD amount -> token units (exact for int/str)."""
        return oracle_answer(usd, self.decimals)

    def mint(self, account: str, usd: float | int | str) -> int:
        amount = self.tokens(usd)
        self.token.mint(account, amount, sender=self.admin)
        return amount

    def fund(self, account: str, usd: float | int | str) -> int:
        """Mint `usd` of collateral to `account` and deposit it as margin."""
        amount = self.mint(account, usd)
        self.engine.deposit(amount, sender=account)
        return amount

    # ---------------------------------------------------------------- prices and time
    def set_price(self, market: int, usd: float | int | str) -> None:
        """Push a new oracle round for `market` at the current time."""
        self.prices[market] = usd
        decimals = self.p.params.markets[market].oracle_decimals
        self.oracles[market].push_round(oracle_answer(usd, decimals), 0, sender=self.feeder)

    def advance(self, seconds: int, refresh: bool = True) -> None:
        """Let time pass; by default re-publish every market's price so none goes stale."""
        self.chain.advance(seconds)
        if refresh:
            for market, price in enumerate(self.prices):
                self.set_price(market, price)

    # ---------------------------------------------------------------- trading
    def trade(self, account: str, market: int, size: int, acceptable_price: int | None = None) -> int:
        """Trade `size` (1e18 base units); no slippage bound unless given."""
        if acceptable_price is None:
            acceptable_price = MAX_UINT if size > 0 else 0
        return int(self.engine.trade(market, size, acceptable_price, sender=account))

    def size_of(self, account: str, market: int) -> int:
        return int(self.engine.position(account, market).size)

    def max_withdrawal(self, account: str) -> int:
        """The largest withdrawal (token units) the engine accepts from `account` now, found
        by trying amounts inside snapshots (a binary search; nothing is committed)."""
        from ..chain import Reverted

        margin = int(self.engine.margin(account))
        lo, hi = 0, max(margin, 0) // self.precision
        while lo < hi:
            mid = (lo + hi + 1) // 2
            with self.chain.isolate():
                try:
                    self.engine.withdraw(mid, sender=account)
                    ok = True
                except Reverted:
                    ok = False
            lo, hi = (mid, hi) if ok else (lo, mid - 1)
        return lo

    # ---------------------------------------------------------------- books
    def ledger(self, accounts: list[str] | None = None) -> Ledger:
        accounts = self.accounts if accounts is None else accounts
        return Ledger(
            token_balance=int(self.token.balanceOf(self.engine)),
            margins=sum(int(self.engine.margin(a)) for a in accounts),
            pool_balance=int(self.engine.pool_balance()),
            insurance_fund=int(self.engine.insurance_fund()),
            precision=self.precision,
        )


__all__ = ["Ledger", "MAX_UINT", "START_TIME", "System", "WAD"]
