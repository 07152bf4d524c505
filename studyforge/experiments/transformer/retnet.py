"""RetNet's multi-scale retention, in its parallel and recurrent forms (which agree).

"Retentive Network: A Successor to Transformer for Large Language Models" (Sun et al., 2023,
arXiv:2307.08621). Retention replaces softmax attention by a causal, exponentially decaying linear
attention, which can be computed in parallel for training and as an RNN for O(1)-per-token decoding:

    parallel:   Retention(X) = (Q Kᵀ ⊙ D) V,     D_nm = γ^(n−m) if n ≥ m else 0
    recurrent:  S_n = γ S_{n−1} + K_nᵀ V_n,      Retention(X_n) = Q_n S_n

Q and K are rotated by their positions (the paper's Θ, e^{inθ}: the same rotation as RoPE, so week 3's
`apply_rope` does it), K is scaled by 1/√d_head. Heads use different decays (multi-scale),
γ_h = 1 − 2^(−5−h), so some heads remember far and others near. Each head's output is normalised
(GroupNorm, one group per head — which also makes the paper's extra scale normalisations unnecessary,
being scale-invariant), gated by Swish(X W_G), and projected by W_O:

    MSR(X) = (Swish(X W_G) ⊙ GroupNorm_h(Concat(head_1, …, head_h))) W_O
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from studyforge.experiments.attention.rope import apply_rope


def retention_gammas(n_heads: int) -> torch.Tensor:
    """Per-head decays γ_h = 1 − 2^(−5−h).

    >>> retention_gammas(3).tolist()
    [0.96875, 0.984375, 0.9921875]
    """
    return 1 - 2.0 ** (-5 - torch.arange(n_heads, dtype=torch.float32))


def decay_mask(gammas: torch.Tensor, t: int, device=None) -> torch.Tensor:
    """D (H, T, T) with D_nm = γ_h^(n−m) for n ≥ m, else 0.

    >>> decay_mask(torch.tensor([0.5]), 3)[0].tolist()
    [[1.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.25, 0.5, 1.0]]
    """
    n = torch.arange(t, device=device)
    distance = (n[:, None] - n[None, :]).float()  # (T, T): n − m
    # γ^(n−m) = exp((n − m) log γ), zero above the diagonal
    d = torch.exp(distance * torch.log(gammas.to(device))[:, None, None])  # (H, T, T)
    return d.masked_fill(distance < 0, 0.0)


def retention_parallel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gammas: torch.Tensor) -> torch.Tensor:
    """(Q Kᵀ ⊙ D) V for q, k, v (B, H, T, d) -> (B, H, T, d)."""
    d = decay_mask(gammas, q.shape[2], q.device).to(q.dtype)  # (H, T, T)
    return ((q @ k.transpose(-2, -1)) * d) @ v


def retention_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gammas: torch.Tensor,
                        s0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token by token: S_n = γ S_{n−1} + K_nᵀ V_n, out_n = Q_n S_n. Returns (out (B, H, T, d), S_T (B, H, d, d))."""
    b, h, t, dk = q.shape
    s = q.new_zeros(b, h, dk, v.shape[-1]) if s0 is None else s0
    g = gammas.to(q.device, q.dtype)[None, :, None, None]  # (1, H, 1, 1)
    outs = []
    for n in range(t):
        # S_n = γ S_{n−1} + K_nᵀ V_n
        s = g * s + k[:, :, n, :, None] * v[:, :, n, None, :]  # (B, H, dk, dv)
        # out_n = Q_n S_n
        outs.append((q[:, :, n, None, :] @ s).squeeze(2))  # (B, H, dv)
    return torch.stack(outs, dim=2), s


@dataclass
class RetentionState:
    """Recurrent state for generation: S per head, and the number of tokens seen (for the rotation)."""

    s: torch.Tensor  # (B, H, d_head, d_head)
    length: int = 0


class MultiScaleRetention(nn.Module):
    """x (B, T, d) -> (B, T, d); `forward(x, state)` uses the recurrent form and updates `state`."""

    def __init__(self, d_model: int, n_heads: int, bias: bool = False, rope_base: float = 10000.0,
                 eps: float = 1e-5):
        super().__init__()
        self.n_heads, self.head_dim, self.rope_base, self.eps = n_heads, d_model // n_heads, rope_base, eps
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.g_proj = nn.Linear(d_model, d_model, bias=bias)  # W_G
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)  # W_O
        self.norm_weight = nn.Parameter(torch.ones(d_model))  # GroupNorm's affine gain
        self.register_buffer("gammas", retention_gammas(n_heads), persistent=False)

    def new_state(self, batch: int, dtype=torch.float32, device=None) -> RetentionState:
        return RetentionState(torch.zeros(batch, self.n_heads, self.head_dim, self.head_dim, dtype=torch.float32,
                                          device=device))

    def forward(self, x: torch.Tensor, state: RetentionState | None = None, form: str = "parallel") -> torch.Tensor:
        b, t, c = x.shape
        h, hd = self.n_heads, self.head_dim
        offset = state.length if state is not None else 0
        positions = torch.arange(offset, offset + t, device=x.device)
        q = apply_rope(self.q_proj(x).view(b, t, h, hd).transpose(1, 2), positions, self.rope_base)  # (B, H, T, hd)
        k = apply_rope(self.k_proj(x).view(b, t, h, hd).transpose(1, 2), positions, self.rope_base)
        k = k / math.sqrt(hd)
        v = self.v_proj(x).view(b, t, h, hd).transpose(1, 2)  # (B, H, T, hd)
        if state is not None or form == "recurrent":
            s0 = None if state is None else state.s
            out, s = retention_recurrent(q.float(), k.float(), v.float(), self.gammas, s0)
            if state is not None:
                state.s, state.length = s.detach(), state.length + t
        else:
            out = retention_parallel(q, k, v, self.gammas)
        # GroupNorm_h: normalise each head's output vector (one group per head)
        out = F.layer_norm(out.float(), (hd,), eps=self.eps).transpose(1, 2).reshape(b, t, c)  # (B, T, d)
        out = (out * self.norm_weight.float()).to(x.dtype)
        # Swish(X W_G) ⊙ Y, then W_O
        return self.o_proj(F.silu(self.g_proj(x)) * out)
