"""Dyna-Q and Dyna-Q+: Q-learning that also learns from a model of its own experience.

Sutton, 1990, "Integrated Architectures for Learning, Planning, and Reacting Based on Approximating Dynamic
Programming" (ICML); Sutton & Barto, "Reinforcement Learning: An Introduction" (2nd ed., 2018), §8.2–8.3
(tabular Dyna-Q, Figures 8.2, 8.4, 8.5). These predate arXiv.

Every real step does three things:

    direct RL:  Q(S, A) ← Q(S, A) + α [R + γ max_a Q(S', a) − Q(S, A)]          (Q-learning, week 14)
    model:      Model(S, A) ← (R, S')                                           (a deterministic world)
    planning:   n times: S ← a previously observed state, A ← an action taken in S,
                (R, S') ← Model(S, A), and the same Q-learning update on the simulated transition.

With n = 0 this is Q-learning; each planning step is one *sampled* Bellman backup on a remembered
transition — week 1's value iteration, run a state at a time on a model learned from experience. On the
Dyna Maze the first episode is a random walk for every n (nothing is known until the goal is found), but
afterwards planning spreads the goal's value back along the path within one episode instead of one step
per episode (S&B Figure 8.3).

Dyna-Q+ (§8.3) plans with an exploration bonus: a transition not tried for τ real steps is simulated as
paying R + κ √τ, so the agent is lured back to test whether the world has changed; following the book's
footnote, planning also considers actions never tried in a visited state, modelled as leading back to the
same state with reward 0. That is what finds the new gap in the shortcut maze.

The world here is a deterministic maze table indexed by grid cell (`mazes.grid_transitions`), so a maze can
change under the agent (blocking and shortcut mazes) without renumbering the agent's Q table.
The hot loop uses Python lists and `random.Random`: each planning update is a handful of list lookups.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from studyforge.experiments.mdp.envs import GridEnv
from studyforge.experiments.model_based.mazes import grid_transitions


@dataclass
class MazeWorld:
    """A deterministic maze as tables over grid cells: next cell and reward per (cell, action)."""

    next_cell: list[list[int]]  # (cells, A)
    reward: list[list[float]]  # (cells, A)
    goal: list[bool]  # (cells,)
    start: int
    n_actions: int

    @classmethod
    def from_env(cls, env: GridEnv) -> MazeWorld:
        nxt, rew, goal = grid_transitions(env)
        r, c = env.cells[env.start_state]
        return cls(nxt.tolist(), rew.tolist(), goal.tolist(), int(r * env.shape[1] + c), env.mdp.n_actions)

    @property
    def n_cells(self) -> int:
        return len(self.goal)

    def step(self, s: int, a: int) -> tuple[float, int, bool]:
        s2 = self.next_cell[s][a]
        return self.reward[s][a], s2, self.goal[s2]


class DynaQ:
    """Tabular Dyna-Q (κ = 0) or Dyna-Q+ (κ > 0) with ε-greedy behaviour and random tie-breaking."""

    def __init__(self, n_states: int, n_actions: int, planning_steps: int, *, alpha: float = 0.1,
                 gamma: float = 0.95, epsilon: float = 0.1, kappa: float = 0.0, seed: int = 0):
        self.n_actions = n_actions
        self.n = planning_steps
        self.alpha, self.gamma, self.epsilon, self.kappa = alpha, gamma, epsilon, kappa
        self.rng = random.Random(seed)
        self.Q = [[0.0] * n_actions for _ in range(n_states)]
        self.model: dict[tuple[int, int], tuple[float, int, bool]] = {}  # (S, A) -> (R, S', terminal)
        self.observed: list[int] = []  # states visited, in order of first visit (for uniform sampling)
        self.tried: dict[int, list[int]] = {}  # state -> actions taken there
        self.last_tried: dict[tuple[int, int], int] = {}  # (S, A) -> real time step it was last taken
        self.time = 0  # real steps taken

    def act(self, s: int) -> int:
        """ε-greedy on Q(s, ·), ties broken uniformly at random."""
        if self.rng.random() < self.epsilon:
            return self.rng.randrange(self.n_actions)
        row = self.Q[s]
        best = max(row)
        ties = [a for a in range(self.n_actions) if row[a] == best]
        return ties[0] if len(ties) == 1 else self.rng.choice(ties)

    def backup(self, s: int, a: int, r: float, s2: int, terminal: bool) -> None:
        """One Q-learning update: Q(s, a) += α [r + γ max_a' Q(s', a') − Q(s, a)]."""
        target = r if terminal else r + self.gamma * max(self.Q[s2])
        self.Q[s][a] += self.alpha * (target - self.Q[s][a])

    def learn(self, s: int, a: int, r: float, s2: int, terminal: bool) -> None:
        """Direct RL, model learning, then n planning updates (see the module docstring)."""
        self.time += 1
        self.backup(s, a, r, s2, terminal)
        if s not in self.tried:
            self.observed.append(s)
            self.tried[s] = []
        if (s, a) not in self.model:
            self.tried[s].append(a)
        self.model[(s, a)] = (r, s2, terminal)
        self.last_tried[(s, a)] = self.time
        for _ in range(self.n):
            ps = self.observed[self.rng.randrange(len(self.observed))]
            if self.kappa > 0:
                # Dyna-Q+: any action; untried ones are modelled as staying put with reward 0
                pa = self.rng.randrange(self.n_actions)
                pr, ps2, pterm = self.model.get((ps, pa), (0.0, ps, False))
                # r + κ √τ, τ = real steps since (s, a) was last tried
                pr += self.kappa * math.sqrt(self.time - self.last_tried.get((ps, pa), 0))
            else:
                actions = self.tried[ps]
                pa = actions[self.rng.randrange(len(actions))]
                pr, ps2, pterm = self.model[(ps, pa)]
            self.backup(ps, pa, pr, ps2, pterm)

    def greedy_path_length(self, world: MazeWorld, limit: int = 1000) -> int:
        """Steps the greedy policy argmax_a Q takes from the start to the goal (`limit` if it never gets there;
        ties go to the lowest action, so a policy that has not learned the way loops and hits the limit)."""
        s, steps = world.start, 0
        while not world.goal[s] and steps < limit:
            row = self.Q[s]
            _, s, _ = world.step(s, row.index(max(row)))
            steps += 1
        return steps


def run_episodes(world: MazeWorld, agent: DynaQ, episodes: int, max_steps: int = 100_000
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Play `episodes` episodes; returns (steps per episode, greedy path length after each episode)."""
    lengths = np.zeros(episodes, dtype=np.int64)
    greedy = np.zeros(episodes, dtype=np.int64)
    for ep in range(episodes):
        s, t = world.start, 0
        while t < max_steps:
            a = agent.act(s)
            r, s2, terminal = world.step(s, a)
            agent.learn(s, a, r, s2, terminal)
            s, t = s2, t + 1
            if terminal:
                break
        lengths[ep] = t
        greedy[ep] = agent.greedy_path_length(world)
    return lengths, greedy


def run_changing(worlds: list[tuple[int, MazeWorld]], agent: DynaQ, total_steps: int) -> np.ndarray:
    """Play for `total_steps` real steps in a maze that changes: `worlds` = [(from_step, world), …].

    Episodes restart at the start cell on reaching the goal; returns the cumulative reward after each step
    (S&B Figures 8.4 and 8.5).
    """
    worlds = sorted(worlds, key=lambda w: w[0])
    cumulative = np.zeros(total_steps)
    total, k = 0.0, 0
    world = worlds[0][1]
    s = world.start
    for t in range(total_steps):
        while k + 1 < len(worlds) and t >= worlds[k + 1][0]:
            k += 1
            world = worlds[k][1]
        a = agent.act(s)
        r, s2, terminal = world.step(s, a)
        agent.learn(s, a, r, s2, terminal)
        total += r
        cumulative[t] = total
        s = world.start if terminal else s2
    return cumulative


def episodes_to_optimal(greedy_lengths: np.ndarray, optimal: int) -> int:
    """1-based index of the first episode after which the greedy path is optimal and stays so
    (len + 1 if it never settles).

    >>> episodes_to_optimal(np.array([90, 14, 20, 14, 14]), 14)
    4
    """
    ok = np.asarray(greedy_lengths) <= optimal
    bad = np.flatnonzero(~ok)
    return 1 if len(bad) == 0 else int(bad[-1]) + 2
