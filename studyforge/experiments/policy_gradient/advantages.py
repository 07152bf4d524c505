"""Advantage estimators: generalized advantage estimation and discounted returns-to-go.

GAE — Schulman, Moritz, Levine, Jordan & Abbeel, 2015, "High-Dimensional Continuous Control Using Generalized
Advantage Estimation", arXiv 1506.02438. The advantage is an exponentially weighted average of k-step
advantage estimates, which telescopes into a discounted sum of TD errors:

    δ_t = r_t + γ V(s_{t+1}) − V(s_t)
    Â_t = Σ_{l≥0} (γλ)^l δ_{t+l}

λ = 0 gives the one-step TD advantage (low variance, biased by V); λ = 1 gives the Monte-Carlo return minus
V(s_t) (unbiased, high variance).

Conventions (CleanRL's): tensors are time-major, (T, N) for T steps of N environments. `dones[t]` is 1 when
the *observation* at step t is the first of a new episode, so the transition t → t+1 crosses an episode
boundary exactly when `dones[t + 1]` is 1 (or `next_done` for the last step). Time-limit truncations are
not boundaries to bootstrap through: the rollout code has already folded γ V(final observation) into the
reward of the truncated step (see `storage.py`), so here every boundary is treated as terminal.
"""

from __future__ import annotations

import torch


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, next_value: torch.Tensor,
        next_done: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns), each (T, N), by generalized advantage estimation.

    rewards, values, dones: (T, N); next_value, next_done: (N,) for the observation after the last step.
    `returns = advantages + values` is the λ-return, the critic's regression target.

    Worked example (one env, γ = λ = 1, an episode ends after step 1 so `dones[2] = 1`)::

        rewards [1, 1, 1], values [0.5, 0.5, 0.5], dones [0, 0, 1], next_value 0.5, next_done 0
        δ = [1 + 0.5 − 0.5, 1 + 0 − 0.5, 1 + 0.5 − 0.5] = [1, 0.5, 1]
        Â = [1 + 0.5, 0.5, 1] = [1.5, 0.5, 1.0]   (the trace stops at the boundary)
        returns = [2.0, 1.0, 1.5]
    """
    # 1 − d_{t+1} and V(s_{t+1}) for every t, the last ones from next_done and next_value: (T, N)
    not_done = 1.0 - torch.cat([dones[1:], next_done.unsqueeze(0)]).to(rewards.dtype)
    next_values = torch.cat([values[1:], next_value.unsqueeze(0)])
    # δ_t = r_t + γ V(s_{t+1}) (1 − d_{t+1}) − V(s_t)
    deltas = rewards + gamma * next_values * not_done - values
    decay = gamma * lam * not_done
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(deltas[0])
    for t in reversed(range(rewards.shape[0])):
        # Â_t = δ_t + γλ (1 − d_{t+1}) Â_{t+1}
        last = deltas[t] + decay[t] * last
        advantages[t] = last
    return advantages, advantages + values


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, next_value: torch.Tensor,
                       next_done: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted returns-to-go G_t = r_t + γ G_{t+1}, cut at episode boundaries, (T, N) -> (T, N).

    The same conventions as `gae`; the return of the last step bootstraps from `next_value` unless
    `next_done` (pass zeros for a pure Monte-Carlo return). It equals `gae(..., lam=1)` plus `values`.

    >>> discounted_returns(torch.tensor([[1.], [1.], [1.]]), torch.tensor([[0.], [0.], [1.]]),
    ...                    torch.tensor([0.]), torch.tensor([0.]), 0.5).flatten().tolist()
    [1.5, 1.0, 1.0]
    """
    T = rewards.shape[0]
    returns = torch.zeros_like(rewards)
    running = next_value.to(rewards.dtype)
    for t in reversed(range(T)):
        not_done = 1.0 - (next_done if t == T - 1 else dones[t + 1]).to(rewards.dtype)
        # G_t = r_t + γ (1 − d_{t+1}) G_{t+1}
        running = rewards[t] + gamma * not_done * running
        returns[t] = running
    return returns


def reward_to_go(rewards: torch.Tensor, gamma: float, bootstrap: float = 0.0) -> torch.Tensor:
    """Returns-to-go of ONE episode, (L,) -> (L,): G_t = Σ_{k≥t} γ^{k−t} r_k + γ^{L−t} · bootstrap.

    >>> reward_to_go(torch.tensor([1., 1., 1.]), 0.5).tolist()
    [1.75, 1.5, 1.0]
    """
    out = torch.empty_like(rewards)
    running = torch.tensor(bootstrap, dtype=rewards.dtype)
    for t in reversed(range(rewards.shape[0])):
        # G_t = r_t + γ G_{t+1}
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def normalize(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / (std + eps): `[1., 2., 3.]` -> `[-1., 0., 1.]`."""
    return (x - x.mean()) / (x.std() + eps)
