"""`ape run sweep SPEC`: a parameter sweep of cascade replays (same options as `vyperp sweep`).

    ape run sweep smoke --workers 1
    ape run sweep vyperp/sweeps/leverage-delay-study.toml --out out/study

Every replay runs on the embedded revm chain inside a Dask worker (or in this process
with --workers 1); see `vyperp sweep --help` and vyperp/sweep/.
"""

from __future__ import annotations

from vyperp.sweep.commands import sweep_command as cli

if __name__ == "__main__":
    cli()
