"""Issue 2's targets: `forge --help` ≤ 1 s, `forge run week1` ≤ 60 s (default preset), ≤ 10 s (quick).

Each figure is the wall time of the real command in a fresh process, in a scratch workspace made by
`forge init` (W&B disabled, so no network and no sync cost is counted). There is no peer for these: the target is printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, report

FORGE = [sys.executable, "-m", "studyforge.cli"]


def _time(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    result = subprocess.run(FORGE + args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"forge {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        _time(["init", "."], cwd)  # forge writes run records only inside a workspace
        help_s = min(_time(["--help"], cwd) for _ in range(3))
        quick_s = _time(["run", "week1", "--preset", "quick", "--wandb", "disabled"], cwd)
        default_s = _time(["run", "week1", "--wandb", "disabled"], cwd)
    return report("forge CLI (issue 2)", [
        Row("forge --help (best of 3)", help_s, "s", target="≤ 1 s", ok=help_s <= 1.0),
        Row("forge run week1 --preset quick", quick_s, "s", target="≤ 10 s", ok=quick_s <= 10.0),
        Row("forge run week1 (default preset)", default_s, "s", target="≤ 60 s", ok=default_s <= 60.0),
    ])
