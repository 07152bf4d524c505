"""Block-sparse attention patterns: Longformer and BigBird.

Longformer ("Longformer: The Long-Document Transformer", Beltagy et al., 2020, arXiv:2004.05150): a
sliding window plus a few *global* tokens (e.g. [CLS], question tokens) that attend to every token and
that every token attends to — symmetric, so information can cross the sequence in two hops.

BigBird ("Big Bird: Transformers for Longer Sequences", Zaheer et al., 2020, arXiv:2007.14062) works on
blocks of b tokens: each query block sees a window of neighbouring blocks, `n_global` global blocks (the
first ones; they see and are seen by everything) and `n_random` further blocks chosen at random per
query block. Window + global + random is what their universal-approximation and Turing-completeness
arguments need, at O(T·b) cost.

A *layout* is a (n_blocks, n_blocks) boolean matrix of which key blocks each query block attends to;
`block_sparse_attention` computes only those blocks, and equals full attention under the expanded mask.
"""

from __future__ import annotations

import math

import torch

from studyforge.experiments.attention.masks import sliding_window_mask


def longformer_mask(t: int, window: int, global_tokens: list[int] | torch.Tensor, device=None) -> torch.Tensor:
    """(T, T) mask: |i − j| ≤ window // 2, or i or j is a global token.

    >>> longformer_mask(5, 2, [0]).int().tolist()
    [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 0, 1, 1, 1], [1, 0, 0, 1, 1]]
    """
    is_global = torch.zeros(t, dtype=torch.bool, device=device)
    is_global[torch.as_tensor(global_tokens, dtype=torch.long, device=device)] = True
    # global rows see everything, global columns are seen by everything
    return sliding_window_mask(t, window, device=device) | is_global[:, None] | is_global[None, :]


def bigbird_layout(
    n_blocks: int, window_blocks: int = 3, n_global: int = 1, n_random: int = 1, seed: int = 0
) -> torch.Tensor:
    """(nb, nb) block layout: window of `window_blocks` blocks centred on the diagonal, the first `n_global`
    blocks as global rows and columns, and `n_random` extra random key blocks per non-global query row,
    drawn (seeded) among the blocks that row does not already see.

    >>> bigbird_layout(4, window_blocks=1, n_global=1, n_random=0).int().tolist()
    [[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]]
    """
    blocks = torch.arange(n_blocks)
    layout = (blocks[:, None] - blocks[None, :]).abs() <= window_blocks // 2  # window
    layout[:n_global, :] = True  # global blocks see every block
    layout[:, :n_global] = True  # every block sees the global blocks
    generator = torch.Generator().manual_seed(seed)
    for row in range(n_global, n_blocks):
        candidates = (~layout[row]).nonzero().flatten()
        pick = torch.randperm(len(candidates), generator=generator)[:n_random]
        layout[row, candidates[pick]] = True
    return layout


def expand_layout(layout: torch.Tensor, block: int, t: int) -> torch.Tensor:
    """Block layout (nb, nb) -> token mask (T, T), cropped to T tokens.

    >>> expand_layout(torch.tensor([[True, False], [True, True]]), 2, 3).int().tolist()
    [[1, 1, 0], [1, 1, 0], [1, 1, 1]]
    """
    return layout.repeat_interleave(block, 0).repeat_interleave(block, 1)[:t, :t]


def bigbird_mask(t: int, block: int, window_blocks: int = 3, n_global: int = 1, n_random: int = 1,
                 seed: int = 0) -> torch.Tensor:
    """(T, T) token mask of the BigBird layout over ceil(T / block) blocks."""
    layout = bigbird_layout(math.ceil(t / block), window_blocks, n_global, n_random, seed)
    return expand_layout(layout, block, t)


def block_sparse_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: torch.Tensor,
                           block: int) -> torch.Tensor:
    """q, k, v (..., T, D) -> (..., T, D), computing scores only for the blocks `layout` marks.

    Each query block gathers its active key blocks into one contiguous (…, n_active·b, D) tensor and runs a
    small dense attention on it, so the work is proportional to the number of active blocks.
    """
    t, d = q.shape[-2], q.shape[-1]
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)
    positions = torch.arange(t, device=q.device)
    for qb in range(layout.shape[0]):
        q_lo, q_hi = qb * block, min((qb + 1) * block, t)
        if q_lo >= t:
            break
        keys = torch.cat([positions[kb * block : (kb + 1) * block] for kb in layout[qb].nonzero().flatten().tolist()])
        # S = Q_block K_activeᵀ / √d, over the active key blocks only
        scores = q[..., q_lo:q_hi, :] @ k[..., keys, :].transpose(-2, -1) / math.sqrt(d)  # (..., b, n·b)
        out[..., q_lo:q_hi, :] = scores.softmax(dim=-1) @ v[..., keys, :]
    return out
