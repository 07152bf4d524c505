"""`mdp.gridworld_solver`: value iteration (Bellman 1957; Sutton & Barto §4.4) on every grid world.

Each environment is solved by synchronous value iteration, V_{k+1}(s) = max_a Σ_{s′} P(s′|s,a)[r + γ V_k(s′)],
until the residual ‖V_{k+1} − V_k‖∞ drops below θ; the step-cost worlds use γ = 1, so their values read as
minus the steps to the goal. Also S&B Figure 4.1: the values of the equiprobable random policy.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.mdp import envs as envlib
from studyforge.experiments.mdp import plots, tabular
from studyforge.experiments.mdp.studies.common import ALL_ENVS, EnvChoice
from studyforge.experiments.registry import register


class SolverConfig(EnvChoice):
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
