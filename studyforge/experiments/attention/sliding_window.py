"""Sliding-window attention, computed band by band.

Each token attends only to a window of neighbours: in a causal model (Mistral) to itself and the
`window − 1` tokens before it; bidirectionally (Longformer, "Longformer: The Long-Document Transformer",
Beltagy, Peters & Cohan, 2020, arXiv:2004.05150) to `window // 2` tokens on each side. Stacking L such
layers still reaches L·window tokens back, like the receptive field of a convolution.

The mask alone (`masks.sliding_window_mask` handed to full attention) gives the right answer at O(T²)
cost. Here queries are taken `chunk` at a time against only the keys their band can reach, so scores take
O(T·window) memory and time; the result equals masked full attention exactly.
"""

from __future__ import annotations

import math

import torch


def sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, causal: bool = False,
    chunk: int | None = None,
) -> torch.Tensor:
    """q, k, v (..., T, D) -> (..., T, D), each query restricted to its window (see `sliding_window_mask`)."""
    t, d = q.shape[-2], q.shape[-1]
    chunk = chunk or max(window, 1)
    left = window - 1 if causal else window // 2  # how far back a query sees
    right = 0 if causal else window // 2  # how far ahead
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)
    for start in range(0, t, chunk):
        end = min(start + chunk, t)
        k_lo, k_hi = max(0, start - left), min(t, end + right)  # the keys this chunk of queries can reach
        # S = Q_c K_bandᵀ / √d
        scores = q[..., start:end, :] @ k[..., k_lo:k_hi, :].transpose(-2, -1) / math.sqrt(d)  # (..., c, ≤c+w)
        # the band, for these queries and keys only: 0 <= i − j < window (causal) or |i − j| <= window // 2
        offset = torch.arange(start, end, device=q.device)[:, None] - torch.arange(k_lo, k_hi, device=q.device)
        band = (offset >= 0) & (offset < window) if causal else offset.abs() <= window // 2
        scores = scores.masked_fill(~band, float("-inf"))
        out[..., start:end, :] = scores.softmax(dim=-1) @ v[..., k_lo:k_hi, :]
    return out
