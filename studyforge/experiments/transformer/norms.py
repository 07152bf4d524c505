"""LayerNorm and RMSNorm.

LayerNorm ("Layer Normalization", Ba, Kiros & Hinton, 2016, arXiv:1607.06450) centres and scales each
vector over its d features, then applies a learned gain (and bias):

    LN(x) = (x − mean(x)) / √(var(x) + ε) ⊙ g + b

RMSNorm ("Root Mean Square Layer Normalization", Zhang & Sennrich, 2019, arXiv:1910.07467) drops the
centring and the bias — re-scaling invariance is what matters, re-centring barely helps — and divides by
the root mean square alone, which is cheaper and is what LLaMA, Mistral and most recent models use:

    RMSNorm(x) = x / √(mean(x²) + ε) ⊙ g

Both are computed in fp32 and cast back, so they are safe under bf16 autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """x (..., d) -> (..., d), normalised by its root mean square over the last dimension."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))  # g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        # x / √(mean(x²) + ε)
        normed = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return (normed * self.weight.float()).type_as(x)


class LayerNorm(nn.Module):
    """x (..., d) -> (..., d), centred and scaled over the last dimension; the bias is optional."""

    def __init__(self, d: int, eps: float = 1e-5, bias: bool = False):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))  # g
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None  # b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.float()
        # (x − mean) / √(var + ε) ⊙ g + b
        return F.layer_norm(x.float(), (x.shape[-1],), self.weight.float(), bias, self.eps).type_as(x)


def make_norm(kind: str, d: int, eps: float = 1e-5, bias: bool = False) -> nn.Module:
    """`make_norm("rmsnorm", 64)` -> RMSNorm(64); `"layernorm"` -> LayerNorm(64, bias=bias)."""
    if kind == "rmsnorm":
        return RMSNorm(d, eps)
    if kind == "layernorm":
        return LayerNorm(d, eps, bias)
    raise ValueError(f"unknown norm {kind!r}")
