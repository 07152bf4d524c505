"""Blocked local attention.

The sequence is cut into blocks of `block` tokens; a query attends to the keys of its own block and of
the `look_back` blocks before it (and, without a causal mask, the `look_back` blocks after it). This is
the "local attention" of the Image Transformer (Parmar et al., 2018, arXiv:1802.05751) and of the local
heads of later sparse models: unlike a sliding window, every query in a block shares one key range, so
the computation is a batch of small dense attentions — (T/b) blocks of b × (look_back + 1)·b scores —
with O(T·b) memory and no ragged indexing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def local_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block: int, causal: bool = False, look_back: int = 1
) -> torch.Tensor:
    """q, k, v (..., T, D) -> (..., T, D); the mask it applies is `masks.local_block_mask`."""
    t, d = q.shape[-2], q.shape[-1]
    n_blocks = math.ceil(t / block)
    pad = n_blocks * block - t
    look_ahead = 0 if causal else look_back
    span = look_back + 1 + look_ahead  # blocks of keys per query block

    def blocks(x: torch.Tensor) -> torch.Tensor:  # (..., T, D) -> (..., nb, b, D), zero-padded at the end
        return F.pad(x, (0, 0, 0, pad)).unflatten(-2, (n_blocks, block))

    def neighbourhood(x: torch.Tensor) -> torch.Tensor:  # (..., nb, b, D) -> (..., nb, span·b, D)
        padded = F.pad(x, (0, 0, 0, 0, look_back, look_ahead))  # empty blocks beyond both ends
        return torch.cat([padded[..., s : s + n_blocks, :, :] for s in range(span)], dim=-2)

    q_b = blocks(q)  # (..., nb, b, D)
    k_n, v_n = neighbourhood(blocks(k)), neighbourhood(blocks(v))  # (..., nb, span·b, D)
    # absolute positions of the queries and of the keys in each neighbourhood
    q_pos = torch.arange(n_blocks * block, device=q.device).view(n_blocks, block, 1)  # (nb, b, 1)
    k_pos = (torch.arange(n_blocks, device=q.device).view(n_blocks, 1) - look_back) * block \
        + torch.arange(span * block, device=q.device).view(1, -1)  # (nb, span·b)
    mask = ((k_pos >= 0) & (k_pos < t))[:, None, :]  # (nb, 1, span·b): real keys only
    if causal:
        mask = mask & (k_pos[:, None, :] <= q_pos)  # (nb, b, span·b)
    # S = Q_block K_neighbourhoodᵀ / √d
    scores = q_b @ k_n.transpose(-2, -1) / math.sqrt(d)  # (..., nb, b, span·b)
    scores = scores.masked_fill(~mask, float("-inf"))
    out = scores.softmax(dim=-1) @ v_n  # (..., nb, b, D)
    return out.flatten(-3, -2)[..., :t, :]
