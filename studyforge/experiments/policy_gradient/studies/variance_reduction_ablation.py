"""`policy_gradient.variance_reduction_ablation`: how much each variance-reduction technique buys REINFORCE.

The ladder of Sutton & Barto (2018, §13.3–13.4) and Schulman et al.'s GAE (arXiv 1506.02438): no baseline →
learned baseline → reward-to-go → GAE with λ ∈ {0, 0.9, 0.95, 1}. The variance of each gradient estimator is
measured on the *same* episodes with the *same* critic, so only the estimator differs; each estimator also
trains from scratch for the learning curves.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, GridPoints, Smoothing, Workers, names_in
from studyforge.experiments.policy_gradient import plots, reinforce
from studyforge.experiments.policy_gradient.reinforce import ReinforceConfig
from studyforge.experiments.policy_gradient.studies.common import THRESHOLDS, group_summary
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.envs import make_env
from studyforge.experiments.rl.episodes import run_episodes
from studyforge.experiments.rl.jobs import Job, run_jobs, single_thread
from studyforge.experiments.rl.plots import learning_curves

VARIANTS: dict[str, dict[str, Any]] = {
    "no_baseline": {"advantage": "total_return", "baseline": "none"},
    "baseline": {"advantage": "total_return", "baseline": "value"},
    "reward_to_go": {"advantage": "reward_to_go", "baseline": "none"},
    "reward_to_go_baseline": {"advantage": "reward_to_go", "baseline": "value"},
    "gae_0": {"baseline": "value", "gae_lambda": 0.0},
    "gae_0_9": {"baseline": "value", "gae_lambda": 0.9},
    "gae_0_95": {"baseline": "value", "gae_lambda": 0.95},
    "gae_1": {"baseline": "value", "gae_lambda": 1.0},
}


class VarianceConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    variants: Annotated[list[str], names_in(VARIANTS, "variants")] = Field(
        default_factory=lambda: list(VARIANTS), description=f"estimators, from {', '.join(VARIANTS)}")
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig,
                                       description="shared hyperparameters (each variant sets its estimator)")
    total_steps: int = Field(60_000, ge=1, description="environment steps per learning-curve run")
    seeds: int = Field(3, ge=1, description="learning-curve runs per variant")
    snapshot_steps: list[int] = Field(default_factory=lambda: [0, 10_000, 30_000],
                                      description="steps of the reference run at which variance is measured")
    variance_batches: int = Field(30, ge=2, description="independent batches per variance measurement")
    grid_points: GridPoints = 40
    smoothing: Smoothing = 10
    workers: Workers = 2
    presets: ClassVar = {
        "quick": {"total_steps": 1_500, "seeds": 1, "snapshot_steps": [0, 500], "variance_batches": 3,
                  "workers": 1, "grid_points": 5,
                  "variants": ["no_baseline", "reward_to_go_baseline", "gae_0_95"]},
        "full": {"total_steps": 300_000, "seeds": 10, "snapshot_steps": [0, 25_000, 75_000, 150_000],
                 "variance_batches": 100},
    }


def _variant_cfg(base: ReinforceConfig, name: str) -> ReinforceConfig:
    values = {**base.model_dump(), "gae_lambda": None, **VARIANTS[name]}
    return ReinforceConfig(**values)


@register("policy_gradient.variance_reduction_ablation", week=4, config=VarianceConfig,
          headline="variance.last.reward_to_go_baseline.relative")
def variance_reduction_ablation(ctx, cfg: VarianceConfig) -> None:
    """How much each variance-reduction technique lowers the variance of the policy-gradient estimate.

    A reference REINFORCE run (reward-to-go, learned baseline) is stopped at `snapshot_steps`; at each
    snapshot, `variance_batches` independent batches of episodes are drawn from that one policy, and every
    estimator computes its gradient ĝ from the *same* episodes with the *same* critic. The variance is
    tr Cov[ĝ] = E‖ĝ − ḡ‖² (unbiased over batches); `relative` divides it by ‖ḡ‖², the squared mean gradient,
    so it reads as noise-to-signal. `cosine_to_mc` compares each estimator's mean gradient with the unbiased
    Monte-Carlo one (reward-to-go + baseline): GAE with λ < 1 trades bias for variance. Separately, each
    estimator trains from scratch (`seeds` runs) for the learning curves.
    """
    configs = {name: _variant_cfg(cfg.reinforce, name) for name in cfg.variants}
    reference_cfg = _variant_cfg(cfg.reinforce, "reward_to_go_baseline")
    snapshots: dict[int, Any] = {}
    wanted = sorted(cfg.snapshot_steps)

    def grab(agent, _batch, steps):
        for point in wanted:
            if point not in snapshots and steps >= point:
                snapshots[point] = copy.deepcopy(agent)

    with single_thread():
        reinforce.train(cfg.env, reference_cfg, total_steps=max(wanted) + 1, seed=ctx.seed, on_batch=grab)
        envs = [make_env(cfg.env) for _ in range(cfg.reinforce.episodes_per_batch)]
        table, variance = [], {}
        rng = np.random.default_rng(ctx.seed)
        for point, agent in snapshots.items():
            grads: dict[str, list[np.ndarray]] = {name: [] for name in configs}
            for _ in range(cfg.variance_batches):
                seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=len(envs))]
                episodes = run_episodes(envs, agent, seeds)
                for name, vcfg in configs.items():
                    grads[name].append(reinforce.gradient_estimates(agent, episodes, vcfg))
            reference = np.mean(grads["reward_to_go_baseline"], axis=0) if "reward_to_go_baseline" in grads \
                else None
            for name, g in grads.items():
                stack = np.stack(g)
                mean = stack.mean(axis=0)
                # tr Cov[ĝ] = Σ_i Var[ĝ_i], unbiased over the batches
                total_var = float(stack.var(axis=0, ddof=1).sum())
                entry = {"total_variance": total_var, "mean_grad_sq_norm": float(mean @ mean),
                         "relative": total_var / max(float(mean @ mean), 1e-12)}
                if reference is not None:
                    entry["cosine_to_mc"] = float(mean @ reference / (np.linalg.norm(mean) *
                                                                      np.linalg.norm(reference) + 1e-12))
                variance.setdefault(f"step{point}", {})[name] = entry
                table.append({"snapshot_step": point, "variant": name, **entry})
    variance["last"] = variance[f"step{wanted[-1]}"]
    ctx.summary(variance=variance)
    ctx.log_table("gradient_variance", table, caption="Gradient-estimate variance per estimator at each "
                  "snapshot of the reference policy (same episodes, same critic for every estimator).")
    ctx.log_figure("gradient_variance", plots.gradient_variance(variance, wanted, list(configs)),
                   caption="Total variance tr Cov[ĝ] of each estimator's policy gradient (log scale) at "
                           "each snapshot of the reference run.")

    jobs = [Job((name, s), reinforce.train, cfg.env, configs[name], cfg.total_steps, ctx.seed * 1000 + s)
            for name in configs for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "learning curves", lambda j: f"{j.key[0]}/s{j.key[1]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    groups = {name: [results[(name, s)].curve(grid, cfg.smoothing) for s in range(cfg.seeds)]
              for name in configs}
    ctx.summary(learning={name: group_summary([results[(name, s)] for s in range(cfg.seeds)],
                                              THRESHOLDS.get(cfg.env)) for name in configs})
    ctx.log_figure("learning_curves", learning_curves(grid, groups, f"{cfg.env}: REINFORCE estimators"),
                   caption=f"Training return of each estimator, IQM over {cfg.seeds} seeds with 95% "
                           "bootstrap bands.")
