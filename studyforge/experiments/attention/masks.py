"""Attention masks as boolean tensors: `True` where a query may attend to a key.

This is the convention of `torch.nn.functional.scaled_dot_product_attention`'s boolean `attn_mask`, so
every mask here can be handed to it unchanged. Masks are (Tq, Tk) or broadcastable to (B, H, Tq, Tk);
`combine` intersects several of them.

Positions: query i sits at absolute position `i + offset` (with a KV cache, `offset` is the number of
tokens already cached) and key j at position j.
"""

from __future__ import annotations

import torch


def causal_mask(t_q: int, t_k: int | None = None, offset: int = 0, device=None) -> torch.Tensor:
    """(Tq, Tk) mask of keys at or before each query: `j <= i + offset`.

    `offset=0` is SDPA's `is_causal=True` (top-left aligned); with a KV cache of `c` tokens, pass
    `offset=c` so the new queries see the whole cache.

    >>> causal_mask(3).int().tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    >>> causal_mask(1, 3, offset=2).int().tolist()
    [[1, 1, 1]]
    """
    t_k = t_q if t_k is None else t_k
    i = torch.arange(t_q, device=device)[:, None] + offset  # (Tq, 1)
    j = torch.arange(t_k, device=device)[None, :]  # (1, Tk)
    return j <= i


def padding_mask(lengths: torch.Tensor, t_k: int) -> torch.Tensor:
    """(B, 1, 1, Tk) mask of the real (non-padding) keys of each sequence, from its length.

    >>> padding_mask(torch.tensor([2, 3]), 4)[:, 0, 0].int().tolist()
    [[1, 1, 0, 0], [1, 1, 1, 0]]
    """
    j = torch.arange(t_k, device=lengths.device)  # (Tk,)
    return (j[None, :] < lengths[:, None])[:, None, None, :]


def sliding_window_mask(t: int, window: int, causal: bool = False, device=None) -> torch.Tensor:
    """(T, T) band mask.

    causal: each query sees itself and the `window - 1` tokens before it, `0 <= i - j < window`
    (Mistral's convention). Bidirectional: each query sees `window // 2` tokens on either side,
    `|i - j| <= window // 2` (Longformer's window w, w/2 per side).

    >>> sliding_window_mask(4, 2, causal=True).int().tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    >>> sliding_window_mask(4, 2).int().tolist()
    [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]
    """
    i = torch.arange(t, device=device)[:, None]
    j = torch.arange(t, device=device)[None, :]
    if causal:
        return (i - j >= 0) & (i - j < window)
    return (i - j).abs() <= window // 2


def local_block_mask(t: int, block: int, causal: bool = False, look_back: int = 1, device=None) -> torch.Tensor:
    """(T, T) mask of blocked local attention: the sequence is cut into blocks of `block` tokens, and a
    query in block n sees the keys of blocks n - look_back .. n (and, if not causal, also block n + 1 ..
    n + look_back); with `causal` also only keys at or before itself.

    >>> local_block_mask(4, 2, look_back=0).int().tolist()
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]
    >>> local_block_mask(4, 2, causal=True).int().tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    """
    pos = torch.arange(t, device=device)
    bq, bk = (pos // block)[:, None], (pos // block)[None, :]
    mask = (bq - bk <= look_back) & (bk - bq <= (0 if causal else look_back))
    if causal:
        mask &= causal_mask(t, device=device)
    return mask


def combine(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Intersection of boolean masks (None means "no restriction"); broadcasting as usual."""
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out
