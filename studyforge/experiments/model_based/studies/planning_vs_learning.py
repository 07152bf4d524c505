"""`model_based.planning_vs_learning`: MPC on a learned ensemble model against model-free PPO, in env steps.

The model-based agent of Nagabandi et al. (arXiv 1708.02596) and PETS (Chua et al., arXiv 1805.12114): fit an
ensemble of small MLPs to the state change, then act by replanning at every step — random shooting or the
cross-entropy method over action sequences, scored with the known reward. PPO (arXiv 1707.06347, week 7)
learns a policy from the same environment. The model-based agent spends far fewer samples and far more
computation per step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, Seeds, Workers
from studyforge.experiments.model_based import plots
from studyforge.experiments.model_based.mpc import MPCConfig, train_mpc
from studyforge.experiments.policy_gradient import ppo
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.jobs import Job, run_jobs


class PlanningConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="environment (MPC knows its reward and termination)")
    threshold: float = Field(475.0, description="return level to reach (CartPole-v1's 'solved')")
    easy_threshold: float = Field(195.0, description="a lower level also reported (CartPole-v0's 'solved')")
    window: int = Field(5, ge=1, description="episodes averaged when testing the threshold")
    seeds: Seeds = 1
    planners: list[str] = Field(default_factory=lambda: ["random_shooting", "cem"], description="MPC planners")
    mpc: MPCConfig = Field(default_factory=lambda: MPCConfig(horizon=50, candidates=150, cem_iterations=2),
                           description="MPC and model-fit settings (50 steps of look-ahead: shorter horizons "
                                       "cannot see the cart drifting off the track in time)")
    cem_candidates: int = Field(75, ge=2, description="sequences per CEM iteration (same scoring budget as "
                                                      "random shooting: iterations × candidates)")
    mpc_max_steps: int = Field(5_000, ge=1, description="env-step cap of an MPC run (stops early once solved)")
    ppo: PPOConfig = Field(default_factory=PPOConfig, description="model-free PPO (week 7's module)")
    ppo_steps: int = Field(100_000, ge=1, description="env steps of a PPO run")
    workers: Workers = 2

    presets: ClassVar = {
        "quick": {"seeds": 1, "threshold": 30.0, "easy_threshold": 15.0, "window": 2, "mpc_max_steps": 250,
                  "ppo_steps": 512,
                  "mpc": {"horizon": 8, "candidates": 20, "random_steps": 100, "first_fit_epochs": 3,
                          "refit_epochs": 1, "ensemble": 2, "hidden": [16]},
                  "cem_candidates": 20, "workers": 1},
        "full": {"seeds": 5, "ppo_steps": 200_000},
    }


@register("model_based.planning_vs_learning", week=15, config=PlanningConfig, headline="ppo_over_mpc_steps_ratio")
def planning_vs_learning(ctx, cfg: PlanningConfig) -> None:
    """Planning vs learning: MPC on a learned ensemble model against model-free PPO, in env steps to a return.

    The model-based agent collects 200 random steps, fits an ensemble of 5 small MLPs to predict the state
    change, then acts by replanning at every step (random shooting or the cross-entropy method over
    50-step action sequences, scored with CartPole's known reward and termination, averaged over the
    members), refitting after every
    episode. PPO (week 7, zoo settings) learns a policy from the same environment. Reported: the env steps
    at which the mean return of the last `window` episodes reaches `threshold` (and `easy_threshold`), and
    the wall-clock cost —
    the model-based agent spends far fewer samples and far more computation per step.
    """
    seeds = [ctx.seed * 1000 + i for i in range(cfg.seeds)]
    stop = {"stop_return": cfg.threshold, "stop_after": cfg.window}
    jobs = []
    for planner in cfg.planners:
        mcfg = cfg.mpc.model_copy(update={"planner": planner, **({"candidates": cfg.cem_candidates}
                                                                  if planner == "cem" else {})})
        jobs += [Job(("mpc_" + planner, f"s{s}"), train_mpc, cfg.env_id, mcfg, cfg.mpc_max_steps, s, stop)
                 for s in seeds]
    jobs += [Job(("ppo", f"s{s}"), ppo.train, cfg.env_id, cfg.ppo, cfg.ppo_steps, s) for s in seeds]
    # MPC runs are a few hundred steps long: replay them in finer rows than PPO's
    results = run_jobs(ctx, jobs, cfg.workers, "MPC vs PPO", every=lambda job: 256 if "mpc" in job.key[0] else 4096)
    methods = [f"mpc_{p}" for p in cfg.planners] + ["ppo"]
    summary: dict[str, Any] = {"threshold": cfg.threshold, "easy_threshold": cfg.easy_threshold, "window": cfg.window}
    for m in methods:
        rs = [results[(m, f"s{s}")] for s in seeds]
        hits = [curves.steps_to_threshold(r.episode_steps, r.episode_returns, cfg.threshold, cfg.window) for r in rs]
        easy = [curves.steps_to_threshold(r.episode_steps, r.episode_returns, cfg.easy_threshold, cfg.window)
                for r in rs]
        reached, reached_easy = [h for h in hits if h is not None], [h for h in easy if h is not None]
        summary[m] = {"steps_to_threshold": float(np.median(reached)) if reached else None,
                      "reached": f"{len(reached)}/{len(hits)}",
                      "steps_to_easy_threshold": float(np.median(reached_easy)) if reached_easy else None,
                      "reached_easy": f"{len(reached_easy)}/{len(easy)}",
                      "env_steps": float(np.mean([r.env_steps for r in rs])),
                      "wall_time_s": float(np.mean([r.wall_time for r in rs])),
                      "wall_time_per_env_step_ms": float(np.mean([1e3 * r.wall_time / r.env_steps for r in rs])),
                      "best_return": float(max(r.episode_returns.max() if len(r.episode_returns) else 0 for r in rs))}
    for suffix, key in (("", "steps_to_threshold"), ("_easy", "steps_to_easy_threshold")):
        # PPO's steps over the best MPC planner's steps to the same level
        mpc_best = min((summary[f"mpc_{p}"][key] for p in cfg.planners if summary[f"mpc_{p}"][key]), default=None)
        ppo_steps = summary["ppo"][key]
        summary[f"ppo_over_mpc_steps_ratio{suffix}"] = ppo_steps / mpc_best if ppo_steps and mpc_best else None
    ctx.summary(**summary)
    ctx.log_table("planning_vs_learning", [{"method": m, **summary[m]} for m in methods],
                  caption="Env steps to the return threshold and wall time: model-based MPC vs model-free PPO.")
    runs = {m: [results[(m, f"s{s}")] for s in seeds] for m in methods}
    ctx.log_figure("planning_vs_learning", plots.planning_vs_learning(runs, cfg.threshold, cfg.window, cfg.env_id),
                   caption="Return against env steps (log scale): MPC on a learned ensemble model reaches the "
                           "threshold in far fewer steps.")
