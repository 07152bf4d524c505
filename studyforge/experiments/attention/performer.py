"""Performer: FAVOR+ linear attention with positive orthogonal random features.

"Rethinking Attention with Performers" (Choromanski et al., 2020, arXiv:2009.14794). The softmax kernel
is an expectation over Gaussian directions ω ~ N(0, I_d):

    exp(x·y) = E_ω[ exp(ω·x − ‖x‖²/2) · exp(ω·y − ‖y‖²/2) ]

so with m samples φ(x) = exp(Wx − ‖x‖²/2) / √m (positive features: no cancellations, low variance where
the kernel is small) attention factorises:

    softmax(Q Kᵀ/√d) V ≈ D⁻¹ φ(Q') (φ(K')ᵀ V),   D = diag(φ(Q') φ(K')ᵀ 1),   Q' = Q / d^{1/4}, K' = K / d^{1/4}

Computing φ(K')ᵀV first costs O(T·m·d) instead of O(T²·d). Drawing the ω in orthogonal blocks (each
block of d directions from a QR decomposition, rescaled to Gaussian lengths) lowers the variance further.
It is an unbiased approximation of the numerator and denominator — not exact — and its error shrinks as
m grows. The causal form replaces the sum over keys by prefix sums.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def orthogonal_random_features(n_features: int, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(m, d) matrix of directions ω: orthogonal within each block of d rows, each row's length drawn as
    the length of a d-dimensional standard Gaussian vector (so each row is marginally N(0, I_d))."""
    blocks = []
    for _ in range(math.ceil(n_features / dim)):
        gaussian = torch.randn(dim, dim, generator=generator)
        q, _ = torch.linalg.qr(gaussian)  # (d, d) orthonormal columns
        blocks.append(q.T)
    directions = torch.cat(blocks)[:n_features]  # (m, d), unit rows, orthogonal within a block
    lengths = torch.randn(n_features, dim, generator=generator).norm(dim=1)  # χ_d-distributed
    return directions * lengths[:, None]


def positive_features(x: torch.Tensor, omega: torch.Tensor, is_query: bool) -> torch.Tensor:
    """φ(x) = exp(ωᵀx − ‖x‖²/2) / √m for x (..., T, d), ω (m, d) -> (..., T, m).

    A constant factor per query row, or one per (batch, head) for keys, is divided out before exp for
    numerical range; it cancels between the numerator and the denominator of attention.
    """
    projections = x @ omega.T  # (..., T, m)
    half_sq_norm = (x * x).sum(-1, keepdim=True) / 2  # (..., T, 1)
    logits = projections - half_sq_norm
    stabiliser = logits.amax(-1, keepdim=True) if is_query else logits.amax((-2, -1), keepdim=True)
    # φ(x) = exp(ωᵀx − ‖x‖²/2) / √m
    return torch.exp(logits - stabiliser.detach()) / math.sqrt(omega.shape[0])


def performer_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, omega: torch.Tensor,
                        causal: bool = False) -> torch.Tensor:
    """FAVOR+ approximation of softmax(q kᵀ / √d) v: q, k (..., T, d), v (..., T, dv), ω (m, d)."""
    d = q.shape[-1]
    # Q' = Q / d^{1/4}, K' = K / d^{1/4}, so that Q'·K' = Q·K / √d
    q_feat = positive_features(q / d**0.25, omega, is_query=True)  # (..., T, m)
    k_feat = positive_features(k / d**0.25, omega, is_query=False)  # (..., T, m)
    if not causal:
        # φ(K')ᵀ V, then φ(Q') (φ(K')ᵀ V): never a T × T matrix
        kv = k_feat.transpose(-2, -1) @ v  # (..., m, dv)
        numerator = q_feat @ kv  # (..., T, dv)
        # D_i = φ(q_i) · Σ_j φ(k_j)
        denominator = q_feat @ k_feat.sum(-2)[..., None]  # (..., T, 1)
    else:
        # prefix sums over keys j ≤ i: Σ_j φ(k_j) v_jᵀ and Σ_j φ(k_j)
        kv = torch.cumsum(k_feat[..., :, None] * v[..., None, :], dim=-3)  # (..., T, m, dv)
        numerator = (q_feat[..., None, :] @ kv).squeeze(-2)  # (..., T, dv)
        denominator = (q_feat * torch.cumsum(k_feat, dim=-2)).sum(-1, keepdim=True)  # (..., T, 1)
    return numerator / denominator


class PerformerAttention(nn.Module):
    """FAVOR+ as a module holding its (fixed, seeded) random features: `forward(q, k, v, causal)`."""

    def __init__(self, head_dim: int, n_features: int, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("omega", orthogonal_random_features(n_features, head_dim, generator))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
        return performer_attention(q, k, v, self.omega, causal)
