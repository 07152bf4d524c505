"""`policy_gradient.a2c_vs_reinforce`: A2C against week 4's REINFORCE, with and without a learned baseline.

The actor-critic of Mnih et al. (arXiv 1602.01783, synchronous: A2C) bootstraps n-step returns from its
critic; REINFORCE (Williams, 1992) waits for whole episodes. On the same budget: sample efficiency (steps to
the solve threshold) and stability (spread across seeds, collapses after solving).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Smoothing, Workers
from studyforge.experiments.keys import env_key
from studyforge.experiments.policy_gradient import a2c, reinforce
from studyforge.experiments.policy_gradient.a2c import A2CConfig
from studyforge.experiments.policy_gradient.reinforce import ReinforceConfig
from studyforge.experiments.policy_gradient.studies.common import THRESHOLDS, group_summary
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.rl.plots import learning_curves


class A2CVsReinforceConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    total_steps: int = Field(200_000, ge=1, description="environment steps per run")
    seeds: Seeds = 5
    a2c: A2CConfig = Field(default_factory=A2CConfig, description="A2C hyperparameters")
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig,
                                       description="REINFORCE hyperparameters (baseline set per method)")
    grid_points: GridPoints = 50
    smoothing: Smoothing = 10
    workers: Workers = 2
    presets: ClassVar = {
        "quick": {"total_steps": 2_000, "seeds": 2, "workers": 1, "grid_points": 5},
        "full": {"total_steps": 500_000, "seeds": 20},
    }


@register("policy_gradient.a2c_vs_reinforce", week=6, config=A2CVsReinforceConfig,
          headline="a2c.steps_to_threshold_median")
def a2c_vs_reinforce(ctx, cfg: A2CVsReinforceConfig) -> None:
    """A2C against week 4's REINFORCE, with and without a learned baseline, on the same budget.

    Sample efficiency: environment steps until the smoothed training return first reaches the solve
    threshold. Stability: the spread of the final return across seeds, and how often a run that has
    reached the threshold later falls below half of it (a collapse).
    """
    methods = {
        "a2c": (a2c.train, cfg.a2c),
        "reinforce_baseline": (reinforce.train, cfg.reinforce.model_copy(update={"baseline": "value"})),
        "reinforce": (reinforce.train, cfg.reinforce.model_copy(update={"baseline": "none",
                                                                         "gae_lambda": None})),
    }
    jobs = [Job((name, s), train, cfg.env, algo_cfg, cfg.total_steps, ctx.seed * 1000 + s)
            for name, (train, algo_cfg) in methods.items() for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "training runs", lambda j: f"{j.key[0]}/s{j.key[1]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    threshold = THRESHOLDS.get(cfg.env)
    groups, rows = {}, []
    for name in methods:
        runs = [results[(name, s)] for s in range(cfg.seeds)]
        groups[name] = [r.curve(grid, cfg.smoothing) for r in runs]
        ctx.save_checkpoint(f"{env_key(cfg.env)}.{name}", runs[0].agent.state_dict())
        entry = group_summary(runs, threshold)
        finals = [r.final_return() for r in runs]
        entry["final_return_std_across_seeds"] = float(np.std(finals, ddof=1)) if len(finals) > 1 else 0.0
        entry["collapses"] = sum(_collapses(r, threshold, cfg.smoothing) for r in runs) if threshold else 0
        ctx.summary(**{name: entry})
        for r in runs:
            rows.append({"method": name, "seed": r.seed, "final_return": r.final_return(),
                         "steps_to_threshold": curves.steps_to_threshold(r.episode_steps, r.episode_returns,
                                                                         threshold) if threshold else None,
                         "wall_time_s": round(r.wall_time, 2)})
    ctx.summary(threshold=threshold, total_steps=cfg.total_steps)
    ctx.log_table("runs", rows, caption="Per run: final return and steps to the solve threshold.")
    ctx.log_figure("learning_curves", learning_curves(grid, groups, f"{cfg.env}: A2C vs REINFORCE",
                                                      hline=threshold, hline_label="threshold"),
                   caption=f"Training return, IQM over {cfg.seeds} seeds with 95% bootstrap bands.")


def _collapses(result, threshold: float, window: int) -> int:
    """Times the smoothed return falls below threshold/2 after having reached the threshold."""
    curve = curves.smoothed(result.episode_returns, window)
    count, above = 0, False
    for v in curve:
        if v >= threshold:
            above = True
        elif above and v < threshold / 2:
            count, above = count + 1, False
    return count
