"""`model_based.dyna_q`: tabular Dyna-Q with n = 0, 5, 50 planning steps on the Dyna Maze.

Dyna (Sutton, 1990; Sutton & Barto, 2018, §8.2) learns a model from real steps and replays n simulated steps
from it after each one: planning is more Q-learning on remembered experience. The book's Figure 8.2 shows how
much faster the agent finds the 14-step path with n = 5 and n = 50; the levels it compares against are
computed exactly here with week 1's policy evaluation.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.mdp import envs as mdp_envs
from studyforge.experiments.mdp import tabular as dp
from studyforge.experiments.model_based import dyna, mazes, plots
from studyforge.experiments.registry import register

# Sutton & Barto, §8.2 (as the issue states them): episodes until each agent's steps per episode reach the
# optimal 14-step path in Figure 8.2
BOOK_FIG_8_2 = {0: 25, 5: 5, 50: 3}


def epsilon_greedy_floor(env, epsilon: float) -> float:
    """Expected steps from the start for the ε-greedy version of an optimal policy (week 1's exact policy
    evaluation with −1 per step): the level an ε-greedy learner's steps per episode settle at.

    >>> round(epsilon_greedy_floor(mazes.dyna_maze(), 0.0), 6)
    14.0
    """
    geometry = mdp_envs.maze(mazes.DYNA_MAZE if env.key == "dyna_maze" else [" ".join(r) for r in env.layout],
                             step_reward=-1.0)
    opt = dp.value_iteration(geometry.mdp, 1.0)
    A = geometry.mdp.n_actions
    # π(a|s) = ε/|A| + (1 − ε) 1[a = a*(s)]
    pi = np.full((geometry.mdp.n_states, A), epsilon / A)
    pi[np.arange(geometry.mdp.n_states), opt.policy] += 1 - epsilon
    return float(-dp.evaluate_policy_exact(geometry.mdp, pi, 1.0)[geometry.start_state])


def random_walk_first_episode(env) -> float:
    """Expected length of the first Dyna-Q episode: with Q ≡ 0 and random tie-breaking the agent does a
    uniform random walk until it first hits the goal (exact, by week 1's policy evaluation)."""
    geometry = mdp_envs.maze(mazes.DYNA_MAZE, step_reward=-1.0)
    return float(-dp.evaluate_policy_exact(geometry.mdp, dp.uniform_policy(geometry.mdp), 1.0)[geometry.start_state])


class DynaConfig(ExperimentConfig):
    planning_steps: list[int] = Field(default_factory=lambda: [0, 5, 50], description="n per real step")
    runs: int = Field(30, ge=1, description="independent runs averaged (S&B Figure 8.2: 30)")
    episodes: int = Field(50, ge=2, description="episodes per run")
    alpha: float = Field(0.1, gt=0, le=1, description="step size α")
    gamma: float = Field(0.95, gt=0, le=1, description="discount γ")
    epsilon: float = Field(0.1, ge=0, le=1, description="ε of the ε-greedy behaviour")
    near_optimal_factor: float = Field(1.2, ge=1, description="'near-optimal' = averaged steps ≤ this × the "
                                                               "ε-greedy optimal policy's expected steps")

    presets: ClassVar = {"quick": {"runs": 3, "episodes": 15}, "full": {"runs": 100}}


@register("model_based.dyna_q", week=15, config=DynaConfig, headline="n50.episodes_to_near_optimal")
def dyna_q(ctx, cfg: DynaConfig) -> None:
    """Simple model-based RL: tabular Dyna-Q with n = 0, 5, 50 planning steps on the Dyna Maze.

    Reproduces the shape of Sutton & Barto's Figure 8.2 (α = 0.1, ε = 0.1, γ = 0.95, Q₀ = 0, random
    tie-breaking): steps per episode averaged over runs. Two readings of "episodes to the 14-step path":
    the first episode at which the averaged curve comes within `near_optimal_factor` of the level an
    ε-greedy optimal policy achieves (computed exactly, ≈ 17 steps for ε = 0.1 — exploration keeps every
    curve above 14), and per run the episode after which the *greedy* policy follows a 14-step path for
    good. The first episode is a pure random walk for every n; its exact expected length is in the summary.
    """
    env = mazes.dyna_maze()
    world = dyna.MazeWorld.from_env(env)
    floor = epsilon_greedy_floor(env, cfg.epsilon)
    near = cfg.near_optimal_factor * floor
    curves_by_n: dict[int, np.ndarray] = {}
    summary: dict[str, Any] = {"shortest_path": mazes.DYNA_MAZE_SHORTEST, "epsilon_greedy_floor": floor,
                               "near_optimal_steps": near,
                               "first_episode_expected": random_walk_first_episode(env)}
    with ctx.progress(total=len(cfg.planning_steps) * cfg.runs, description="Dyna-Q runs") as bar:
        for n in cfg.planning_steps:
            lengths, settle = [], []
            for run in range(cfg.runs):
                agent = dyna.DynaQ(world.n_cells, world.n_actions, n, alpha=cfg.alpha, gamma=cfg.gamma,
                                   epsilon=cfg.epsilon, seed=ctx.seed * 1000 + run)
                steps, greedy = dyna.run_episodes(world, agent, cfg.episodes)
                lengths.append(steps)
                settle.append(dyna.episodes_to_optimal(greedy, mazes.DYNA_MAZE_SHORTEST))
                bar.advance(1)
            avg = np.mean(lengths, axis=0)
            curves_by_n[n] = avg
            for ep, v in enumerate(avg, start=1):
                ctx.log({f"dyna_maze/n{n}/steps_per_episode": float(v)}, step=ep)
            hit = np.flatnonzero(avg[1:] <= near)  # from episode 2 on (the first is a random walk)
            summary[f"n{n}"] = {
                "episodes_to_near_optimal": int(hit[0]) + 2 if len(hit) else None,
                "greedy_optimal_after_median": float(np.median(settle)),
                "greedy_optimal_within_run_fraction": float(np.mean(np.array(settle) <= cfg.episodes)),
                "first_episode_steps": float(avg[0]), "second_episode_steps": float(avg[1]),
                "last_10_episodes_steps": float(avg[-10:].mean()),
                "book_episodes_to_optimal": BOOK_FIG_8_2.get(n),
            }
    ctx.summary(**summary)
    ctx.log_figure("dyna_maze_steps_per_episode",
                   plots.dyna_maze_steps(curves_by_n, mazes.DYNA_MAZE_SHORTEST, floor, cfg.runs),
                   caption="Steps per episode from episode 2 (the first is a random walk for every n), averaged "
                           "over runs. Book: n = 0 needs about 25 episodes, n = 5 about 5, n = 50 about 3.")
    ctx.log_table("dyna_q", [{"n": n, **{k: v for k, v in summary[f"n{n}"].items()}} for n in cfg.planning_steps],
                  caption="Episodes to a near-optimal path per planning budget, against the book.")
