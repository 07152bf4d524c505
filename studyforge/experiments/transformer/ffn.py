"""Position-wise feed-forward networks: plain (ReLU, GELU) and gated (SwiGLU, GeGLU).

The Transformer's feed-forward sub-layer ("Attention Is All You Need", arXiv:1706.03762) is
FFN(x) = W₂ σ(W₁ x) with a hidden width of 4d; GPT-2 uses σ = GELU ("Gaussian Error Linear Units",
Hendrycks & Gimpel, arXiv:1606.08415). "GLU Variants Improve Transformer" (Shazeer, 2020,
arXiv:2002.05202) gates the hidden layer with a second projection:

    SwiGLU(x) = W₂ (Swish(W₁ x) ⊙ W₃ x),   Swish(z) = z·sigmoid(z)   (SiLU)
    GeGLU(x)  = W₂ (GELU(W₁ x) ⊙ W₃ x)

Three matrices instead of two, so at equal parameters the hidden width is 2/3 of 4d (`config.gated_hidden`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "swiglu": F.silu, "geglu": F.gelu}


class FeedForward(nn.Module):
    """x (..., d) -> (..., d). `activation` in relu, gelu (plain) or swiglu, geglu (gated)."""

    def __init__(self, d_model: int, hidden: int, activation: str = "gelu", bias: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
        self.gated = activation in ("swiglu", "geglu")
        self.act = ACTIVATIONS[activation]
        self.w1 = nn.Linear(d_model, hidden, bias=bias)
        self.w3 = nn.Linear(d_model, hidden, bias=bias) if self.gated else None
        self.w2 = nn.Linear(hidden, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.w1(x))  # (..., hidden)
        if self.w3 is not None:
            # σ(W₁x) ⊙ W₃x
            h = h * self.w3(x)
        return self.dropout(self.w2(h))  # (..., d)
