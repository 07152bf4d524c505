"""`policy_gradient.algorithm_comparison`: policy optimisation from REINFORCE to GRPO, over seeds.

REINFORCE (Williams, 1992), the natural policy gradient (Kakade, 2001), TRPO (arXiv 1502.05477), PPO (arXiv
1707.06347) and GRPO (arXiv 2402.03300) on CartPole, Acrobot and a third environment (LunarLander-v3 with
Box2D, else MountainCar-v0), each on the same budget of environment steps. Reported as Agarwal et al.
(arXiv 2108.13264) advise for a handful of seeds: interquartile-mean learning curves with bootstrap bands.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Smoothing, Workers, names_in
from studyforge.experiments.keys import env_key
from studyforge.experiments.policy_gradient import a2c, grpo, npg, ppo, reinforce, trpo
from studyforge.experiments.policy_gradient.a2c import A2CConfig
from studyforge.experiments.policy_gradient.grpo import GRPOConfig
from studyforge.experiments.policy_gradient.npg import NPGConfig
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.policy_gradient.reinforce import ReinforceConfig
from studyforge.experiments.policy_gradient.studies.common import THRESHOLDS, group_summary
from studyforge.experiments.policy_gradient.trpo import TRPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.evaluation import random_policy_return
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.rl.plots import learning_curves

# name -> training function
ALGORITHMS = {"reinforce": reinforce.train, "npg": npg.train, "trpo": trpo.train, "ppo": ppo.train,
              "grpo": grpo.train, "a2c": a2c.train}


def third_env() -> str:
    """LunarLander-v3 when Box2D is installed (the issue's choice), else MountainCar-v0."""
    return "LunarLander-v3" if importlib.util.find_spec("Box2D") else "MountainCar-v0"


class ComparisonConfig(ExperimentConfig):
    envs: list[str] = Field(default_factory=lambda: ["CartPole-v1", "Acrobot-v1", third_env()],
                            description="environments (the third: LunarLander-v3 if Box2D is installed, "
                                        "else MountainCar-v0)")
    algorithms: Annotated[list[str], names_in(ALGORITHMS, "algorithms")] = Field(
        default_factory=lambda: ["reinforce", "npg", "trpo", "ppo", "grpo"],
        description=f"algorithms from {', '.join(ALGORITHMS)}")
    total_steps: int = Field(50_000, ge=1, description="environment steps per run")
    seeds: Seeds = 3
    eval_episodes: int = Field(10, ge=1,
                               description="evaluation episodes of each final agent (greedy, sampled)")
    grid_points: GridPoints = 50
    smoothing: Smoothing = 10
    workers: Workers = 2
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig,
                                       description="REINFORCE hyperparameters")
    npg: NPGConfig = Field(default_factory=NPGConfig, description="natural policy gradient hyperparameters")
    trpo: TRPOConfig = Field(default_factory=TRPOConfig, description="TRPO hyperparameters")
    ppo: PPOConfig = Field(default_factory=PPOConfig, description="PPO hyperparameters")
    grpo: GRPOConfig = Field(default_factory=GRPOConfig, description="GRPO hyperparameters")
    a2c: A2CConfig = Field(default_factory=A2CConfig, description="A2C hyperparameters")
    presets: ClassVar = {
        "quick": {"envs": ["CartPole-v1"], "total_steps": 2_000, "seeds": 2, "eval_episodes": 2, "workers": 1,
                  "grid_points": 10, "npg": {"num_steps": 32}, "trpo": {"num_steps": 32},
                  "ppo": {"update_epochs": 2}, "grpo": {"group_size": 4}},
        "full": {"total_steps": 500_000, "seeds": 10, "eval_episodes": 20},
    }

    @field_validator("envs")
    @classmethod
    def _some_envs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one environment")
        return value


@register("policy_gradient.algorithm_comparison", week=4, config=ComparisonConfig,
          headline="cartpole_v1.ppo.final_return")
def algorithm_comparison(ctx, cfg: ComparisonConfig) -> None:
    """Policy optimisation from REINFORCE to GRPO on several environments, over seeds.

    Each algorithm trains `seeds` times on each environment for the same number of environment steps.
    Learning curves (training-episode return, smoothed over `smoothing` episodes) are put on a common step
    grid and aggregated as the interquartile mean with a 95% bootstrap band. Each final agent is evaluated
    on fresh episodes, greedily and sampling. The random policy's return is the floor.
    """
    jobs = [Job((env, algo, s), ALGORITHMS[algo], env, getattr(cfg, algo), cfg.total_steps,
                ctx.seed * 1000 + s, eval_episodes=cfg.eval_episodes)
            for env in cfg.envs for algo in cfg.algorithms for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "training runs",
                       lambda j: f"{env_key(j.key[0])}/{j.key[1]}/s{j.key[2]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    rows = []
    for env in cfg.envs:
        key = env_key(env)
        groups, summary = {}, {}
        random_return = random_policy_return(env, episodes=20, seed=ctx.seed)
        for algo in cfg.algorithms:
            runs = [results[(env, algo, s)] for s in range(cfg.seeds)]
            groups[algo] = [r.curve(grid, cfg.smoothing) for r in runs]
            summary[algo] = group_summary(runs, THRESHOLDS.get(env))
            ctx.save_checkpoint(f"{key}.{algo}", runs[0].agent.state_dict())
            for r in runs:
                rows.append({"env": env, "algorithm": algo, "seed": r.seed, "final_return": r.final_return(),
                             "eval_greedy": r.extras["eval"]["greedy"]["mean"],
                             "eval_sampled": r.extras["eval"]["sampled"]["mean"],
                             "episodes": len(r.episode_returns), "env_steps": r.env_steps,
                             "wall_time_s": round(r.wall_time, 2)})
        summary["random_return"] = random_return
        ctx.summary(**{key: summary})
        ctx.log_figure(f"learning_curves_{key}", learning_curves(
            grid, groups, f"{env}: training return (IQM, 95% bootstrap band)", hline=random_return,
            hline_label="random policy"),
            caption=f"{env}: return of training episodes against environment steps, interquartile mean over "
                    f"{cfg.seeds} seeds with 95% bootstrap bands; dashed: uniform random policy.")
    ctx.log_table("runs", rows, caption="Every training run: final training return (last 20 episodes), "
                                        "evaluation returns, budget and wall time.")
    ctx.summary(envs=list(cfg.envs), total_steps=cfg.total_steps, seeds=cfg.seeds)
