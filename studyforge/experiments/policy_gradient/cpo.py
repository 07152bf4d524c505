"""Constrained Policy Optimization.

Achiam, Held, Tamar & Abbeel, 2017, "Constrained Policy Optimization", arXiv 1705.10528.

TRPO with a second constraint: each update solves (see `constrained.py` for g, b, c, H)

    maximise  gᵀ x    subject to   c + bᵀ x ≤ 0,   ½ xᵀ H x ≤ δ

exactly, through its two-variable dual. With q = gᵀH⁻¹g, r = gᵀH⁻¹b, s = bᵀH⁻¹b, the Lagrangian's
stationary point is x* = (1/λ)(H⁻¹g − ν H⁻¹b), and minimising the dual over ν ≥ 0 for fixed λ gives
ν*(λ) = max(0, (r + λc)/s). What is left is one-dimensional, with two pieces:

    where ν* > 0:  maximise  f_a(λ) = −½ (A/λ + Bλ) + rc/s,   A = q − r²/s,  B = 2δ − c²/s   → λ_a = √(A/B)
    where ν* = 0:  maximise  f_b(λ) = −½ (q/λ + 2δλ)                                          → λ_b = √(q/2δ)

each maximiser projected onto its piece, the better of the two kept. (The signs here follow from
g = ∇ of the reward surrogate and the constraint written c + bᵀx ≤ 0; the paper states the same solution
with r of the opposite sign.) Two cases need no dual: if c < 0 and B < 0 the whole trust region is
feasible and the step is TRPO's; if c > 0 and B < 0 no point of the trust region is feasible, and CPO takes
the recovery step x = −√(2δ/s) H⁻¹b, which lowers the cost as fast as the trust region allows.

A backtracking line search then shrinks the step until the exact KL ≤ δ, the predicted cost does not
break the limit (or, when already over it, does not grow), and the reward surrogate does not fall.
"""

from __future__ import annotations

import math

from studyforge.experiments.policy_gradient.constrained import (
    ConstrainedConfig,
    LinearisedProblem,
    train_constrained,
)
from studyforge.experiments.policy_gradient.trust_region import backtracking_line_search
from studyforge.experiments.rl.training import LogFn, TrainResult


class CPOConfig(ConstrainedConfig):
    """CPO's hyperparameters: those of every trust-region constrained method (`ConstrainedConfig`)."""


def cpo_direction(q: float, r: float, s: float, c: float, delta: float,
                  eps: float = 1e-8) -> tuple[float, float, str]:
    """(a, b_coef, case) with the CPO step x = a·H⁻¹g + b_coef·H⁻¹b (module docstring for the maths).

    case is "trpo" (the constraint is inactive), "dual" (λ*, ν* from the dual), or "recovery".
    Unconstrained check: with c ≪ 0 the step is TRPO's, a = √(2δ/q):

    >>> a, b, case = cpo_direction(q=2.0, r=0.0, s=1.0, c=-10.0, delta=0.01)
    >>> round(a, 4), b, case
    (0.1, 0.0, 'trpo')
    """
    if s <= eps and c < 0:
        # the cost does not depend on the step, and the policy is within the limit
        return math.sqrt(2 * delta / max(q, eps)), 0.0, "trpo"
    B = 2 * delta - c * c / s
    if c < 0 and B < 0:
        # every point of the trust region satisfies the linearised constraint
        return math.sqrt(2 * delta / max(q, eps)), 0.0, "trpo"
    if c >= 0 and B < 0:
        # no point of the trust region satisfies it: x = −√(2δ/s) H⁻¹b
        return 0.0, -math.sqrt(2 * delta / s), "recovery"
    A = max(q - r * r / s, 0.0)

    def f_a(lam: float) -> float:
        # f_a(λ) = −½ (A/λ + Bλ) + rc/s
        return -0.5 * (A / lam + B * lam) + r * c / s

    def f_b(lam: float) -> float:
        # f_b(λ) = −½ (q/λ + 2δλ)
        return -0.5 * (q / lam + 2 * delta * lam)

    # the pieces of λ > 0 on which ν*(λ) = max(0, (r + λc)/s) is positive (a) or zero (b)
    if abs(c) <= eps:
        piece_a, piece_b = ((0.0, math.inf), None) if r > 0 else (None, (0.0, math.inf))
    else:
        lam_mid = -r / c
        if c > 0:
            piece_a = (max(lam_mid, 0.0), math.inf)
            piece_b = (0.0, lam_mid) if lam_mid > 0 else None
        else:
            piece_a = (0.0, lam_mid) if lam_mid > 0 else None
            piece_b = (max(lam_mid, 0.0), math.inf)
    candidates = []
    if piece_a is not None:
        lam = min(max(math.sqrt(A / B) if B > eps else math.inf, piece_a[0] + eps), piece_a[1])
        if math.isfinite(lam):
            candidates.append((f_a(lam), lam))
    if piece_b is not None:
        lam = min(max(math.sqrt(q / (2 * delta)), piece_b[0] + eps), piece_b[1])
        candidates.append((f_b(lam), lam))
    if not candidates:  # B ≈ 0: the trust region only touches the feasible set
        return 0.0, -math.sqrt(2 * delta / s), "recovery"
    lam = max(candidates)[1]
    nu = max(0.0, (r + lam * c) / s)
    # x* = (1/λ)(H⁻¹g − ν H⁻¹b)
    return 1.0 / lam, -nu / lam, "dual"


def cpo_step(problem: LinearisedProblem, cfg: ConstrainedConfig) -> dict[str, float]:
    """Solve the CPO subproblem, then backtrack until the exact KL and the predicted cost are acceptable."""
    a, b_coef, case = cpo_direction(problem.q, problem.r, problem.s, problem.c, cfg.delta)
    step = a * problem.v + b_coef * problem.w
    reward_old, cost_old = problem.surrogate(), problem.cost_surrogate()
    tried: list[float] = []

    def accept() -> bool:
        kl = problem.mean_kl()
        tried.append(kl)
        d_reward, d_cost = problem.surrogate() - reward_old, problem.cost_surrogate() - cost_old
        # within the limit: c + Δcost ≤ 0; over it (recovery): the cost must not grow
        cost_ok = d_cost <= max(-problem.c, 0.0)
        return kl <= cfg.delta and cost_ok and (d_reward >= 0 or case == "recovery")

    accepted, backtracks = backtracking_line_search(problem.params, problem.start, step, accept,
                                                    cfg.max_backtracks, cfg.backtrack_coef)
    return {"kl": problem.mean_kl(), "kl_full_step": tried[0], "accepted": float(accepted),
            "backtracks": float(backtracks), "recovery": float(case == "recovery"),
            "constraint_active": float(case == "dual"),
            "predicted_cost_change": problem.cost_surrogate() - cost_old}


def train(env_id: str, cfg: CPOConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train CPO on a constrained env (one whose steps report `info["cost"]`)."""
    return train_constrained("cpo", cpo_step, env_id, cfg, total_steps=total_steps, seed=seed, log=log,
                             prefix=prefix, device=device, env_kwargs=env_kwargs)
