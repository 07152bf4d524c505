"""Double Q-learning targets: choose the next action with one network, evaluate it with another.

van Hasselt, Guez & Silver, 2015, "Deep Reinforcement Learning with Double Q-learning", arXiv 1509.06461
(after van Hasselt, 2010, "Double Q-learning", NeurIPS).

DQN's target takes a max over noisy estimates, and E[max_a Q̂(s, a)] ≥ max_a E[Q̂(s, a)]: whatever action
happens to be overestimated gets picked *and* its overestimate is used, so errors compound through
bootstrapping into systematic overoptimism. Double DQN decouples the two roles, using the online network θ
(already at hand) to select and the target network θ⁻ to evaluate:

    DQN:         y = R + γ^n (1 − done) max_a Q(s', a; θ⁻)
    Double DQN:  y = R + γ^n (1 − done) Q(s', argmax_a Q(s', a; θ); θ⁻)

The change is one line; the effect on Atari was large (van Hasselt et al., Figure 3).
"""

from __future__ import annotations

import torch


def next_actions(q_next_online: torch.Tensor, q_next_target: torch.Tensor, double: bool) -> torch.Tensor:
    """a* per sample (B,): argmax of the online net's Q(s', ·) (Double DQN) or of the target net's (DQN)."""
    return (q_next_online if double else q_next_target).argmax(dim=1)


def q_target(q_next_online: torch.Tensor, q_next_target: torch.Tensor, rewards: torch.Tensor,
             dones: torch.Tensor, discounts: torch.Tensor, double: bool) -> torch.Tensor:
    """TD targets y (B,) from next-state Q-values (B, A) of the online and the target network.

    online Q(s', ·) = [1, 3], target Q(s', ·) = [4, 2], R = 1, γ = 0.5:
    DQN picks the target's max 4 -> y = 3; Double DQN picks a* = 1 (online) and uses the target's 2 -> y = 2

    >>> on, tg = torch.tensor([[1.0, 3.0]]), torch.tensor([[4.0, 2.0]])
    >>> one, zero, half = torch.ones(1), torch.zeros(1), torch.full((1,), 0.5)
    >>> q_target(on, tg, one, zero, half, double=False).item(), q_target(on, tg, one, zero, half, double=True).item()
    (3.0, 2.0)
    """
    a_star = next_actions(q_next_online, q_next_target, double)
    # Q(s', a*; θ⁻)
    q_next = q_next_target.gather(1, a_star[:, None]).squeeze(1)
    # y = R + γ^n (1 − done) Q(s', a*; θ⁻)
    return rewards + discounts * (1 - dones) * q_next
