"""Sutton & Barto's chapter-8 mazes, written in week 1's maze format (`studyforge.experiments.mdp.envs`).

- `dyna_maze()`       Example 8.1 / Figure 8.2: 6×9, start (2, 0), goal (0, 8), seven wall cells; the
                      shortest path takes 14 steps.
- `blocking_maze()`   Example 8.2 / Figure 8.4: a wall across row 3 with a gap on the right; after 1,000
                      steps the gap moves to the left and the learned path is blocked.
- `shortcut_maze()`   Example 8.3 / Figure 8.5: the gap is on the left; after 3,000 steps a second gap
                      opens on the right, a shortcut that Dyna-Q rarely discovers and Dyna-Q+ does.

The book's reward is 0 on every step and +1 on reaching the goal, with γ = 0.95, so value decays with
distance. Week 1's `maze()` charges `step_reward` on every step; here it builds the geometry (transitions,
start, goal) with `step_reward = 0` and the goal reward is then put on every transition into the goal.

    S&B Figure 8.2 (row 0 at the top)         blocking (before)       shortcut (before)
    .  .  .  .  .  .  .  #  G                 .  .  .  .  .  .  .  .  G   (same top rows)
    .  .  #  .  .  .  .  #  .                 …                       …
    S  .  #  .  .  .  .  #  .                 #  #  #  #  #  #  #  #  .   .  #  #  #  #  #  #  #  #
    .  .  #  .  .  .  .  .  .                 …  .  .  S  .  .  .  .  .   …  .  .  S  .  .  .  .  .
    .  .  .  .  .  #  .  .  .
    .  .  .  .  .  .  .  .  .
"""

from __future__ import annotations

import numpy as np

from studyforge.experiments.mdp.envs import GridEnv, maze
from studyforge.experiments.mdp.tabular import TabularMDP

DYNA_MAZE = [
    ".  .  .  .  .  .  .  #  G",
    ".  .  #  .  .  .  .  #  .",
    "S  .  #  .  .  .  .  #  .",
    ".  .  #  .  .  .  .  .  .",
    ".  .  .  .  .  #  .  .  .",
    ".  .  .  .  .  .  .  .  .",
]
DYNA_MAZE_SHORTEST = 14  # S&B: "the shortest path from S to G is 14 steps" (Figure 8.2's floor)


def _open_rows(wall_row: str) -> list[str]:
    """The 6×9 layout of Figures 8.4/8.5 with the given row 3; start at (5, 3), goal at (0, 8)."""
    return [
        ".  .  .  .  .  .  .  .  G",
        ".  .  .  .  .  .  .  .  .",
        ".  .  .  .  .  .  .  .  .",
        wall_row,
        ".  .  .  .  .  .  .  .  .",
        ".  .  .  S  .  .  .  .  .",
    ]


BLOCKING_BEFORE = _open_rows("#  #  #  #  #  #  #  #  .")
BLOCKING_AFTER = _open_rows(".  #  #  #  #  #  #  #  #")
SHORTCUT_BEFORE = _open_rows(".  #  #  #  #  #  #  #  #")
SHORTCUT_AFTER = _open_rows(".  #  #  #  #  #  #  #  .")


def goal_reward_maze(layout: list[str], key: str, title: str, goal_reward: float = 1.0) -> GridEnv:
    """Week 1's `maze(layout)` with reward 0 per step and `goal_reward` on entering a goal cell.

    >>> env = goal_reward_maze(["S  G"], "tiny", "tiny")
    >>> s, g = env.index[(0, 0)], env.index[(0, 1)]
    >>> float(env.mdp.R[s, 1, g]), float(env.mdp.R[s, 3, s])      # move east into G; bump the west edge
    (1.0, 0.0)
    """
    base = maze(layout, step_reward=0.0, key=key, title=title, horizon=100_000)
    R = np.zeros_like(base.mdp.R)
    # r(s, a, s') = goal_reward when s' is a goal
    R[:, :, base.goal] = goal_reward
    base.mdp = TabularMDP(base.mdp.P, R, base.mdp.terminal)
    return base


def dyna_maze() -> GridEnv:
    return goal_reward_maze(DYNA_MAZE, "dyna_maze", "Dyna Maze (S&B Example 8.1)")


def blocking_maze(after: bool = False) -> GridEnv:
    layout = BLOCKING_AFTER if after else BLOCKING_BEFORE
    return goal_reward_maze(layout, "blocking_maze" + ("_after" if after else ""), "Blocking maze (S&B Example 8.2)")


def shortcut_maze(after: bool = False) -> GridEnv:
    layout = SHORTCUT_AFTER if after else SHORTCUT_BEFORE
    return goal_reward_maze(layout, "shortcut_maze" + ("_after" if after else ""), "Shortcut maze (S&B Example 8.3)")


def grid_transitions(env: GridEnv) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The maze as a grid-indexed table: (next cell (rows·cols, A), reward (rows·cols, A), goal (rows·cols,)).

    Week 1's mazes index only the free cells, so a maze whose walls move (blocking, shortcut) changes its
    state numbering. Dyna-Q's table must survive the change, so the agent indexes cells by r·cols + c
    instead; wall cells keep self-loops that are never visited.
    """
    rows, cols = env.shape
    n = rows * cols
    A = env.mdp.n_actions
    nxt = np.repeat(np.arange(n)[:, None], A, axis=1)
    rew = np.zeros((n, A))
    goal = np.zeros(n, dtype=bool)
    cell_of = env.cells[:, 0] * cols + env.cells[:, 1]  # (S,) state -> grid cell
    succ = env.mdp.P.argmax(axis=2)  # (S, A): these mazes are deterministic
    for s in range(env.mdp.n_states):
        nxt[cell_of[s]] = cell_of[succ[s]]
        rew[cell_of[s]] = env.mdp.R[s, np.arange(A), succ[s]]
    goal[cell_of[env.goal]] = True
    return nxt, rew, goal
