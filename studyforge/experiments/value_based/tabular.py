"""Tabular Q-learning and SARSA: the Bellman optimality equation, sampled one transition at a time.

Watkins, 1989, "Learning from Delayed Rewards" (PhD thesis; Watkins & Dayan, 1992, "Q-learning", Machine
Learning 8); Rummery & Niranjan, 1994 (SARSA, "On-line Q-learning using connectionist systems"); Sutton &
Barto, "Reinforcement Learning: An Introduction" (2nd ed., 2018), §6.4–6.5. These predate arXiv.

Week 1 solved an MDP whose model was known: value iteration applies the Bellman optimality operator to
every state at once,

    Q_{k+1}(s, a) = r(s, a) + γ Σ_s' p(s'|s, a) max_a' Q_k(s', a').

Q-learning drops the model: it samples one transition (s, a, r, s') by acting, and moves Q(s, a) a step α
towards the sampled right-hand side, the *TD target*,

    Q(s, a) ← Q(s, a) + α [r + γ max_a' Q(s', a') − Q(s, a)]        (off-policy: the max, whatever is done next)
    Q(s, a) ← Q(s, a) + α [r + γ Q(s', a') − Q(s, a)]               (SARSA: the action a' actually taken next)

Q-learning's fixed point is Q*, week 1's value-iteration answer, whatever ε-greedy behaviour collects the
data (every pair must keep being tried); SARSA's is the value of the ε-greedy policy itself, which is why
on the cliff (S&B Example 6.6) SARSA learns the safe path and Q-learning the optimal one along the edge.
DQN (`dqn.py`) is Q-learning with a neural network in place of the table.

The environments are week 1's `GridEnv`s (`studyforge.experiments.mdp.envs`): transitions are sampled from
their `(S, A, S)` model, so "the environment" and "the MDP value iteration solved" are the same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from studyforge.experiments.mdp.envs import GridEnv


class TabularSampler:
    """Draws transitions (s, a) -> (r, s', terminal) from a week-1 `GridEnv`'s model, and start states.

    >>> from studyforge.experiments.mdp.envs import sb_gridworld
    >>> sampler = TabularSampler(sb_gridworld(), np.random.default_rng(0))
    >>> sampler.step(1, 3)        # state 1, action left: into the terminal corner 0, reward −1
    (-1.0, 0, True)
    """

    def __init__(self, env: GridEnv, rng: np.random.Generator):
        self.env = env
        self.rng = rng
        P = env.mdp.P  # (S, A, S)
        self.deterministic = bool(np.all(P.max(axis=2) == 1.0))
        self.next_state = P.argmax(axis=2)  # (S, A): the successor when the model is deterministic
        self.cdf = np.cumsum(P, axis=2)  # (S, A, S) for inverse-CDF sampling otherwise
        self.R = env.mdp.R
        self.terminal = env.mdp.terminal
        self.start_cdf = np.cumsum(env.start)

    def reset(self) -> int:
        # inverse-CDF draw of S_0 ~ start distribution; min() guards the last bin against round-off
        return min(int(np.searchsorted(self.start_cdf, self.rng.random(), side="right")), len(self.start_cdf) - 1)

    def step(self, s: int, a: int) -> tuple[float, int, bool]:
        if self.deterministic:
            s2 = int(self.next_state[s, a])
        else:
            s2 = min(int(np.searchsorted(self.cdf[s, a], self.rng.random(), side="right")), len(self.terminal) - 1)
        return float(self.R[s, a, s2]), s2, bool(self.terminal[s2])


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """With probability ε a uniformly random action, otherwise a greedy one with ties broken at random.

    Random tie-breaking matters at the start, when every Q(s, ·) is 0: a fixed argmax would always pick
    action 0 and explore nothing (S&B's figures all break ties at random).

    >>> epsilon_greedy(np.array([0.0, 2.0, 1.0]), 0.0, np.random.default_rng(0))
    1
    """
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def q_learning_update(Q: np.ndarray, s: int, a: int, r: float, s2: int, terminal: bool, alpha: float,
                      gamma: float) -> float:
    """One Q-learning step in place; returns the TD error δ.

    Q = [[0, 0], [1, 3]], (s=0, a=1, r=1, s'=1), α=0.5, γ=0.9: δ = 1 + 0.9·3 − 0 = 3.7, Q[0, 1] -> 1.85

    >>> Q = np.array([[0.0, 0.0], [1.0, 3.0]]); round(q_learning_update(Q, 0, 1, 1.0, 1, False, 0.5, 0.9), 6)
    3.7
    >>> float(Q[0, 1])
    1.85
    """
    # δ = r + γ max_a' Q(s', a') − Q(s, a)     (the max term is 0 when s' is terminal)
    delta = r + (0.0 if terminal else gamma * float(Q[s2].max())) - Q[s, a]
    # Q(s, a) ← Q(s, a) + α δ
    Q[s, a] += alpha * delta
    return float(delta)


def sarsa_update(Q: np.ndarray, s: int, a: int, r: float, s2: int, a2: int, terminal: bool, alpha: float,
                 gamma: float) -> float:
    """One SARSA step in place; returns δ = r + γ Q(s', a') − Q(s, a) (a' the action taken next).

    >>> Q = np.array([[0.0, 0.0], [1.0, 3.0]]); round(sarsa_update(Q, 0, 1, 1.0, 1, 0, False, 0.5, 0.9), 6)
    1.9
    """
    # δ = r + γ Q(s', a') − Q(s, a)
    delta = r + (0.0 if terminal else gamma * float(Q[s2, a2])) - Q[s, a]
    Q[s, a] += alpha * delta
    return float(delta)


@dataclass
class TabularResult:
    """A tabular learner's table and its learning curve."""

    algorithm: str
    Q: np.ndarray  # (S, A)
    episode_returns: np.ndarray  # (episodes,) undiscounted return of each training episode
    episode_lengths: np.ndarray  # (episodes,)

    @property
    def values(self) -> np.ndarray:
        """V(s) = max_a Q(s, a), (S,)."""
        return self.Q.max(axis=1)

    @property
    def policy(self) -> np.ndarray:
        """The greedy policy argmax_a Q(s, a), (S,)."""
        return self.Q.argmax(axis=1)


def train_tabular(env: GridEnv, algorithm: Literal["q_learning", "sarsa"], episodes: int, *, alpha: float,
                  gamma: float, epsilon: float, seed: int, max_steps: int | None = None,
                  epsilon_decay_episodes: int | None = None) -> TabularResult:
    """Q-learning or SARSA with ε-greedy behaviour for `episodes` episodes; Q starts at 0.

    With `epsilon_decay_episodes`, ε decays as ε / (1 + episode / decay) — greedy in the limit, so SARSA's
    values also tend to Q* (S&B §6.4). Episodes stop at `max_steps` (default: the env's horizon).
    """
    rng = np.random.default_rng(seed)
    sampler = TabularSampler(env, rng)
    S, A = env.mdp.n_states, env.mdp.n_actions
    Q = np.zeros((S, A))
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    limit = max_steps or env.horizon
    for ep in range(episodes):
        eps = epsilon / (1 + ep / epsilon_decay_episodes) if epsilon_decay_episodes else epsilon
        s = sampler.reset()
        a = epsilon_greedy(Q[s], eps, rng)
        total, t = 0.0, 0
        while not env.mdp.terminal[s] and t < limit:
            r, s2, done = sampler.step(s, a)
            a2 = epsilon_greedy(Q[s2], eps, rng)
            if algorithm == "q_learning":
                q_learning_update(Q, s, a, r, s2, done, alpha, gamma)
            else:
                sarsa_update(Q, s, a, r, s2, a2, done, alpha, gamma)
            s, a, total, t = s2, a2, total + r, t + 1
        returns[ep], lengths[ep] = total, t
    return TabularResult(algorithm, Q, returns, lengths)
