"""Projection-based Constrained Policy Optimization.

Yang, Rosca, Narasimhan & Ramadge, 2020, "Projection-Based Constrained Policy Optimization", ICLR 2020,
arXiv 2010.03152.

Where CPO solves one problem with both constraints, PCPO splits the update in two (notation of
`constrained.py`):

1. reward improvement — TRPO's step inside the trust region, ignoring the cost:
       x_½ = √(2δ / gᵀH⁻¹g) · H⁻¹g
2. projection — back onto the linearised constraint set {x : c + bᵀx ≤ 0}, in the metric L:
       x = x_½ − max(0, (c + bᵀx_½) / (bᵀL⁻¹b)) · L⁻¹b

with L = H (the KL projection, `projection="kl"`) or L = I (the L2 projection, `projection="l2"`). The
projection may leave the trust region: PCPO bounds the KL after the fact rather than enforcing it, and the
constraint study measures by how much. There is no line search. (Since bᵀx_½ = √(2δ/q)·r, the projection
coefficient needs no extra products.)

The plan's "PCPO (Primal-Dual Constrained Policy Optimization)" has a second reading: the primal–dual,
Lagrangian approach, which is `ppo_lagrangian.py`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from studyforge.experiments.policy_gradient.constrained import (
    ConstrainedConfig,
    LinearisedProblem,
    train_constrained,
)
from studyforge.experiments.policy_gradient.trust_region import set_flat_params
from studyforge.experiments.rl.training import LogFn, TrainResult


class PCPOConfig(ConstrainedConfig):
    projection: Literal["kl", "l2"] = Field("kl", description="project in the KL (Fisher) or the L2 metric")


def pcpo_step(problem: LinearisedProblem, cfg: PCPOConfig) -> dict[str, float]:
    """Reward step, then projection onto the linearised cost constraint; returns the diagnostics."""
    # x_½ = √(2δ/q) H⁻¹g
    scale = math.sqrt(2 * cfg.delta / max(problem.q, 1e-12))
    step = scale * problem.v
    # the linearised constraint at x_½: c + bᵀx_½ = c + √(2δ/q) r
    violation = problem.c + scale * problem.r
    if violation > 0:
        if cfg.projection == "kl":
            # x = x_½ − (c + bᵀx_½) / (bᵀH⁻¹b) · H⁻¹b
            step = step - violation / max(problem.s, 1e-12) * problem.w
        else:
            # x = x_½ − (c + bᵀx_½) / (bᵀb) · b
            step = step - violation / max(float(problem.b @ problem.b), 1e-12) * problem.b
    set_flat_params(problem.params, problem.start + step)
    return {"kl": problem.mean_kl(), "projected": float(violation > 0), "violation_before": violation,
            "step_norm": float(step.norm())}


def train(env_id: str, cfg: PCPOConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train PCPO on a constrained env (one whose steps report `info["cost"]`)."""
    name = "pcpo_kl" if cfg.projection == "kl" else "pcpo_l2"
    return train_constrained(name, pcpo_step, env_id, cfg, total_steps=total_steps, seed=seed, log=log,
                             prefix=prefix, device=device, env_kwargs=env_kwargs)
