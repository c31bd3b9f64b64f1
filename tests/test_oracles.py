"""Tests for the off-chain price-path package ``oracles``.

Run: ``.venv/bin/python -m pytest tests/test_oracles.py -q -p no:ape_test``
"""

from __future__ import annotations

import copy
import csv
import json
import math
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vyperp.oracles.feeder import Feeder
from vyperp.oracles.pricepath import WAD, PricePath, from_wad, to_wad
from vyperp.oracles.sources import (
    DATA_DIR,
    REAL_WINDOWS,
    load_funding_events,
    load_kline_csv,
    load_real,
    load_user_file,
    parse_timestamp,
)
from vyperp.oracles.synthetic import gbm, jump_diffusion, scripted_shock
from vyperp.sim.impact import SpotImpact
from vyperp.sim.scenario import (
    PROTOCOL_PARAM_KEYS,
    SCENARIO_DIR,
    ScenarioError,
    list_scenarios,
    load_scenario,
    parse_scenario,
)

# Row counts and lows as stated in data/README.md.
README_ROWS = {
    "2020-03-12-leg1": 287,
    "2020-03-12-leg2": 287,
    "2021-05-19": 269,
    "2022-06-18": 134,
    "2022-11-08": 267,
    "2025-10-10": 262,
    "2025-10-09-coinm-day": 1440,
    "2025-10-10-coinm-day": 1440,
    "2025-10-10-eth": 262,
}
README_LOWS = {
    "2020-03-12-leg1": "5199.17",
    "2020-03-12-leg2": "3621.81",
    "2021-05-19": "28688.00",
    "2022-06-18": "17593.2",
    "2022-11-08": "16830.0",
    "2025-10-10": "101516.5",
    "2025-10-10-coinm-day": "102497.48513403",
    "2025-10-10-eth": "3681",
}
README_FIRST_OPEN = {"2020-03-12-leg1": ("2020-03-12T10:31:00Z", "7152.42")}


# ------------------------------------------------------------------ real data
def test_shipped_files_exist_and_small() -> None:
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert total < 3 * 1024 * 1024
    assert (DATA_DIR / "README.md").exists()
    for name, path in REAL_WINDOWS.items():
        assert path.exists(), name
    assert set(README_ROWS) == set(REAL_WINDOWS)


@pytest.mark.parametrize("name", sorted(README_ROWS))
def test_real_windows_row_counts(name: str) -> None:
    path = load_real(name)
    assert len(path) == README_ROWS[name]
    # 1-minute contiguous bars, close stamped at bar end
    assert all(b - a == 60 for a, b in zip(path.timestamps, path.timestamps[1:]))
    with open(REAL_WINDOWS[name], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert path.timestamps[0] == int(rows[0]["open_time"]) // 1000 + 60
    assert path.prices[-1] == to_wad(rows[-1]["close"])


@pytest.mark.parametrize("name", sorted(README_LOWS))
def test_real_windows_lows_match_readme(name: str) -> None:
    lows = load_real(name, column="low")
    assert lows.min_price() == to_wad(README_LOWS[name])


def test_kline_open_column_uses_open_time() -> None:
    ts_iso, first_open = README_FIRST_OPEN["2020-03-12-leg1"]
    p = load_real("2020-03-12-leg1", column="open")
    assert p.timestamps[0] == parse_timestamp(ts_iso)
    assert p.prices[0] == to_wad(first_open)
    closes = load_real("2020-03-12-leg1", timestamp="open")
    assert closes.timestamps[0] == p.timestamps[0]


def test_kline_csv_without_header(tmp_path: Path) -> None:
    src = REAL_WINDOWS["2022-06-18"].read_text().splitlines()
    f = tmp_path / "noheader.csv"
    f.write_text("\n".join(src[1:]) + "\n")
    assert load_kline_csv(f).prices == load_real("2022-06-18").prices


def test_exact_decimal_conversion() -> None:
    leg1 = load_real("2020-03-12-leg1")
    assert leg1.prices[0] == 7069070000000000000000  # "7069.07"
    day = load_real("2025-10-10-coinm-day")
    assert day.prices[0] == 121689009652050000000000  # "121689.00965205"
    assert day.to_oracle_answers(8)[0] == 12168900965205
    assert from_wad(day.prices[0]) == Decimal("121689.00965205")
    # integers without a decimal point ("121666") and 8-decimal strings
    prev = load_real("2025-10-09-coinm-day", column="open")
    assert prev.prices[-1] == 121666 * WAD
    # a value that is inexact as a binary float stays exact
    assert to_wad("0.1") == 10**17
    assert to_wad("123456789.123456789123456789") == 123456789123456789123456789
    assert to_wad("1e-18") == 1 and to_wad("-2.5") == -25 * 10**17
    assert to_wad(0.1) == 10**17  # floats go through repr, not binary expansion


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("0.000000000000000001"),
        max_value=Decimal("1e12"),
        places=18,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_to_wad_roundtrip(d: Decimal) -> None:
    assert from_wad(to_wad(d)) == d
    assert to_wad(str(d)) == to_wad(d)


def test_funding_events() -> None:
    events = load_funding_events()
    assert len(events) == 2352
    binance = load_funding_events(event="2020-03-12", exchange="binance", symbol="BTC-USDT")
    worst = min(binance, key=lambda e: e.rate_wad)
    assert worst.rate_wad == to_wad("-0.00300000")
    assert worst.timestamp == parse_timestamp("2020-03-13T08:00:00Z")
    assert worst.interval_hours == 8


# ------------------------------------------------------------------ user data
def test_user_csv_variants(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("Time,volume,Price,note\n1700000000,1,100.5,a\n1700000060,2,101.25,b\n")
    p = load_user_file(f)
    assert p.timestamps == [1700000000, 1700000060]
    assert p.prices == [to_wad("100.5"), to_wad("101.25")]
    g = tmp_path / "ms.csv"
    g.write_text("timestamp;price\n1700000000000;1\n1700000060000;2\n")
    assert load_user_file(g).timestamps == [1700000000, 1700000060]
    h = tmp_path / "iso.csv"
    h.write_text("date,close\n2020-03-12T10:31:00Z,7152.42\n2020-03-12 10:32:00,7065.10\n")
    assert load_user_file(h).timestamps == [1584009060, 1584009120]
    k = tmp_path / "named.csv"
    k.write_text("when,px\n1,2\n3,4\n")
    assert load_user_file(k, timestamp_column="when", price_column="px").prices == [2 * WAD, 4 * WAD]


def test_user_json_variants(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text(json.dumps([{"timestamp": 1700000000, "price": "1.5"}, {"timestamp": 1700000060, "price": 2.25}]))
    assert load_user_file(f).prices == [to_wad("1.5"), to_wad("2.25")]
    g = tmp_path / "b.json"
    g.write_text('{"timestamps": ["2024-01-01T00:00:00Z", 1704067260000], "prices": [0.1, 42]}')
    p = load_user_file(g)
    assert p.timestamps == [1704067200, 1704067260]
    assert p.prices == [10**17, 42 * WAD]  # JSON floats parsed as Decimal: exact


@pytest.mark.parametrize(
    "content, line, needle",
    [
        ("", 1, "empty file"),
        ("   \n\n", 1, "empty file"),
        ("timestamp,price\n", 1, "no data rows"),
        ("timestamp,volume\n1,2\n", 1, "missing price column"),
        ("foo,price\n1,2\n", 1, "missing timestamp column"),
        ("timestamp,price\n1,2\n2,0\n", 3, "price must be positive"),
        ("timestamp,price\n1,2\n2,-5\n", 3, "price must be positive"),
        ("timestamp,price\n1,2\n2,abc\n", 3, "bad price"),
        ("timestamp,price\n5,2\n5,3\n", 3, "strictly increasing"),
        ("timestamp,price\n5,2\n4,3\n", 3, "strictly increasing"),
        ("timestamp,price\n1,2\nyesterday,3\n", 3, "bad timestamp"),
        ("timestamp,price\n1,2\n\n2\n", 4, "expected 2 fields"),
    ],
)
def test_user_csv_errors(tmp_path: Path, content: str, line: int, needle: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(ValueError) as exc:
        load_user_file(f)
    msg = str(exc.value)
    assert msg.startswith(f"{f}:{line}:"), msg
    assert needle in msg, msg


@pytest.mark.parametrize(
    "content, line, needle",
    [
        ("[]", 1, "empty file"),
        ("[\n", 2, "invalid JSON"),
        ('[\n {"timestamp": 1, "price": 1},\n {"timestamp": 2}\n]', 3, "no price key"),
        ('[\n {"timestamp": 1, "price": 1},\n {"timestamp": 1, "price": 2}\n]', 3, "strictly increasing"),
        ('[\n {"timestamp": 1, "price": 1},\n {"timestamp": 2, "price": -1}\n]', 3, "price must be positive"),
        ('{"timestamps": [1, 2]}', 1, "missing key 'prices'"),
        ('{"timestamps": [1, 2], "prices": [1]}', 1, "2 timestamps but 1 prices"),
        ('{"timestamps": [1, 2],\n "prices": [1,\n 0]}', 3, "price must be positive"),
        ('"hello"', 1, "expected a JSON list or object"),
    ],
)
def test_user_json_errors(tmp_path: Path, content: str, line: int, needle: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(ValueError) as exc:
        load_user_file(f)
    msg = str(exc.value)
    assert msg.startswith(f"{f}:{line}:"), msg
    assert needle in msg, msg


def test_missing_file_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file not found"):
        load_user_file(tmp_path / "nope.csv")


# ----------------------------------------------------------------- PricePath
def test_pricepath_validation() -> None:
    with pytest.raises(ValueError, match="empty"):
        PricePath([], [])
    with pytest.raises(ValueError, match="strictly increasing"):
        PricePath([1, 1], [WAD, WAD])
    with pytest.raises(ValueError, match="not positive"):
        PricePath([1, 2], [WAD, 0])
    with pytest.raises(ValueError, match="not an int"):
        PricePath([1, 2], [WAD, 1.5])  # type: ignore[list-item]


def test_resample_and_slice() -> None:
    p = load_real("2020-03-12-leg1")
    r = p.resample(300)
    assert len(r) == (p.end_ts - p.start_ts) // 300 + 1
    assert all(b - a == 300 for a, b in zip(r.timestamps, r.timestamps[1:]))
    lookup = dict(zip(p.timestamps, p.prices))
    assert all(lookup[t] == px for t, px in zip(r.timestamps, r.prices))
    up = p.resample(30)
    assert len(up) == 2 * len(p) - 1
    assert up.prices[1] == p.prices[0] and up.prices[2] == p.prices[1]  # sample-and-hold
    s = p.slice(p.timestamps[10], p.timestamps[20])
    assert len(s) == 10 and s.prices == p.prices[10:20]
    assert p.head(5).prices == p.prices[:5]
    with pytest.raises(ValueError, match="empty"):
        p.slice(0, 1)
    with pytest.raises(ValueError):
        p.resample(0)


def test_rebase_keeps_returns() -> None:
    p = load_real("2021-05-19")
    r = p.rebase(100)
    assert r.prices[0] == 100 * WAD
    assert len(r) == len(p) and r.timestamps == p.timestamps
    for a, b in zip(p.returns(), r.returns()):
        assert abs(a - b) < 1e-12
    assert abs(r.max_drawdown() - p.max_drawdown()) < 1e-12
    assert p.rebase("39235.87").prices == p.prices  # identity


def test_returns_drawdown_and_answers() -> None:
    p = PricePath([0, 60, 120, 180], [to_wad(100), to_wad(120), to_wad(90), to_wad(110)])
    assert p.returns() == pytest.approx([0.2, -0.25, 110 / 90 - 1])
    assert p.max_drawdown() == pytest.approx(0.25)
    assert p.max_runup() == pytest.approx(0.2222222222)
    q = PricePath([0, 1], [to_wad("1.123456789999"), to_wad("2")])
    assert q.to_oracle_answers(8) == [112345678, 200000000]  # truncated, not rounded
    assert q.to_oracle_answers(18) == q.prices
    assert q.to_oracle_answers(0) == [1, 2]


def test_concat_coinm_days() -> None:
    both = load_real("2025-10-09-coinm-day").concat(load_real("2025-10-10-coinm-day"))
    assert len(both) == 2880
    assert all(b - a == 60 for a, b in zip(both.timestamps, both.timestamps[1:]))


# ---------------------------------------------------------------- generators
def test_gbm_deterministic() -> None:
    a = gbm(60000, 0.0, 0.8, 500, 60, seed=1)
    b = gbm(60000, 0.0, 0.8, 500, 60, seed=1)
    c = gbm(60000, 0.0, 0.8, 500, 60, seed=2)
    assert a.prices == b.prices and a.timestamps == b.timestamps
    assert a.prices != c.prices
    assert len(a) == 500 and a.prices[0] == 60000 * WAD
    assert all(p % 10**10 == 0 for p in a.prices)  # quantized to 1e-8
    flat = gbm("123.45", 0.0, 0.0, 10, 60, seed=1)
    assert flat.prices == [to_wad("123.45")] * 10


def test_gbm_volatility_scale() -> None:
    p = gbm(100, 0.0, 0.5, 20001, 3600, seed=7)
    lr = p.log_returns()
    sd = math.sqrt(sum(x * x for x in lr) / len(lr))
    assert sd == pytest.approx(0.5 * math.sqrt(3600 / (365 * 24 * 3600)), rel=0.03)


def test_jump_diffusion_deterministic() -> None:
    args = (60000, 0.0, 0.5, 50_000, -0.05, 0.02, 1000, 60)
    a = jump_diffusion(*args, seed=3)
    b = jump_diffusion(*args, seed=3)
    c = jump_diffusion(*args, seed=4)
    assert a.prices == b.prices and a.prices != c.prices
    assert a.meta["jumps"] > 0
    none = jump_diffusion(60000, 0.0, 0.5, 0, -0.05, 0.02, 1000, 60, seed=3)
    assert none.meta["jumps"] == 0


def test_scripted_shock_crash_shape() -> None:
    p = scripted_shock(60000, 60, -0.30, 30, 120, 0.25, 60, 0.0, seed=1)
    assert len(p) == 210
    assert p.prices[59] == 60000 * WAD  # flat pre-period
    assert from_wad(p.prices[89]) == pytest.approx(Decimal(42000), rel=Decimal("1e-9"))
    assert p.max_drawdown() == pytest.approx(0.30, abs=1e-9)
    assert float(from_wad(p.prices[-1])) == pytest.approx(42000 + 0.25 * 18000, rel=1e-9)
    noisy = scripted_shock(60000, 60, -0.30, 30, 120, 0.25, 60, 0.002, seed=1)
    assert noisy.max_drawdown() == pytest.approx(0.30, abs=0.02)
    assert noisy.prices == scripted_shock(60000, 60, -0.30, 30, 120, 0.25, 60, 0.002, seed=1).prices
    assert noisy.prices != scripted_shock(60000, 60, -0.30, 30, 120, 0.25, 60, 0.002, seed=2).prices


def test_scripted_shock_squeeze_shape() -> None:
    p = scripted_shock(60000, 100, 0.25, 20, 50, 0.5, 60, 0.0, seed=1, pre_drift_pct=-0.02)
    p0 = 60000 * 0.98
    assert float(from_wad(p.prices[99])) == pytest.approx(p0, rel=1e-9)
    assert p.max_runup() == pytest.approx(0.25, abs=1e-9)
    assert float(from_wad(p.prices[-1])) == pytest.approx(p0 * 1.125, rel=1e-9)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"shock_pct": -30}, "fraction"),
        ({"shock_pct": -1.0}, "fraction"),
        ({"recovery_pct": 1.5}, "recovery_pct"),
        ({"pre_steps": 0}, "pre_steps"),
        ({"noise_sigma": -0.1}, "noise_sigma"),
    ],
)
def test_scripted_shock_bad_args(kwargs: dict, needle: str) -> None:
    base = dict(
        start_price=100,
        pre_steps=5,
        shock_pct=-0.3,
        shock_steps=5,
        post_steps=5,
        recovery_pct=0.0,
        dt_seconds=60,
        noise_sigma=0.0,
        seed=0,
    )
    base.update(kwargs)
    with pytest.raises(ValueError, match=needle):
        scripted_shock(**base)


# ------------------------------------------------------------------ scenarios
EXPECTED_SCENARIOS = {
    "btc-2020-03-12-leg1",
    "btc-2020-03-12-leg2",
    "btc-2021-05-19",
    "btc-2022-06-18",
    "btc-2022-11-08",
    "btc-2025-10-10",
    "btc-2025-10-09-coinm-day",
    "btc-2025-10-10-coinm-day",
    "crash-30pct",
    "canonical-squeeze",
    "gbm-baseline",
    "jump-wicks",
}


def test_expected_scenarios_shipped() -> None:
    assert EXPECTED_SCENARIOS <= set(list_scenarios())
    real_windows_used = set()
    for n in list_scenarios():
        s = load_scenario(n)
        real_windows_used.add(s.path.params.get("window"))
        real_windows_used |= {m.path.params.get("window") for m in s.markets if m.path is not None}
    assert set(REAL_WINDOWS) <= real_windows_used


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
def test_every_scenario_loads(name: str) -> None:
    s = load_scenario(name)
    assert s.name == name
    assert s.description.strip()
    assert s.markets
    for m in s.markets:
        for key in PROTOCOL_PARAM_KEYS:
            assert key in m.params, (name, key)
        path = s.price_path(m.symbol)
        assert len(path) >= 2
        if s.horizon_steps is not None:
            assert len(path) <= s.horizon_steps
        assert len(Feeder(path)) == len(path)
    if s.compare is not None:
        assert s.param_sets[s.compare.a]["mitigations"] == "off"
        assert s.param_sets[s.compare.b]["mitigations"] == "on"
    s.impact.model()
    assert load_scenario(SCENARIO_DIR / f"{name}.toml").name == name  # by path too


def test_canonical_squeeze_and_crash_paths() -> None:
    sq = load_scenario("canonical-squeeze")
    p = sq.price_path()
    assert p.max_runup() == pytest.approx(sq.path.params["shock_pct"], abs=0.02)
    assert sq.impact.enabled and sq.population.basis > 0 and sq.population.long_share > 0.5
    cr = load_scenario("crash-30pct")
    assert cr.price_path().max_drawdown() == pytest.approx(0.30, abs=0.02)
    assert cr.price_path().prices == cr.price_path().prices  # deterministic


def test_market_path_override_and_params_for() -> None:
    s = load_scenario("gbm-baseline")
    btc, eth = s.price_path("BTC"), s.price_path("ETH")
    assert btc.prices[0] == 60000 * WAD and eth.prices[0] == 3000 * WAD
    merged = s.params_for("BTC", "mitigated")
    assert merged["mitigations"] == "on" and merged["max_leverage"] == s.market("BTC").params["max_leverage"]


def _doc(name: str = "crash-30pct") -> dict:
    with open(SCENARIO_DIR / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def test_scenario_rebase_resample_horizon() -> None:
    doc = _doc("btc-2020-03-12-leg2")
    doc["path"].update({"step_seconds": 300, "rebase": 100.0})
    doc["horizon_steps"] = 10
    p = parse_scenario(doc).price_path()
    assert len(p) == 10 and p.prices[0] == 100 * WAD
    assert p.timestamps[1] - p.timestamps[0] == 300


def test_scenario_file_source(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text("timestamp,price\n1,100\n2,50\n3,75\n")
    doc = _doc()
    doc["path"] = {"source": "file", "file": "prices.csv"}
    f = tmp_path / "mine.toml"
    import tomli_w

    f.write_bytes(tomli_w.dumps(doc).encode())
    s = load_scenario(f)
    assert s.price_path().prices == [100 * WAD, 50 * WAD, 75 * WAD]


def _mutate(path: tuple, value: object) -> dict:
    doc = copy.deepcopy(_doc())
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    "path, value, needle",
    [
        (("path", "source"), "brownian", "unknown source 'brownian'"),
        (("path", "shock_pct"), _DELETE, "missing key 'shock_pct'"),
        (("path", "steps"), 10, "unknown key 'steps'"),
        (("path", "pre_steps"), "60", "key 'pre_steps' must be an integer"),
        (("path", "shock_pct"), -30, "fraction"),
        (("seed",), "abc", "key 'seed' must be an integer"),
        (("description",), _DELETE, "missing key 'description'"),
        (("markets",), [], "non-empty list"),
        (("markets",), _DELETE, "missing key 'markets'"),
        (("population", "long_share"), 1.5, "long_share"),
        (("population", "keepers"), _DELETE, "missing key 'keepers'"),
        (("population", "leverage", "min"), 0.5, "min <= max"),
        (("impact", "enabled"), "yes", "key 'enabled' must be true/false"),
        (("impact", "depth_usd"), 0, "depth_usd"),
        (("compare", "b"), "nope", "param set 'nope'"),
        (("param_sets", "mitigated", "mitigations"), "maybe", "mitigations"),
        (("horizon_steps",), 0, "horizon_steps"),
        (("bogus",), 1, "unknown key 'bogus'"),
    ],
)
def test_scenario_validation_errors(path: tuple, value: object, needle: str) -> None:
    doc = _mutate(path, value)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(doc, file=Path("x.toml"))
    assert needle in str(exc.value), str(exc.value)
    assert str(exc.value).startswith("x.toml: ")


def test_scenario_param_type_and_unknown_window() -> None:
    doc = _doc()
    doc["markets"][0]["params"]["max_leverage"] = "fifty"
    with pytest.raises(ScenarioError, match="'max_leverage' must be a number"):
        parse_scenario(doc)
    doc = _doc("btc-2021-05-19")
    doc["path"]["window"] = "1987-10-19"
    with pytest.raises(ScenarioError, match="unknown real window"):
        parse_scenario(doc)
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario("no-such-scenario")


# -------------------------------------------------------------------- feeder
def test_feeder() -> None:
    p = load_real("2022-06-18")
    f = Feeder(p, decimals=8)
    rows = list(f)
    assert len(rows) == len(f) == len(p)
    assert rows == list(f)  # re-iterable
    assert rows[0] == (p.timestamps[0], p.prices[0] // 10**10)
    assert f[3] == rows[3] and Feeder.round_id(0) == 1
    assert Feeder(p, decimals=18)[0][1] == p.prices[0]


# -------------------------------------------------------------------- impact
def test_impact_linear_and_sign() -> None:
    ref = 60000 * WAD
    imp = SpotImpact(depth_usd=10_000_000, decay_half_life_steps=10)
    up = imp.apply(ref, 10_000_000 * WAD)  # flow == depth: +0.01 log
    assert up == int((Decimal(ref) * Decimal("0.01").exp()).to_integral_value())
    down = SpotImpact(10_000_000, 10).apply(ref, -10_000_000 * WAD)
    assert down < ref < up
    half = SpotImpact(10_000_000, 10)
    half.apply(ref, 5_000_000 * WAD)
    assert half.log_impact_wad == WAD // 200


def test_impact_decays_with_half_life() -> None:
    ref = 100 * WAD
    h = 8
    imp = SpotImpact(depth_usd=1_000_000, decay_half_life_steps=h)
    imp.apply(ref, 2_000_000 * WAD)
    start = imp.log_impact_wad
    assert start == WAD // 50
    for _ in range(h):
        imp.apply(ref, 0)
    assert imp.log_impact_wad == pytest.approx(start / 2, rel=1e-12)
    for _ in range(h):
        imp.apply(ref, 0)
    assert imp.log_impact_wad == pytest.approx(start / 4, rel=1e-12)
    price = imp.price(ref)
    assert price == pytest.approx(100 * math.exp(0.02 / 4) * WAD, rel=1e-12)
    frac = SpotImpact(1_000_000, 2.5)
    frac.apply(ref, 1_000_000 * WAD)
    for _ in range(5):
        frac.apply(ref, 0)
    assert frac.log_impact_wad == pytest.approx(WAD // 100 / 4, rel=1e-12)


def test_impact_deterministic_disabled_permanent() -> None:
    flows = [3_000_000, -1_000_000, 0, 7_500_000, -12_000_000, 0, 0, 1]
    ref = 60000 * WAD
    a = [SpotImpact(5_000_000, 3).apply(ref, f * WAD) for f in flows]
    imp1, imp2 = SpotImpact(5_000_000, 3), SpotImpact(5_000_000, 3)
    assert [imp1.apply(ref, f * WAD) for f in flows] == [imp2.apply(ref, f * WAD) for f in flows]
    assert a[0] > ref
    off = SpotImpact(5_000_000, 3, enabled=False)
    assert all(off.apply(ref, f * WAD) == ref for f in flows)
    perm = SpotImpact(1_000_000, 1, permanent_share=0.5)
    perm.apply(ref, 1_000_000 * WAD)
    for _ in range(200):
        perm.apply(ref, 0)
    assert perm.log_impact_wad == pytest.approx(WAD // 200, rel=1e-9)
    never = SpotImpact(1_000_000, math.inf)
    never.apply(ref, 1_000_000 * WAD)
    for _ in range(50):
        never.apply(ref, 0)
    assert never.log_impact_wad == WAD // 100
    with pytest.raises(ValueError):
        SpotImpact(0, 10)
    with pytest.raises(ValueError):
        SpotImpact(1_000_000, 0)
