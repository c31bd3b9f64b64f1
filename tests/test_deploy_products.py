"""The protocol's deploy path deploys and binds FundingSwaps and FundingCaps when the
parameter file enables its `[swaps]` / `[caps]` tables: configured as the file says, the
maturities and products listed at the deployment's time rounded up to an 8-hour
boundary, the addresses and listings in the deployment's record; a file without them
(and every replay's parameters) deploys neither; a bad key is an error naming it,
before any transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from vyperp import resources
from vyperp.chain import Chain
from vyperp.protocol.deploy import DeployError, deploy_embedded, deploy_protocol
from vyperp.protocol.params import ProtocolParams, load_params
from vyperp.protocol.product_params import FUNDING_PERIOD, align
from vyperp.protocol.system import System
from vyperp.protocol.units import wad

DAY = 86_400
T0 = 1_700_000_123  # not on a funding boundary


def enabled_defaults(tmp_path: Path) -> Path:
    """default.toml with both products switched on."""
    text = (resources.PARAMS / "default.toml").read_text()
    assert text.count("enabled = false") == 2
    path = tmp_path / "products.toml"
    path.write_text(text.replace("enabled = false", "enabled = true"))
    return path


def test_default_file_documents_both_and_deploys_neither() -> None:
    params = load_params(resources.PARAMS / "default.toml")
    assert params.swaps is not None and params.caps is not None
    assert not params.deploys_swaps() and not params.deploys_caps()
    chain = Chain(timestamp=T0)
    admin = chain.new_account("admin", eth=10**22)
    names: list[str] = []

    def deploy(name: str, *args):
        names.append(name)
        return chain.deploy(name, *args, sender=admin)

    protocol = deploy_protocol(deploy, params, admin, admin, at=chain.at, now=lambda: chain.time)
    assert "FundingSwaps" not in names and "FundingCaps" not in names
    assert protocol.addresses()["swaps"] is None and protocol.addresses()["caps"] is None
    assert int(protocol.engine.swaps(), 16) == 0
    assert "swap_maturities" not in protocol.record()


def test_replay_parameters_deploy_no_products() -> None:
    system = System.deploy(ProtocolParams())
    assert system.swaps is None and system.caps is None
    assert int(system.engine.swaps(), 16) == 0


def test_enabled_file_deploys_binds_configures_and_lists(tmp_path: Path) -> None:
    params = load_params(enabled_defaults(tmp_path))
    system = System(chain := Chain(timestamp=T0), deploy_embedded(chain, params))
    swaps, caps = system.swaps, system.caps
    assert swaps is not None and caps is not None
    assert system.engine.swaps() == swaps.address
    s = params.swaps
    assert (swaps.initial_k(), swaps.maintenance_k(), swaps.time_floor(), swaps.rate_floor()) == (
        wad(s.initial_k),
        wad(s.maintenance_k),
        s.time_floor,
        wad(s.rate_floor),
    )
    assert (swaps.reward_rate(), swaps.penalty_rate()) == (wad(s.reward_rate), wad(s.penalty_rate))
    assert (swaps.skew_scale_fraction(), swaps.perp_open_interest_fraction()) == (
        wad(s.skew_scale_fraction),
        wad(s.perp_open_interest_fraction),
    )
    assert (swaps.ema_period(), swaps.base_spread(), swaps.skew_slope(), swaps.utilisation_slope()) == (
        s.ema_period,
        wad(s.base_spread),
        wad(s.skew_slope),
        wad(s.utilisation_slope),
    )
    record = system.p.record()
    btc30, btc90 = align(T0 + 30 * DAY), align(T0 + 90 * DAY)
    assert btc30 % FUNDING_PERIOD == 0 and T0 + 30 * DAY <= btc30 < T0 + 30 * DAY + FUNDING_PERIOD
    assert record["swap_maturities"] == {"BTC": [btc30, btc90], "ETH": [align(T0 + 30 * DAY)]}
    assert swaps.books(0, btc30).listed and swaps.books(0, btc90).listed and swaps.books(1, btc30).listed
    assert (swaps.maturity_count(0), swaps.maturity_count(1)) == (2, 1)
    c = params.caps
    assert int(caps.TWAP_WINDOW()) == c.twap_window and caps.COLLATERAL() == system.token.address
    assert (caps.spread(), caps.min_premium()) == (wad(c.spread), wad(c.min_premium))
    assert (caps.volatility(0), caps.volatility(1)) == (wad(c.volatility["BTC"]), wad(c.volatility["ETH"]))
    assert caps.product_count() == 2
    for i, product in enumerate(c.products):
        on_chain = caps.products(i)
        assert (on_chain.market, on_chain.is_floor, on_chain.strike) == (
            0,
            product.kind == "floor",
            wad(product.strike),
        )
        assert (on_chain.start, on_chain.period, on_chain.periods) == (align(T0 + DAY), product.period, product.periods)
        assert on_chain.max_notional == wad(product.max_notional)
        assert record["cap_products"][str(i)]["start"] == on_chain.start
    addresses = system.p.addresses()
    assert (addresses["swaps"], addresses["caps"]) == (swaps.address, caps.address)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[swaps]\ninitial_k = 2.0\nmaintenance_k = 2.0\n", "swaps.initial_k: must be above maintenance_k"),
        ("[swaps]\nmaintenance_k = 0\n", "swaps.maintenance_k: must be above 0"),
        ("[swaps]\nrate_floor = 0.02\n", "swaps.rate_floor: must be at most 0.01"),
        ("[swaps]\nreward_rate = 0.2\n", "swaps.reward_rate: must be at most 0.1"),
        ("[swaps]\nskew_scale_fraction = 1.5\n", "swaps.skew_scale_fraction: must be at most 1"),
        ("[swaps]\nema_period = 0\n", "swaps.ema_period: must be 1 second to 30 days"),
        ("[swaps]\nbase_spread = 0.05\n", "swaps.base_spread: must be at most 0.01"),
        ('[swaps]\nenabled = "yes"\n', "swaps.enabled: expected true or false"),
        ('[swaps]\ninitial_k = "four"\n', "swaps.initial_k: expected a number"),
        ("[swaps]\nmaturity = []\n", "swaps: unknown parameter 'maturity'"),
        ('[swaps]\nmaturities = [["SOL", 30]]\n', "swaps.maturities[0]: unknown market 'SOL'"),
        ('[swaps]\nmaturities = [["BTC", 0]]\n', "swaps.maturities[0]: days must be above 0"),
        ('[swaps]\nmaturities = [["BTC", 7], ["BTC", 7]]\n', "swaps.maturities[1]: BTC 7.0 days listed twice"),
        ('[swaps]\nmaturities = [["BTC"]]\n', "swaps.maturities[0]: expected [MARKET, DAYS]"),
        ("[caps]\ntwap_window = 0\n", "caps.twap_window: must be a whole number of seconds above 0"),
        ("[caps]\nspread = 2\n", "caps.spread: must be at most 1"),
        ("[caps.volatility]\nSOL = 0.1\n", "caps.volatility.SOL: unknown market 'SOL'"),
        ("[caps.volatility]\nBTC = 2\n", "caps.volatility.BTC: must be at most 1"),
        ('[[caps.products]]\nmarket = "BTC"\nkind = "collar"\n', 'caps.products[0].kind: must be "cap" or "floor"'),
        (
            '[[caps.products]]\nmarket = "BTC"\nstrike = 0.003\n',
            "caps.products[0].strike: beyond the market's funding cap",
        ),
        ('[[caps.products]]\nmarket = "BTC"\nkind = "floor"\nstrike = -0.003\n', "caps.products[0].strike: beyond"),
        ('[[caps.products]]\nmarket = "BTC"\nperiods = 33\n', "caps.products[0].periods: must be 1 to 32"),
        ('[[caps.products]]\nmarket = "BTC"\nperiod = 0\n', "caps.products[0].period: must be 1 to"),
        ('[[caps.products]]\nmarket = "BTC"\nstart_days = 0\n', "caps.products[0].start_days: must be above 0"),
        ('[[caps.products]]\nmarket = "BTC"\nmax_notional = 0\n', "caps.products[0].max_notional: must be above 0"),
        ('[[caps.products]]\nkind = "cap"\n', "caps.products[0]: needs market"),
        ('[[caps.products]]\nmarket = "BTC"\nstrike = "high"\n', "caps.products[0].strike: expected a number"),
        ('[[caps.products]]\nmarket = "BTC"\nmax_notional = "lots"\n', "caps.products[0].max_notional: expected"),
        ('[swaps]\nmaturities = [["BTC", "soon"]]\n', "swaps.maturities[0].days: expected a number"),
        ("[swaps]\nskew_slope = 1.01\n", "swaps.skew_slope: must be at most 1"),
        ("[swaps]\nbase_spread = 0.02\n", "swaps.base_spread: must be at most 0.01"),
    ],
)
def test_a_bad_key_is_an_error_naming_it(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[markets]]\nsymbol = "BTC"\n\n' + table)
    with pytest.raises(ValueError) as exc:
        load_params(path)
    assert message in str(exc.value) and str(path) in str(exc.value)


def test_the_file_and_the_code_deploy_the_same_swap_configuration() -> None:
    """[swaps] defaults, default.toml's documented values and SwapParams (what a script
    deploys) are one configuration, the manipulation-safe skew spread (1/4) included, and
    the file accepts the contract's whole skew_slope range."""
    from dataclasses import replace

    from vyperp.protocol.product_params import SwapsParams, validate_swaps
    from vyperp.protocol.swaps import SwapParams

    assert SwapsParams().contract_params() == SwapParams()
    documented = load_params(resources.PARAMS / "default.toml").swaps
    assert documented is not None and documented.contract_params() == SwapParams()
    assert SwapParams().skew_slope == wad("0.25")
    validate_swaps(replace(SwapsParams(), skew_slope=1.0), ["BTC"])


def test_invalid_parameters_in_code_fail_before_any_transaction() -> None:
    from dataclasses import replace

    from vyperp.protocol.product_params import SwapsParams

    chain = Chain(timestamp=T0)
    admin = chain.new_account("admin", eth=10**22)
    params = replace(ProtocolParams(), swaps=SwapsParams(initial_k=1.0, maintenance_k=2.0))
    with pytest.raises(DeployError, match="swaps.initial_k"):
        deploy_embedded(chain, params, admin=admin)
    assert chain.get_nonce(admin) == 0
