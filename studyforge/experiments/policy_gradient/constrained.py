"""Shared machinery of the trust-region constrained methods (CPO, PCPO): the linearised problem and the loop.

A constrained MDP adds a cost c_t to every step and asks for J_C(π) = E_τ[Σ_t c_t] ≤ d, the cost limit.
Around the current policy θ_k both objectives are linearised in the step x = θ − θ_k, and the KL is
replaced by its quadratic model ½ xᵀ H x with H the Fisher matrix:

    maximise  gᵀ x    subject to   c + bᵀ x ≤ 0,   ½ xᵀ H x ≤ δ

g = ∇ E[r_t Â_t] (the reward surrogate's gradient, r_t the probability ratio), c = Ĵ_C − d (how far the
current policy is over the limit; < 0 when it is within), and b the gradient of the predicted change in
episode cost. By the performance-difference lemma the episode cost of the new policy is
J_C(π') − J_C(π) = E_{τ∼π'}[Σ_t A_C(s_t, a_t)] ≈ L̄ · E_t[r_t Â^C_t] with L̄ the mean episode length, so
b = L̄ ∇ E[r_t Â^C_t] puts bᵀx in the same units (cost per episode) as c. The cost advantages Â^C come from
GAE on the costs with a separate cost critic V_C; they are centred but not rescaled (their scale matters).

The four products the solvers need are q = gᵀH⁻¹g, r = gᵀH⁻¹b, s = bᵀH⁻¹b and c, with H⁻¹g and H⁻¹b solved
by conjugate gradient.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.advantages import gae, normalize
from studyforge.experiments.policy_gradient.networks import Agent, categorical_kl, log_prob, make_agent
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.policy_gradient.trpo import TRPOConfig
from studyforge.experiments.policy_gradient.trust_region import (
    conjugate_gradient,
    fisher_vector_product,
    fit_value,
    flat_grad,
    flat_params,
)
from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.training import LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class ConstrainedConfig(TRPOConfig):
    """TRPO's hyperparameters (the KL trust region and its line search) plus the cost side."""

    num_steps: int = Field(256, ge=1, description="steps per environment per batch")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ of the reward")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ of the reward")
    cost_gamma: float = Field(0.99, ge=0, le=1, description="discount factor of the cost critic")
    cost_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ of the cost advantages")
    cost_limit: float = Field(25.0, ge=0, description="d: the allowed expected cost per episode")
    cost_window: int = Field(20, ge=1, description="recent episodes averaged into the estimate of J_C")
    vf_lr: float = Field(1e-3, gt=0, description="Adam step size of both critics")


@dataclass
class LinearisedProblem:
    """The QCQP of one update (module docstring), with what the line search needs to evaluate a step."""

    params: list[torch.nn.Parameter]
    start: torch.Tensor  # θ_k, flat
    v: torch.Tensor  # H⁻¹ g
    w: torch.Tensor  # H⁻¹ b
    q: float  # gᵀ H⁻¹ g
    r: float  # gᵀ H⁻¹ b
    s: float  # bᵀ H⁻¹ b
    c: float  # Ĵ_C − d
    b: torch.Tensor  # the cost gradient (PCPO's L2 projection needs it)
    surrogate: Callable[[], float]  # E[r_t Â_t] at the current parameters
    cost_surrogate: Callable[[], float]  # L̄ E[r_t Â^C_t]
    mean_kl: Callable[[], float]  # E_s KL(π_k ‖ π_θ)


def linearise(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor,
              cost_adv: torch.Tensor, c: float, horizon: float, cg_iters: int, damping: float
              ) -> LinearisedProblem:
    """Build the linearised constrained problem at the agent's current policy on one batch."""
    params = agent.policy_parameters()
    with torch.no_grad():
        old_logits = agent.logits(obs)
        old_logp = log_prob(old_logits, actions)

    def ratio() -> torch.Tensor:
        # r_t(θ) = π_θ(a|s) / π_k(a|s)
        return torch.exp(log_prob(agent.logits(obs), actions) - old_logp)

    def kl() -> torch.Tensor:
        return categorical_kl(old_logits, agent.logits(obs)).mean()

    rho = ratio()
    # g = ∇ E[r_t Â_t],  b = L̄ ∇ E[r_t Â^C_t]
    g = flat_grad((rho * adv).mean(), params, retain_graph=True)
    b = flat_grad(horizon * (rho * cost_adv).mean(), params)
    fvp = fisher_vector_product(kl, params, damping)
    v = conjugate_gradient(fvp, g, cg_iters)
    w = conjugate_gradient(fvp, b, cg_iters)

    def evaluate(fn: Callable[[], torch.Tensor]) -> Callable[[], float]:
        def run() -> float:
            with torch.no_grad():
                return float(fn())
        return run

    return LinearisedProblem(
        params=params, start=flat_params(params), v=v, w=w, q=float(g @ v), r=float(g @ w), s=float(b @ w),
        c=c, b=b, surrogate=evaluate(lambda: (ratio() * adv).mean()),
        cost_surrogate=evaluate(lambda: horizon * (ratio() * cost_adv).mean()), mean_kl=evaluate(kl))


StepFn = Callable[[LinearisedProblem, ConstrainedConfig], dict[str, float]]


def train_constrained(algo: str, step_fn: StepFn, env_id: str, cfg: ConstrainedConfig, *, total_steps: int,
                      seed: int, log: LogFn | None = None, prefix: str = "", device: str = "cpu",
                      env_kwargs: dict | None = None) -> TrainResult:
    """The loop CPO and PCPO share: collect, estimate both advantages and J_C, take `step_fn`'s step, fit
    both critics. `step_fn(problem, cfg)` moves the policy parameters and returns its diagnostics."""
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden), cost_critic=True).to(device)
    vf_optimizer = torch.optim.Adam([*agent.critic.parameters(), *agent.cost_critic.parameters()],
                                    lr=cfg.vf_lr)
    rec = Recorder(log, prefix)
    collector = RolloutCollector(envs, agent, cfg.num_steps, cfg.gamma, seed, rec, device, track_cost=True,
                                 cost_gamma=cfg.cost_gamma)
    batch_size = cfg.num_envs * cfg.num_steps

    for _update in range(-(-total_steps // batch_size)):
        ro = collector.collect()
        adv, returns = gae(ro.rewards, ro.values, ro.dones, ro.next_value, ro.next_done, cfg.gamma,
                           cfg.gae_lambda)
        cost_adv, cost_returns = gae(ro.costs, ro.cost_values, ro.dones, ro.next_cost_value, ro.next_done,
                                     cfg.cost_gamma, cfg.cost_lambda)
        # Ĵ_C and L̄ from the most recent finished episodes (the batch length before any has finished)
        recent_costs = rec.episode_costs[-cfg.cost_window:]
        ep_cost = float(np.mean(recent_costs)) if recent_costs else 0.0
        horizon = float(np.mean(rec.episode_lengths[-cfg.cost_window:])) if recent_costs else cfg.num_steps
        b_obs = ro.obs.reshape(batch_size, *obs_shape)
        b_cost_adv = cost_adv.reshape(-1)
        problem = linearise(agent, b_obs, ro.actions.reshape(-1), normalize(adv.reshape(-1)),
                            b_cost_adv - b_cost_adv.mean(), ep_cost - cfg.cost_limit, horizon, cfg.cg_iters,
                            cfg.cg_damping)
        info = step_fn(problem, cfg)
        fit_value(agent.value, vf_optimizer, b_obs, returns.reshape(-1), cfg.vf_epochs, cfg.vf_minibatch_size)
        fit_value(agent.cost_value, vf_optimizer, b_obs, cost_returns.reshape(-1), cfg.vf_epochs,
                  cfg.vf_minibatch_size)
        rec.update(collector.global_step, **{f"{algo}/{k}": v for k, v in info.items()}, **{
            "losses/kl_moved": info["kl"], "charts/delta": cfg.delta, "charts/cost_limit": cfg.cost_limit,
            "charts/cost_estimate": ep_cost, "constraint/c": problem.c, "constraint/q": problem.q,
            "constraint/r": problem.r, "constraint/s": problem.s})
    rec.flush(collector.global_step)
    envs.close()
    return TrainResult.from_recorder(algo, env_id, seed, agent, collector.global_step, started, rec)
