"""`policy_gradient.ppo_objective_comparison`: clipped vs unclipped vs adaptive-KL PPO, with TRPO as the reference.

PPO's paper (Schulman et al., arXiv 1707.06347, §6.1) compares surrogate objectives: the clipped ratio, no
clipping or penalty at all, and a KL penalty whose coefficient β adapts to a KL target. TRPO (arXiv
1502.05477) enforces KL ≤ δ by a line search: the reference for how far one update should move the policy.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Smoothing, Workers
from studyforge.experiments.keys import env_key
from studyforge.experiments.policy_gradient import ppo, trpo
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.policy_gradient.studies.common import THRESHOLDS, group_summary
from studyforge.experiments.policy_gradient.trpo import TRPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.rl.plots import learning_curves, per_update


class ObjectiveConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    objectives: list[str] = Field(default_factory=lambda: ["clip", "none", "kl", "trpo"],
                                  description="PPO objectives (clip, none, kl) and/or trpo as the reference")
    ppo: PPOConfig = Field(default_factory=PPOConfig,
                           description="PPO hyperparameters (objective set per run)")
    trpo: TRPOConfig = Field(default_factory=lambda: TRPOConfig(num_steps=32, gamma=0.98, gae_lambda=0.8),
                             description="TRPO hyperparameters (the same batch as PPO's by default)")
    total_steps: int = Field(100_000, ge=1, description="environment steps per run")
    seeds: Seeds = 3
    grid_points: GridPoints = 40
    smoothing: Smoothing = 10
    workers: Workers = 2
    presets: ClassVar = {
        "quick": {"total_steps": 2_048, "seeds": 1, "workers": 1, "grid_points": 5,
                  "ppo": {"update_epochs": 4}},
        "full": {"total_steps": 500_000, "seeds": 10},
    }

    @field_validator("objectives")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        if not value or any(v not in ("clip", "none", "kl", "trpo") for v in value):
            raise ValueError("objectives are clip, none, kl and/or trpo")
        return value


@register("policy_gradient.ppo_objective_comparison", week=7, config=ObjectiveConfig,
          headline="clip.kl_moved_p95")
def ppo_objective_comparison(ctx, cfg: ObjectiveConfig) -> None:
    """Clipped vs unclipped vs adaptive-KL PPO objectives, with TRPO's hard KL constraint as the reference.

    How well each keeps the new policy near the old one — the exact KL between consecutive policies per
    update (median, 95th percentile, max, share above TRPO's δ) — and what it costs in learning speed.
    All four use the same batch size; the PPO variants the same epochs and learning rate.
    """
    jobs = []
    for obj in cfg.objectives:
        if obj == "trpo":
            train, algo_cfg = trpo.train, cfg.trpo
        else:
            train, algo_cfg = ppo.train, cfg.ppo.model_copy(update={"objective": obj})
        jobs += [Job((obj, s), train, cfg.env, algo_cfg, cfg.total_steps, ctx.seed * 1000 + s)
                 for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "training runs", lambda j: f"{j.key[0]}/s{j.key[1]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    groups, kls = {}, {}
    for obj in cfg.objectives:
        runs = [results[(obj, s)] for s in range(cfg.seeds)]
        groups[obj] = [r.curve(grid, cfg.smoothing) for r in runs]
        ctx.save_checkpoint(f"{env_key(cfg.env)}.{obj}", runs[0].agent.state_dict())
        kls[obj] = [r.update_series("losses/kl_moved") for r in runs]
        values = np.concatenate([k[1] for k in kls[obj]])
        entry = group_summary(runs, THRESHOLDS.get(cfg.env))
        entry.update({"kl_moved_median": float(np.median(values)),
                      "kl_moved_p95": float(np.percentile(values, 95)), "kl_moved_max": float(values.max()),
                      "frac_updates_kl_over_delta": float((values > cfg.trpo.delta * (1 + 1e-6)).mean())})
        if obj != "trpo":
            entry["clipfrac_mean"] = float(np.mean(np.concatenate([r.update_series("losses/clipfrac")[1]
                                                                   for r in runs])))
        if obj == "kl":
            entry["final_beta"] = float(np.mean([r.update_series("charts/kl_beta")[1][-1] for r in runs]))
        ctx.summary(**{obj: entry})
    ctx.summary(delta=cfg.trpo.delta, objectives=list(cfg.objectives))
    ctx.log_figure("kl_per_update", per_update(kls, "KL(π_old ‖ π_new) per update", "mean KL",
                                               hline=cfg.trpo.delta, hline_label="TRPO's δ", logy=True),
                   caption="Exact mean KL between consecutive policies, every update of every run.")
    ctx.log_figure("learning_curves",
                   learning_curves(grid, groups, f"{cfg.env}: PPO objectives and TRPO",
                                   hline=THRESHOLDS.get(cfg.env), hline_label="threshold"),
                   caption=f"Training return, IQM over {cfg.seeds} seeds with 95% bootstrap bands.")
