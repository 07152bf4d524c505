"""The preference-data benchmark (`benchmarks/bench_preference_data.py`, issue 15): its synthetic HH-RLHF file
holds exactly the duplicates it says it planted, its verdicts follow the figures (peak under 300 MB, duplicates
found = planted), and the whole benchmark runs end to end at a tiny size, both tools in their own process."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_preference_data as bench
from benchmarks.bench_preference_data import Child, Planted, preference_rows, write_hh_file
from studyforge.experiments.preference.formats import iter_records


def test_the_file_holds_the_duplicates_it_planted(tmp_path):
    path = tmp_path / "hh.jsonl"
    planted = write_hh_file(path, 0.4, seed=3)
    lines = path.read_text().splitlines()
    assert planted.rows == len(lines) and planted.bytes == path.stat().st_size
    seen, repeats = set(), 0
    for line in lines:  # counted here by hand: normalised (chosen, rejected) seen before
        row = json.loads(line)
        key = tuple(" ".join(row[k].lower().split()) for k in ("chosen", "rejected"))
        repeats += key in seen
        seen.add(key)
    assert repeats == planted.exact > 0 and planted.near > 0
    assert sum(1 for _ in iter_records(path)) == planted.rows  # every row is a well-formed HH pair


def _found(exact: int, near: int, records: int) -> dict:
    return {"records": records, "duplicates": {"exact": exact, "near": near}}


def test_verdicts_follow_the_figures():
    planted = Planted(rows=1000, exact=20, near=10, bytes=10_000_000)
    fine = preference_rows(planted, Child(5.0, 120.0, ""), _found(20, 10, 1000), Child(1.0, 400.0, ""),
                           {"records": 1000, "exact": 20})
    speed, memory, exact, near, records = fine
    assert speed.ours == pytest.approx(2.0) and speed.peer == pytest.approx(10.0) and speed.ok is None
    assert (memory.ours, memory.ok) == (120.0, True)
    assert exact.ok and near.ok and records.ok
    heavy = preference_rows(planted, Child(5.0, 300.0, ""), _found(19, 9, 1000), None, None)
    assert [r.ok for r in heavy[1:4]] == [False, False, False]  # 300 MB is not under 300; a miss is a miss
    assert heavy[0].peer is None  # without datasets, ours alone
    disagree = preference_rows(planted, Child(5.0, 120.0, ""), _found(20, 10, 1000), Child(1.0, 400.0, ""),
                               {"records": 1000, "exact": 21})
    assert disagree[2].ok is False  # the peer's count must match too, or the check is not the same check


def test_the_benchmark_runs_end_to_end_at_a_tiny_size(monkeypatch, capsys):
    monkeypatch.setenv("BENCH_PREFS_MB", "0.3")
    assert bench.main() is True
    printed = capsys.readouterr().out
    assert "MB/s" in printed and "peak RSS" in printed and "datasets" in printed
