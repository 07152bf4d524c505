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
import time

import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.advantages import gae, normalize
from studyforge.experiments.policy_gradient.core import AlgoConfig, LogFn, Recorder, TrainResult, seed_all
from studyforge.experiments.policy_gradient.envs import env_spec, make_vector_env
from studyforge.experiments.policy_gradient.networks import Agent, categorical_kl, log_prob, make_agent
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.policy_gradient.trust_region import (
    conjugate_gradient,
    fisher_vector_product,
    fit_value,
    flat_grad,
    flat_params,
    set_flat_params,
)


class NPGConfig(AlgoConfig):
    num_envs: int = Field(8, ge=1, description="parallel environments")
    num_steps: int = Field(128, ge=1, description="steps per environment per batch")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ")
    delta: float = Field(0.01, gt=0, description="KL the normalised step aims for")
    cg_iters: int = Field(10, ge=1, description="conjugate-gradient iterations")
    cg_damping: float = Field(0.01, ge=0, description="damping added to the Fisher matrix (Baselines' 1e-2)")
    vf_lr: float = Field(1e-3, gt=0, description="critic Adam step size")
    vf_epochs: int = Field(5, ge=1, description="critic regression passes per batch")
    vf_minibatch_size: int = Field(256, ge=1, description="critic minibatch size")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")


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
    """Train the natural policy gradient on `env_id` for `total_steps` environment steps."""
    started = time.perf_counter()
    seed_all(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden)).to(device)
    vf_optimizer = torch.optim.Adam(agent.critic.parameters(), lr=cfg.vf_lr)
    rec = Recorder(log, prefix)
    collector = RolloutCollector(envs, agent, cfg.num_steps, cfg.gamma, seed, rec, device)
    batch_size = cfg.num_envs * cfg.num_steps

    for _update in range(-(-total_steps // batch_size)):
        ro = collector.collect()
        advantages, returns = gae(ro.rewards, ro.values, ro.dones, ro.next_value, ro.next_done,
                                  cfg.gamma, cfg.gae_lambda)
        b_obs = ro.obs.reshape(batch_size, *obs_shape)
        info = npg_step(agent, b_obs, ro.actions.reshape(-1), normalize(advantages.reshape(-1)), cfg.delta,
                        cfg.cg_iters, cfg.cg_damping)
        v_loss = fit_value(agent.value, vf_optimizer, b_obs, returns.reshape(-1), cfg.vf_epochs,
                           cfg.vf_minibatch_size)
        rec.update(collector.global_step, **{f"npg/{k}": v for k, v in info.items()},
                   **{"losses/value_loss": v_loss, "losses/kl_moved": info["kl"], "charts/delta": cfg.delta})
    rec.flush(collector.global_step)
    envs.close()
    return TrainResult.from_recorder("npg", env_id, seed, agent, collector.global_step, started, rec)
