"""Multiplicative (Luong) attention.

"Effective Approaches to Attention-based Neural Machine Translation" (Luong, Pham & Manning, 2015,
arXiv:1508.04025). Three score functions between a decoder state h_t (query) and encoder states h̄_s
(keys):

    dot:     score(h_t, h̄_s) = h_tᵀ h̄_s
    general: score(h_t, h̄_s) = h_tᵀ W_a h̄_s
    concat:  score(h_t, h̄_s) = v_aᵀ tanh(W_a [h_t; h̄_s])

then α = softmax over s and the context c_t = Σ_s α_ts h̄_s. `dot` is scaled dot-product attention
without the 1/√d; `general` is `dot` after a learned bilinear map (queries and keys may differ in width);
`concat` is Bahdanau's additive score with the two projections stacked into one matrix.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Score = Literal["dot", "general", "concat"]


class MultiplicativeAttention(nn.Module):
    """Luong attention: `forward(query, keys, values, mask)` -> (context, weights)."""

    def __init__(self, d_query: int, d_key: int, score: Score = "general", d_hidden: int | None = None):
        super().__init__()
        if score == "dot" and d_query != d_key:
            raise ValueError("the dot score needs queries and keys of the same width")
        self.score = score
        if score == "general":
            self.w_a = nn.Parameter(torch.empty(d_query, d_key))  # W_a
            nn.init.xavier_uniform_(self.w_a)
        elif score == "concat":
            d_hidden = d_hidden or d_query
            self.w_a = nn.Linear(d_query + d_key, d_hidden, bias=False)  # W_a
            self.v_a = nn.Linear(d_hidden, 1, bias=False)  # v_a

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query (B, Tq, dq), keys (B, Tk, dk) -> unnormalised scores (B, Tq, Tk)."""
        if self.score == "dot":
            # h_tᵀ h̄_s
            return query @ keys.transpose(-2, -1)
        if self.score == "general":
            # h_tᵀ W_a h̄_s
            return (query @ self.w_a) @ keys.transpose(-2, -1)
        t_q, t_k = query.shape[1], keys.shape[1]
        pairs = torch.cat(  # (B, Tq, Tk, dq + dk): [h_t; h̄_s] for every pair
            [query[:, :, None, :].expand(-1, -1, t_k, -1), keys[:, None, :, :].expand(-1, t_q, -1, -1)], dim=-1
        )
        # v_aᵀ tanh(W_a [h_t; h̄_s])
        return self.v_a(torch.tanh(self.w_a(pairs))).squeeze(-1)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, Tq, dq), keys (B, Tk, dk), values (B, Tk, dv); mask boolean, True = attend.
        Returns context (B, Tq, dv) and weights (B, Tq, Tk)."""
        scores = self.scores(query, keys)  # (B, Tq, Tk)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        # α_ts = softmax_s(score(h_t, h̄_s))
        weights = scores.softmax(dim=-1)
        # c_t = Σ_s α_ts h̄_s
        return weights @ values, weights
