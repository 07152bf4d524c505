"""`policy_gradient.vtrace_correction`: off-policy correction with V-trace as the actors' policy lag grows.

IMPALA (Espeholt et al., arXiv 1802.01561) decouples acting from learning: the actors act with parameters some
updates old, so the learner's data come from a behaviour policy μ ≠ π. V-trace corrects with truncated
importance weights ρ = min(ρ̄, π/μ); without it the learner treats the data as on-policy. The lag is set
exactly here (learner updates), or measured with real actor processes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Smoothing, Workers
from studyforge.experiments.policy_gradient import impala, plots
from studyforge.experiments.policy_gradient.impala import ImpalaConfig
from studyforge.experiments.policy_gradient.studies.common import THRESHOLDS, group_summary
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.jobs import Job, log_result, run_jobs, single_thread
from studyforge.experiments.rl.plots import learning_curves


class VtraceConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    lags: list[int] = Field(default_factory=lambda: [0, 8, 32], description="policy lags (learner updates)")
    corrections: list[str] = Field(default_factory=lambda: ["vtrace", "none"],
                                   description="vtrace and/or none")
    impala: ImpalaConfig = Field(default_factory=lambda: ImpalaConfig(learning_rate=1e-3),
                                 description="actor–learner hyperparameters (lag and correction set per run)")
    total_steps: int = Field(80_000, ge=1, description="environment steps per run")
    seeds: Seeds = 3
    grid_points: GridPoints = 40
    smoothing: Smoothing = 10
    workers: Workers = 2
    actor_processes: int = Field(0, ge=0, description="also train with this many real actor processes "
                                                      "(lag measured, not set) per correction; 0: skip")
    presets: ClassVar = {
        "quick": {"lags": [0, 4], "total_steps": 2_000, "seeds": 1, "workers": 1, "grid_points": 5},
        "full": {"lags": [0, 4, 16, 64, 128], "total_steps": 300_000, "seeds": 10},
    }

    @field_validator("corrections")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        if not value or any(v not in ("vtrace", "none") for v in value):
            raise ValueError("corrections are 'vtrace' and/or 'none'")
        return value


@register("policy_gradient.vtrace_correction", week=4, config=VtraceConfig,
          headline="lag_max.vtrace.final_return")
def vtrace_correction(ctx, cfg: VtraceConfig) -> None:
    """Off-policy correction with V-trace as the actors' policy lag grows.

    The actors act with the learner's parameters from `lag` updates ago; the learner trains on their data
    with V-trace (truncated importance weights) or as if it were on-policy. `log_rho_abs` is the mean
    |log π/μ| of the learner's batches: how off-policy the data really was.
    """
    jobs = [Job((lag, corr, s), impala.train, cfg.env, cfg.impala.model_copy(update={"policy_lag": lag,
                                                                                 "correction": corr}),
                cfg.total_steps, ctx.seed * 1000 + s)
            for lag in cfg.lags for corr in cfg.corrections for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "training runs",
                       lambda j: f"lag{j.key[0]}/{j.key[1]}/s{j.key[2]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    summary: dict[str, Any] = {}
    finals: dict[str, list[dict]] = {c: [] for c in cfg.corrections}
    for lag in cfg.lags:
        entry = {}
        for corr in cfg.corrections:
            runs = [results[(lag, corr, s)] for s in range(cfg.seeds)]
            entry[corr] = group_summary(runs, THRESHOLDS.get(cfg.env))
            entry[corr]["log_rho_abs"] = float(np.mean(np.concatenate(
                [r.update_series("vtrace/log_rho_abs")[1] for r in runs])))
            finals[corr].append(curves.interval([r.final_return() for r in runs]))
        summary[f"lag{lag}"] = entry
    summary["lag_max"] = summary[f"lag{max(cfg.lags)}"]
    if cfg.actor_processes:
        # real actor processes: the lag is whatever this machine makes it (runs here, one at a time)
        for corr in cfg.corrections:
            proc_cfg = cfg.impala.model_copy(update={"correction": corr, "actors": "processes",
                                                     "num_actor_processes": cfg.actor_processes})
            with single_thread():
                res = impala.train(cfg.env, proc_cfg, total_steps=cfg.total_steps, seed=ctx.seed * 1000)
            log_result(ctx.log, res, f"processes/{corr}/")
            _, lags = res.update_series("vtrace/policy_lag")
            summary.setdefault("processes", {})[corr] = {
                "final_return": res.final_return(), "measured_lag_mean": float(lags.mean()),
                "measured_lag_max": float(lags.max()), "actor_processes": cfg.actor_processes}
    ctx.summary(**summary, lags=list(cfg.lags))
    ctx.log_figure("final_return_vs_lag", plots.final_return_vs_lag(cfg.lags, finals),
                   caption=f"Final training return (IQM over {cfg.seeds} seeds, 95% bootstrap CI) against "
                           "the actors' policy lag, with and without V-trace.")
    lag = max(cfg.lags)
    groups = {corr: [results[(lag, corr, s)].curve(grid, cfg.smoothing) for s in range(cfg.seeds)]
              for corr in cfg.corrections}
    ctx.log_figure("learning_curves_max_lag",
                   learning_curves(grid, groups, f"{cfg.env}, policy lag {lag}"),
                   caption=f"Training return at the largest lag ({lag} updates), IQM with 95% bands.")
