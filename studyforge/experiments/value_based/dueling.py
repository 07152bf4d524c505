"""Dueling network architecture: separate streams for the state value and the action advantages.

Wang, Schaul, Hessel, van Hasselt, Lanctot & de Freitas, 2015, "Dueling Network Architectures for Deep
Reinforcement Learning", arXiv 1511.06581.

Q(s, a) = V(s) + A(s, a). In many states the action hardly matters (the pole is upright, any push is
fine); a single Q head must learn the same value |A| times, a value stream learns it once and every
action's estimate benefits from each update. V and A are not identifiable from Q alone (add c to V and
subtract it from A), so the paper pins the advantages to zero mean:

    Q(s, a) = V(s) + A(s, a) − (1/|A|) Σ_a' A(s, a').

With a distributional head (`distributional.py`) the same combination is applied per atom to the logits,
as in Rainbow.
"""

from __future__ import annotations

import torch


def dueling_combine(value: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
    """Q = V + A − mean_a A, with value (B, 1, …) and advantage (B, A, …) -> (B, A, …).

    V = 1, A = [2, 0, 1] -> mean 1 -> Q = [2, 0, 1]

    >>> dueling_combine(torch.tensor([[1.0]]), torch.tensor([[2.0, 0.0, 1.0]])).tolist()
    [[2.0, 0.0, 1.0]]
    """
    # Q(s, a) = V(s) + A(s, a) − (1/|A|) Σ_a' A(s, a')
    return value + advantage - advantage.mean(dim=1, keepdim=True)
