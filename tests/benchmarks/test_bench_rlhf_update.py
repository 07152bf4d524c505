"""`benchmarks/bench_rlhf_update.py` at a tiny size: the time split adds up and the cost counters are exact."""

from __future__ import annotations

import pytest

from benchmarks.bench_rlhf_update import measure


def test_update_timing_splits_and_counts_are_consistent():
    m = measure(updates=2, batch=8, d_model=16, n_layers=1)
    assert m["seconds_per_update"] == pytest.approx(m["generate_s"] + m["score_s"] + m["optimise_s"])
    assert m["updates_per_minute"] == pytest.approx(60 / m["seconds_per_update"])
    assert min(m["generate_s"], m["score_s"], m["optimise_s"]) > 0
    # 8 responses × 24 tokens; the policy runs once on the rollout and 4 epochs over the 8 rows (forward + backward)
    assert m["per_update_tokens_generated"] == 8 * 24
    assert m["per_update_policy_forward"] == 8 + 4 * 8 and m["per_update_policy_backward"] == 4 * 8
    assert m["per_update_reference_forward"] == 8 and m["per_update_reward_forward"] == 8
