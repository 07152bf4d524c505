"""`rlhf.ppo_text_generation` at its quick preset: the summary a post cites, with values that hang together."""

from __future__ import annotations

import csv

import pytest

from studyforge.experiments.rlhf.studies.ppo_text_generation import (
    PPOTextGenerationConfig,
    ppo_text_generation,
)
from studyforge.tracking.context import RunContext


def test_quick_run_reports_dynamics_heldout_gains_and_cost(tmp_path):
    cfg = PPOTextGenerationConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ppo_text_generation(ctx, cfg)
    s = ctx.summary_values
    assert s["reference"]["kl"] == 0.0  # the reference against itself
    for run in ("fixed", "adaptive"):
        assert s[run]["kl"] >= -3 * s[run]["kl_se"] - 1e-6  # a KL estimate, noisy but not below zero
        assert 0.0 <= s[run]["gold"] <= 2.0 and 1 <= s[run]["length"] <= cfg.rlhf.max_new_tokens
    assert s["gold_gain"] == pytest.approx(s["fixed"]["gold"] - s["reference"]["gold"])
    # seeded: four PPO updates raise the proxy reward of fresh held-out responses over the reference's (0.54 here)
    assert s["proxy_gain"] > 0.2
    assert s["adaptive"]["kl_target"] == cfg.kl_target and s["adaptive"]["final_beta"] > 0
    per = s["cost"]["per_update"]
    # warm-up and updates alike: batch × max_new_tokens generated; epochs × batch rows through backward
    assert per["tokens_generated"] == cfg.rlhf.batch_size * cfg.rlhf.max_new_tokens
    assert per["reference_forward"] == cfg.rlhf.batch_size
    assert per["policy_backward"] == cfg.rlhf.update_epochs * cfg.rlhf.batch_size
    assert all(s["timing"][r]["updates_per_minute"] > 0 for r in ("fixed", "adaptive"))
    with open(tmp_path / "run" / "tables" / "samples.csv") as f:
        assert {r["policy"] for r in csv.DictReader(f)} == {"reference", "fixed", "adaptive"}
    assert {p.name for p in (tmp_path / "run" / "figures").iterdir()} >= {"training_dynamics.png", "cost_split.png"}
