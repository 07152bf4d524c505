"""`value_based.dqn_variants`: DQN and its improvements one at a time, starting from week 1's tabular world.

Tabular Q-learning (Watkins, 1989) and SARSA on week 1's gridworlds first: Q-learning's values must land on
value iteration's V*, and on the cliff the two reproduce Sutton & Barto's Figure 6.4. Then DQN (Mnih et al.,
arXiv 1312.5602; replay buffer and target network) and DQN plus each component of Rainbow (Hessel et al.,
arXiv 1710.02298) alone — Double, dueling, prioritised replay, n-step returns, noisy nets, C51 — and the full
Rainbow, on CartPole-v1 and on a MinAtar game (Young & Tian, arXiv 1903.03176).
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Workers, names_in
from studyforge.experiments.keys import env_key
from studyforge.experiments.mdp import envs as mdp_envs
from studyforge.experiments.mdp import tabular as dp
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.rl.plots import learning_curves
from studyforge.experiments.value_based import dqn, plots
from studyforge.experiments.value_based.dqn import RAINBOW, DQNConfig, with_components
from studyforge.experiments.value_based.studies.common import SOLVED, dqn_summary
from studyforge.experiments.value_based.tabular import train_tabular

# DQN plus one improvement at a time (n_step: Rainbow's n = 3)
VARIANTS: dict[str, dict[str, Any]] = {
    "dqn": {}, "double": {"double": True}, "dueling": {"dueling": True}, "prioritized": {"prioritized": True},
    "n_step": {"n_step": 3}, "noisy": {"noisy": True}, "distributional": {"distributional": True},
    "rainbow": dict(RAINBOW),
}
# a list of variants: refused when empty or naming an unknown one ("unknown or no variants ['x']; known: …")
Variants = Annotated[list[str], names_in(VARIANTS, "or no variants")]
# MinAtar (Young & Tian, 2019, arXiv 1903.03176): their DQN settings (batch 32, 100k replay, target every
# 1000 steps, ε → 0.1, one 128-unit layer after the convolution), trained every 4th step to fit a CPU budget
MINATAR_DQN = {"buffer_size": 100_000, "learning_rate": 2.5e-4, "adam_eps": 3.125e-4, "batch_size": 32,
               "learning_starts": 5_000, "train_freq": 4, "gradient_steps": 1, "target_update_interval": 1_000,
               "exploration_final_eps": 0.1, "exploration_fraction": 0.1, "hidden": [128], "v_min": -10.0,
               "v_max": 10.0}
# S&B Figure 6.4 (cliff walking, ε = 0.1, α = 0.5): online sum of rewards per episode late in training
BOOK_CLIFF = {"sarsa": -25.0, "q_learning": -50.0}


class VariantsConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="the classic-control environment")
    variants: Variants = Field(default_factory=lambda: [v for v in VARIANTS if v != "rainbow"],
                               description=f"DQN + one improvement each, from {', '.join(VARIANTS)} (the full "
                                           f"Rainbow is the reference arm of value_based.rainbow_ablation)")
    total_steps: int = Field(50_000, ge=1, description="environment steps per run")
    seeds: Seeds = 1
    dqn: DQNConfig = Field(default_factory=DQNConfig, description="base DQN hyperparameters (zoo CartPole)")
    eval_every: int = Field(5_000, ge=1, description="env steps between evaluations of the greedy policy")
    eval_episodes: int = Field(20, ge=1, description="episodes per evaluation")
    minatar_env: str = Field("MinAtar/Breakout", description="the MinAtar game")
    minatar_steps: int = Field(100_000, ge=0, description="env steps per MinAtar run (0: skip MinAtar)")
    minatar_variants: Variants = Field(default_factory=lambda: ["dqn", "n_step"],
                                       description="variants trained on the MinAtar game (Rainbow's noisy C51 "
                                                   "convnet costs ~4× DQN's compute per step: in `full`)")
    minatar_dqn: DQNConfig = Field(default_factory=lambda: DQNConfig(**MINATAR_DQN),
                                   description="DQN hyperparameters on MinAtar")
    minatar_eval_every: int = Field(20_000, ge=1, description="env steps between MinAtar evaluations")
    minatar_eval_episodes: int = Field(10, ge=1, description="episodes per MinAtar evaluation")
    tabular_episodes: int = Field(3_000, ge=1, description="episodes of tabular Q-learning/SARSA on the 4×4 grid")
    cliff_episodes: int = Field(500, ge=10, description="episodes per cliff-walking run (S&B Figure 6.4: 500)")
    cliff_runs: int = Field(50, ge=1, description="cliff-walking runs averaged (S&B: 100)")
    workers: Workers = 2
    grid_points: GridPoints = 50

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
    ctx.log_figure("cliffwalking_sarsa_vs_q_learning", plots.cliff_walking(curves_by_algo, cfg.cliff_runs),
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
        summary = {v: dqn_summary(rs, SOLVED.get(env_id)) for v, rs in by_variant.items()}
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
        ctx.log_figure(f"{key}_evaluation_curves", plots.evaluation_curves(
            by_variant, steps, f"{env_id}: greedy evaluation", SOLVED.get(env_id)),
            caption=f"{env_id}: mean return of the greedy policy at each evaluation; thick: median over "
                    f"seeds.")
    if not minatar and cfg.minatar_steps > 0:
        ctx.summary(**{mk: {"skipped": "the minatar package is not installed (pip install minatar)"}})
    ctx.log_table("dqn_variants", table, caption="DQN + one improvement at a time: evaluation returns, solve step, "
                                                 "throughput.")
