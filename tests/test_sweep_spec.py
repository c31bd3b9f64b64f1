"""Sweep specs: the shipped ones parse, bad specs fail with an error naming the key, designs."""

from __future__ import annotations

import pytest

from vyperp.sweep.spec import SWEEP_DIR, SpecError, load_spec, parse_spec

BASE = {"name": "t", "scenarios": ["crash-30pct"]}


def spec(**extra):
    return parse_spec({**BASE, **extra})


def test_shipped_specs_parse():
    names = sorted(p.stem for p in SWEEP_DIR.glob("*.toml"))
    assert "smoke" in names
    for name in names:
        assert load_spec(name).name


@pytest.mark.parametrize(
    "doc, needle",
    [
        ({"name": "t"}, "missing key 'scenarios'"),
        ({**BASE, "scenarios": ["no-such-scenario"]}, "scenarios: 'no-such-scenario'"),
        ({**BASE, "trader": 3}, "unknown key 'trader'"),
        ({**BASE, "steps": 0}, "key 'steps' must be >= 1"),
        (
            {**BASE, "vary": {"max_levrage": [1, 2]}},
            "[vary]: unknown parameter 'max_levrage' (did you mean 'max_leverage'?",
        ),
        ({**BASE, "fixed": {"keeper_dealy_steps": 1}}, "[fixed]: unknown parameter 'keeper_dealy_steps'"),
        ({**BASE, "vary": {"max_leverage": []}}, "[vary] max_leverage: must list at least one value"),
        ({**BASE, "vary": {"max_leverage": {"min": 2, "max": 5}}}, "[vary] max_leverage: a range {min, max} needs"),
        (
            {**BASE, "vary": {"max_leverage": {"min": 5}}, "design": {"kind": "lhs", "samples": 4}},
            "[vary] max_leverage: missing key 'max'",
        ),
        (
            {**BASE, "vary": {"max_leverage": {"min": 9, "max": 5}}, "design": {"kind": "random", "samples": 4}},
            "min 9 > max 5",
        ),
        ({**BASE, "vary": {"max_leverage": 3}}, "[vary] max_leverage: must be a list of values or a range"),
        ({**BASE, "vary": {"max_leverage": [2]}, "fixed": {"max_leverage": 3}}, "is also in [fixed]"),
        ({**BASE, "design": {"kind": "halton"}}, "[design]: key 'kind' must be one of grid, random, lhs, sobol"),
        ({**BASE, "design": {"kind": "sobol", "samples": 6}}, "must be a power of 2"),
        ({**BASE, "design": {"kind": "lhs"}}, "key 'samples' (>= 1) is required"),
        ({**BASE, "design": {"samples": 3}}, "key 'samples' is for random/lhs/sobol"),
        ({**BASE, "paths": {"source": "garch"}}, "[paths]: key 'source' must be one of"),
        ({**BASE, "paths": {"source": "bootstrap", "windows": ["1999-01-01"]}}, "unknown real window '1999-01-01'"),
        ({**BASE, "scenarios": ["btc-2025-10-10"], "paths": {"count": 3}}, "replays a fixed price path"),
        ({**BASE, "seeds": {"values": [1], "count": 2}}, "[seeds]: give either 'values' or 'count'"),
        ({**BASE, "seeds": {"values": [-1]}}, "[seeds]: key 'values' must be a non-empty list of integers >= 0"),
        ({**BASE, "traders": "many"}, "key 'traders' must be an integer"),
        ({**BASE, "paths": []}, "[[paths]]: needs at least one path set"),
        (
            {**BASE, "scenarios": ["btc-eth-2025-10-10"], "paths": {"source": "bootstrap", "windows": ["2025-10-10"]}},
            "scenario 'btc-eth-2025-10-10' has several markets; its bootstrap draws blocks from its own aligned paths",
        ),
        ({**BASE, "paths": [{"source": "scenario"}, {"source": "garch"}]}, "[[paths]] #2: key 'source' must be one of"),
        ({**BASE, "paths": [{"source": "bootstrap"}, {"source": "bootstrap"}]}, "two path sets are the same"),
        ({**BASE, "paths": [{"source": "bootstrap", "cuont": 3}]}, "[[paths]] #1: unknown key 'cuont'"),
        ({**BASE, "paths": "bootstrap"}, "key 'paths' must be a table or an array of tables"),
    ],
)
def test_bad_specs_name_the_key(doc, needle):
    with pytest.raises(SpecError) as exc:
        parse_spec(doc)
    assert needle in str(exc.value)


def test_bad_toml_and_missing_file(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text("name = ")
    with pytest.raises(SpecError, match="invalid TOML"):
        load_spec(f)
    with pytest.raises(SpecError, match="sweep spec not found"):
        load_spec(tmp_path / "none.toml")


def test_cli_bad_spec_is_a_usage_error_without_traceback(tmp_path):
    from click.testing import CliRunner

    from vyperp.cli import main

    f = tmp_path / "bad.toml"
    f.write_text('name = "b"\nscenarios = ["crash-30pct"]\n[design]\nkind = "grid"\nsamples = 4\n')
    res = CliRunner().invoke(main, ["sweep", str(f)])
    assert res.exit_code == 2
    assert "[design]: key 'samples' is for random/lhs/sobol" in " ".join(res.output.split())
    assert "Traceback" not in res.output


def test_grid_is_every_combination_in_order():
    s = spec(vary={"max_leverage": [20, 50], "keeper_delay_steps": [0, 1, 3]})
    pts = s.points()
    assert len(pts) == 6
    assert pts[0] == {"max_leverage": 20, "keeper_delay_steps": 0}
    assert pts[-1] == {"max_leverage": 50, "keeper_delay_steps": 3}
    assert len({tuple(p.items()) for p in pts}) == 6


@pytest.mark.parametrize("kind", ["random", "lhs", "sobol"])
def test_sampled_designs_stay_in_range_and_repeat_from_seed(kind):
    vary = {
        "bracket_scale": {"min": 0.5, "max": 2.0},
        "impact_depth_usd": {"min": 1e6, "max": 1e8, "log": True},
        "keeper_delay_steps": {"min": 0, "max": 4, "int": True},
        "adl_policy": ["queue", "pro-rata"],
    }
    a = spec(vary=vary, design={"kind": kind, "samples": 16, "seed": 3}).points()
    b = spec(vary=vary, design={"kind": kind, "samples": 16, "seed": 3}).points()
    c = spec(vary=vary, design={"kind": kind, "samples": 16, "seed": 4}).points()
    assert a == b and a != c and len(a) == 16
    for p in a:
        assert 0.5 <= p["bracket_scale"] <= 2.0
        assert 1e6 <= p["impact_depth_usd"] <= 1e8
        assert p["keeper_delay_steps"] in range(5)
        assert p["adl_policy"] in ("queue", "pro-rata")
    if kind == "lhs":  # Latin hypercube: each of 16 equal strata of every axis holds exactly one point
        strata = sorted(int((p["bracket_scale"] - 0.5) / 1.5 * 16) for p in a)
        assert strata == list(range(16))


def test_dry_run_preflight_names_the_failing_cell(tmp_path):
    from click.testing import CliRunner

    from vyperp.cli import main

    f = tmp_path / "s.toml"
    f.write_text('name = "p"\nscenarios = ["crash-30pct"]\ntraders = 5\nsteps = 10\n[vary]\nmax_leverage = [0.5, 20]\n')
    res = CliRunner().invoke(main, ["sweep", str(f), "--dry-run", "--out", str(tmp_path / "o")])
    out = " ".join(res.output.split())  # rich wraps lines at the terminal's width
    assert res.exit_code == 1
    assert "{'max_leverage': 0.5}: ValueError" in out and "max_leverage must be >= 1" in out
    assert "preflight: 1 cells set up, 1 fail" in out
    assert not (tmp_path / "o" / "runs").exists() or not any((tmp_path / "o" / "runs").iterdir())


def test_variants_cross_the_design_and_label_their_points():
    s = spec(vary={"keeper_delay_steps": [0, 2]}, variants={"plain": {}, "cap": {"max_funding_rate_8h": 0.001}})
    points = s.points()
    assert points == [
        {"variant": "plain", "keeper_delay_steps": 0},
        {"variant": "plain", "keeper_delay_steps": 2},
        {"variant": "cap", "max_funding_rate_8h": 0.001, "keeper_delay_steps": 0},
        {"variant": "cap", "max_funding_rate_8h": 0.001, "keeper_delay_steps": 2},
    ]
    from vyperp.sweep.spec import point_overrides

    assert point_overrides({"traders": 5}, points[2]) == {
        "traders": 5,
        "max_funding_rate_8h": 0.001,
        "keeper_delay_steps": 0,
    }


@pytest.mark.parametrize(
    "variants, needle",
    [
        ({"cap": 0.001}, "[variants] cap: must be a table"),
        ({"cap": {"no_such_knob": 1}}, "no_such_knob"),
        ({"cap": {"keeper_delay_steps": 1}}, "[variants] cap: sets ['keeper_delay_steps']"),
    ],
)
def test_bad_variants_name_the_key(variants, needle):
    with pytest.raises(SpecError) as exc:
        spec(vary={"keeper_delay_steps": [0, 2]}, variants=variants)
    assert needle in str(exc.value)


def test_variants_with_the_same_overrides_are_different_cells(tmp_path):
    from vyperp.sweep.engine import tasks_of

    cells = {t["cell"] for t in tasks_of(spec(variants={"a": {}, "b": {}}))}
    assert len(cells) == 2


def test_several_path_sets_make_their_own_cells():
    """[[paths]]: the real window once and bootstrap paths, each set its own cells, labelled."""
    from vyperp.sweep.engine import tasks_of

    s = parse_spec(
        {
            "name": "t",
            "scenarios": ["btc-2025-10-10"],
            "vary": {"max_leverage": [20, 50]},
            "paths": [{"source": "scenario"}, {"source": "bootstrap", "count": 3, "seed": 4}],
            "seeds": {"values": [1, 2]},
        }
    )
    tasks = tasks_of(s)
    assert len(tasks) == 2 * (1 + 3) * 2
    cells = {}
    for t in tasks:
        cells.setdefault(t["cell"], set()).add(t["paths_label"])
    assert len(cells) == 4 and all(len(labels) == 1 for labels in cells.values())
    assert sorted(label for labels in cells.values() for label in labels) == ["bootstrap"] * 2 + ["scenario"] * 2
    assert {t["path"]["index"] for t in tasks if t["paths_label"] == "scenario"} == {None}
    # one [paths] table keeps its cells' ids (a store written before [[paths]] existed still resumes)
    single = parse_spec({**BASE, "paths": {"source": "scenario"}})
    assert [t["cell"] for t in tasks_of(single)] == [t["cell"] for t in tasks_of(parse_spec(BASE))]


def test_a_path_set_may_carry_its_own_seeds():
    """The real window replays one path: its own seeds give its cells more runs."""
    from vyperp.sweep.engine import tasks_of

    s = parse_spec(
        {
            "name": "t",
            "scenarios": ["btc-2025-10-10"],
            "paths": [{"source": "scenario", "seeds": {"count": 5, "start": 100}}, {"source": "bootstrap", "count": 2}],
            "seeds": {"values": [1, 2]},
        }
    )
    tasks = tasks_of(s)
    real = [t["seed"] for t in tasks if t["paths_label"] == "scenario"]
    boot = [t["seed"] for t in tasks if t["paths_label"] == "bootstrap"]
    assert real == [100, 101, 102, 103, 104] and boot == [1, 2, 1, 2]
    with pytest.raises(SpecError, match=r"\[\[paths\]\] #1 seeds: key 'count' must be >= 1"):
        parse_spec({**BASE, "paths": [{"source": "scenario", "seeds": {"count": 0}}]})
