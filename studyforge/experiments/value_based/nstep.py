"""n-step returns: bootstrap from n steps ahead instead of one.

Sutton, 1988, "Learning to Predict by the Methods of Temporal Differences" (Machine Learning 3); used in
DQN agents by Mnih et al., 2016 (A3C's n-step Q-learning, arXiv 1602.01783) and in Rainbow (Hessel et
al., 2017, arXiv 1710.02298), where it is one of the two most important components.

The one-step target r_t + γ max_a Q(s_{t+1}, a) leans entirely on the network's own estimate; a reward
reaches states k steps earlier only after k rounds of bootstrapping. The n-step target uses n real rewards
first,

    R_t^{(n)} = Σ_{k=0}^{n−1} γ^k r_{t+k},     y_t = R_t^{(n)} + γ^n max_a Q_target(s_{t+n}, a),

which propagates rewards n times faster and shrinks the weight on the biased bootstrap to γ^n, at the price
of variance and of a small off-policy bias (the n − 1 intermediate actions came from the ε-greedy
behaviour, not the greedy policy; Rainbow ignores this, as we do).

`NStepAccumulator` turns the stream of one-step transitions of each environment into n-step ones. When an
episode ends after k < n steps, the pending transitions are emitted with their k-step sums: a termination
cuts the bootstrap (done = 1), a time-limit truncation bootstraps from the final observation with γ^k.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np


class Transition(NamedTuple):
    obs: np.ndarray
    action: int
    reward: float  # R^{(k)}: the discounted sum of k rewards
    next_obs: np.ndarray  # s_{t+k}
    done: bool  # the episode terminated within the k steps (no bootstrap)
    discount: float  # γ^k


class NStepAccumulator:
    """Per-environment queues of the last n steps; `push` returns the transitions that became complete.

    n = 3, γ = 0.5, rewards 1, 1, 1: the first complete transition has R = 1 + 0.5 + 0.25 = 1.75, γ^3 = 0.125.

    >>> acc = NStepAccumulator(n=3, gamma=0.5, num_envs=1)
    >>> [acc.push(0, np.array([t]), 0, 1.0, np.array([t + 1]), False, False) for t in range(2)]
    [[], []]
    >>> (tr,) = acc.push(0, np.array([2]), 0, 1.0, np.array([3]), False, False)
    >>> int(tr.obs[0]), tr.reward, int(tr.next_obs[0]), tr.discount
    (0, 1.75, 3, 0.125)
    """

    def __init__(self, n: int, gamma: float, num_envs: int):
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        self.n = n
        self.gamma = gamma
        self.queues: list[deque] = [deque() for _ in range(num_envs)]

    def _emit(self, queue: deque, next_obs: np.ndarray, done: bool) -> Transition:
        """The transition of the oldest queued step, bootstrapping from `next_obs` after len(queue) steps."""
        # R^{(k)} = Σ_{i<k} γ^i r_{t+i}
        ret = sum(self.gamma ** i * r for i, (_, _, r) in enumerate(queue))
        obs, action, _ = queue[0]
        return Transition(obs, action, ret, next_obs, done, self.gamma ** len(queue))

    def push(self, env: int, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
             terminated: bool, truncated: bool) -> list[Transition]:
        """Add env `env`'s step (s, a, r, s'); `next_obs` is the true final observation at an episode end."""
        queue = self.queues[env]
        queue.append((obs, action, reward))
        out: list[Transition] = []
        if terminated or truncated:
            # the episode is over: every queued step gets its (shorter) return now
            while queue:
                out.append(self._emit(queue, next_obs, terminated))
                queue.popleft()
        elif len(queue) == self.n:
            out.append(self._emit(queue, next_obs, False))
            queue.popleft()
        return out
