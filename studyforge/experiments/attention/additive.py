"""Additive attention.

"Neural Machine Translation by Jointly Learning to Align and Translate" (Bahdanau, Cho & Bengio, 2014,
arXiv:1409.0473). The decoder state (the query) and each encoder state (a key) are projected into a
shared hidden space, added, squashed, and read out by a learned vector:

    e_ij = vᵀ tanh(W q_i + U k_j)        α_ij = softmax_j(e_ij)        c_i = Σ_j α_ij v_j

Unlike the dot product, the score is a one-hidden-layer MLP of (q, k): queries and keys may have
different widths, and no 1/√d scaling is needed because tanh bounds the hidden units. The price is an
intermediate of shape (Tq, Tk, hidden): every pair gets its own hidden vector.
"""

from __future__ import annotations

import torch
from torch import nn


class AdditiveAttention(nn.Module):
    """Bahdanau attention: `forward(query, keys, values, mask)` -> (context, weights)."""

    def __init__(self, d_query: int, d_key: int, d_hidden: int):
        super().__init__()
        self.w_query = nn.Linear(d_query, d_hidden, bias=False)  # W
        self.w_key = nn.Linear(d_key, d_hidden, bias=False)  # U
        self.v = nn.Linear(d_hidden, 1, bias=False)  # v

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, Tq, dq), keys (B, Tk, dk), values (B, Tk, dv); mask boolean, broadcastable to
        (B, Tq, Tk), True = attend. Returns context (B, Tq, dv) and weights (B, Tq, Tk)."""
        q = self.w_query(query)[:, :, None, :]  # (B, Tq, 1, h)
        k = self.w_key(keys)[:, None, :, :]  # (B, 1, Tk, h)
        # e_ij = vᵀ tanh(W q_i + U k_j)
        scores = self.v(torch.tanh(q + k)).squeeze(-1)  # (B, Tq, Tk)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        # α_ij = softmax_j(e_ij)
        weights = scores.softmax(dim=-1)  # (B, Tq, Tk)
        # c_i = Σ_j α_ij v_j
        return weights @ values, weights  # (B, Tq, dv), (B, Tq, Tk)
