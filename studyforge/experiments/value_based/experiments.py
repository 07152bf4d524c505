"""Week 14's registered studies: from tabular Q-learning to DQN and Rainbow, and against the policy methods.

- `value_based.dqn_variants`     the bridge from week 1 (tabular Q-learning and SARSA against value
                                 iteration's V*, S&B's cliff), then DQN and each improvement added alone on
                                 CartPole-v1, and on one MinAtar game.
- `value_based.rainbow_ablation` the Rainbow agent with one component removed at a time (Hessel et al.,
                                 Figure 3), and plain DQN.
- `value_based.sample_efficiency_vs_policy_methods`
                                 DQN against weeks 4–7's PPO and A2C (their code, their tuned CartPole
                                 settings) on the same environment and step budget: steps to a return level.

Runs are seeded `ctx.seed · 1000 + i` and run two at a time (`rl.jobs.run_jobs`). DQN agents are judged by
their *evaluation* returns (the greedy policy, 20 fresh episodes every `eval_every` steps): "solved" is the
first evaluation with a mean ≥ 475, CartPole-v1's threshold. Sample efficiency across algorithm families is
read off the training episodes instead (every method has those): the env steps at which the mean return of
the last 10 training episodes first reaches a level (`rl.curves.steps_to_threshold`).
Summary keys nest as env → variant → quantity: `cartpole_v1.double.first_solved_step`.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.keys import env_key
from studyforge.experiments.mdp import envs as mdp_envs
from studyforge.experiments.mdp import tabular as dp
from studyforge.experiments.policy_gradient import a2c, ppo
from studyforge.experiments.policy_gradient.a2c import A2CConfig
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.evaluation import evaluate
from studyforge.experiments.rl.jobs import Job, run_jobs, single_thread
from studyforge.experiments.rl.plots import learning_curves
from studyforge.experiments.value_based import dqn
from studyforge.experiments.value_based.dqn import RAINBOW, DQNConfig, rainbow_ablation, with_components
from studyforge.experiments.value_based.tabular import train_tabular

SOLVED = {"CartPole-v1": 475.0}
# DQN plus one improvement at a time (n_step: Rainbow's n = 3)
VARIANTS: dict[str, dict[str, Any]] = {
    "dqn": {}, "double": {"double": True}, "dueling": {"dueling": True}, "prioritized": {"prioritized": True},
    "n_step": {"n_step": 3}, "noisy": {"noisy": True}, "distributional": {"distributional": True},
    "rainbow": dict(RAINBOW),
}
# MinAtar (Young & Tian, 2019, arXiv 1903.03176): their DQN settings (batch 32, 100k replay, target every
# 1000 steps, ε → 0.1, one 128-unit layer after the convolution), trained every 4th step to fit a CPU budget
MINATAR_DQN = {"buffer_size": 100_000, "learning_rate": 2.5e-4, "adam_eps": 3.125e-4, "batch_size": 32,
               "learning_starts": 5_000, "train_freq": 4, "gradient_steps": 1, "target_update_interval": 1_000,
               "exploration_final_eps": 0.1, "exploration_fraction": 0.1, "hidden": [128], "v_min": -10.0,
               "v_max": 10.0}
# S&B Figure 6.4 (cliff walking, ε = 0.1, α = 0.5): online sum of rewards per episode late in training
BOOK_CLIFF = {"sarsa": -25.0, "q_learning": -50.0}


def _check_variants(values: list[str]) -> list[str]:
    unknown = [v for v in values if v not in VARIANTS]
    if unknown or not values:
        raise ValueError(f"unknown or no variants {unknown}; known: {', '.join(VARIANTS)}")
    return values


def _dqn_summary(results: list, threshold: float | None) -> dict[str, Any]:
    """Evaluation-based summary of several seeds of one DQN variant."""
    evals = [np.array(r.extras["evals"]) for r in results]  # each (n_evals, 3): step, mean, std
    best = [float(e[:, 1].max()) if len(e) else float("nan") for e in evals]
    final = [float(e[-1, 1]) if len(e) else float("nan") for e in evals]
    auc = [float(e[:, 1].mean()) if len(e) else float("nan") for e in evals]
    train_final = curves.interval([r.final_return() for r in results])
    out: dict[str, Any] = {
        "best_eval_return": float(np.median(best)), "final_eval_return": float(np.median(final)),
        "mean_eval_return": float(np.median(auc)), "final_eval_return_per_seed": final,
        "final_train_return": train_final["iqm"],
        "wall_time_s": float(np.mean([r.wall_time for r in results])),
        "env_steps_per_s": float(np.mean([r.env_steps / r.wall_time for r in results])),
    }
    if threshold is not None:
        solved = [r.extras["solved_at"] for r in results]
        hit = [s for s in solved if s is not None]
        out["solved_seeds"] = f"{len(hit)}/{len(solved)}"
        out["first_solved_step"] = float(np.median(hit)) if hit else None
    return out


def _eval_curves(results_by_label: dict[str, list], total_steps: int, title: str, threshold: float | None):
    """Median evaluation return against env steps, one line per label (thin lines: the seeds)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, results) in enumerate(results_by_label.items()):
        evals = [np.array(r.extras["evals"]) for r in results if r.extras["evals"]]
        if not evals:
            continue
        color = colors[i % len(colors)]
        for e in evals:
            ax.plot(e[:, 0], e[:, 1], color=color, lw=0.6, alpha=0.35)
        n = min(len(e) for e in evals)
        ax.plot(evals[0][:n, 0], np.median([e[:n, 1] for e in evals], axis=0), color=color, lw=1.8,
                label=f"{label} (n={len(evals)})")
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlim(0, total_steps)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return (greedy, mean of episodes)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


# ================================================================================ value_based.dqn_variants


class VariantsConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="the classic-control environment")
    variants: list[str] = Field(default_factory=lambda: [v for v in VARIANTS if v != "rainbow"],
                                description=f"DQN + one improvement each, from {', '.join(VARIANTS)} (the full "
                                            f"Rainbow is the reference arm of value_based.rainbow_ablation)")
    total_steps: int = Field(50_000, ge=1, description="environment steps per run")
    seeds: int = Field(1, ge=1, description="independent runs per variant")
    dqn: DQNConfig = Field(default_factory=DQNConfig, description="base DQN hyperparameters (zoo CartPole)")
    eval_every: int = Field(5_000, ge=1, description="env steps between evaluations of the greedy policy")
    eval_episodes: int = Field(20, ge=1, description="episodes per evaluation")
    minatar_env: str = Field("MinAtar/Breakout", description="the MinAtar game")
    minatar_steps: int = Field(100_000, ge=0, description="env steps per MinAtar run (0: skip MinAtar)")
    minatar_variants: list[str] = Field(default_factory=lambda: ["dqn", "n_step"],
                                        description="variants trained on the MinAtar game (Rainbow's noisy C51 "
                                                    "convnet costs ~4× DQN's compute per step: in `full`)")
    minatar_dqn: DQNConfig = Field(default_factory=lambda: DQNConfig(**MINATAR_DQN),
                                   description="DQN hyperparameters on MinAtar")
    minatar_eval_every: int = Field(20_000, ge=1, description="env steps between MinAtar evaluations")
    minatar_eval_episodes: int = Field(10, ge=1, description="episodes per MinAtar evaluation")
    tabular_episodes: int = Field(3_000, ge=1, description="episodes of tabular Q-learning/SARSA on the 4×4 grid")
    cliff_episodes: int = Field(500, ge=10, description="episodes per cliff-walking run (S&B Figure 6.4: 500)")
    cliff_runs: int = Field(50, ge=1, description="cliff-walking runs averaged (S&B: 100)")
    workers: int = Field(2, ge=1, description="runs trained in parallel processes")
    grid_points: int = Field(50, ge=2, description="points of the learning-curve grid")

    @field_validator("variants", "minatar_variants")
    @classmethod
    def _known_variants(cls, value: list[str]) -> list[str]:
        return _check_variants(value)

    presets: ClassVar = {
        "quick": {"variants": ["dqn", "rainbow"], "total_steps": 1_200, "eval_every": 600, "eval_episodes": 2,
                  "dqn": {"learning_starts": 400, "train_freq": 200, "gradient_steps": 4, "hidden": [32, 32]},
                  "minatar_steps": 500, "minatar_variants": ["dqn"], "minatar_eval_every": 500,
                  "minatar_eval_episodes": 1,
                  "minatar_dqn": {**MINATAR_DQN, "learning_starts": 200, "hidden": [16]},
                  "tabular_episodes": 500, "cliff_episodes": 100, "cliff_runs": 2, "workers": 1},
        "full": {"seeds": 5, "total_steps": 100_000, "variants": list(VARIANTS), "minatar_steps": 2_000_000,
                 "minatar_variants": list(VARIANTS), "minatar_eval_every": 100_000,
                 "minatar_dqn": {**MINATAR_DQN, "train_freq": 1}, "cliff_runs": 100},
    }


def _tabular_bridge(ctx, cfg: VariantsConfig) -> dict[str, Any]:
    """Q-learning and SARSA on week 1's gridworlds: V_Q against value iteration's V*, and S&B Figure 6.4."""
    import matplotlib.pyplot as plt

    out: dict[str, Any] = {"sb_gridworld": {}, "cliffwalking": {}}
    grid = mdp_envs.sb_gridworld()
    v_star = dp.value_iteration(grid.mdp, 1.0).values
    for algo in ("q_learning", "sarsa"):
        # SARSA learns the ε-greedy policy's values; with ε decaying (GLIE) it also tends to Q*
        res = train_tabular(grid, algo, cfg.tabular_episodes, alpha=0.5, gamma=1.0, epsilon=0.1, seed=ctx.seed,
                            epsilon_decay_episodes=None if algo == "q_learning" else 100)
        q_star = grid.mdp.q_values(v_star, 1.0)  # (S, A)
        out["sb_gridworld"][algo] = {
            "max_abs_error_vs_vstar": float(np.abs(res.values - v_star).max()),
            "greedy_policy_optimal": bool(np.allclose(q_star[np.arange(grid.mdp.n_states), res.policy], v_star))}
    cliff = mdp_envs.cliffwalking()
    curves_by_algo = {}
    for algo in ("sarsa", "q_learning"):
        rets = np.array([train_tabular(cliff, algo, cfg.cliff_episodes, alpha=0.5, gamma=1.0, epsilon=0.1,
                                       seed=ctx.seed * 1000 + i).episode_returns for i in range(cfg.cliff_runs)])
        curves_by_algo[algo] = rets.mean(0)
        late = rets[:, -min(100, cfg.cliff_episodes // 2):].mean()
        out["cliffwalking"][algo] = {"online_return_late": float(late), "book_online_return": BOOK_CLIFF[algo]}
    fig, ax = plt.subplots(figsize=(7, 4))
    for algo, c in curves_by_algo.items():
        ax.plot(np.arange(1, len(c) + 1), curves.smoothed(c, 10), label=algo.replace("_", "-"))
    ax.set_ylim(-100, 0)
    ax.set_xlabel("episode")
    ax.set_ylabel("sum of rewards during episode")
    ax.set_title(f"Cliff walking, ε = 0.1, α = 0.5 ({cfg.cliff_runs} runs; S&B Figure 6.4)")
    ax.legend()
    ax.grid(alpha=0.3)
    ctx.log_figure("cliffwalking_sarsa_vs_q_learning", fig,
                   caption="Online return per episode: SARSA learns the safe path (book: about −25), "
                           "Q-learning the optimal path along the cliff and falls off while exploring (about −50).")
    return out


@register("value_based.dqn_variants", week=14, config=VariantsConfig, headline="cartpole_v1.dqn.best_eval_return")
def dqn_variants(ctx, cfg: VariantsConfig) -> None:
    """DQN with experience replay and its improvements, one at a time, on CartPole and a MinAtar game.

    Starts from week 1: tabular Q-learning on the 4×4 gridworld must land on value iteration's V*, and on
    the cliff SARSA and Q-learning reproduce S&B Figure 6.4. Then DQN (replay buffer + target network,
    rl-baselines3-zoo's tuned CartPole settings) and DQN plus each Rainbow component alone — Double,
    dueling, prioritised replay, 3-step returns, noisy nets, C51 — and the full Rainbow, evaluated greedily
    every `eval_every` steps; on the MinAtar game, DQN and DQN with 3-step returns (every variant in the
    `full` preset; skipped when `minatar` is not installed).
    """
    ctx.summary(tabular=_tabular_bridge(ctx, cfg))
    seeds = [ctx.seed * 1000 + i for i in range(cfg.seeds)]
    threshold = SOLVED.get(cfg.env_id)
    ek = env_key(cfg.env_id)
    jobs = [Job((ek, v, f"s{s}"), dqn.train, cfg.env_id, with_components(cfg.dqn, **VARIANTS[v]),
                       cfg.total_steps, s, {"eval_every": cfg.eval_every, "eval_episodes": cfg.eval_episodes,
                                            "solve_threshold": threshold}) for v in cfg.variants for s in seeds]
    minatar = cfg.minatar_steps > 0 and importlib.util.find_spec("minatar") is not None
    mk = env_key(cfg.minatar_env)
    if minatar:
        jobs += [Job((mk, v, f"s{s}"), dqn.train, cfg.minatar_env, with_components(cfg.minatar_dqn, **VARIANTS[v]),
                            cfg.minatar_steps, s, {"eval_every": cfg.minatar_eval_every,
                                                   "eval_episodes": cfg.minatar_eval_episodes})
                  for v in cfg.minatar_variants for s in seeds]
    results = run_jobs(ctx, jobs, cfg.workers, "DQN variants", every=2048)

    table = []
    for env_id, key, variants, steps in ((cfg.env_id, ek, cfg.variants, cfg.total_steps),
                                         (cfg.minatar_env, mk, cfg.minatar_variants if minatar else [],
                                          cfg.minatar_steps)):
        if not variants:
            continue
        by_variant = {v: [results[(key, v, f"s{s}")] for s in seeds] for v in variants}
        summary = {v: _dqn_summary(rs, SOLVED.get(env_id)) for v, rs in by_variant.items()}
        ctx.summary(**{key: summary})
        table += [{"env": env_id, "variant": v, **{k: val for k, val in s.items() if not isinstance(val, list)}}
                  for v, s in summary.items()]
        grid = curves.step_grid(steps, cfg.grid_points)
        groups = {v: [r.curve(grid, 10) for r in rs]
                  for v, rs in by_variant.items()}
        ctx.log_figure(f"{key}_training_curves", learning_curves(
            grid, groups, f"{env_id}: training return (IQM, 95% bootstrap band)", hline=SOLVED.get(env_id)),
            caption=f"{env_id}: return of training episodes (ε-greedy or noisy behaviour), smoothed over 10 "
                    f"episodes, per variant.")
        ctx.log_figure(f"{key}_evaluation_curves", _eval_curves(by_variant, steps, f"{env_id}: greedy evaluation",
                                                                SOLVED.get(env_id)),
                       caption=f"{env_id}: mean return of the greedy policy at each evaluation; thick: median over "
                               f"seeds.")
    if not minatar and cfg.minatar_steps > 0:
        ctx.summary(**{mk: {"skipped": "the minatar package is not installed (pip install minatar)"}})
    ctx.log_table("dqn_variants", table, caption="DQN + one improvement at a time: evaluation returns, solve step, "
                                                 "throughput.")


# ============================================================================ value_based.rainbow_ablation


class AblationConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="environment")
    total_steps: int = Field(25_000, ge=1, description="environment steps per run (Rainbow solves CartPole "
                                                       "by ~25k; most arms cost ~3× DQN per step)")
    seeds: int = Field(1, ge=1, description="independent runs per arm")
    dqn: DQNConfig = Field(default_factory=DQNConfig, description="base hyperparameters (zoo CartPole DQN)")
    arms: list[str] = Field(default_factory=lambda: ["rainbow", "no_double", "no_dueling", "no_prioritized",
                                                     "no_n_step", "no_noisy", "no_distributional", "dqn"],
                            description="rainbow, no_<component> for each component, dqn")
    eval_every: int = Field(2_500, ge=1, description="env steps between evaluations")
    eval_episodes: int = Field(20, ge=1, description="episodes per evaluation")
    workers: int = Field(2, ge=1, description="runs trained in parallel processes")

    presets: ClassVar = {
        "quick": {"total_steps": 1_000, "arms": ["rainbow", "no_noisy", "dqn"], "eval_every": 1_000,
                  "eval_episodes": 2, "workers": 1,
                  "dqn": {"learning_starts": 400, "train_freq": 200, "gradient_steps": 4, "hidden": [32, 32]}},
        "full": {"seeds": 5, "total_steps": 100_000, "eval_every": 5_000},
    }


@register("value_based.rainbow_ablation", week=14, config=AblationConfig,
          headline="cartpole_v1.rainbow.mean_eval_return")
def rainbow_ablation_study(ctx, cfg: AblationConfig) -> None:
    """Rainbow ablation: the full agent, then each of its six components removed in turn, and plain DQN.

    Hessel et al.'s Figure 3 on Atari found prioritised replay and multi-step returns the most important,
    distributional next, noisy nets and dueling smaller, Double the least. Here on CartPole each arm is
    scored by its mean evaluation return over training (area under the greedy-evaluation curve, a
    sample-efficiency measure), its final evaluation and the step it first solved the task; `drop_vs_rainbow`
    is how much removing the component costs.
    """
    all_arms = rainbow_ablation(cfg.dqn)
    unknown = [a for a in cfg.arms if a not in all_arms]
    if unknown:
        from studyforge.errors import ForgeError

        raise ForgeError(f"unknown ablation arms {unknown}", hint=f"use: {', '.join(all_arms)}")
    seeds = [ctx.seed * 1000 + i for i in range(cfg.seeds)]
    threshold = SOLVED.get(cfg.env_id)
    ek = env_key(cfg.env_id)
    jobs = [Job((ek, arm, f"s{s}"), dqn.train, cfg.env_id, all_arms[arm], cfg.total_steps, s,
                       {"eval_every": cfg.eval_every, "eval_episodes": cfg.eval_episodes, "solve_threshold": threshold})
             for arm in cfg.arms for s in seeds]
    results = run_jobs(ctx, jobs, cfg.workers, "Rainbow ablation", every=2048)
    by_arm = {arm: [results[(ek, arm, f"s{s}")] for s in seeds] for arm in cfg.arms}
    summary = {arm: _dqn_summary(rs, threshold) for arm, rs in by_arm.items()}
    if "rainbow" in summary:
        ref = summary["rainbow"]["mean_eval_return"]
        for _arm, s in summary.items():
            s["drop_vs_rainbow"] = ref - s["mean_eval_return"]
    ctx.summary(**{ek: summary})
    ctx.log_table("rainbow_ablation", [{"arm": a, **{k: v for k, v in s.items() if not isinstance(v, list)}}
                                       for a, s in summary.items()],
                  caption="Rainbow with one component removed: mean/final evaluation return, solve step.")
    ctx.log_figure("ablation_evaluation_curves", _eval_curves(by_arm, cfg.total_steps, f"{cfg.env_id}: Rainbow "
                                                              "ablation (greedy evaluation)", threshold),
                   caption="Greedy-policy evaluation return of each ablation arm against env steps.")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    arms = list(summary)
    ax.bar(arms, [summary[a]["mean_eval_return"] for a in arms], color="tab:purple", alpha=0.8)
    ax.set_ylabel("mean evaluation return over training")
    ax.set_title(f"{cfg.env_id}: Rainbow ablation (area under the evaluation curve)")
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
    ctx.log_figure("ablation_auc", fig, caption="Sample efficiency per arm: evaluation return averaged over "
                                                "every evaluation of the run.")


# ======================================================= value_based.sample_efficiency_vs_policy_methods


class SampleEfficiencyConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="the shared environment")
    total_steps: int = Field(100_000, ge=1, description="the shared budget of environment steps per run")
    seeds: int = Field(2, ge=1, description="independent runs per method")
    methods: list[str] = Field(default_factory=lambda: ["dqn", "ppo", "a2c"], description="dqn, ppo, a2c")
    dqn: DQNConfig = Field(default_factory=DQNConfig, description="DQN (zoo CartPole settings)")
    ppo: PPOConfig = Field(default_factory=PPOConfig, description="PPO (week 7's module, zoo CartPole settings)")
    a2c: A2CConfig = Field(default_factory=A2CConfig, description="A2C (week 6's module, zoo CartPole settings)")
    thresholds: list[float] = Field(default_factory=lambda: [195.0, 475.0],
                                    description="return levels (mean of the last 10 training episodes)")
    eval_episodes: int = Field(20, ge=1, description="greedy evaluation episodes of each final agent")
    workers: int = Field(2, ge=1, description="runs trained in parallel processes")
    grid_points: int = Field(50, ge=2, description="points of the learning-curve grid")

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
