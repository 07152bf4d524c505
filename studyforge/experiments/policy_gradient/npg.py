"""Natural policy gradient.

Kakade, 2001, "A Natural Policy Gradient" (NeurIPS 14; no arXiv id); the normalised step size used here
is from Rajeswaran, Lowrey, Todorov & Kakade, 2017, "Towards Generalization and Simplicity in Continuous
Control", arXiv 1703.02660.

The vanilla policy gradient g = E[∇ log π_θ(a|s) Â] is steepest ascent in parameter space, where a step of
fixed length can change the policy a lot or not at all depending on the parametrisation. The natural
gradient is steepest ascent in *distribution* space, with the KL divergence as the local metric: its
Hessian is the Fisher information F, so the direction is F⁻¹ g. With a step that moves the policy by
about δ under the quadratic model,

    θ ← θ + √(2δ / gᵀ F⁻¹ g) · F⁻¹ g

F⁻¹ g comes from conjugate gradient on Fisher-vector products (`trust_region.py`). Unlike TRPO there is no
line search: the quadratic model is trusted, and the study measures how far the exact KL lands from δ.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.networks import Agent, categorical_kl, log_prob
from studyforge.experiments.policy_gradient.trust_region import (
    TrustRegionConfig,
    conjugate_gradient,
    fisher_vector_product,
    flat_grad,
    flat_params,
    set_flat_params,
    train_trust_region,
)
from studyforge.experiments.rl.training import LogFn, TrainResult


class NPGConfig(TrustRegionConfig):
    delta: float = Field(0.01, gt=0, description="KL the normalised step aims for")


def npg_step(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor, delta: float,
             cg_iters: int = 10, damping: float = 0.01) -> dict[str, float]:
    """One natural-gradient step on a batch; returns the exact KL it caused and the step's size."""
    params = agent.policy_parameters()
    with torch.no_grad():
        old_logits = agent.logits(obs)
    # the policy gradient g = ∇_θ E[log π_θ(a|s) Â]
    objective = (log_prob(agent.logits(obs), actions) * adv).mean()
    g = flat_grad(objective, params)
    fvp = fisher_vector_product(lambda: categorical_kl(old_logits, agent.logits(obs)).mean(), params, damping)
    # x ≈ F⁻¹ g
    direction = conjugate_gradient(fvp, g, cg_iters)
    # α = √(2δ / gᵀF⁻¹g), with gᵀF⁻¹g ≈ xᵀ F x
    step_size = math.sqrt(2 * delta / max(float(direction @ fvp(direction)), 1e-12))
    set_flat_params(params, flat_params(params) + step_size * direction)
    with torch.no_grad():
        kl = float(categorical_kl(old_logits, agent.logits(obs)).mean())
    return {"kl": kl, "step_size": step_size, "grad_norm": float(g.norm()),
            "natural_grad_norm": float(direction.norm())}


def train(env_id: str, cfg: NPGConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train the natural policy gradient on `env_id` for `total_steps` environment steps (the loop is
    `trust_region.train_trust_region`, shared with TRPO)."""
    def step(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor) -> dict[str, float]:
        return npg_step(agent, obs, actions, adv, cfg.delta, cfg.cg_iters, cfg.cg_damping)

    return train_trust_region("npg", step, env_id, cfg, total_steps=total_steps, seed=seed, log=log,
                              prefix=prefix, device=device, env_kwargs=env_kwargs)
