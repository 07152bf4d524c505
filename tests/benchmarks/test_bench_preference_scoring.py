"""The claim of `benchmarks/bench_preference_scoring.py` at a tiny size: each completion through each reward
model once (2 passes per pair per model), and batched scores equal to pair-by-pair ones (checked inside)."""

from __future__ import annotations

from benchmarks.bench_preference_scoring import measure


def test_each_completion_goes_through_each_model_once():
    rows = {r.what: r for r in measure(16)}
    assert rows["forward passes per pair (one model)"].ours == 2
    assert rows["forward passes per pair per member (5-member ensemble)"].ours == 2
    assert rows["scoring, one reward model"].ours > 0
