"""Week 9: `forge prefs inspect` on a 100 MB HH-RLHF file, beside `datasets` doing the exact-duplicate check.

Figures (issue 15): throughput in MB/s and peak memory of `forge prefs inspect FILE --json` (target: peak
under 300 MB, however large the file: it streams), side by side with Hugging Face `datasets`'
`load_dataset("json", data_files=FILE)` + `Dataset.filter` keeping the first of each normalised
(chosen, rejected) — the one check both do — and the duplicates each found against the number planted.

The file is synthetic HH-RLHF (one to three human turns over a 5,000-word vocabulary, two final assistant
replies), 2% of its rows exact copies of earlier rows (spacing changed in half of them: the check normalises
it) and 1% copies with one word edited (near duplicates, which only ours looks for). Each tool
runs in a fresh interpreter; its wall time includes start-up and imports (what a user waits for), and its
peak RSS is its own `ru_maxrss`, read by a small launcher process (`run_child` says why). `datasets` writes its Arrow cache into a fresh
temporary folder, so it pays for the first load as a user does; pyarrow parses JSON on several threads.

`BENCH_PREFS_MB` sets the file's size (default 100) for a quick check.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import Row, console, report

TARGET_RSS_MB = 300
EXACT_SHARE, NEAR_SHARE = 0.02, 0.01

_PEER = r"""
import hashlib, json, sys
from datasets import disable_progress_bars, load_dataset
disable_progress_bars()
path, cache = sys.argv[1], sys.argv[2]
ds = load_dataset("json", data_files=path, split="train", cache_dir=cache)
seen = set()

def first(row):  # the same key as ours: normalised text (lower case, whitespace runs as one space), hashed
    text = "\x1f".join(" ".join(row[k].lower().split()) for k in ("chosen", "rejected"))
    key = hashlib.blake2b(text.encode(), digest_size=8).digest()
    if key in seen:
        return False
    seen.add(key)
    return True

kept = ds.filter(first)
print(json.dumps({"records": len(ds), "exact": len(ds) - len(kept)}))
"""


@dataclass
class Planted:
    rows: int
    exact: int
    near: int
    bytes: int


@dataclass
class Child:
    seconds: float
    peak_mb: float
    stdout: str


def write_hh_file(path: Path, megabytes: float, seed: int = 0) -> Planted:
    """A synthetic HH-RLHF JSON-lines file of about `megabytes` MB with exact and near duplicates planted.

    Exact copies and near copies are made of different earlier rows (never of a copy), so the counts the
    tools should report are known: `exact` rows repeat an earlier row, `near` rows differ from one by a word.
    """
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]

    def sentence() -> str:
        return " ".join(rng.choices(words, k=rng.randint(4, 16))).capitalize() + rng.choice(".?!")

    def reply() -> str:
        return " " + " ".join(sentence() for _ in range(rng.randint(1, 6)))

    planted = Planted(0, 0, 0, 0)
    originals: list[dict] = []  # rows that may still be copied (each at most once)
    with open(path, "w", encoding="utf-8") as fh:
        while planted.bytes < megabytes * 1e6:
            draw = rng.random()
            if originals and draw < EXACT_SHARE:
                row = originals.pop(rng.randrange(len(originals)))
                if rng.random() < 0.5:  # the same text to the check: spacing differs
                    row = {key: text.replace(" ", "  ") for key, text in row.items()}
                planted.exact += 1
            elif originals and draw < EXACT_SHARE + NEAR_SHARE:
                row = dict(originals.pop(rng.randrange(len(originals))))
                cut = row["chosen"].rfind("\n\nAssistant:") + len("\n\nAssistant:")
                reply_words = row["chosen"][cut:].split(" ")  # a word of the final reply: the prompt stays shared
                at = rng.randrange(1, len(reply_words))
                reply_words[at] = "edited" if reply_words[at] != "edited" else "changed"
                row["chosen"] = row["chosen"][:cut] + " ".join(reply_words)
                planted.near += 1
            else:
                dialogue = "".join(f"\n\nHuman: {sentence()}\n\nAssistant:{reply()}" for _ in range(rng.randint(0, 2)))
                prompt = f"{dialogue}\n\nHuman: {sentence()}\n\nAssistant:"
                row = {"chosen": prompt + reply(), "rejected": prompt + reply()}
                if len(originals) < 5000:
                    originals.append(row)
            line = json.dumps(row) + "\n"
            fh.write(line)
            planted.rows += 1
            planted.bytes += len(line.encode("utf-8"))
    return planted


_LAUNCH = r"""
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as fh:
    json.dump({"seconds": time.perf_counter() - start, "maxrss": usage.ru_maxrss,
               "code": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_child(args: list[str], cwd: Path) -> Child:
    """Wall time, peak RSS and stdout of one fresh interpreter running `args`.

    A small launcher process starts it and reads its `ru_maxrss` from `os.wait4`: Linux keeps the memory a
    process had before `exec` in its `ru_maxrss`, so a child started straight from this process (or from a
    400 MB pytest) would be charged with the parent's memory; the launcher's own is ~10 MB.
    """
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "out", "w+") as out, \
            open(Path(tmp) / "err", "w+") as err:
        env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "COLUMNS": "120"}
        figures = Path(tmp) / "figures.json"
        subprocess.run([sys.executable, "-c", _LAUNCH, str(figures), sys.executable, *args], stdout=out, stderr=err,
                       cwd=cwd, env=env, check=True)
        measured = json.loads(figures.read_text())
        out.seek(0)
        err.seek(0)
        if measured["code"] != 0:
            raise RuntimeError(f"{' '.join(args[:4])} failed ({measured['code']}): {err.read()[-2000:]}")
        # ru_maxrss is in KiB on Linux, in bytes on macOS
        peak = measured["maxrss"] / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)
        return Child(measured["seconds"], peak, out.read())


def ours(path: Path, cwd: Path) -> tuple[Child, dict]:
    child = run_child(["-m", "studyforge.cli", "prefs", "inspect", str(path), "--json"], cwd)
    return child, json.loads(child.stdout)


def peer(path: Path, cwd: Path) -> tuple[Child, dict]:
    with tempfile.TemporaryDirectory() as cache:
        child = run_child(["-c", _PEER, str(path), cache], cwd)
    return child, json.loads(child.stdout.strip().splitlines()[-1])


def preference_rows(planted: Planted, mine: Child, found: dict, theirs: Child | None, their_found: dict | None) -> list[Row]:
    """The table: throughput, peak memory (target < 300 MB), and duplicates found against those planted."""
    mb = planted.bytes / 1e6
    rows = [
        Row(f"throughput, {mb:.3g} MB HH-RLHF file (whole process)", mb / mine.seconds, "MB/s",
            mb / theirs.seconds if theirs else None, "datasets json + filter" if theirs else ""),
        Row("peak RSS", mine.peak_mb, "MB", theirs.peak_mb if theirs else None, "datasets" if theirs else "",
            f"< {TARGET_RSS_MB} MB", mine.peak_mb < TARGET_RSS_MB),
        Row(f"exact duplicates found (planted {planted.exact})", found["duplicates"]["exact"], "",
            their_found["exact"] if their_found else None, "datasets" if theirs else "", f"= {planted.exact}",
            found["duplicates"]["exact"] == planted.exact and (their_found is None or their_found["exact"] == planted.exact)),
        Row(f"near duplicates found (planted {planted.near}, one word edited)", found["duplicates"]["near"], "",
            target=f"= {planted.near}", ok=found["duplicates"]["near"] == planted.near),
        Row("records read", found["records"], "", their_found["records"] if their_found else None,
            "datasets" if theirs else "", f"= {planted.rows}",
            found["records"] == planted.rows and (their_found is None or their_found["records"] == planted.rows)),
    ]
    return rows


def main() -> bool:
    megabytes = float(os.environ.get("BENCH_PREFS_MB", "100"))
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hh.jsonl"
        planted = write_hh_file(path, megabytes)
        mine, found = ours(path, root)
        try:
            import datasets  # noqa: F401  (only to know whether the peer can run; it runs in its own process)

            theirs, their_found = peer(path, root)
        except ImportError:
            console.print("[yellow]datasets is not installed (pip install 'studyforge[bench]'): ours alone[/]")
            theirs, their_found = None, None
    return report(f"Week 9 — forge prefs inspect on {planted.bytes / 1e6:.3g} MB ({planted.rows:,} pairs)",
                  preference_rows(planted, mine, found, theirs, their_found))


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
