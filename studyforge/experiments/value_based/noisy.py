"""Noisy networks: exploration by learned, state-dependent noise in the weights instead of ε-greedy.

Fortunato, Azar, Piot, Menick, Osband, Graves, Mnih, Munos, Hassabis, Pietquin, Blundell & Legg, 2017,
"Noisy Networks for Exploration", arXiv 1706.10295.

A noisy linear layer has a learnable mean *and* a learnable scale for every weight,

    y = (μ^w + σ^w ⊙ ε^w) x + (μ^b + σ^b ⊙ ε^b),

with fresh noise ε drawn per step. The agent acts greedily with respect to the perturbed network; gradient
descent shrinks σ where noise hurts the TD loss and keeps it where it does not, so exploration anneals
itself per state instead of following a hand-set ε schedule.

Factorised Gaussian noise (the paper's choice for DQN) needs p + q unit Gaussians per step instead of p·q:

    ε^w_{ij} = f(ε_i) f(ε_j),   ε^b_i = f(ε_i),   f(x) = sgn(x) √|x|,

initialised with μ ~ U[−1/√p, 1/√p] and σ = σ_0 / √p (σ_0 = 0.5), p the number of inputs.
In `eval()` mode the layer uses the means only (the evaluation policy is deterministic).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def scaled_noise(size: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """f(ε) = sgn(ε) √|ε| for ε ~ N(0, 1): `[4.0, −0.25]` would map to `[2.0, −0.5]`."""
    x = torch.randn(size, generator=generator, device=device)
    # f(x) = sgn(x) √|x|
    return x.sign() * x.abs().sqrt()


class NoisyLinear(nn.Module):
    """A linear layer with factorised Gaussian weight noise (see the module docstring)."""

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_sigma = nn.Parameter(torch.empty(out_features, in_features))
        self.bias_mu = nn.Parameter(torch.empty(out_features))
        self.bias_sigma = nn.Parameter(torch.empty(out_features))
        self.register_buffer("eps_in", torch.zeros(in_features))
        self.register_buffer("eps_out", torch.zeros(out_features))
        bound = 1 / math.sqrt(in_features)
        nn.init.uniform_(self.weight_mu, -bound, bound)
        nn.init.uniform_(self.bias_mu, -bound, bound)
        # σ = σ_0 / √p
        nn.init.constant_(self.weight_sigma, sigma0 / math.sqrt(in_features))
        nn.init.constant_(self.bias_sigma, sigma0 / math.sqrt(in_features))
        self.reset_noise()

    @torch.no_grad()
    def reset_noise(self) -> None:
        self.eps_in.copy_(scaled_noise(self.in_features, device=self.eps_in.device))
        self.eps_out.copy_(scaled_noise(self.out_features, device=self.eps_out.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        # W = μ^w + σ^w ⊙ (f(ε_out) f(ε_in)^T),  b = μ^b + σ^b ⊙ f(ε_out)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        bias = self.bias_mu + self.bias_sigma * self.eps_out
        return F.linear(x, weight, bias)
