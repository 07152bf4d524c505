"""ALiBi: attention with linear biases.

"Train Short, Test Long: Attention with Linear Biases Enables Input Length Extrapolation" (Press, Smith &
Lewis, 2021, arXiv:2108.12409). No position embeddings at all: each head h adds a fixed penalty
proportional to the distance between query and key to its attention logits,

    softmax(q_i Kᵀ / √d − m_h · (i − j))

with head slopes m_h a geometric sequence starting at 2^(−8/n) with the same ratio, for n heads: for
n = 8, 1/2, 1/4, …, 1/256. Heads with large slopes look locally, heads with small slopes far away. For n
not a power of two, the paper's code takes the slopes of the closest smaller power of two p and fills up
with every other slope of 2p heads.
"""

from __future__ import annotations

import math

import torch


def _geometric_slopes(n: int) -> list[float]:
    """n slopes 2^(−8/n), 2^(−16/n), …, 2^(−8): `_geometric_slopes(4)` -> [1/4, 1/16, 1/64, 1/256]."""
    start = 2.0 ** (-8.0 / n)
    return [start ** (i + 1) for i in range(n)]


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """The head slopes m_h, shape (n_heads,).

    >>> alibi_slopes(8).tolist() == [1 / 2**k for k in range(1, 9)]
    True
    >>> alibi_slopes(6).tolist() == [1/4, 1/16, 1/64, 1/256, 1/2, 1/8]   # 4 of a 4-head model + 2 of 8
    True
    """
    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = _geometric_slopes(closest)
    if closest != n_heads:
        slopes += _geometric_slopes(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(slopes: torch.Tensor, t_q: int, t_k: int | None = None, offset: int = 0) -> torch.Tensor:
    """The additive bias −m_h·|i − j|, shape (H, Tq, Tk); query i sits at position i + offset.

    In a causal model only j ≤ i is ever used, where this is the paper's −m_h·(i − j); the absolute
    value makes the same bias usable (symmetrically) without a causal mask.

    >>> alibi_bias(torch.tensor([0.5]), 3)[0].tolist()
    [[-0.0, -0.5, -1.0], [-0.5, -0.0, -0.5], [-1.0, -0.5, -0.0]]
    """
    t_k = t_q if t_k is None else t_k
    i = torch.arange(t_q, device=slopes.device)[:, None] + offset
    j = torch.arange(t_k, device=slopes.device)[None, :]
    distance = (i - j).abs().to(slopes.dtype)  # (Tq, Tk)
    # −m_h · |i − j|
    return -slopes[:, None, None] * distance  # (H, Tq, Tk)
