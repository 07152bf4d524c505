"""Scaled dot-product attention.

"Attention Is All You Need" (Vaswani et al., 2017, arXiv:1706.03762): every query scores every key by a
dot product scaled by 1/√d (so the logits keep unit variance when q and k have unit-variance entries),
a row-wise softmax turns scores into weights, and the output is the weighted sum of values:

    Attention(Q, K, V) = softmax(Q Kᵀ / √d + M) V

where M is 0 where attending is allowed and −∞ where it is masked. This module materialises the full
(Tq, Tk) score matrix: O(T²) memory, which `flash.py` removes.
"""

from __future__ import annotations

import math

import torch

from studyforge.experiments.attention.masks import causal_mask, combine


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
    bias: torch.Tensor | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ · scale + bias, masked) v.

    q: (..., Tq, D); k: (..., Tk, D); v: (..., Tk, Dv). `mask` is boolean (True = attend), broadcastable
    to (..., Tq, Tk); `causal` adds SDPA's top-left causal mask; `bias` is an additive float term such
    as ALiBi's. A query row with every key masked gives NaN, as in SDPA's math backend.
    Returns the output (..., Tq, Dv), and the weights (..., Tq, Tk) if `return_weights`.
    """
    t_q, t_k, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    # S = Q Kᵀ / √d
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., Tq, Tk)
    if bias is not None:
        scores = scores + bias
    mask = combine(mask, causal_mask(t_q, t_k, device=q.device) if causal else None)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    # A = softmax(S) along the keys
    weights = scores.softmax(dim=-1)  # (..., Tq, Tk)
    out = weights @ v  # (..., Tq, Dv)
    return (out, weights) if return_weights else out
