"""Same seeds → same records: run every study's quick preset from two source trees and compare the records.

    python -m benchmarks.compare_summaries /tmp/before .                    # every registered study
    python -m benchmarks.compare_summaries /tmp/before . --weeks 4,6,7,14,15
    python -m benchmarks.compare_summaries /tmp/before . mdp.value_vs_policy_iteration --out /tmp/sums

A side is either a source tree (a folder holding `studyforge/`, e.g. `git worktree add /tmp/before HEAD`) or
a folder an earlier `--out` wrote (`/tmp/sums/before`), so one side need not be run twice. For a tree, each
study runs in a fresh temporary workspace as `forge run <week> -e <id> --preset quick --seed S --wandb
disabled --device cpu`, in a child python whose `PYTHONPATH` is the tree (checked: the child's
`studyforge.__file__` must lie in it, not in an editable install elsewhere).

Compared per study: `summary.json` (the acceptance criterion), and as further evidence the resolved config in
`run.json`, every row of `metrics.jsonl` and the CSV tables. Numbers must be equal to the last bit (floats by
their IEEE-754 bits: -0.0 ≠ 0.0, NaN = NaN), and `1` ≠ `1.0`. Values that measure time (`wall_time_s`,
`env_steps_per_s`, …: `--timing`) differ between any two runs; they are counted, not compared. Exit code 0
when every study agrees.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# keys (the last part of a dotted path, or a CSV column) whose values are measured durations or rates
TIMING = r"wall_time|_per_s$|per_second|_ms$|_seconds?$|elapsed|duration|throughput|^time_s$|_time_s$"
LIST_STUDIES = ("import json; from studyforge.experiments import registry; import studyforge; "
                "print(json.dumps({'file': studyforge.__file__, "
                "'studies': {s.id: s.week for s in registry.all_studies()}}))")
RUN = "import sys; from studyforge.cli.main import run; sys.argv[0] = 'forge'; run()"
KEPT = ("summary.json", "run.json", "metrics.jsonl")  # plus tables/*.csv


# ------------------------------------------------------------------------------------------------ running


def _child_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env.update({"WANDB_MODE": "disabled", "WANDB_SILENT": "true", "MPLBACKEND": "Agg"})
    env.pop("ANTHROPIC_API_KEY", None)
    return env


def list_studies(tree: Path, python: str) -> dict[str, int]:
    """{study id: week} registered in `tree` (imported by a child python from that tree)."""
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run([python, "-c", LIST_STUDIES], cwd=cwd, env=_child_env(tree), capture_output=True,
                             text=True, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    if not Path(info["file"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: the child imported studyforge from {info['file']}, not from this tree")
    return info["studies"]


def run_tree(tree: Path, studies: dict[str, int], seed: int, out: Path, python: str, timeout: float,
             label: str = "") -> None:
    """Run every study's quick preset from `tree`; keep each record's comparable files under out/<id>/."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"tree": str(tree), "seed": seed, "preset": "quick", "studies": {}}
    for study_id, week in studies.items():
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="compare-") as ws:
            # forge writes run records only inside a workspace: one holding a curriculum.yaml (the tree's own plan)
            shutil.copy(tree / "studyforge" / "defaults" / "curriculum.yaml", Path(ws, "curriculum.yaml"))
            cmd = [python, "-c", RUN, "run", str(week), "-e", study_id, "--preset", "quick", "--seed", str(seed),
                   "--wandb", "disabled", "--device", "cpu"]
            try:
                proc = subprocess.run(cmd, cwd=ws, env=_child_env(tree), capture_output=True, text=True,
                                      timeout=timeout)
                log = proc.stdout + proc.stderr
            except subprocess.TimeoutExpired:
                log = f"timed out after {timeout:g} s"
            records = sorted(Path(ws, "runs").glob(f"week{week:02d}/{study_id}/*/run.json"))
            dest = out / study_id
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            status = "no record"
            if records:
                folder = records[-1].parent
                status = json.loads(records[-1].read_text()).get("status", "?")
                for name in KEPT:
                    if (folder / name).is_file():
                        shutil.copy(folder / name, dest / name)
                if (folder / "tables").is_dir():
                    shutil.copytree(folder / "tables", dest / "tables")
            (dest / "forge.log").write_text(log)
        seconds = time.perf_counter() - started
        manifest["studies"][study_id] = {"week": week, "status": status, "seconds": round(seconds, 1)}
        print(f"  {label or tree}: {study_id:55s} {status:10s} {seconds:6.1f} s", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))


# ---------------------------------------------------------------------------------------------- comparing


def _bits(x: float) -> bytes:
    return b"nan" if math.isnan(x) else struct.pack("<d", x)


def compare_values(a: Any, b: Any, path: str, timing: re.Pattern, diffs: list[str], timed: list[str]) -> None:
    """Walk two JSON values side by side; append a line per difference (or per skipped timing value).

    >>> d, t = [], []
    >>> compare_values({"x": 0.3, "n": 1, "wall_time_s": 1.0}, {"x": 0.1 + 0.2, "n": 1.0, "wall_time_s": 2.0},
    ...                "", re.compile(TIMING), d, t)
    >>> d, t
    (['x: 0.3 → 0.30000000000000004 (Δ = 5.55e-17)', 'n: 1 (int) → 1.0 (float)'], ['wall_time_s'])
    """
    leaf = path.rsplit(".", 1)[-1]
    if timing.search(leaf) and not isinstance(a, dict | list) and not isinstance(b, dict | list):
        timed.append(path)
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in b:
                diffs.append(f"{sub}: only before ({_show(a[key])})")
            elif key not in a:
                diffs.append(f"{sub}: only after ({_show(b[key])})")
            else:
                compare_values(a[key], b[key], sub, timing, diffs, timed)
        if list(a) != list(b) and set(a) == set(b):
            diffs.append(f"{path or '<top>'}: same keys in another order")
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: {len(a)} items before, {len(b)} after")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            compare_values(x, y, f"{path}[{i}]", timing, diffs, timed)
        return
    if type(a) is not type(b):
        diffs.append(f"{path}: {_show(a)} ({type(a).__name__}) → {_show(b)} ({type(b).__name__})")
    elif isinstance(a, float) and _bits(a) != _bits(b):
        diffs.append(f"{path}: {a!r} → {b!r} (Δ = {b - a:.3g})")
    elif not isinstance(a, float) and a != b:
        diffs.append(f"{path}: {_show(a)} → {_show(b)}")


def _show(value: Any, width: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _read_tables(folder: Path) -> dict[str, list[dict[str, str]]]:
    tables = folder / "tables"
    return {p.name: list(csv.DictReader(p.open(newline=""))) for p in sorted(tables.glob("*.csv"))} \
        if tables.is_dir() else {}


def compare_study(before: Path, after: Path, timing: re.Pattern) -> dict[str, Any]:
    """Differences between two kept records of one study: {part: [lines]}, and the timing values skipped."""
    parts: dict[str, list[str]] = {}
    timed: list[str] = []
    for part, load in (("summary.json", lambda f: json.loads((f / "summary.json").read_text())
                        if (f / "summary.json").is_file() else None),
                       ("config", lambda f: json.loads((f / "run.json").read_text()).get("config")
                        if (f / "run.json").is_file() else None),
                       ("metrics.jsonl", lambda f: _read_jsonl(f / "metrics.jsonl")),
                       ("tables", _read_tables)):
        a, b = load(before), load(after)
        diffs: list[str] = []
        if a is None or b is None:
            diffs.append(f"missing {'before' if a is None else 'after'}")
        else:
            compare_values(a, b, "", timing, diffs, timed)
        parts[part] = diffs
    return {"parts": parts, "timed": timed}


# ----------------------------------------------------------------------------------------------- the tool


def _side(spec: str, label: str, wanted: list[str], weeks: set[int], seed: int, out: Path, python: str,
          timeout: float) -> Path:
    """A folder of kept records for one side: `spec` itself if an earlier run wrote it, else run the tree."""
    path = Path(spec).resolve()
    if (path / "manifest.json").is_file():
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest["seed"] != seed:
            raise SystemExit(f"{path} was run with seed {manifest['seed']}, not {seed}")
        return path
    if not (path / "studyforge" / "__init__.py").is_file():
        raise SystemExit(f"{path} is neither a source tree (no studyforge/) nor a folder written by --out")
    registered = list_studies(path, python)
    chosen = {s: w for s, w in registered.items()
              if (not wanted or s in wanted) and (not weeks or w in weeks)}
    missing = [s for s in wanted if s not in registered]
    if missing:
        print(f"  {label}: not registered in {path}: {', '.join(missing)}")
    print(f"{label}: {len(chosen)} studies from {path}", flush=True)
    run_tree(path, chosen, seed, out / label, python, timeout, label)
    return out / label


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", help="source tree, or a folder written by --out")
    parser.add_argument("after", help="source tree, or a folder written by --out")
    parser.add_argument("studies", nargs="*", help="study ids (default: every registered study)")
    parser.add_argument("--weeks", default="", help="only these weeks, e.g. 4,6,7")
    parser.add_argument("--seed", type=int, default=0, help="the fixed seed (default 0)")
    parser.add_argument("--out", default="", help="keep both sides' records here (default: a temp folder)")
    parser.add_argument("--timing", default=TIMING, help="regex of keys holding measured times, not compared")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per study run")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the trees")
    args = parser.parse_args(argv)
    weeks = {int(w) for w in args.weeks.split(",") if w.strip()}
    timing = re.compile(args.timing)
    with tempfile.TemporaryDirectory(prefix="compare-summaries-") as tmp:
        out = Path(args.out).resolve() if args.out else Path(tmp)
        sides = [_side(spec, label, args.studies, weeks, args.seed, out, args.python, args.timeout)
                 for spec, label in ((args.before, "before"), (args.after, "after"))]
        manifests = [json.loads((s / "manifest.json").read_text())["studies"] for s in sides]
        ids = [s for s in manifests[0] if (not args.studies or s in args.studies)
               and (not weeks or manifests[0][s]["week"] in weeks)]
        ids += [s for s in manifests[1] if s not in ids and (not args.studies or s in args.studies)
                and (not weeks or manifests[1][s]["week"] in weeks)]
        print(f"\n{len(ids)} studies, seed {args.seed}, quick preset")
        failures = 0
        for study_id in ids:
            status = [m.get(study_id, {}).get("status", "not run") for m in manifests]
            if status != ["completed", "completed"]:
                failures += 1
                print(f"DIFF  {study_id}: status before {status[0]}, after {status[1]} "
                      f"(logs: {sides[0] / study_id / 'forge.log'}, {sides[1] / study_id / 'forge.log'})")
                continue
            result = compare_study(sides[0] / study_id, sides[1] / study_id, timing)
            bad = {part: d for part, d in result["parts"].items() if d}
            timed = len(result["timed"])
            if not bad:
                print(f"same  {study_id}  ({timed} timing values not compared)")
                continue
            failures += 1
            print(f"DIFF  {study_id}")
            for part, diffs in bad.items():
                print(f"      {part}: {len(diffs)} difference(s)")
                for line in diffs[:12]:
                    print(f"        {line}")
                if len(diffs) > 12:
                    print(f"        … and {len(diffs) - 12} more")
        print(f"\n{len(ids) - failures}/{len(ids)} studies write the same records"
              + (f"; kept in {out}" if args.out else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
