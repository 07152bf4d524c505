"""Rotary position embedding (RoPE), real and complex forms.

"RoFormer: Enhanced Transformer with Rotary Position Embedding" (Su et al., 2021, arXiv:2104.09864).
Split each query/key vector of width D into D/2 pairs (x_0, x_1), (x_2, x_3), … (the interleaved-pair
convention of the paper and of Meta's LLaMA reference code) and rotate pair p at position m by the angle
m·θ_p, with θ_p = base^(−2p/D) and base θ = 10000:

    (x_2p, x_2p+1) ↦ (x_2p cos mθ_p − x_2p+1 sin mθ_p,  x_2p sin mθ_p + x_2p+1 cos mθ_p)

Rotations compose, so ⟨R_m q, R_n k⟩ = ⟨q, R_{n−m} k⟩: attention scores depend on positions only through
the offset n − m, while queries and keys stay plain vectors (no extra terms inside attention, unlike
Shaw et al.). Reading each pair as a complex number z = x_2p + i·x_2p+1, the rotation is z·e^{i mθ_p}:
`apply_rope_complex` computes exactly that through `torch.view_as_complex`, as LLaMA does.

Note: Hugging Face's LLaMA port uses the "half-split" convention (pairs (x_p, x_p+D/2)) instead; it is the
same rotation applied to a permuted layout, not interchangeable with this one on the same weights.
"""

from __future__ import annotations

import torch
from torch import nn


def rope_angles(positions: torch.Tensor, head_dim: int, base: float = 10000.0,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Angles m·θ_p for every position m and pair p: positions (..., T) -> (..., T, D/2), in `dtype` (fp32 at
    least: in bf16 the angle of position 1,000 would be off by several radians).

    >>> rope_angles(torch.tensor([0, 1]), 4, base=100.0).tolist()
    [[0.0, 0.0], [1.0, 0.10000000149011612]]
    """
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head dimension, got {head_dim}")
    # θ_p = base^(−2p/D), p = 0 .. D/2 − 1
    theta = base ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=dtype) / head_dim)
    # m·θ_p
    return positions.to(dtype)[..., None] * theta  # (..., T, D/2)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """fp64 inputs rotate in fp64; everything else (fp32, bf16, fp16) in fp32, then back to x's dtype."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _broadcast_angles(angles: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(T, D/2) or (B, T, D/2) angles -> broadcastable against x (B, H, T, D/2)."""
    return angles[:, None] if angles.dim() == 3 and x.dim() == 4 else angles


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate interleaved pairs of x (B, H, T, D) by their positions (T,) or (B, T); same shape back.

    >>> x = torch.tensor([[[[1.0, 0.0]]]])                # one vector (1, 0) at position 1, θ_0 = 1
    >>> apply_rope(x, torch.tensor([1])).flatten().tolist() == [torch.cos(torch.tensor(1.)).item(),
    ...                                                         torch.sin(torch.tensor(1.)).item()]
    True
    """
    dtype = _compute_dtype(x)
    angles = _broadcast_angles(rope_angles(positions, x.shape[-1], base, dtype), x)  # (T, D/2)
    cos, sin = angles.cos(), angles.sin()
    x_even, x_odd = x[..., 0::2].to(dtype), x[..., 1::2].to(dtype)  # (B, H, T, D/2) each
    # (x_2p, x_2p+1) ↦ (x_2p cos − x_2p+1 sin, x_2p sin + x_2p+1 cos)
    rotated = torch.stack([x_even * cos - x_odd * sin, x_even * sin + x_odd * cos], dim=-1)  # (B, H, T, D/2, 2)
    return rotated.flatten(-2).type_as(x)


def apply_rope_complex(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """The same rotation as `apply_rope`, as a complex product z·e^{i mθ} (LLaMA's `apply_rotary_emb`)."""
    dtype = _compute_dtype(x)
    angles = _broadcast_angles(rope_angles(positions, x.shape[-1], base, dtype), x)
    # e^{i mθ_p}
    rotations = torch.polar(torch.ones_like(angles), angles)  # (T, D/2) complex
    # z_p = x_2p + i x_2p+1
    z = torch.view_as_complex(x.to(dtype).reshape(*x.shape[:-1], -1, 2))  # (B, H, T, D/2) complex
    return torch.view_as_real(z * rotations).flatten(-2).type_as(x)


class RotaryEmbedding(nn.Module):
    """RoPE as a module: `rope(q, positions)`; no parameters, the frequencies are fixed by `base`."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        self.head_dim, self.base = head_dim, base

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return apply_rope(x, positions, self.base)
