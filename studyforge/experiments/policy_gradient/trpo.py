"""Trust Region Policy Optimization.

Schulman, Levine, Moritz, Jordan & Abbeel, 2015, "Trust Region Policy Optimization", arXiv 1502.05477.

Maximise the importance-sampled surrogate subject to a hard bound on how far the policy moves:

    maximise_θ  L(θ) = E_t[ π_θ(a_t|s_t) / π_old(a_t|s_t) · Â_t ]
    subject to  KL̄(θ) = E_s[ KL(π_old(·|s) ‖ π_θ(·|s)) ] ≤ δ

Linearising L and taking the quadratic model ½ xᵀ F x of the KL gives the natural-gradient direction
F⁻¹ g (solved by conjugate gradient) with the largest step on the ellipsoid, x = √(2δ / gᵀF⁻¹g) F⁻¹ g.
The quadratic model can be wrong, so a backtracking line search shrinks the step until the *exact* KL is
≤ δ and the surrogate actually improved — that check is what separates TRPO from the natural policy
gradient (`npg.py`), and why every accepted TRPO update satisfies KL ≤ δ.

The critic V is fitted by regression on the GAE λ-returns after each policy step.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.networks import Agent, categorical_kl, log_prob
from studyforge.experiments.policy_gradient.trust_region import (
    TrustRegionConfig,
    backtracking_line_search,
    conjugate_gradient,
    fisher_vector_product,
    flat_grad,
    flat_params,
    train_trust_region,
)
from studyforge.experiments.rl.training import LogFn, TrainResult


class TRPOConfig(TrustRegionConfig):
    max_backtracks: int = Field(10, ge=1, description="line-search steps before the update is rejected")
    backtrack_coef: float = Field(0.8, gt=0, lt=1, description="step shrink factor per backtrack")


def trpo_step(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor, delta: float,
              cg_iters: int = 10, damping: float = 0.01, max_backtracks: int = 10,
              backtrack_coef: float = 0.8) -> dict[str, float]:
    """One TRPO policy update on a batch (obs (B, …), actions (B,), advantages (B,)); returns diagnostics.

    `kl` is the exact mean KL(π_old ‖ π_new) over the batch after the step: ≤ δ whenever `accepted`.
    """
    params = agent.policy_parameters()
    with torch.no_grad():
        old_logits = agent.logits(obs)
        old_logp = log_prob(old_logits, actions)

    def surrogate() -> torch.Tensor:
        # L(θ) = E[π_θ(a|s) / π_old(a|s) · Â]
        return (torch.exp(log_prob(agent.logits(obs), actions) - old_logp) * adv).mean()

    def mean_kl() -> torch.Tensor:
        # KL̄(θ) = E_s KL(π_old(·|s) ‖ π_θ(·|s))
        return categorical_kl(old_logits, agent.logits(obs)).mean()

    loss_old = surrogate()
    g = flat_grad(loss_old, params)
    fvp = fisher_vector_product(mean_kl, params, damping)
    # x ≈ F⁻¹ g by conjugate gradient
    direction = conjugate_gradient(fvp, g, cg_iters)
    # β = √(2δ / xᵀ F x): the step that reaches KL ≈ δ under the quadratic model
    shs = float(direction @ fvp(direction))
    step = math.sqrt(2 * delta / max(shs, 1e-12)) * direction
    expected = float(g @ step)
    start = flat_params(params)
    surrogate_old = loss_old.item()
    tried: list[tuple[float, float]] = []  # (KL, surrogate improvement) of every step tried

    def accept() -> bool:
        with torch.no_grad():
            kl, improvement = float(mean_kl()), float(surrogate()) - surrogate_old
        tried.append((kl, improvement))
        return kl <= delta and improvement > 0

    accepted, backtracks = backtracking_line_search(params, start, step, accept, max_backtracks,
                                                    backtrack_coef)
    with torch.no_grad():
        kl_final = float(mean_kl())
    return {"accepted": float(accepted), "backtracks": float(backtracks), "kl": kl_final,
            "kl_full_step": tried[0][0], "improvement": tried[-1][1] if accepted else 0.0,
            "expected_improvement": expected,
            "step_norm": float(step.norm()) * (backtrack_coef ** backtracks if accepted else 0.0)}


def train(env_id: str, cfg: TRPOConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train TRPO on `env_id` for `total_steps` environment steps (the loop is
    `trust_region.train_trust_region`, shared with NPG)."""
    def step(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor) -> dict[str, float]:
        return trpo_step(agent, obs, actions, adv, cfg.delta, cfg.cg_iters, cfg.cg_damping, cfg.max_backtracks,
                         cfg.backtrack_coef)

    return train_trust_region("trpo", step, env_id, cfg, total_steps=total_steps, seed=seed, log=log,
                              prefix=prefix, device=device, env_kwargs=env_kwargs)
