"""Mixture-of-experts feed-forward layer: top-k routing, expert capacity, load-balancing and z-losses.

"Switch Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity" (Fedus,
Zoph & Shazeer, 2021, arXiv:2101.03961) replaces the feed-forward network by N experts and a router
that sends each token to its top-1 expert; GShard (Lepikhin et al., arXiv:2006.16668) and Mixtral send
it to the top 2. A token's output is its experts' outputs weighted by their router probabilities:

    p(x) = softmax(W_r x),   y(x) = Σ_{i ∈ top-k(p(x))} g_i(x) E_i(x)

with g_i = p_i for k = 1 (the gradient to the router flows through p_i) and g_i = p_i / Σ_top-k p_j for
k > 1. Every parameter count here is per token *active*: a token pays for k experts, not N.

Capacity. Experts get fixed-size buffers of C = ⌈capacity_factor · k · S / N⌉ slots for S tokens, so the
computation is static. Assignments are served first choices first (all tokens' first choices, then
all second choices), in token order; an assignment finding its expert full is *dropped* — that expert
contributes nothing and the token goes on through the residual connection. `last_stats["dropped"]`
counts dropped (token, expert) assignments. Capacity applies in training; at evaluation
(`eval_capacity_factor=None`) nothing is dropped, so outputs do not depend on the batch. (While training,
whether a token is dropped depends on the other tokens of the batch — later positions of other
sequences, and for k > 1 later first choices — a small leak of information that capacity-limited MoE
models accept; at evaluation the model is strictly causal.)

Load balancing (Switch eq. 4), with fᵢ the fraction of the S·k assignments routed to expert i (before
capacity; Switch's top-1 "fraction of tokens dispatched") and Pᵢ the mean router probability of i:

    L_balance = α · N · Σᵢ fᵢ · Pᵢ          (= α when routing is uniform, its minimum)

Router z-loss ("ST-MoE: Designing Stable and Transferable Sparse Expert Models", Zoph et al., 2022,
arXiv:2202.08906) keeps router logits small, which keeps the softmax numerically stable:

    L_z = β · (1/S) Σ_x (log Σ_j exp(z_j(x)))²
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from studyforge.experiments.transformer.ffn import FeedForward


def balance_loss(probs: torch.Tensor, expert_index: torch.Tensor, n_experts: int) -> torch.Tensor:
    """N · Σᵢ fᵢ · Pᵢ for router probabilities (S, N) and chosen experts (S, k) (multiply by α outside).

    >>> probs = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    >>> balance_loss(probs, torch.tensor([[0], [1]]), 2).item()    # uniform: f = P = (½, ½) -> 2·(¼ + ¼)
    1.0
    """
    # fᵢ = (1/(S·k)) Σ 1{assignment → i}: a count, no gradient (Switch's non-differentiable term)
    f = torch.bincount(expert_index.flatten(), minlength=n_experts).to(probs.dtype) / expert_index.numel()
    # Pᵢ = (1/S) Σ_x pᵢ(x): differentiable, pushes probability away from overloaded experts
    p = probs.mean(dim=0)
    return n_experts * (f * p).sum()


def z_loss(logits: torch.Tensor) -> torch.Tensor:
    """(1/S) Σ_x logsumexp(z(x))² for router logits (S, N) (multiply by β outside).

    >>> round(z_loss(torch.zeros(3, 4)).item(), 6)    # uniform logits 0: (log 4)² = 1.921812
    1.921812
    """
    # (log Σ_j exp z_j)²
    return torch.logsumexp(logits, dim=-1).pow(2).mean()


def capacity(n_tokens: int, n_experts: int, top_k: int, factor: float | None) -> int:
    """Slots per expert: ⌈factor · k · S / N⌉ (no limit, S·k, when `factor` is None).

    >>> capacity(8, 4, 1, 1.0), capacity(8, 4, 2, 1.25), capacity(8, 4, 1, None)
    (2, 5, 8)
    """
    if factor is None:
        return n_tokens * top_k
    return max(1, math.ceil(factor * top_k * n_tokens / n_experts))


def dispatch_positions(expert_index: torch.Tensor, n_experts: int) -> torch.Tensor:
    """Slot of each assignment in its expert's buffer, first choices of every token before second choices.

    expert_index (S, k) -> (S, k).

    >>> dispatch_positions(torch.tensor([[0, 1], [0, 1], [1, 0]]), 2).tolist()
    [[0, 1], [1, 2], [0, 2]]
    """
    s, k = expert_index.shape
    order = expert_index.T.reshape(-1)  # (k·S,): rank-major, so all first choices come first
    onehot = F.one_hot(order, n_experts)  # (k·S, N)
    # slot = number of earlier assignments to the same expert
    slots = ((onehot.cumsum(dim=0) - 1) * onehot).sum(dim=-1)  # (k·S,)
    return slots.view(k, s).T


class MoEFeedForward(nn.Module):
    """x (B, T, d) -> (y (B, T, d), auxiliary loss α·L_balance + β·L_z); statistics in `last_stats`."""

    def __init__(self, d_model: int, hidden: int, activation: str, n_experts: int, top_k: int = 1,
                 capacity_factor: float | None = 1.25, eval_capacity_factor: float | None = None,
                 balance_coef: float = 0.01, z_loss_coef: float = 1e-3, bias: bool = False, dropout: float = 0.0):
        super().__init__()
        self.n_experts, self.top_k = n_experts, top_k
        self.capacity_factor, self.eval_capacity_factor = capacity_factor, eval_capacity_factor
        self.balance_coef, self.z_loss_coef = balance_coef, z_loss_coef
        self.router = nn.Linear(d_model, n_experts, bias=False)  # W_r
        self.experts = nn.ModuleList(FeedForward(d_model, hidden, activation, bias, dropout) for _ in range(n_experts))
        self.last_stats: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        tokens = x.reshape(b * t, d)  # (S, d)
        logits = self.router(tokens).float()  # (S, N), routed in fp32 even under autocast
        probs = logits.softmax(dim=-1)  # p(x)
        top_p, top_i = probs.topk(self.top_k, dim=-1)  # (S, k)
        # g_i = p_i (k = 1, Switch) or p_i / Σ_top-k p_j (k > 1)
        gates = top_p if self.top_k == 1 else top_p / top_p.sum(dim=-1, keepdim=True)
        factor = self.capacity_factor if self.training else self.eval_capacity_factor
        cap = capacity(b * t, self.n_experts, self.top_k, factor)
        keep = dispatch_positions(top_i, self.n_experts) < cap  # (S, k)

        out = torch.zeros_like(tokens)  # (S, d)
        for e, expert in enumerate(self.experts):
            token_idx, choice = torch.nonzero((top_i == e) & keep, as_tuple=True)  # assignments served by e
            if token_idx.numel() == 0:
                continue
            y = expert(tokens[token_idx]) * gates[token_idx, choice, None].to(tokens.dtype)  # (n_e, d)
            out = out.index_add(0, token_idx, y.to(out.dtype))

        aux = self.balance_coef * balance_loss(probs, top_i, self.n_experts) + self.z_loss_coef * z_loss(logits)
        with torch.no_grad():
            self.last_stats = {
                "load": torch.bincount(top_i.flatten(), minlength=self.n_experts).float() / top_i.numel(),
                "dropped": (~keep).sum(),
                "assignments": torch.tensor(keep.numel()),
                "balance_loss": balance_loss(probs, top_i, self.n_experts),
                "z_loss": z_loss(logits),
            }
        return out.view(b, t, d), aux
