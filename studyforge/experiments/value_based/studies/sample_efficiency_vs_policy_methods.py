"""`value_based.sample_efficiency_vs_policy_methods`: DQN against PPO and A2C, in env steps to a return level.

Value-based and policy-based deep RL on the same environment and budget: DQN (Mnih et al., arXiv 1312.5602)
reuses every transition many times from its replay buffer; PPO (arXiv 1707.06347) and A2C (arXiv 1602.01783)
learn from each on-policy batch once or a few times. Each with its rl-baselines3-zoo CartPole settings.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Workers
from studyforge.experiments.keys import env_key
from studyforge.experiments.policy_gradient import a2c, ppo
from studyforge.experiments.policy_gradient.a2c import A2CConfig
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.evaluation import evaluate
from studyforge.experiments.rl.jobs import Job, run_jobs, single_thread
from studyforge.experiments.rl.plots import learning_curves
from studyforge.experiments.value_based import dqn
from studyforge.experiments.value_based.dqn import DQNConfig
from studyforge.experiments.value_based.studies.common import SOLVED


class SampleEfficiencyConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="the shared environment")
    total_steps: int = Field(100_000, ge=1, description="the shared budget of environment steps per run")
    seeds: Seeds = 2
    methods: list[str] = Field(default_factory=lambda: ["dqn", "ppo", "a2c"], description="dqn, ppo, a2c")
    dqn: DQNConfig = Field(default_factory=DQNConfig, description="DQN (zoo CartPole settings)")
    ppo: PPOConfig = Field(default_factory=PPOConfig, description="PPO (week 7's module, zoo CartPole settings)")
    a2c: A2CConfig = Field(default_factory=A2CConfig, description="A2C (week 6's module, zoo CartPole settings)")
    thresholds: list[float] = Field(default_factory=lambda: [195.0, 475.0],
                                    description="return levels (mean of the last 10 training episodes)")
    eval_episodes: int = Field(20, ge=1, description="greedy evaluation episodes of each final agent")
    workers: Workers = 2
    grid_points: GridPoints = 50

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if m not in ("dqn", "ppo", "a2c")]
        if bad or not value:
            raise ValueError(f"unknown methods {bad}; use dqn, ppo, a2c")
        return value

    presets: ClassVar = {
        "quick": {"total_steps": 1_000, "seeds": 1, "eval_episodes": 2, "workers": 1, "thresholds": [20.0],
                  "dqn": {"learning_starts": 400, "train_freq": 200, "gradient_steps": 4, "hidden": [32, 32]}},
        "full": {"seeds": 10, "total_steps": 200_000},
    }


@register("value_based.sample_efficiency_vs_policy_methods", week=14, config=SampleEfficiencyConfig,
          headline="cartpole_v1.dqn.final_return")
def sample_efficiency_vs_policy_methods(ctx, cfg: SampleEfficiencyConfig) -> None:
    """DQN against PPO and A2C on the same environment and step budget: steps to each return level.

    PPO and A2C are weeks 6–7's modules (`policy_gradient.ppo`, `policy_gradient.a2c`), each with its
    rl-baselines3-zoo CartPole settings, as DQN has its own. Every method is read off its training
    episodes (DQN's are ε-greedy, the policy methods' are sampled from π): the env steps at which the mean
    of the last 10 episode returns first reaches each threshold, the final training return, a greedy
    evaluation of the final agent, and wall-clock time (replay makes DQN reuse each step many times:
    fewer env steps, more computation per step).
    """
    seeds = [ctx.seed * 1000 + i for i in range(cfg.seeds)]
    ek = env_key(cfg.env_id)
    targets = {"dqn": (dqn.train, cfg.dqn), "ppo": (ppo.train, cfg.ppo), "a2c": (a2c.train, cfg.a2c)}
    jobs = [Job((ek, m, f"s{s}"), targets[m][0], cfg.env_id, targets[m][1], cfg.total_steps, s)
            for m in cfg.methods for s in seeds]
    results = run_jobs(ctx, jobs, cfg.workers, "DQN vs PPO vs A2C", every=2048)
    by_method = {m: [results[(ek, m, f"s{s}")] for s in seeds] for m in cfg.methods}
    summary: dict[str, Any] = {}
    for m, rs in by_method.items():
        final = curves.interval([r.final_return() for r in rs])
        with single_thread():
            evals = [evaluate(r.agent.eval() if m == "dqn" else r.agent, cfg.env_id, cfg.eval_episodes,
                              deterministic=True, seed=r.seed).mean for r in rs]
        s: dict[str, Any] = {"final_return": final["iqm"], "final_return_ci95": [final["lo"], final["hi"]],
                             "eval_return_greedy": float(np.median(evals)),
                             "wall_time_s": float(np.mean([r.wall_time for r in rs])),
                             "env_steps_per_s": float(np.mean([r.env_steps / r.wall_time for r in rs]))}
        for th in cfg.thresholds:
            hits = [curves.steps_to_threshold(r.episode_steps, r.episode_returns, th) for r in rs]
            reached = [h for h in hits if h is not None]
            s[f"steps_to_{th:g}"] = float(np.median(reached)) if reached else None
            s[f"reached_{th:g}"] = f"{len(reached)}/{len(hits)}"
        summary[m] = s
    ctx.summary(**{ek: summary, "budget_env_steps": cfg.total_steps})
    ctx.log_table("sample_efficiency", [{"method": m, **{k: v for k, v in s.items() if not isinstance(v, list)}}
                                        for m, s in summary.items()],
                  caption="Env steps to each return level (mean of the last 10 training episodes), final return, "
                          "greedy evaluation, wall time.")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    groups = {m: [r.curve(grid, 10) for r in rs]
              for m, rs in by_method.items()}
    ctx.log_figure("sample_efficiency_curves", learning_curves(
        grid, groups, f"{cfg.env_id}: DQN vs PPO vs A2C, same budget", hline=SOLVED.get(cfg.env_id)),
        caption="Training return against environment steps (IQM over seeds with a 95% bootstrap band).")
