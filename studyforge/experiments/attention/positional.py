"""Absolute position encodings: sinusoidal and learned.

Sinusoidal ("Attention Is All You Need", Vaswani et al., 2017, arXiv:1706.03762): position m gets the
vector

    PE(m, 2i) = sin(m / 10000^(2i/d)),   PE(m, 2i+1) = cos(m / 10000^(2i/d))

which is added to the token embedding. Each (sin, cos) pair is a point on a circle turning at its own
frequency, so PE(m + k) is a fixed rotation of PE(m), and the table is defined at every position, seen in
training or not. Learned absolute embeddings (as in GPT-2/BERT) are a trainable table of `max_len`
vectors: as flexible as the data allow, but with nothing at all for positions never trained.

Relative encodings live in `relative.py` (Shaw et al.), `rope.py` and `alibi.py`.
"""

from __future__ import annotations

import torch
from torch import nn


def sinusoidal_table(positions: torch.Tensor, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """positions (T,) -> (T, d_model) sinusoidal encodings.

    >>> sinusoidal_table(torch.tensor([0]), 4).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """
    if d_model % 2:
        raise ValueError(f"sinusoidal encodings need an even width, got {d_model}")
    # 1 / 10000^(2i/d)
    inv_freq = base ** (-torch.arange(0, d_model, 2, device=positions.device, dtype=torch.float32) / d_model)
    angles = positions.to(torch.float32)[:, None] * inv_freq  # (T, d/2)
    # PE(m, 2i) = sin(m ω_i), PE(m, 2i+1) = cos(m ω_i)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)  # (T, d)


class SinusoidalPositionalEncoding(nn.Module):
    """`pe(positions)` -> (T, d_model); fixed, no parameters, defined for every position."""

    def __init__(self, d_model: int, base: float = 10000.0):
        super().__init__()
        self.d_model, self.base = d_model, base

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return sinusoidal_table(positions, self.d_model, self.base)


class LearnedPositionalEmbedding(nn.Module):
    """`pe(positions)` -> (T, d_model): a trainable table of `max_len` vectors.

    Positions at or beyond `max_len` have no vector of their own. With `clamp=True` (the default) they
    reuse the last one — what running a learned-position model past its training length amounts to —
    otherwise they raise.
    """

    def __init__(self, max_len: int, d_model: int, clamp: bool = True):
        super().__init__()
        self.table = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.table.weight, std=0.02)
        self.max_len, self.clamp = max_len, clamp

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        if int(positions.max()) >= self.max_len and not self.clamp:
            raise IndexError(f"position {int(positions.max())} beyond the {self.max_len} learned positions")
        return self.table(positions.clamp(max=self.max_len - 1))
