"""The sweep's HTML report renders in headless Chromium (Debian's package).

Chromium loads the report from disk and paints it to a PNG; the figures are inlined PNGs,
so a painted report shows their colours: the bars' blue (#4477aa) and the Pareto
frontier's red (#cc3311). A report whose images do not decode (the negative control)
paints neither. Without Chromium the test skips, except under ``VYPERP_REQUIRE_CHROMIUM=1``
(set by ``.ci/run``), where it fails; ``scripts/bootstrap.sh`` installs it with
``WITH_CHROMIUM=1`` (``./test.sh`` sets it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vyperp.sweep import parse_spec, sweep
from vyperp.sweep.report import write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

if CHROMIUM is None:
    if os.environ.get("VYPERP_REQUIRE_CHROMIUM") == "1":
        pytest.fail("VYPERP_REQUIRE_CHROMIUM=1 but no chromium on PATH (scripts/bootstrap.sh WITH_CHROMIUM=1)")
    pytest.skip(
        "chromium not installed (WITH_CHROMIUM=1 scripts/bootstrap.sh installs Debian's)", allow_module_level=True
    )


def screenshot(page: Path, tmp_path: Path, height: int = 3200) -> np.ndarray:
    from PIL import Image

    shot = tmp_path / f"{page.stem}.png"
    proc = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            f"--window-size=1280,{height}",
            f"--screenshot={shot}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    return np.asarray(Image.open(shot).convert("RGB")).astype(int)


def pixels_near(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> int:
    return int((np.abs(img - np.array(rgb)).max(axis=2) <= tol).sum())


BLUE, RED = (0x44, 0x77, 0xAA), (0xCC, 0x33, 0x11)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    spec = parse_spec(
        {
            "name": "browser",
            "scenarios": ["crash-30pct"],
            "traders": 20,
            "steps": 100,
            "amplification": True,
            "variants": {"plain": {}, "funding_cap": {"max_funding_rate_8h": 0.001}, "all_on": {"mitigations": "on"}},
            "seeds": {"values": [1, 2, 3]},
        }
    )
    return write_html(sweep(spec), tmp_path_factory.mktemp("report") / "report.html")


def test_report_renders_its_figures_and_tables_in_headless_chromium(report, tmp_path):
    page = report.read_text()
    n_figures = page.count("data:image/png;base64,")
    assert n_figures == 8 and "capital efficiency vs p99 bad debt" in page and "<table" in page
    img = screenshot(report, tmp_path)
    assert img.shape[1] == 1280
    assert pixels_near(img, BLUE) > 100_000  # the bars of five bar charts
    assert pixels_near(img, RED) > 100  # the Pareto frontier's line
    assert (img.min(axis=2) < 100).sum() > 20_000  # text, axes, table borders: dark pixels


def test_a_report_with_broken_images_paints_none_of_their_colours(report, tmp_path):
    """The negative control: the same page with every inlined PNG made undecodable."""
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,AAAA", report.read_text()))
    img = screenshot(broken, tmp_path)
    assert pixels_near(img, BLUE) < 200 and pixels_near(img, RED) < 50
