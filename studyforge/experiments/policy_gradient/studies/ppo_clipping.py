"""`policy_gradient.ppo_clipping`: PPO's clipped objective update by update, and its sensitivity to ε.

PPO (Schulman et al., arXiv 1707.06347) maximises E[min(r_t Â_t, clip(r_t, 1 − ε, 1 + ε) Â_t)] with
r_t = π_new(a_t|s_t)/π_old(a_t|s_t): once a ratio leaves [1 − ε, 1 + ε] in the direction the advantage
favours, its gradient is zero. How often that happens (the clip fraction), how far the policy still moves
(the KL per update), what the ratios look like, and what the choice of ε does to learning.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Smoothing, Workers
from studyforge.experiments.keys import num_key
from studyforge.experiments.policy_gradient import plots, ppo
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.policy_gradient.studies.common import THRESHOLDS, group_summary
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.rl.plots import learning_curves, per_update


class ClippingConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    clip_ranges: list[float] = Field(default_factory=lambda: [0.1, 0.2, 0.3, 0.5],
                                     description="clip ranges ε to compare (held fixed, not annealed)")
    ppo: PPOConfig = Field(default_factory=lambda: PPOConfig(anneal_clip=False),
                           description="PPO hyperparameters (clip_coef set per run)")
    total_steps: int = Field(100_000, ge=1, description="environment steps per run")
    seeds: Seeds = 3
    histogram_updates: int = Field(3, ge=1,
                                   description="updates (early → late) whose ratios are histogrammed")
    grid_points: GridPoints = 40
    smoothing: Smoothing = 10
    workers: Workers = 2
    presets: ClassVar = {
        "quick": {"clip_ranges": [0.2, 0.5], "total_steps": 2_048, "seeds": 1, "workers": 1, "grid_points": 5,
                  "ppo": {"anneal_clip": False, "update_epochs": 4}},
        "full": {"clip_ranges": [0.05, 0.1, 0.2, 0.3, 0.5, 1.0], "total_steps": 500_000, "seeds": 10},
    }


@register("policy_gradient.ppo_clipping", week=7, config=ClippingConfig, headline="clip0_2.final_return")
def ppo_clipping(ctx, cfg: ClippingConfig) -> None:
    """PPO's clipped objective update by update, and its sensitivity to the clip range ε.

    Per update: the clip fraction (share of samples whose ratio left [1−ε, 1+ε] during the epochs), the
    approximate KL (k3 estimator, last minibatch) and the exact KL between the policies before and after
    the update. The ratio π_new/π_old of every sample after early, middle and late updates is histogrammed.
    """
    ppo_cfg = cfg.ppo.model_copy(update={"record_ratios": True})
    jobs = [Job((eps, s), ppo.train, cfg.env, ppo_cfg.model_copy(update={"clip_coef": eps}), cfg.total_steps,
                ctx.seed * 1000 + s) for eps in cfg.clip_ranges for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "training runs", lambda j: f"clip{num_key(j.key[0])}/s{j.key[1]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    groups, finals, clipfrac, kls = {}, [], {}, {}
    for eps in cfg.clip_ranges:
        runs = [results[(eps, s)] for s in range(cfg.seeds)]
        label = f"ε={eps:g}"
        groups[label] = [r.curve(grid, cfg.smoothing) for r in runs]
        finals.append(curves.interval([r.final_return() for r in runs]))
        clipfrac[label] = [r.update_series("losses/clipfrac") for r in runs]
        kls[label] = [r.update_series("losses/kl_moved") for r in runs]
        entry = group_summary(runs, THRESHOLDS.get(cfg.env))
        for key in ("losses/clipfrac", "losses/approx_kl", "losses/kl_moved", "losses/ratio_max_dev"):
            values = np.concatenate([r.update_series(key)[1] for r in runs])
            entry[key.split("/")[1] + "_mean"] = float(values.mean())
            entry[key.split("/")[1] + "_p95"] = float(np.percentile(values, 95))
        ctx.summary(**{f"clip{num_key(eps)}": entry})
    ctx.summary(clip_ranges=list(cfg.clip_ranges))
    ctx.log_figure("final_return_vs_clip", plots.interval_bars(
        [f"ε={e:g}" for e in cfg.clip_ranges], finals, "Final return against the clip range", "final return"),
        caption=f"Final training return per clip range, IQM over {cfg.seeds} seeds with 95% bootstrap CIs.")
    ctx.log_figure("learning_curves", learning_curves(grid, groups, f"{cfg.env}: PPO clip ranges"),
                   caption="Training return per clip range, IQM with 95% bootstrap bands.")
    ctx.log_figure("clip_fraction", per_update(clipfrac, "Clip fraction per update", "clip fraction"),
                   caption="Share of samples whose ratio was outside [1−ε, 1+ε] during each update's epochs.")
    ctx.log_figure("kl_per_update",
                   per_update(kls, "KL(π_old ‖ π_new) per update", "mean KL", logy=True),
                   caption="Exact mean KL between the policies before and after each update.")
    eps = 0.2 if 0.2 in cfg.clip_ranges else cfg.clip_ranges[0]
    ratios = results[(eps, 0)].extras["ratios"]
    # early to late, stopping at 80% of training: with the learning rate annealed to 0 the last updates
    # barely move
    picks = np.unique(np.linspace(0, 0.8 * (len(ratios) - 1), cfg.histogram_updates).astype(int))
    samples = {f"update {i + 1}/{len(ratios)}": ratios[i] for i in picks}
    ctx.log_figure("ratio_histograms", plots.histograms(samples, f"π_new/π_old after the update (ε={eps:g})",
                                                        clip=eps),
                   caption=f"Probability ratios of every sample of the batch after updates from early to "
                           f"late (up to 80% of training; ε={eps:g}, seed 0); dashed: 1 ± ε.")
    ctx.summary(ratio_histograms={f"update{i + 1}": {
        "p01": float(np.percentile(ratios[i], 1)), "p50": float(np.median(ratios[i])),
        "p99": float(np.percentile(ratios[i], 99)),
        "frac_outside_clip": float((np.abs(ratios[i] - 1) > eps).mean())} for i in picks})
