"""Linformer: self-attention with low-rank key/value projections along the sequence.

"Linformer: Self-Attention with Linear Complexity" (Wang et al., 2020, arXiv:2006.04768). The attention
matrix of trained models is approximately low-rank, so project the T keys and values down to k ≪ T rows
with learned (k, T) matrices E and F before attending:

    head_i = softmax( Q W^Q (E K W^K)ᵀ / √d ) · F V W^V        scores: (T, k) instead of (T, T)

Time and memory are O(T·k). The price: the projections mix positions, so the maximum length T is fixed
at construction and there is no causal form (a key's projection already contains later tokens).
"""

from __future__ import annotations

import torch
from torch import nn

from studyforge.experiments.attention.dot_product import scaled_dot_product_attention


class LinformerSelfAttention(nn.Module):
    """Multi-head self-attention over at most `max_len` tokens, keys/values projected to `k` rows."""

    def __init__(self, d_model: int, n_heads: int, max_len: int, k: int, share_kv: bool = False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}")
        self.n_heads, self.head_dim, self.max_len = n_heads, d_model // n_heads, max_len
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.e = nn.Parameter(torch.randn(k, max_len) / k**0.5)  # E: (k, max_len)
        self.f = self.e if share_kv else nn.Parameter(torch.randn(k, max_len) / k**0.5)  # F

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        """x (B, T, C), T ≤ max_len -> (B, T, C) [and weights (B, H, T, k)]."""
        b, t, c = x.shape
        if t > self.max_len:
            raise ValueError(f"Linformer was built for at most {self.max_len} tokens, got {t}")
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (B, H, T, hd)
        # E K and F V: T rows mixed down to k (the first T columns, for shorter inputs)
        k_low = self.e[:, :t] @ k  # (B, H, k, hd)
        v_low = self.f[:, :t] @ v  # (B, H, k, hd)
        y, weights = scaled_dot_product_attention(q, k_low, v_low, return_weights=True)  # (B, H, T, hd)
        y = self.out(y.transpose(1, 2).reshape(b, t, c))
        return (y, weights) if return_weights else y
