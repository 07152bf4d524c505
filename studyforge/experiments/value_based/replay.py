"""Experience replay: a fixed-size ring buffer of transitions, sampled uniformly at random.

Lin, 1992, "Self-Improving Reactive Agents Based on Reinforcement Learning, Planning and Teaching" (Machine
Learning 8), made central by Mnih et al., 2013, "Playing Atari with Deep Reinforcement Learning",
arXiv 1312.5602.

Consecutive transitions of one episode are strongly correlated; a gradient step on them is a step on a
sliver of the state space, and the next sliver pulls the network elsewhere. Storing the last N transitions
and training on random minibatches of them breaks the correlation (the minibatch looks i.i.d.) and reuses
each transition in many updates, which is where DQN's sample efficiency over one-pass online Q-learning
comes from. The price: the data are off-policy (collected by older, more exploratory policies), which
Q-learning's max target tolerates and a policy gradient would not.

A stored transition is (s, a, R, s', done, γ_k): with n-step returns (`nstep.py`) R is the discounted sum of
k ≤ n rewards and γ_k = γ^k the discount of the bootstrap from s'; `done` marks a true termination (no
bootstrap), while a time-limit truncation keeps done = 0 and s' = the final observation.
The arrays live in torch tensors so that a minibatch is a single `index_select` per field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Batch:
    """A minibatch of B transitions (tensors on the buffer's device)."""

    obs: torch.Tensor  # (B, *obs_shape)
    actions: torch.Tensor  # (B,) int64
    rewards: torch.Tensor  # (B,) R: the (n-step) discounted reward sum
    next_obs: torch.Tensor  # (B, *obs_shape) s' to bootstrap from
    dones: torch.Tensor  # (B,) 1.0 where the episode terminated before s' (no bootstrap)
    discounts: torch.Tensor  # (B,) γ^k of the bootstrap
    indices: np.ndarray  # (B,) buffer slots, for priority updates
    weights: torch.Tensor  # (B,) importance-sampling weights (ones for uniform replay)


class ReplayBuffer:
    """Ring buffer of `capacity` transitions; `sample(B)` draws B slots uniformly with replacement.

    >>> buf = ReplayBuffer(3, (2,))
    >>> for i in range(4):
    ...     buf.add(np.full(2, i), i % 2, 1.0, np.full(2, i + 1), False, 0.99)
    >>> len(buf), buf.obs[:, 0].tolist()      # the 4th transition overwrote the 1st
    (3, [3.0, 1.0, 2.0])
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], device: torch.device | str = "cpu"):
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.obs = torch.zeros((capacity, *obs_shape), dtype=torch.float32, device=self.device)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(capacity, dtype=torch.int64, device=self.device)
        self.rewards = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.dones = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.discounts = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.pos = 0  # next slot to write
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, done: bool,
            discount: float) -> int:
        """Store one transition; returns the slot written."""
        i = self.pos
        self.obs[i] = torch.as_tensor(obs, dtype=torch.float32)
        self.next_obs[i] = torch.as_tensor(next_obs, dtype=torch.float32)
        self.actions[i] = int(action)
        self.rewards[i] = float(reward)
        self.dones[i] = float(done)
        self.discounts[i] = float(discount)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return i

    def _gather(self, idx: np.ndarray, weights: torch.Tensor | None = None) -> Batch:
        t = torch.from_numpy(idx).to(self.device)
        w = torch.ones(len(idx), device=self.device) if weights is None else weights
        return Batch(self.obs[t], self.actions[t], self.rewards[t], self.next_obs[t], self.dones[t],
                     self.discounts[t], idx, w)

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 1.0) -> Batch:
        """B slots uniformly at random (`beta` is ignored: uniform replay needs no correction)."""
        return self._gather(rng.integers(0, self.size, size=batch_size))

    def update_priorities(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Uniform replay has no priorities (the prioritised buffer overrides this)."""
