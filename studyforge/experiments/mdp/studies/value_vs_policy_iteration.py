"""`mdp.value_vs_policy_iteration`: value iteration against policy iteration and its modified form.

Value iteration (Bellman 1957) backs up one max per sweep; policy iteration (Howard 1960) alternates a full
evaluation of the greedy policy with an improvement; modified policy iteration (Puterman & Shin 1978) stops
each evaluation after k sweeps, spanning the two (k = 1 is value iteration, k → ∞ policy iteration). All
share one fixed point V*, which the study checks, and it measures what each spends reaching it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from studyforge.experiments.config import names_in
from studyforge.experiments.keys import gamma_key
from studyforge.experiments.mdp import envs as envlib
from studyforge.experiments.mdp import plots, tabular
from studyforge.experiments.mdp.studies.common import ALL_ENVS, EnvChoice, check_undiscounted
from studyforge.experiments.registry import register

ALGORITHMS = ["value_iteration", "value_iteration_in_place", "policy_iteration", "policy_iteration_iterative",
              "modified_policy_iteration"]


class CompareConfig(EnvChoice):
    """Value iteration against policy iteration and its modified form, per environment and γ."""

    gammas: list[float] = Field(default_factory=lambda: [0.9, 0.99],
                                description="discount factors to solve every environment with, in (0, 1]")
    algorithms: Annotated[list[str], names_in(ALGORITHMS, "algorithms")] = Field(
        default_factory=lambda: list(ALGORITHMS), description=f"solvers to compare, from {', '.join(ALGORITHMS)}")
    mpi_k: list[int] = Field(default_factory=lambda: [2, 5, 20],
                             description="evaluation sweeps per improvement of modified policy iteration")
    episodes: int = Field(1000, ge=1, description="rollouts per greedy policy to measure its success rate")

    presets: ClassVar = {
        "quick": {"envs": ["sb_gridworld", "frozenlake4x4", "frozenlake8x8", "cliffwalking", "maze"],
                  "gammas": [0.99], "mpi_k": [5], "episodes": 200},
        "full": {"envs": [*ALL_ENVS, "windy_gridworld_stochastic"], "gammas": [0.9, 0.95, 0.99, 0.999],
                 "undiscounted_envs": ["sb_gridworld", "cliffwalking", "windy_gridworld", "maze"],
                 "mpi_k": [1, 2, 5, 10, 50], "episodes": 10_000, "theta": 1e-12},
    }

    @field_validator("gammas")
    @classmethod
    def _gammas(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < g <= 1 for g in value):
            raise ValueError("gammas must be a non-empty list of values in (0, 1]")
        return value

    @field_validator("mpi_k")
    @classmethod
    def _mpi_k(cls, value: list[int]) -> list[int]:
        if any(k < 1 for k in value):
            raise ValueError("mpi_k entries must be ≥ 1")
        return value

    @model_validator(mode="after")
    def _gamma_one_needs_step_cost(self) -> CompareConfig:
        if 1.0 in self.gammas:
            check_undiscounted(self.envs)
        return self


def solve_all(mdp: tabular.TabularMDP, gamma: float, cfg: CompareConfig) -> dict[str, tabular.Solution]:
    """Run every configured solver on one MDP; keys are the summary's algorithm names."""
    out: dict[str, tabular.Solution] = {}
    for algo in cfg.algorithms:
        if algo == "value_iteration":
            out[algo] = tabular.value_iteration(mdp, gamma, cfg.theta, cfg.max_sweeps)
        elif algo == "value_iteration_in_place":
            out[algo] = tabular.value_iteration(mdp, gamma, cfg.theta, cfg.max_sweeps, in_place=True)
        elif algo == "policy_iteration":
            out[algo] = tabular.policy_iteration(mdp, gamma)
        elif algo == "policy_iteration_iterative":
            out[algo] = tabular.modified_policy_iteration(mdp, gamma, None, cfg.theta,
                                                          max_eval_sweeps=cfg.max_sweeps)
        else:
            for k in cfg.mpi_k:
                out[f"modified_policy_iteration_k{k}"] = tabular.modified_policy_iteration(
                    mdp, gamma, k, cfg.theta, max_iterations=cfg.max_sweeps)
    return out


@register("mdp.value_vs_policy_iteration", week=1, config=CompareConfig,
          headline="frozenlake8x8.gamma0_99.success_rate.value_iteration")
def value_vs_policy_iteration(ctx, cfg: CompareConfig) -> None:
    """Value iteration vs policy iteration: sweeps, evaluation sweeps, wall time and success rate.

    For each environment and γ, runs synchronous and in-place value iteration, Howard's policy iteration
    (exact evaluation), policy iteration with iterative evaluation (S&B Figure 4.3) and modified policy
    iteration with k evaluation sweeps, all to the residual θ; checks that they agree on V*; and measures
    each greedy policy's success rate by rollouts in gymnasium (FrozenLake, CliffWalking) or in the model.
    """
    # S&B Example 4.1 / Figure 4.1: v of the equiprobable random policy, γ = 1 (exact: a linear solve)
    grid = envlib.sb_gridworld()
    v_random = tabular.evaluate_policy_exact(grid.mdp, tabular.uniform_policy(grid.mdp), 1.0)
    ctx.summary(sb_gridworld_random_policy_values=np.round(v_random, 9).tolist())

    tasks = [(key, g) for key in cfg.envs for g in cfg.gammas]
    tasks += [(key, 1.0) for key in cfg.envs if key in cfg.undiscounted_envs and 1.0 not in cfg.gammas]
    rows: list[dict] = []
    vi_pi_diff: float | None = None  # max |V*_VI − V*_PI| over all tasks (when both algorithms ran)
    any_diff = 0.0
    with ctx.progress(total=len(tasks), description="solving") as bar:
        for task_index, (key, gamma) in enumerate(tasks):
            env = envlib.make(key, maze_layout=cfg.maze_layout)
            sols = solve_all(env.mdp, gamma, cfg)
            reference = sols[next(iter(sols))].values
            if "value_iteration" in sols and "policy_iteration" in sols:
                diff = float(np.abs(sols["value_iteration"].values - sols["policy_iteration"].values).max())
                vi_pi_diff = diff if vi_pi_diff is None else max(vi_pi_diff, diff)
            any_diff = max([any_diff] + [float(np.abs(s.values - reference).max()) for s in sols.values()])

            seed = ctx.env_seed(task_index)
            measured: dict[bytes, tuple[float, float]] = {}  # one rollout batch per distinct policy
            for sol in sols.values():
                tag = sol.policy.tobytes()
                if tag not in measured:
                    measured[tag] = (env.rollout_success(sol.policy, cfg.episodes, seed),
                                     env.success_probability(sol.policy))
            gk = gamma_key(gamma)
            success = {a: measured[s.policy.tobytes()] for a, s in sols.items()}
            entry = {
                "optimal_values": reference.tolist(),
                "start_value": env.start_value(reference),
                "sweeps": {a: s.iterations for a, s in sols.items()},
                "eval_sweeps": {a: s.eval_sweeps for a, s in sols.items()},
                "wall_time_ms": {a: round(s.wall_time * 1e3, 4) for a, s in sols.items()},
                "converged": {a: s.converged for a, s in sols.items()},
                "success_rate": {a: rate for a, (rate, _) in success.items()},
                "success_probability": {a: round(prob, 6) for a, (_, prob) in success.items()},
            }
            ctx.summary(**{key: {gk: entry}})
            for algo, sol in sols.items():
                rows.append({
                    "env": key, "gamma": gamma, "algorithm": algo, "iterations": sol.iterations,
                    "eval_sweeps": sol.eval_sweeps, "wall_time_ms": round(sol.wall_time * 1e3, 3),
                    "converged": sol.converged, "start_value": round(env.start_value(sol.values), 6),
                    "success_rate": entry["success_rate"][algo],
                    "success_probability": entry["success_probability"][algo],
                    "rollouts": "gymnasium" if env.gym_id else "model",
                })
                prefix = f"compare/{key}/{gk}/{algo}"
                ctx.log({f"{prefix}/iterations": sol.iterations, f"{prefix}/eval_sweeps": sol.eval_sweeps,
                         f"{prefix}/success_rate": entry["success_rate"][algo]}, step=task_index)
            ctx.log_figure(f"convergence_{key}_{gk}", plots.convergence_curves(
                sols, f"{env.title}, γ = {gamma:g}: value iteration vs policy iteration"),
                caption=f"Bellman residual and greedy-policy changes against sweeps spent, {env.title}, "
                        f"γ = {gamma:g}.")
            bar.advance(1, **{"env": key, "γ": gamma})

    if vi_pi_diff is not None:
        ctx.summary(vi_pi_max_abs_diff=vi_pi_diff)
    ctx.summary(all_algorithms_max_abs_diff=any_diff, algorithms=list(dict.fromkeys(r["algorithm"] for r in rows)))
    ctx.log_table("algorithm_comparison", rows, caption=(
        "Per environment and γ: outer iterations (sweeps for VI, improvements for PI/MPI), sweeps through "
        f"the state space, wall time, and the greedy policy's success rate over {cfg.episodes} rollouts "
        "(and its exact probability within the episode limit, from the model)."))
