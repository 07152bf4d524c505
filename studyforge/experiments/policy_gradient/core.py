"""Small helpers the policy-gradient algorithms share inside their loops: schedules, diagnostics, clipping.

What every RL training run shares around its loop (config base, `Recorder`, `TrainResult`) is the RL core's
`studyforge.experiments.rl.training`.
"""

from __future__ import annotations

import torch


def linear_schedule(start: float, fraction_done: float, end: float = 0.0) -> float:
    """start → end linearly as training progresses: `linear_schedule(1e-3, 0.25)` -> 7.5e-4."""
    return start + (end - start) * min(max(fraction_done, 0.0), 1.0)


def explained_variance(pred: torch.Tensor, target: torch.Tensor) -> float:
    """1 − Var[target − pred] / Var[target]: 1 is a perfect critic, 0 no better than a constant."""
    var = target.var()
    return float("nan") if var == 0 else float(1 - (target - pred).var() / var)


@torch.no_grad()
def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale the gradients so that their global L2 norm is at most `max_norm`; returns the norm before.

    The same maths as `torch.nn.utils.clip_grad_norm_`, g ← g · min(1, max_norm / ‖g‖), without its
    per-call bookkeeping (it matters for small networks updated thousands of times).
    """
    grads = [p.grad for p in params if p.grad is not None]
    # ‖g‖ = √(Σ_i ‖g_i‖²)
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total
