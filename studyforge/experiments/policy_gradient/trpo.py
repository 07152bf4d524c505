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
import time

import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.advantages import gae, normalize
from studyforge.experiments.policy_gradient.core import AlgoConfig, LogFn, Recorder, TrainResult, seed_all
from studyforge.experiments.policy_gradient.envs import env_spec, make_vector_env
from studyforge.experiments.policy_gradient.networks import Agent, categorical_kl, log_prob, make_agent
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.policy_gradient.trust_region import (
    backtracking_line_search,
    conjugate_gradient,
    fisher_vector_product,
    fit_value,
    flat_grad,
    flat_params,
)


class TRPOConfig(AlgoConfig):
    num_envs: int = Field(8, ge=1, description="parallel environments")
    num_steps: int = Field(128, ge=1, description="steps per environment per batch")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ")
    delta: float = Field(0.01, gt=0, description="trust-region radius δ on the mean KL")
    cg_iters: int = Field(10, ge=1, description="conjugate-gradient iterations")
    cg_damping: float = Field(0.01, ge=0, description="damping added to the Fisher matrix (Baselines' 1e-2)")
    max_backtracks: int = Field(10, ge=1, description="line-search steps before the update is rejected")
    backtrack_coef: float = Field(0.8, gt=0, lt=1, description="step shrink factor per backtrack")
    vf_lr: float = Field(1e-3, gt=0, description="critic Adam step size")
    vf_epochs: int = Field(5, ge=1, description="critic regression passes per batch")
    vf_minibatch_size: int = Field(256, ge=1, description="critic minibatch size")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")


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
    """Train TRPO on `env_id` for `total_steps` environment steps."""
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
        info = trpo_step(agent, b_obs, ro.actions.reshape(-1), normalize(advantages.reshape(-1)), cfg.delta,
                         cfg.cg_iters, cfg.cg_damping, cfg.max_backtracks, cfg.backtrack_coef)
        v_loss = fit_value(agent.value, vf_optimizer, b_obs, returns.reshape(-1), cfg.vf_epochs,
                           cfg.vf_minibatch_size)
        rec.update(collector.global_step, **{f"trpo/{k}": v for k, v in info.items()},
                   **{"losses/value_loss": v_loss, "losses/kl_moved": info["kl"], "charts/delta": cfg.delta})
    rec.flush(collector.global_step)
    envs.close()
    return TrainResult.from_recorder("trpo", env_id, seed, agent, collector.global_step, started, rec)
