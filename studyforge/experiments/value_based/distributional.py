"""Distributional RL with a categorical return distribution (C51).

Bellemare, Dabney & Munos, 2017, "A Distributional Perspective on Reinforcement Learning",
arXiv 1707.06887.

Instead of the expected return Q(s, a), learn the distribution of the return Z(s, a) as probabilities
p_j(s, a) on N fixed atoms z_j = v_min + j Δz, Δz = (v_max − v_min)/(N − 1) (N = 51: "C51"). The
distributional Bellman operator shifts and shrinks the next state's distribution,

    T Z(s, a) =_D R + γ^n Z(s', a*),     a* = argmax_a Σ_j z_j p_j(s', a),

whose atoms R + γ^n z_j no longer sit on the support; the **projection** Φ splits each atom's mass between
its two neighbours on the support, in proportion to closeness:

    T̂z_j = clip(R + γ^n z_j, v_min, v_max),   b_j = (T̂z_j − v_min)/Δz,   l = ⌊b_j⌋, u = ⌈b_j⌉,
    m_l += p_j (u − b_j),   m_u += p_j (b_j − l)         (m_l += p_j when b_j is a whole number).

The loss is the cross-entropy between the projected target m and the prediction, −Σ_i m_i log p_i(s, a)
(the KL divergence up to a constant), which Rainbow also uses as the replay priority. Q(s, a) = Σ_j z_j p_j
is still what the policy maximises.

Projection is linear interpolation, so it preserves the total mass exactly and, when no atom is clipped,
the mean (E[Φ T Z] = R + γ^n E[Z]); the tests check both.
"""

from __future__ import annotations

import torch


def support(v_min: float, v_max: float, n_atoms: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The atoms z_j: `support(0, 2, 3)` -> `[0., 1., 2.]`."""
    return torch.linspace(v_min, v_max, n_atoms, device=device, dtype=dtype)


def project(next_probs: torch.Tensor, rewards: torch.Tensor, dones: torch.Tensor, discounts: torch.Tensor,
            atoms: torch.Tensor) -> torch.Tensor:
    """Φ T Z: project R + γ^n (1 − done) z_j, carrying next_probs (B, N), back onto `atoms` (N,) -> (B, N).

    atoms [0, 1, 2], p = [0.2, 0.5, 0.3], R = 0.5, γ = 1: shifted atoms 0.5, 1.5, 2.5 → clipped to 2;
    0.2 splits 0.1/0.1 onto atoms 0/1, 0.5 splits 0.25/0.25 onto 1/2, 0.3 lands on 2 -> [0.1, 0.35, 0.55]

    >>> project(torch.tensor([[0.2, 0.5, 0.3]]), torch.tensor([0.5]), torch.tensor([0.0]), torch.tensor([1.0]),
    ...         torch.tensor([0.0, 1.0, 2.0])).tolist()
    [[0.10000000149011612, 0.3499999940395233, 0.550000011920929]]
    """
    B, N = next_probs.shape
    v_min, v_max = float(atoms[0]), float(atoms[-1])
    delta_z = (v_max - v_min) / (N - 1)
    # T̂z_j = clip(R + γ^n (1 − done) z_j, v_min, v_max)                               (B, N)
    tz = (rewards[:, None] + (discounts * (1 - dones))[:, None] * atoms[None, :]).clamp(v_min, v_max)
    # b_j = (T̂z_j − v_min) / Δz  ∈ [0, N − 1]
    b = (tz - v_min) / delta_z
    lower, upper = b.floor().long(), b.ceil().long()
    # m_l += p_j (u − b_j) (+ p_j when l = u),   m_u += p_j (b_j − l)
    w_lower = next_probs * (upper.float() - b + (lower == upper).float())
    w_upper = next_probs * (b - lower.float())
    offset = (torch.arange(B, device=next_probs.device) * N)[:, None]  # row offsets into the flat (B·N,)
    m = torch.zeros(B * N, dtype=next_probs.dtype, device=next_probs.device)
    m.index_add_(0, (lower + offset).reshape(-1), w_lower.reshape(-1))
    m.index_add_(0, (upper + offset).reshape(-1), w_upper.reshape(-1))
    return m.view(B, N)


def cross_entropy(target: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """−Σ_i m_i log p_i per sample: (B, N), (B, N) -> (B,)."""
    return -(target * log_probs).sum(-1)
