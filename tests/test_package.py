"""The package installs: a wheel built from this tree, installed (not editable) into a
fresh virtual environment, replays a scenario from a directory outside the source tree.

The fresh venv gets the wheel only; its dependencies come from this venv's
site-packages through a plain path entry (a path entry does not run that directory's
.pth files, so the editable install of this checkout is not visible there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("package")
    wheels = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        cwd=tmp,
    )
    (wheel,) = wheels.glob("vyperp-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)
    return venv


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VYPERP_", "PYTHON"))}
    env["VYPERP_CACHE_DIR"] = str(tmp / "cache")
    return env


def test_wheel_replays_outside_the_source_tree(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import vyperp, vyperp.resources as r; print(vyperp.__file__); print(r.CONTRACTS)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    ).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where  # the wheel, not this checkout
    run = subprocess.run(
        [
            str(installed / "bin" / "vyperp"),
            "replay",
            "--scenario",
            "crash-30pct",
            "--steps",
            "30",
            "--traders",
            "20",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["steps"] == 30 and report["invariant_violations"] == 0 and report["tx_count"] > 0
    assert any((tmp_path / "cache").rglob("*.json"))  # compile cache outside the package
    package = Path(where[0]).parent
    shipped = {"data/depth/btcusdt_depth_2025-10-10.json"}  # package data (vyperp.sim.depth)
    assert all((package / name).is_file() for name in shipped)
    written = [p for p in package.rglob("*.json") if p.relative_to(package).as_posix() not in shipped]
    assert not written, f"the installed package wrote into its own directory: {written}"
