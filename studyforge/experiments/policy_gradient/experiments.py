"""The registered studies of weeks 4, 6 and 7: the policy-optimisation arsenal, actor-critic, PPO.

Week 4
- `policy_gradient.algorithm_comparison`       REINFORCE, NPG, TRPO, PPO, GRPO on CartPole, Acrobot and a
                                               third env (LunarLander-v3 with Box2D, else MountainCar-v0):
                                               IQM learning curves with bootstrap bands over seeds.
- `policy_gradient.variance_reduction_ablation` the REINFORCE ladder (no baseline → baseline → reward-to-go →
                                               GAE λ ∈ {0, 0.9, 0.95, 1}): measured gradient-estimate variance
                                               on shared episodes, and learning curves.
- `policy_gradient.constraint_satisfaction`    KL per update against δ (NPG, TRPO, CPO, PCPO) and episode cost
                                               against the limit (CPO, PCPO-KL/L2, PPO-Lagrangian) on the
                                               constrained CartPole.
- `policy_gradient.vtrace_correction`          actor–learner with lagging actors, V-trace vs no correction.
Week 6
- `policy_gradient.a2c_atari`                  A2C on MinAtar Breakout (or ALE via `--set env=ALE/…`).
- `policy_gradient.a2c_vs_reinforce`           A2C vs REINFORCE (with and without baseline): stability and
                                               sample efficiency.
Week 7
- `policy_gradient.ppo_clipping`               clip fraction, approximate KL, ratio histograms, clip-range
                                               sensitivity.
- `policy_gradient.ppo_objective_comparison`   clipped vs unclipped vs adaptive-KL PPO, TRPO as the reference.

Every study trains several independent runs (seeded `ctx.seed · 1000 + i`) through `rl.jobs.run_jobs`, two at
a time by default, and summarises them per group as an interquartile mean with a bootstrap 95% CI. Summary
keys nest as env → algorithm → quantity, e.g. `cartpole_v1.ppo.final_return`.
"""

from __future__ import annotations

import copy
import importlib.util
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.keys import env_key, num_key
from studyforge.experiments.policy_gradient import (
    a2c,
    cpo,
    grpo,
    impala,
    npg,
    pcpo,
    plots,
    ppo,
    ppo_lagrangian,
    reinforce,
    trpo,
)
from studyforge.experiments.policy_gradient.a2c import A2CConfig
from studyforge.experiments.policy_gradient.constrained import ConstrainedConfig
from studyforge.experiments.policy_gradient.cpo import CPOConfig
from studyforge.experiments.policy_gradient.grpo import GRPOConfig
from studyforge.experiments.policy_gradient.impala import ImpalaConfig
from studyforge.experiments.policy_gradient.npg import NPGConfig
from studyforge.experiments.policy_gradient.pcpo import PCPOConfig
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.policy_gradient.ppo_lagrangian import PPOLagrangianConfig
from studyforge.experiments.policy_gradient.reinforce import ReinforceConfig
from studyforge.experiments.policy_gradient.trpo import TRPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.envs import CONSTRAINED_CARTPOLE, make_env
from studyforge.experiments.rl.episodes import run_episodes
from studyforge.experiments.rl.evaluation import random_policy_return
from studyforge.experiments.rl.jobs import Job, log_result, run_jobs, single_thread
from studyforge.experiments.rl.plots import learning_curves, per_update

# returns at which an environment counts as solved (gymnasium's reward_threshold where it has one)
THRESHOLDS = {"CartPole-v1": 475.0, CONSTRAINED_CARTPOLE: 475.0, "Acrobot-v1": -100.0,
              "MountainCar-v0": -110.0, "LunarLander-v3": 200.0}
# MinAtar's README: a uniform random policy scores 0.5 ± 0.02 on Breakout (1000 episodes)
MINATAR_RANDOM_BREAKOUT = 0.5


def third_env() -> str:
    """LunarLander-v3 when Box2D is installed (the issue's choice), else MountainCar-v0."""
    return "LunarLander-v3" if importlib.util.find_spec("Box2D") else "MountainCar-v0"


def _eval_means(results: list, mode: str) -> list[float]:
    return [r.extras["eval"][mode]["mean"] for r in results if "eval" in r.extras]


def _group_summary(results: list, threshold: float | None, last: int = 20) -> dict[str, Any]:
    """IQM + CI of the final training return, evaluation returns, steps to threshold, wall time."""
    final = curves.interval([r.final_return(last) for r in results])
    out: dict[str, Any] = {"final_return": final["iqm"], "final_return_ci95": [final["lo"], final["hi"]],
                           "final_return_per_seed": final["values"],
                           "wall_time_s": float(np.mean([r.wall_time for r in results]))}
    for mode in ("greedy", "sampled"):
        means = _eval_means(results, mode)
        if means:
            out[f"eval_return_{mode}"] = float(curves.iqm(np.array(means)))
    if threshold is not None:
        hits = [curves.steps_to_threshold(r.episode_steps, r.episode_returns, threshold) for r in results]
        reached = [h for h in hits if h is not None]
        out["threshold"] = threshold
        out["reached_threshold"] = f"{len(reached)}/{len(hits)}"
        out["steps_to_threshold_median"] = float(np.median(reached)) if reached else None
    return out


def _validate_envs(values: list[str]) -> list[str]:
    if not values:
        raise ValueError("give at least one environment")
    return values


# ================================================================================================ week 4

# name -> training function
ALGORITHMS = {"reinforce": reinforce.train, "npg": npg.train, "trpo": trpo.train, "ppo": ppo.train,
              "grpo": grpo.train, "a2c": a2c.train}


class ComparisonConfig(ExperimentConfig):
    envs: list[str] = Field(default_factory=lambda: ["CartPole-v1", "Acrobot-v1", third_env()],
                            description="environments (the third: LunarLander-v3 if Box2D is installed, "
                                        "else MountainCar-v0)")
    algorithms: list[str] = Field(default_factory=lambda: ["reinforce", "npg", "trpo", "ppo", "grpo"],
                                  description=f"algorithms from {', '.join(ALGORITHMS)}")
    total_steps: int = Field(50_000, ge=1, description="environment steps per run")
    seeds: int = Field(3, ge=1, description="independent runs per algorithm and environment")
    eval_episodes: int = Field(10, ge=1,
                               description="evaluation episodes of each final agent (greedy, sampled)")
    grid_points: int = Field(50, ge=2, description="points of the common step grid of the learning curves")
    smoothing: int = Field(10, ge=1, description="trailing window (episodes) of the training-return curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
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
        return _validate_envs(value)

    @field_validator("algorithms")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in ALGORITHMS]
        if unknown or not value:
            raise ValueError(f"unknown algorithms {unknown}; known: {', '.join(ALGORITHMS)}")
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
            summary[algo] = _group_summary(runs, THRESHOLDS.get(env))
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


# -- variance reduction ----------------------------------------------------------------------------------

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
    variants: list[str] = Field(default_factory=lambda: list(VARIANTS),
                                description=f"estimators, from {', '.join(VARIANTS)}")
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig,
                                       description="shared hyperparameters (each variant sets its estimator)")
    total_steps: int = Field(60_000, ge=1, description="environment steps per learning-curve run")
    seeds: int = Field(3, ge=1, description="learning-curve runs per variant")
    snapshot_steps: list[int] = Field(default_factory=lambda: [0, 10_000, 30_000],
                                      description="steps of the reference run at which variance is measured")
    variance_batches: int = Field(30, ge=2, description="independent batches per variance measurement")
    grid_points: int = Field(40, ge=2, description="points of the learning-curve grid")
    smoothing: int = Field(10, ge=1, description="trailing window (episodes) of the curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
    presets: ClassVar = {
        "quick": {"total_steps": 1_500, "seeds": 1, "snapshot_steps": [0, 500], "variance_batches": 3,
                  "workers": 1, "grid_points": 5,
                  "variants": ["no_baseline", "reward_to_go_baseline", "gae_0_95"]},
        "full": {"total_steps": 300_000, "seeds": 10, "snapshot_steps": [0, 25_000, 75_000, 150_000],
                 "variance_batches": 100},
    }

    @field_validator("variants")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in VARIANTS]
        if unknown or not value:
            raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
        return value


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
    ctx.log_figure("gradient_variance", _variance_figure(variance, wanted, list(configs)),
                   caption="Total variance tr Cov[ĝ] of each estimator's policy gradient (log scale) at "
                           "each snapshot of the reference run.")

    jobs = [Job((name, s), reinforce.train, cfg.env, configs[name], cfg.total_steps, ctx.seed * 1000 + s)
            for name in configs for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "learning curves", lambda j: f"{j.key[0]}/s{j.key[1]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    groups = {name: [results[(name, s)].curve(grid, cfg.smoothing) for s in range(cfg.seeds)]
              for name in configs}
    ctx.summary(learning={name: _group_summary([results[(name, s)] for s in range(cfg.seeds)],
                                               THRESHOLDS.get(cfg.env)) for name in configs})
    ctx.log_figure("learning_curves", learning_curves(grid, groups, f"{cfg.env}: REINFORCE estimators"),
                   caption=f"Training return of each estimator, IQM over {cfg.seeds} seeds with 95% "
                           "bootstrap bands.")


def _variance_figure(variance: dict, points: list[int], names: list[str]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    width = 0.8 / len(points)
    x = np.arange(len(names))
    for i, point in enumerate(points):
        vals = [variance[f"step{point}"][n]["total_variance"] for n in names]
        ax.bar(x + i * width, vals, width, label=f"policy at step {point}")
    ax.set_xticks(x + width * (len(points) - 1) / 2, names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("tr Cov[ĝ]")
    ax.set_title("Variance of the policy-gradient estimate")
    ax.legend(fontsize=8)
    return fig


# -- constraints ---------------------------------------------------------------------------------------------

CONSTRAINT_ALGOS = {"npg": npg.train, "trpo": trpo.train, "cpo": cpo.train, "pcpo_kl": pcpo.train,
                    "pcpo_l2": pcpo.train, "ppo_lagrangian": ppo_lagrangian.train}


class ConstraintConfig(ExperimentConfig):
    band: float = Field(0.2, gt=0, description="half-width of the central band of the constrained CartPole")
    cost_limit: float = Field(25.0, ge=0, description="d: allowed cost (steps outside the band) per episode")
    algorithms: list[str] = Field(default_factory=lambda: list(CONSTRAINT_ALGOS),
                                  description=f"methods, from {', '.join(CONSTRAINT_ALGOS)} "
                                              "(npg and trpo ignore the cost: the unconstrained reference)")
    total_steps: int = Field(100_000, ge=1, description="environment steps per run")
    seeds: int = Field(3, ge=1, description="runs per method")
    constrained: ConstrainedConfig = Field(
        default_factory=ConstrainedConfig,
        description="CPO/PCPO hyperparameters (cost_limit is set from above)")
    trpo: TRPOConfig = Field(default_factory=lambda: TRPOConfig(num_steps=256),
                             description="TRPO hyperparameters")
    npg: NPGConfig = Field(default_factory=lambda: NPGConfig(num_steps=256),
                           description="NPG hyperparameters")
    ppo_lagrangian: PPOLagrangianConfig = Field(
        default_factory=lambda: PPOLagrangianConfig(lagrangian_lr=0.002),
        description="PPO-Lagrangian hyperparameters (cost_limit is set from above)")
    grid_points: int = Field(40, ge=2, description="points of the curve grid")
    smoothing: int = Field(10, ge=1, description="trailing window (episodes) of the curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
    presets: ClassVar = {
        "quick": {"total_steps": 2_048, "seeds": 1, "workers": 1, "grid_points": 5,
                  "algorithms": ["trpo", "cpo", "pcpo_kl", "ppo_lagrangian"],
                  "constrained": {"num_steps": 64}, "trpo": {"num_steps": 64},
                  "ppo_lagrangian": {"update_epochs": 2}},
        "full": {"total_steps": 500_000, "seeds": 10},
    }

    @field_validator("algorithms")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in CONSTRAINT_ALGOS]
        if unknown or not value:
            raise ValueError(f"unknown algorithms {unknown}; known: {', '.join(CONSTRAINT_ALGOS)}")
        return value


def _constraint_cfg(cfg: ConstraintConfig, algo: str):
    if algo in ("cpo", "pcpo_kl", "pcpo_l2"):
        values = {**cfg.constrained.model_dump(), "cost_limit": cfg.cost_limit}
        if algo == "cpo":
            return CPOConfig(**values)
        return PCPOConfig(**values, projection="kl" if algo == "pcpo_kl" else "l2")
    if algo == "ppo_lagrangian":
        return cfg.ppo_lagrangian.model_copy(update={"cost_limit": cfg.cost_limit})
    return getattr(cfg, algo)


@register("policy_gradient.constraint_satisfaction", week=4, config=ConstraintConfig,
          headline="cpo.final_cost")
def constraint_satisfaction(ctx, cfg: ConstraintConfig) -> None:
    """How well trust-region and constrained methods keep their constraints.

    Two constraints: the KL of each update against the trust-region radius δ (NPG trusts its quadratic
    model, TRPO and CPO line-search until the exact KL ≤ δ, PCPO bounds it only after its projection), and
    the episode cost against the limit d on the constrained CartPole (a cost of 1 for every step with the
    cart outside |x| ≤ band). NPG and TRPO ignore the cost and show what an unconstrained learner spends.
    """
    env_kwargs = {"band": cfg.band}
    jobs = [Job((algo, s), CONSTRAINT_ALGOS[algo], CONSTRAINED_CARTPOLE, _constraint_cfg(cfg, algo),
                cfg.total_steps, ctx.seed * 1000 + s, kwargs={"env_kwargs": env_kwargs})
            for algo in cfg.algorithms for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "training runs", lambda j: f"{j.key[0]}/s{j.key[1]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    cost_groups, return_groups, kl_series, rows = {}, {}, {}, []
    for algo in cfg.algorithms:
        runs = [results[(algo, s)] for s in range(cfg.seeds)]
        cost_groups[algo] = [r.curve(grid, cfg.smoothing, costs=True) for r in runs]
        ctx.save_checkpoint(f"constrained_cartpole.{algo}", runs[0].agent.state_dict())
        return_groups[algo] = [r.curve(grid, cfg.smoothing) for r in runs]
        delta = getattr(_constraint_cfg(cfg, algo), "delta", None)
        entry: dict[str, Any] = {**_group_summary(runs, THRESHOLDS[CONSTRAINED_CARTPOLE])}
        final_cost = curves.interval([r.final_cost() for r in runs])
        entry["final_cost"] = final_cost["iqm"]
        entry["final_cost_ci95"] = [final_cost["lo"], final_cost["hi"]]
        # the second half of training: how often an episode broke the limit
        late = np.concatenate([r.episode_costs[r.episode_steps > cfg.total_steps // 2] for r in runs])
        entry["frac_episodes_over_limit_late"] = float((late > cfg.cost_limit).mean()) if len(late) else None
        kls = np.concatenate([r.update_series("losses/kl_moved")[1] for r in runs])
        if len(kls):
            entry["kl_mean"], entry["kl_max"] = float(kls.mean()), float(kls.max())
            entry["kl_p95"] = float(np.percentile(kls, 95))
            if delta is not None:
                kl_series[algo] = [r.update_series("losses/kl_moved") for r in runs]
                entry["delta"] = delta
                entry["frac_updates_kl_over_delta"] = float((kls > delta * (1 + 1e-6)).mean())
        for flag in ("cpo/recovery", "cpo/constraint_active", "pcpo_kl/projected", "pcpo_l2/projected"):
            if flag.split("/")[0] == algo:
                entry[flag.split("/")[1] + "_frac"] = float(np.mean(np.concatenate(
                    [r.update_series(flag)[1] for r in runs])))
        if algo == "ppo_lagrangian":
            entry["final_lambda"] = float(np.mean([r.update_series("lagrangian/lambda")[1][-1]
                                                   for r in runs]))
        ctx.summary(**{algo: entry})
        rows.append({"algorithm": algo, **{k: v for k, v in entry.items() if not isinstance(v, list)}})
    ctx.summary(cost_limit=cfg.cost_limit, band=cfg.band, delta=cfg.constrained.delta)
    ctx.log_table("constraint_satisfaction", rows,
                  caption="Per method: final return and cost (IQM over seeds), share of late episodes over "
                          "the cost limit, KL per update against δ.")
    if kl_series:
        ctx.log_figure("kl_per_update", per_update(
            kl_series, "KL(π_old ‖ π_new) of every update", "mean KL over the batch",
            hline=cfg.constrained.delta, hline_label="δ", logy=True),
            caption="Exact mean KL between consecutive policies, every update of every run; dashed: the "
                    "trust-region radius δ.")
    ctx.log_figure("episode_cost", learning_curves(
        grid, cost_groups, "Episode cost (steps outside the band)", ylabel="cost per episode",
        hline=cfg.cost_limit, hline_label="limit d"),
        caption=f"Cost of training episodes, IQM over {cfg.seeds} seeds with 95% bootstrap bands; dashed: "
                "the limit.")
    ctx.log_figure("episode_return", learning_curves(grid, return_groups, "Episode return"),
                   caption="Return of the same training episodes.")


# -- V-trace ---------------------------------------------------------------------------------------------

class VtraceConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    lags: list[int] = Field(default_factory=lambda: [0, 8, 32], description="policy lags (learner updates)")
    corrections: list[str] = Field(default_factory=lambda: ["vtrace", "none"],
                                   description="vtrace and/or none")
    impala: ImpalaConfig = Field(default_factory=lambda: ImpalaConfig(learning_rate=1e-3),
                                 description="actor–learner hyperparameters (lag and correction set per run)")
    total_steps: int = Field(80_000, ge=1, description="environment steps per run")
    seeds: int = Field(3, ge=1, description="runs per (lag, correction)")
    grid_points: int = Field(40, ge=2, description="points of the curve grid")
    smoothing: int = Field(10, ge=1, description="trailing window (episodes) of the curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
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
            entry[corr] = _group_summary(runs, THRESHOLDS.get(cfg.env))
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
    ctx.log_figure("final_return_vs_lag", _lag_figure(cfg.lags, finals),
                   caption=f"Final training return (IQM over {cfg.seeds} seeds, 95% bootstrap CI) against "
                           "the actors' policy lag, with and without V-trace.")
    lag = max(cfg.lags)
    groups = {corr: [results[(lag, corr, s)].curve(grid, cfg.smoothing) for s in range(cfg.seeds)]
              for corr in cfg.corrections}
    ctx.log_figure("learning_curves_max_lag",
                   learning_curves(grid, groups, f"{cfg.env}, policy lag {lag}"),
                   caption=f"Training return at the largest lag ({lag} updates), IQM with 95% bands.")


def _lag_figure(lags: list[int], finals: dict[str, list[dict]]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for corr, ivs in finals.items():
        c = np.array([iv["iqm"] for iv in ivs])
        err = [c - np.array([iv["lo"] for iv in ivs]), np.array([iv["hi"] for iv in ivs]) - c]
        ax.errorbar(lags, c, yerr=np.maximum(err, 0), marker="o", capsize=4, label=corr)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("policy lag (learner updates)")
    ax.set_ylabel("final return")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


# ================================================================================================ week 6

def _minatar_a2c() -> A2CConfig:
    return A2CConfig(num_envs=16, num_steps=5, ent_coef=0.01, learning_rate=7e-4)


class AtariConfig(ExperimentConfig):
    env: str = Field("MinAtar/Breakout", description="MinAtar/<game> or ALE/<Game>-v5 (needs ale-py)")
    a2c: A2CConfig = Field(default_factory=_minatar_a2c, description="A2C hyperparameters")
    total_steps: int = Field(1_000_000, ge=1, description="environment steps per run (MinAtar: frames)")
    seeds: int = Field(3, ge=1, description="independent runs")
    eval_episodes: int = Field(20, ge=1, description="evaluation episodes of each final agent")
    grid_points: int = Field(50, ge=2, description="points of the curve grid")
    smoothing: int = Field(50, ge=1, description="trailing window (episodes) of the curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
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
    summary = _group_summary(runs, None, last=cfg.smoothing)
    for mode in ("greedy", "sampled"):
        iv = curves.interval(_eval_means(runs, mode))
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


class A2CVsReinforceConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    total_steps: int = Field(200_000, ge=1, description="environment steps per run")
    seeds: int = Field(5, ge=1, description="runs per method")
    a2c: A2CConfig = Field(default_factory=A2CConfig, description="A2C hyperparameters")
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig,
                                       description="REINFORCE hyperparameters (baseline set per method)")
    grid_points: int = Field(50, ge=2, description="points of the curve grid")
    smoothing: int = Field(10, ge=1, description="trailing window (episodes) of the curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
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
        entry = _group_summary(runs, threshold)
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


# ================================================================================================ week 7

class ClippingConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    clip_ranges: list[float] = Field(default_factory=lambda: [0.1, 0.2, 0.3, 0.5],
                                     description="clip ranges ε to compare (held fixed, not annealed)")
    ppo: PPOConfig = Field(default_factory=lambda: PPOConfig(anneal_clip=False),
                           description="PPO hyperparameters (clip_coef set per run)")
    total_steps: int = Field(100_000, ge=1, description="environment steps per run")
    seeds: int = Field(3, ge=1, description="runs per clip range")
    histogram_updates: int = Field(3, ge=1,
                                   description="updates (early → late) whose ratios are histogrammed")
    grid_points: int = Field(40, ge=2, description="points of the curve grid")
    smoothing: int = Field(10, ge=1, description="trailing window (episodes) of the curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
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
        entry = _group_summary(runs, THRESHOLDS.get(cfg.env))
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


class ObjectiveConfig(ExperimentConfig):
    env: str = Field("CartPole-v1", description="environment")
    objectives: list[str] = Field(default_factory=lambda: ["clip", "none", "kl", "trpo"],
                                  description="PPO objectives (clip, none, kl) and/or trpo as the reference")
    ppo: PPOConfig = Field(default_factory=PPOConfig,
                           description="PPO hyperparameters (objective set per run)")
    trpo: TRPOConfig = Field(default_factory=lambda: TRPOConfig(num_steps=32, gamma=0.98, gae_lambda=0.8),
                             description="TRPO hyperparameters (the same batch as PPO's by default)")
    total_steps: int = Field(100_000, ge=1, description="environment steps per run")
    seeds: int = Field(3, ge=1, description="runs per objective")
    grid_points: int = Field(40, ge=2, description="points of the curve grid")
    smoothing: int = Field(10, ge=1, description="trailing window (episodes) of the curves")
    workers: int = Field(2, ge=1, description="training runs in parallel (processes)")
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
        entry = _group_summary(runs, THRESHOLDS.get(cfg.env))
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
