"""Attention analysis: maps, entropy, attention distance, and head importance by masking.

- Entropy of each query's attention distribution, averaged per head: near 0 for heads that lock onto one
  token, near log(#keys) for heads that average broadly.
- Mean attention distance Σ_j α_ij |i − j|, averaged per head: the "receptive field" of a head, which
  separates local heads from long-range ones (the multi-scale picture of the ViT paper, arXiv:2010.11929).
- Head importance by masking ("Are Sixteen Heads Really Better than One?", Michel, Levy & Neubig, 2019,
  arXiv:1905.10650): gate every head's output with ξ_h ∈ {0, 1} and measure the loss when heads are
  removed, one at a time (importance) and cumulatively, least important first (the pruning curve).

The model-facing interface is one function: `eval_loss(head_mask) -> float`, where head_mask is an
(n_layers, n_heads) tensor of gates that the model multiplies each head's output by (1 = keep, 0 = remove).
Any model that can take such a mask (here `model.TinyLM`) can be analysed; nothing here knows its internals.
The maps themselves are drawn by `plots.attention_maps`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

EvalLoss = Callable[[torch.Tensor], float]  # head mask (L, H) -> loss on held-out data


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of each head's attention rows: weights (..., H, Tq, Tk) -> (H,).

    >>> attention_entropy(torch.full((1, 1, 4), 0.25)).tolist()   # uniform over 4 keys: log 4
    [1.3862943649291992]
    """
    # H(α_i) = −Σ_j α_ij log α_ij, with 0 log 0 = 0
    per_row = -torch.special.xlogy(weights, weights).sum(dim=-1)  # (..., H, Tq)
    return per_row.transpose(-2, -1).reshape(-1, weights.shape[-3]).mean(dim=0)


def mean_attention_distance(weights: torch.Tensor, offset: int | None = None) -> torch.Tensor:
    """Mean distance Σ_j α_ij |i − j| of each head's attention: weights (..., H, Tq, Tk) -> (H,).

    Query i sits at position i + offset; the default offset Tk − Tq aligns the last query with the last key.

    >>> w = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])              # both queries look at key 0
    >>> mean_attention_distance(w).tolist()                        # distances 0 and 1
    [0.5]
    """
    t_q, t_k = weights.shape[-2:]
    offset = t_k - t_q if offset is None else offset
    i = torch.arange(t_q, device=weights.device)[:, None] + offset
    j = torch.arange(t_k, device=weights.device)[None, :]
    # d_i = Σ_j α_ij |i − j|
    per_row = (weights * (i - j).abs().to(weights.dtype)).sum(dim=-1)  # (..., H, Tq)
    return per_row.transpose(-2, -1).reshape(-1, weights.shape[-3]).mean(dim=0)


def head_importance(eval_loss: EvalLoss, n_layers: int, n_heads: int) -> tuple[float, torch.Tensor]:
    """(loss with every head, (L, H) loss increase when that one head alone is removed)."""
    full = torch.ones(n_layers, n_heads)
    base = eval_loss(full)
    importance = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            mask = full.clone()
            mask[layer, head] = 0.0
            # I_h = L(ξ_h = 0) − L(ξ = 1)
            importance[layer, head] = eval_loss(mask) - base
    return base, importance


def gradient_head_importance(loss_of_mask: Callable[[torch.Tensor], torch.Tensor], n_layers: int,
                             n_heads: int) -> torch.Tensor:
    """Michel et al.'s first-order proxy |∂L/∂ξ_h| at ξ = 1, from one backward pass: (L, H).

    `loss_of_mask` must return a differentiable scalar loss for a (float, requires-grad) head mask."""
    mask = torch.ones(n_layers, n_heads, requires_grad=True)
    (grad,) = torch.autograd.grad(loss_of_mask(mask), mask)
    return grad.abs()


def pruning_curve(eval_loss: EvalLoss, order: Sequence[tuple[int, int]], n_layers: int,
                  n_heads: int) -> list[dict]:
    """Remove heads cumulatively in `order` ((layer, head) pairs), evaluating after each removal.

    Returns rows {"heads_removed": k, "loss": L, "removed": "l.h"} for k = 0 .. len(order)."""
    mask = torch.ones(n_layers, n_heads)
    rows = [{"heads_removed": 0, "loss": eval_loss(mask), "removed": ""}]
    for k, (layer, head) in enumerate(order, start=1):
        mask[layer, head] = 0.0
        rows.append({"heads_removed": k, "loss": eval_loss(mask.clone()), "removed": f"{layer}.{head}"})
    return rows


def least_important_first(importance: torch.Tensor) -> list[tuple[int, int]]:
    """(layer, head) pairs sorted by increasing importance.

    >>> least_important_first(torch.tensor([[0.3, 0.1], [0.2, 0.4]]))
    [(0, 1), (1, 0), (0, 0), (1, 1)]
    """
    n_heads = importance.shape[1]
    return [(int(i) // n_heads, int(i) % n_heads) for i in importance.flatten().argsort(stable=True)]
