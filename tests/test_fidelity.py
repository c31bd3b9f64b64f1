"""docs/fidelity.md is what the committed windows report gives, and every published fact it
quotes is in the shared data file it names (when that data is present: CI clones the repo
alone, so the source check skips there with the reason)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from vyperp import resources
from vyperp.sim.fidelity import FACTS, render, write

ROOT = Path(__file__).resolve().parents[1]
SHARED = resources.SHARED_DATA


def test_the_committed_page_is_generated_from_the_committed_report():
    doc = json.loads((ROOT / "reports" / "real_windows.json").read_text())
    assert (ROOT / "docs" / "fidelity.md").read_text() == render(doc["windows"], doc["command"])


def test_a_report_with_invariant_violations_is_not_published(tmp_path):
    doc = json.loads((ROOT / "reports" / "real_windows.json").read_text())
    doc["windows"]["btc-2021-05-19"]["invariant_violations"] = 1
    report = tmp_path / "windows.json"
    report.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="invariant violations in btc-2021-05-19"):
        write(report, tmp_path / "fidelity.md")
    assert not (tmp_path / "fidelity.md").exists()


@pytest.mark.skipif(not SHARED.exists(), reason=f"the shared market data is not at {SHARED} (CI clones the repo alone)")
def test_every_fact_is_in_the_file_it_names():
    fact = {f.key: f for f in FACTS}
    oi = {row["date"]: float(row["oi"]) for row in csv.DictReader((SHARED / fact["oi_2021_05_18"].source).open())}
    assert (
        round(oi["2021-05-18"]) == fact["oi_2021_05_18"].value
        and round(oi["2021-05-20"]) == fact["oi_2021_05_20"].value
    )
    timing = json.loads((SHARED / fact["hl_first_adl_delay"].source).read_text())
    text = json.dumps(timing)
    assert "2025-10-10T21:15:03.127" in text and "61.7" in text
    adl = {
        row["ticker"]: float(row["net_notional_usd"])
        for row in csv.DictReader((SHARED / fact["hl_adl_btc_usd"].source).open())
    }
    assert round(abs(adl["BTC"]) / 1e5) == round(fact["hl_adl_btc_usd"].value / 1e5)
    assert round(abs(adl["ETH"]) / 1e5) == round(fact["hl_adl_eth_usd"].value / 1e5)
    insurance = json.dumps(json.loads((SHARED / fact["hl_underwater_accounts"].source).read_text()))
    assert "302" in insurance and "0.86" in insurance
    rows = list(csv.DictReader((SHARED / fact["binance_funding_2020_03_13"].source).open()))
    hit = [
        r
        for r in rows
        if r["exchange"] == "binance"
        and r["symbol"].startswith("BTC")
        and r["funding_time_utc"].startswith("2020-03-13T08:00")
    ]
    assert hit and float(hit[0]["funding_rate"]) == fact["binance_funding_2020_03_13"].value
