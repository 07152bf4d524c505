"""Relative position representations.

"Self-Attention with Relative Position Representations" (Shaw, Uszkoreit & Vaswani, 2018,
arXiv:1803.02155). The edge from query i to key j carries two learned vectors a^K_ij and a^V_ij that
depend only on the clipped offset:

    a^K_ij = w^K_{clip(j − i, −k, k)},   a^V_ij = w^V_{clip(j − i, −k, k)}

and enter attention as

    e_ij = q_i · (k_j + a^K_ij) / √d,    z_i = Σ_j α_ij (v_j + a^V_ij)

Beyond distance k every offset shares one vector, so the model generalises to lengths it never saw. The
2k + 1 vectors are shared across heads (as in the paper). Computed without materialising the (Tq, Tk, d)
tensors: q·a^K is q·w^K for all 2k + 1 offsets, gathered by offset; Σ_j α_ij a^V_ij sums the weights per
offset bucket, then multiplies by w^V.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from studyforge.experiments.attention.masks import causal_mask, combine


def relative_buckets(t_q: int, t_k: int, max_distance: int, offset: int = 0, device=None) -> torch.Tensor:
    """(Tq, Tk) index of the offset bucket: clip(j − i, −k, k) + k, query i at position i + offset.

    >>> relative_buckets(3, 3, 1).tolist()
    [[1, 2, 2], [0, 1, 2], [0, 0, 1]]
    """
    i = torch.arange(t_q, device=device)[:, None] + offset
    j = torch.arange(t_k, device=device)[None, :]
    return (j - i).clamp(-max_distance, max_distance) + max_distance


class RelativePositionAttention(nn.Module):
    """Attention with Shaw et al.'s relative keys and values: `forward(q, k, v, mask, causal, offset)`."""

    def __init__(self, head_dim: int, max_distance: int):
        super().__init__()
        self.max_distance = max_distance
        self.w_k = nn.Parameter(torch.randn(2 * max_distance + 1, head_dim) * 0.02)  # w^K_{−k..k}
        self.w_v = nn.Parameter(torch.randn(2 * max_distance + 1, head_dim) * 0.02)  # w^V_{−k..k}

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        offset: int = 0,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """q (B, H, Tq, D), k and v (B, H, Tk, D) -> (B, H, Tq, D) [and weights (B, H, Tq, Tk)]."""
        t_q, t_k, d = q.shape[-2], k.shape[-2], q.shape[-1]
        buckets = relative_buckets(t_q, t_k, self.max_distance, offset, q.device)  # (Tq, Tk)
        # q_i · a^K_ij: score every query against all 2k+1 offset vectors, then pick each pair's offset
        q_rel = q @ self.w_k.T  # (B, H, Tq, 2k+1)
        rel_scores = q_rel.gather(-1, buckets.expand(*q.shape[:-2], t_q, t_k))  # (B, H, Tq, Tk)
        # e_ij = q_i · (k_j + a^K_ij) / √d
        scores = (q @ k.transpose(-2, -1) + rel_scores) / math.sqrt(d)
        mask = combine(mask, causal_mask(t_q, t_k, offset, q.device) if causal else None)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1)  # (B, H, Tq, Tk)
        # Σ_j α_ij a^V_ij = Σ_r (Σ_{j: bucket(i,j)=r} α_ij) w^V_r
        per_bucket = torch.zeros(*weights.shape[:-1], 2 * self.max_distance + 1, dtype=weights.dtype,
                                 device=weights.device)  # (B, H, Tq, 2k+1)
        per_bucket = per_bucket.scatter_add(-1, buckets.expand_as(weights), weights)
        # z_i = Σ_j α_ij (v_j + a^V_ij)
        out = weights @ v + per_bucket @ self.w_v  # (B, H, Tq, D)
        return (out, weights) if return_weights else out
