"""Week 1's runnable studies: solve every grid world, then compare value and policy iteration.

- `mdp.gridworld_solver`          value iteration on every environment: value heatmaps with greedy-policy
                                  arrows, convergence curves, the optimal values.
- `mdp.value_vs_policy_iteration` VI (synchronous, in-place), policy iteration (exact and iterative
                                  evaluation) and modified policy iteration, per environment and γ: sweeps,
                                  evaluation sweeps, wall time, greedy-policy success rate by rollouts.

Summary keys nest as env → γ → quantity → algorithm, with γ written `gamma0_99` (dots separate keys), as in
`frozenlake8x8.gamma0_99.sweeps.value_iteration`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.keys import gamma_key
from studyforge.experiments.mdp import envs as envlib
from studyforge.experiments.mdp import tabular
from studyforge.experiments.registry import register

ALL_ENVS = ["sb_gridworld", "frozenlake4x4", "frozenlake8x8", "cliffwalking", "windy_gridworld", "maze"]
# the environments where every step costs −1, so every greedy policy of a value function ends episodes and
# γ = 1 is well posed (FrozenLake pays nothing for waiting: with γ = 1, dawdling forever is also "optimal")
STEP_COST_ENVS = {"sb_gridworld", "cliffwalking", "windy_gridworld", "windy_gridworld_stochastic", "maze"}
ALGORITHMS = ["value_iteration", "value_iteration_in_place", "policy_iteration", "policy_iteration_iterative",
              "modified_policy_iteration"]


class _EnvChoice(ExperimentConfig):
    """Fields and checks shared by both studies' configs."""

    envs: list[str] = Field(default_factory=lambda: list(ALL_ENVS),
                            description=f"environments to solve, from {', '.join(envlib.ENV_KEYS)}")
    theta: float = Field(1e-10, gt=0, description="stop when the residual ‖V_{k+1} − V_k‖∞ drops below this")
    max_sweeps: int = Field(100_000, ge=1,
                            description="guard against non-termination (γ = 1): most sweeps of one solve")
    maze_layout: list[str] = Field(default_factory=lambda: list(envlib.DEFAULT_MAZE),
                                   description="rows of the `maze` environment (format: mdp/envs.py)")
    undiscounted_envs: list[str] = Field(default_factory=lambda: ["sb_gridworld"],
                                         description="environments also solved with γ = 1 (step-cost ones)")

    @field_validator("envs")
    @classmethod
    def _known_envs(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in envlib.ENV_KEYS]
        if unknown:
            raise ValueError(f"unknown environments {unknown}; known: {', '.join(envlib.ENV_KEYS)}")
        return value

    @field_validator("maze_layout")
    @classmethod
    def _valid_layout(cls, value: list[str]) -> list[str]:
        envlib.parse_layout(value)  # raises ValueError with the reason
        return value

    @field_validator("undiscounted_envs")
    @classmethod
    def _undiscounted(cls, value: list[str]) -> list[str]:
        return _check_undiscounted(value)


def _check_undiscounted(names: list[str]) -> list[str]:
    bad = [e for e in names if e not in STEP_COST_ENVS]
    if bad:
        allowed = ", ".join(sorted(STEP_COST_ENVS))
        raise ValueError(f"γ = 1 needs a cost per step; not {bad} (allowed: {allowed})")
    return names


# ---------------------------------------------------------------------------------------------------------
# mdp.gridworld_solver
# ---------------------------------------------------------------------------------------------------------


class SolverConfig(_EnvChoice):
    """Value iteration on every environment."""

    gamma: float = Field(0.99, gt=0, le=1, description="discount factor for the discounted environments")
    undiscounted_envs: list[str] = Field(
        default_factory=lambda: ["sb_gridworld", "cliffwalking", "windy_gridworld", "maze"],
        description="environments solved with γ = 1 instead of `gamma` (values: minus the steps to the goal)")
    max_logged_points: int = Field(300, ge=10, description="most points per convergence curve in the metrics")

    presets: ClassVar = {
        "quick": {"envs": ["sb_gridworld", "frozenlake4x4", "frozenlake8x8", "cliffwalking", "maze"]},
        "full": {"envs": [*ALL_ENVS, "windy_gridworld_stochastic"], "theta": 1e-12,
                 "undiscounted_envs": ["sb_gridworld", "cliffwalking", "windy_gridworld",
                                       "windy_gridworld_stochastic", "maze"]},
    }


@register("mdp.gridworld_solver", week=1, config=SolverConfig, headline="frozenlake8x8.start_value")
def gridworld_solver(ctx, cfg: SolverConfig) -> None:
    """Grid-world MDP solver: value iteration on six environments, heatmaps and convergence curves.

    Solves each environment by synchronous value iteration to the residual θ (γ = 1 on the step-cost
    environments, so values read as minus the steps to the goal), draws V* with the greedy policy as
    arrows, and plots the Bellman residual and the greedy-policy changes per sweep. Also reproduces
    S&B Figure 4.1: the values of the equiprobable random policy on the 4×4 gridworld.
    """
    from studyforge.experiments.mdp import plots

    solutions: dict[str, tabular.Solution] = {}
    table: list[dict] = []
    with ctx.progress(total=len(cfg.envs), description="value iteration") as bar:
        for key in cfg.envs:
            env = envlib.make(key, maze_layout=cfg.maze_layout)
            gamma = 1.0 if key in cfg.undiscounted_envs else cfg.gamma
            sol = tabular.value_iteration(env.mdp, gamma, cfg.theta, cfg.max_sweeps)
            solutions[key] = sol
            start_value = env.start_value(sol.values)
            ctx.summary(**{key: {
                "gamma": gamma, "start_value": start_value, "optimal_values": sol.values.tolist(),
                "greedy_policy": sol.policy.tolist(), "vi_sweeps": sol.iterations, "converged": sol.converged,
            }})
            for k in _thin(sol.iterations, cfg.max_logged_points):
                h = sol.history[k]
                ctx.log({f"convergence/{key}/residual": h.residual,
                         f"convergence/{key}/policy_changes": h.policy_changes}, step=h.iteration)
            ctx.log_figure(f"value_heatmap_{key}", plots.value_heatmap(
                env, sol.values, sol.policy, f"{env.title}: V* and greedy policy (γ = {gamma:g})"),
                caption=f"{env.title}: optimal values and greedy actions from value iteration, "
                        f"γ = {gamma:g}; V*(start) = {start_value:.4f} after {sol.iterations} sweeps.")
            table.append({"env": key, "gamma": gamma, "start_value": round(start_value, 6),
                          "sweeps": sol.iterations, "final_residual": sol.history[-1].residual,
                          "converged": sol.converged})
            bar.advance(1, **{"V*(start)": round(start_value, 4)})

    if "sb_gridworld" in cfg.envs:
        env = envlib.sb_gridworld()
        random_eval = tabular.evaluate_policy(env.mdp, tabular.uniform_policy(env.mdp), 1.0, cfg.theta,
                                              cfg.max_sweeps, in_place=True)
        ctx.summary(sb_gridworld_random_policy_values=np.round(random_eval.values, 6).tolist(),
                    sb_gridworld_random_policy_sweeps=random_eval.iterations)
        ctx.log_figure("value_heatmap_sb_gridworld_random_policy", plots.value_heatmap(
            env, random_eval.values, random_eval.policy, "S&B Figure 4.1: v of the random policy (γ = 1)"),
            caption="Iterative policy evaluation of the equiprobable random policy on the 4×4 gridworld and "
                    "the greedy policy with respect to it, which is already optimal (S&B Figure 4.1).")

    ctx.log_figure("convergence_value_iteration", plots.convergence_curves(
        solutions, "Value iteration: Bellman residual and greedy-policy changes per sweep"),
        caption="Synchronous value iteration on every environment: deterministic worlds converge exactly "
                "once values have propagated from the goal, the slippery lakes geometrically (rate ≈ γ).")
    ctx.log_table("optimal_values", table, caption="V*(start) and the sweeps value iteration took, per env.")


def _thin(n: int, most: int) -> list[int]:
    """Indices of at most `most` of `n` points: all of the first ones, then evenly spread, always the last.

    >>> _thin(5, 10), _thin(10, 4)
    ([0, 1, 2, 3, 4], [0, 3, 6, 9])
    """
    if n <= most:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, most).round().astype(int).tolist()))


# ---------------------------------------------------------------------------------------------------------
# mdp.value_vs_policy_iteration
# ---------------------------------------------------------------------------------------------------------


class CompareConfig(_EnvChoice):
    """Value iteration against policy iteration and its modified form, per environment and γ."""

    gammas: list[float] = Field(default_factory=lambda: [0.9, 0.99],
                                description="discount factors to solve every environment with, in (0, 1]")
    algorithms: list[str] = Field(default_factory=lambda: list(ALGORITHMS),
                                  description=f"solvers to compare, from {', '.join(ALGORITHMS)}")
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

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in ALGORITHMS]
        if unknown or not value:
            raise ValueError(f"unknown algorithms {unknown}; known: {', '.join(ALGORITHMS)}")
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
            _check_undiscounted(self.envs)
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
    from studyforge.experiments.mdp import plots

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
