"""`policy_gradient.a2c_atari`: A2C on an Atari-style game — MinAtar Breakout by default, ALE by configuration.

A2C is the synchronous variant (OpenAI Baselines, 2017) of Mnih et al.'s A3C (arXiv 1602.01783): N environments
step in lock step and every n steps one gradient of the n-step actor-critic loss. On MinAtar (Young & Tian,
arXiv 1903.03176) with that paper's one-convolution network, it runs on a CPU.
"""

from __future__ import annotations

import importlib.util
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Workers
from studyforge.experiments.keys import env_key
from studyforge.experiments.policy_gradient import a2c
from studyforge.experiments.policy_gradient.a2c import A2CConfig
from studyforge.experiments.policy_gradient.studies.common import eval_means, group_summary
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.evaluation import random_policy_return
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.rl.plots import learning_curves, per_update

# MinAtar's README: a uniform random policy scores 0.5 ± 0.02 on Breakout (1000 episodes)
MINATAR_RANDOM_BREAKOUT = 0.5


def _minatar_a2c() -> A2CConfig:
    return A2CConfig(num_envs=16, num_steps=5, ent_coef=0.01, learning_rate=7e-4)


class AtariConfig(ExperimentConfig):
    env: str = Field("MinAtar/Breakout", description="MinAtar/<game> or ALE/<Game>-v5 (needs ale-py)")
    a2c: A2CConfig = Field(default_factory=_minatar_a2c, description="A2C hyperparameters")
    total_steps: int = Field(1_000_000, ge=1, description="environment steps per run (MinAtar: frames)")
    seeds: Seeds = 3
    eval_episodes: int = Field(20, ge=1, description="evaluation episodes of each final agent")
    grid_points: GridPoints = 50
    smoothing: int = Field(50, ge=1, description="trailing window (episodes) of the curves and of the final "
                                                 "return")
    workers: Workers = 2
    device: str = Field("cpu", description="cpu, or cuda for the ALE's Nature-DQN network")
    presets: ClassVar = {
        "quick": {"total_steps": 1_600, "seeds": 1, "eval_episodes": 2, "workers": 1, "grid_points": 5,
                  "smoothing": 5},
        "full": {"total_steps": 5_000_000, "seeds": 5, "eval_episodes": 50},
    }

    @field_validator("env")
    @classmethod
    def _available(cls, value: str) -> str:
        if value.startswith("ALE/") and importlib.util.find_spec("ale_py") is None:
            raise ValueError(f"{value} needs ale-py (pip install ale-py; it ships the ROMs)")
        if not value.startswith(("ALE/", "MinAtar/")):
            raise ValueError("use MinAtar/<game> (e.g. MinAtar/Breakout) or ALE/<Game>-v5")
        return value


@register("policy_gradient.a2c_atari", week=6, config=AtariConfig, headline="final_return")
def a2c_atari(ctx, cfg: AtariConfig) -> None:
    """A2C on an Atari-style game: MinAtar Breakout by default (CPU-friendly), ALE by configuration.

    Synchronous n-step A2C with parallel environments and the MinAtar paper's network (one 3×3 conv, 128
    units). The learning curve, the final training return and a greedy/sampled evaluation, each as an IQM
    over seeds with a bootstrap 95% CI, beside the uniform random policy. Published reference: the MinAtar
    paper (Young & Tian, 2019, arXiv 1903.03176) shows its online actor-critic AC(λ) only as learning curves
    over 5M frames (30 runs; no table), so the comparison is against that figure, not a number; its README
    gives the random policy's Breakout return, 0.5. If `minatar` is not installed the study falls back to
    CartPole-v1 and says so in the summary.
    """
    env = cfg.env
    note = ""
    if env.startswith("MinAtar/") and importlib.util.find_spec("minatar") is None:
        env, note = "CartPole-v1", "minatar is not installed (pip install minatar): fell back to CartPole-v1"
    a2c_cfg = cfg.a2c if env.startswith(("MinAtar/", "ALE/")) else A2CConfig()
    jobs = [Job((s,), a2c.train, env, a2c_cfg, cfg.total_steps, ctx.seed * 1000 + s,
                eval_episodes=cfg.eval_episodes, kwargs={"device": cfg.device}) for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "A2C runs", lambda j: f"s{j.key[0]}/", every=20_000)
    runs = [results[(s,)] for s in range(cfg.seeds)]
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    random_return = MINATAR_RANDOM_BREAKOUT if env == "MinAtar/Breakout" else \
        random_policy_return(env, episodes=20, seed=ctx.seed)
    summary = group_summary(runs, None, last=cfg.smoothing)
    for mode in ("greedy", "sampled"):
        iv = curves.interval(eval_means(runs, mode))
        summary[f"eval_return_{mode}_ci95"] = [iv["lo"], iv["hi"]]
    sps = [r.env_steps / r.wall_time for r in runs]
    ctx.summary(env=env, **summary, random_return=random_return, steps_per_second=float(np.mean(sps)),
                total_steps=cfg.total_steps, env_fallback=bool(note), note=note or None,
                published_reference="MinAtar paper Fig. 2 (AC(λ), 5M frames, 30 runs): curves only, no table")
    ctx.save_checkpoint(f"a2c_{env_key(env)}", runs[0].agent.state_dict())
    ctx.log_figure("learning_curve", learning_curves(
        grid, {"A2C": [r.curve(grid, cfg.smoothing) for r in runs]}, f"A2C on {env}", hline=random_return,
        hline_label="random policy"),
        caption=f"A2C on {env}: training return, IQM over {cfg.seeds} seeds with 95% bootstrap band; dashed: "
                "uniform random policy.")
    loss_series = {name: [r.update_series(f"losses/{name}") for r in runs]
                   for name in ("value_loss", "entropy", "explained_variance")}
    for name, series in loss_series.items():
        ctx.log_figure(f"stability_{name}", per_update({"A2C": series}, f"A2C on {env}: {name}", name),
                       caption=f"{name} of every A2C update, one line per seed.")
