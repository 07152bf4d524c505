"""Prioritised experience replay: sample transitions in proportion to how surprising they were.

Schaul, Quan, Antonoglou & Silver, 2015, "Prioritized Experience Replay", arXiv 1511.05952.

Uniform replay spends most updates on transitions the network already predicts well. Prioritised replay
samples transition i with probability

    P(i) = p_i^α / Σ_k p_k^α,          p_i = |δ_i| + ε          (proportional variant)

where δ_i is its last TD error (new transitions get the current maximum priority, so each is seen at least
once), and α interpolates between uniform (α = 0) and greedy prioritisation. Sampling non-uniformly biases
the expected update; importance-sampling weights undo it,

    w_i = (N · P(i))^{−β} / max_j w_j,

with β annealed from β_0 to 1 by the end of training (full correction when the policy settles). The
weights are normalised by their maximum over the minibatch, as Dopamine does, so they only scale updates
down.

Sampling in O(log N) needs a **sum tree**: a binary tree whose leaves hold the priorities and each inner
node the sum of its children. To draw from P, pick u ~ U[0, total) and walk down: go left if u < left
sum, else subtract the left sum and go right. The paper's stratified version splits [0, total) into B
equal segments and draws one u per segment, which lowers the variance of a minibatch.
"""

from __future__ import annotations

import numpy as np
import torch

from studyforge.experiments.value_based.replay import Batch, ReplayBuffer


class SumTree:
    """Binary sum tree over `capacity` leaves (rounded up to a power of two), stored in one flat array.

    Node i has children 2i+1 and 2i+2; the leaves are nodes L−1 … 2L−2 with L leaves.

    >>> tree = SumTree(4)
    >>> tree.update(np.array([0, 1, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]))
    >>> tree.total, tree.find(np.array([0.5, 1.5, 3.5, 9.99])).tolist()   # cumulative sums 1, 3, 6, 10
    (10.0, [0, 1, 2, 3])
    """

    def __init__(self, capacity: int):
        self.leaves = 1 << max(0, int(capacity - 1).bit_length())  # next power of two ≥ capacity
        self.depth = self.leaves.bit_length() - 1
        self.nodes = np.zeros(2 * self.leaves - 1)

    @property
    def total(self) -> float:
        return float(self.nodes[0])

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[indices + self.leaves - 1]

    def update(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set the leaves `indices` to `priorities` and recompute their ancestors (duplicates allowed)."""
        nodes = np.asarray(indices, dtype=np.int64) + self.leaves - 1
        self.nodes[nodes] = priorities
        for _ in range(self.depth):
            nodes = np.unique((nodes - 1) // 2)
            # parent = left child + right child
            self.nodes[nodes] = self.nodes[2 * nodes + 1] + self.nodes[2 * nodes + 2]

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index of each value in [0, total): the i with cumsum(p)[i−1] ≤ value < cumsum(p)[i].

        All values descend the tree together, one level per step (vectorised over the batch).
        """
        node = np.zeros(len(values), dtype=np.int64)
        values = np.array(values, dtype=np.float64)
        for _ in range(self.depth):
            left = 2 * node + 1
            left_sum = self.nodes[left]
            go_right = values >= left_sum
            values = np.where(go_right, values - left_sum, values)
            node = left + go_right
        return node - (self.leaves - 1)


class PrioritizedReplayBuffer(ReplayBuffer):
    """A `ReplayBuffer` sampled in proportion to p_i^α, with importance-sampling weights."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], alpha: float = 0.6, eps: float = 1e-6,
                 device: torch.device | str = "cpu"):
        super().__init__(capacity, obs_shape, device)
        self.alpha = alpha
        self.eps = eps
        self.tree = SumTree(capacity)
        self.max_priority = 1.0  # p^α given to new transitions (so each is replayed at least once)

    def add(self, *args, **kwargs) -> int:
        i = super().add(*args, **kwargs)
        self.tree.update(np.array([i]), np.array([self.max_priority]))
        return i

    def sample_indices(self, batch_size: int, rng: np.random.Generator, stratified: bool = True) -> np.ndarray:
        """B leaf indices drawn with probability p_i^α / Σ p^α (one per equal segment when stratified)."""
        total = self.tree.total
        if stratified:
            # u_j ~ U[j·total/B, (j+1)·total/B)
            bounds = np.arange(batch_size) * (total / batch_size)
            values = bounds + rng.random(batch_size) * (total / batch_size)
        else:
            values = rng.random(batch_size) * total
        idx = self.tree.find(np.minimum(values, np.nextafter(total, 0)))
        # floating-point round-off can land on an empty leaf past the end; clamp into the filled part
        return np.minimum(idx, self.size - 1)

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> Batch:
        idx = self.sample_indices(batch_size, rng)
        # P(i) = p_i^α / Σ_k p_k^α
        probs = self.tree.get(idx) / self.tree.total
        # w_i = (N P(i))^{−β} / max_j w_j
        weights = (self.size * probs) ** (-beta)
        weights = weights / weights.max()
        return self._gather(idx, torch.as_tensor(weights, dtype=torch.float32, device=self.device))

    def update_priorities(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """New priorities p_i = |δ_i| + ε for the replayed slots (stored raised to α)."""
        # p_i^α with p_i = |δ_i| + ε
        scaled = (np.abs(priorities) + self.eps) ** self.alpha
        self.tree.update(indices, scaled)
        self.max_priority = max(self.max_priority, float(scaled.max()))
