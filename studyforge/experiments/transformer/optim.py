"""Optimizers written out: Lion and Adafactor from scratch, AdamW from torch, one `build_optimizer`.

Lion ("Symbolic Discovery of Optimization Algorithms", Chen et al., 2023, arXiv:2302.06675) was found by
program search. It keeps one momentum buffer and steps by the *sign* of an interpolation, so every
coordinate moves by exactly ±lr (plus decoupled weight decay):

    c_t = β₁ m_{t−1} + (1 − β₁) g_t
    θ_t = θ_{t−1} − lr · (sign(c_t) + λ θ_{t−1})
    m_t = β₂ m_{t−1} + (1 − β₂) g_t

Its updates have a larger norm than Adam's, so the paper uses a 3–10× smaller learning rate and a
3–10× larger weight decay. Memory: one buffer per parameter (Adam keeps two).

Adafactor ("Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", Shazeer & Stern, 2018,
arXiv:1804.04235) stores, for an n×m matrix, only row and column sums of the squared-gradient average
instead of the n·m matrix — the rank-1 matrix R Cᵀ / (1ᵀR) that best fits it in I-divergence — so the
second moment costs O(n + m). With t the step:

    β̂₂_t = 1 − t^(−0.8)                               increasing decay, no bias correction needed
    R_t = β̂₂ R_{t−1} + (1 − β̂₂) (G² + ε₁) 1_m          row sums      (n,)
    C_t = β̂₂ C_{t−1} + (1 − β̂₂) 1_nᵀ (G² + ε₁)         column sums   (m,)
    V̂_t = R_t C_t / (1_nᵀ R_t)                          (vectors and scalars keep the full V̂)
    U_t = G_t / √V̂_t,  Û_t = U_t / max(1, RMS(U_t)/d)   update clipping at d = 1
    ρ_t = min(lr, 1/√t),  α_t = max(ε₂, RMS(θ_{t−1})) ρ_t   relative step size
    θ_t = θ_{t−1} − α_t Û_t   (− lr·λ θ_{t−1}, decoupled weight decay, if asked)

With `relative_step=False` the step is `lr` itself (no parameter-scale or 1/√t factor), as most LM
training uses it today; `beta1` adds first-moment momentum (the paper's default has none).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim import Optimizer


class Lion(Optimizer):
    """Lion: sign of interpolated momentum, decoupled weight decay (see the module docstring)."""

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0):
        if lr <= 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"invalid Lion settings lr={lr}, betas={betas}")
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                # c_t = β₁ m + (1 − β₁) g
                c = m.mul(beta1).add_(p.grad, alpha=1 - beta1)
                # θ ← θ − lr·λ θ  (decoupled weight decay), then θ ← θ − lr·sign(c_t)
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(c.sign_(), alpha=-group["lr"])
                # m_t = β₂ m + (1 − β₂) g
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return loss


def _rms(x: torch.Tensor) -> torch.Tensor:
    """Root mean square: `_rms(torch.tensor([3., 4.]))` -> √12.5 ≈ 3.5355."""
    return x.pow(2).mean().sqrt()


class Adafactor(Optimizer):
    """Adafactor with factored second moments for tensors of ≥ 2 dims (last two dims factored)."""

    def __init__(self, params, lr: float = 1e-2, eps: tuple[float, float] = (1e-30, 1e-3), clip_threshold: float = 1.0,
                 decay_rate: float = -0.8, beta1: float | None = None, weight_decay: float = 0.0,
                 relative_step: bool = True):
        super().__init__(params, {"lr": lr, "eps": eps, "clip_threshold": clip_threshold, "decay_rate": decay_rate,
                                  "beta1": beta1, "weight_decay": weight_decay, "relative_step": relative_step})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.float()
                state = self.state[p]
                factored = g.dim() >= 2
                if not state:
                    state["step"] = torch.tensor(0.0)
                    if factored:
                        state["row"] = torch.zeros(g.shape[:-1], dtype=torch.float32, device=g.device)  # R (…, n)
                        state["col"] = torch.zeros(g.shape[:-2] + g.shape[-1:], dtype=torch.float32,
                                                   device=g.device)  # C (…, m)
                    else:
                        state["v"] = torch.zeros_like(g)
                    if group["beta1"] is not None:
                        state["exp_avg"] = torch.zeros_like(g)
                state["step"] += 1
                t = state["step"].item()
                # β̂₂_t = 1 − t^(−0.8)
                beta2 = 1.0 - t ** group["decay_rate"]
                sq = g.pow(2) + eps1  # G² + ε₁
                if factored:
                    r, c = state["row"], state["col"]
                    # R_t = β̂₂ R + (1 − β̂₂) (G² + ε₁) 1_m;   C_t likewise with 1_nᵀ
                    r.mul_(beta2).add_(sq.sum(dim=-1), alpha=1 - beta2)
                    c.mul_(beta2).add_(sq.sum(dim=-2), alpha=1 - beta2)
                    # V̂ = R Cᵀ / (1ᵀ R)
                    v = r[..., :, None] * c[..., None, :] / r.sum(dim=-1)[..., None, None]
                else:
                    v = state["v"].mul_(beta2).add_(sq, alpha=1 - beta2)
                # U = G / √V̂
                u = g / v.sqrt()
                # Û = U / max(1, RMS(U)/d)
                u.div_((_rms(u) / group["clip_threshold"]).clamp(min=1.0))
                if group["beta1"] is not None:
                    u = state["exp_avg"].mul_(group["beta1"]).add_(u, alpha=1 - group["beta1"])
                if group["relative_step"]:
                    # α_t = max(ε₂, RMS(θ)) · min(lr, 1/√t)
                    alpha = max(eps2, _rms(p.float()).item()) * min(group["lr"], t ** -0.5)
                else:
                    alpha = group["lr"]
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(u.to(p.dtype), alpha=-alpha)
        return loss


OPTIMIZERS = ("adamw", "lion", "adafactor")


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices (≥ 2 dims: linear weights, embeddings), not vectors (norm gains, biases) — nanoGPT's rule."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def optimizer_class(name: str) -> tuple[type[Optimizer], dict]:
    """(class, extra keyword arguments) of optimizer `name`."""
    if name == "adamw":
        return torch.optim.AdamW, {}
    if name == "lion":
        return Lion, {}
    if name == "adafactor":
        return Adafactor, {"relative_step": False}
    raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")


def build_optimizer(name: str, groups: Iterable[dict], lr: float, betas: tuple[float, float]) -> Optimizer:
    """AdamW(lr, betas), Lion(lr, betas) or Adafactor(lr, β₁ = betas[0], absolute steps) on `groups`."""
    cls, extra = optimizer_class(name)
    if name == "adafactor":
        return cls(groups, lr=lr, beta1=betas[0], **extra)
    return cls(groups, lr=lr, betas=betas, **extra)


def state_bytes(optimizer: Optimizer) -> int:
    """Bytes held by the optimizer's state tensors (Adam: 2 per parameter, Lion: 1, Adafactor: ≈ n + m)."""
    return sum(v.numel() * v.element_size() for s in optimizer.state.values() for v in s.values()
               if torch.is_tensor(v) and v.dim() > 0)
