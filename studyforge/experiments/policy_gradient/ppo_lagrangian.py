"""PPO-Lagrangian: the primal–dual approach to a cost constraint.

Ray, Achiam & Amodei, 2019, "Benchmarking Safe Exploration in Deep Reinforcement Learning" (OpenAI
technical report, no arXiv id); the Lagrangian relaxation of constrained MDPs goes back to Altman, 1999,
and to Tessler, Mankowitz & Mannor, 2018, "Reward Constrained Policy Optimization", arXiv 1805.11074.

Instead of solving a constrained step (CPO, PCPO), relax the constraint J_C(π) ≤ d into a penalty with a
learned multiplier λ ≥ 0 and play a two-player game:

    max_θ min_{λ≥0}  J_R(π_θ) − λ (J_C(π_θ) − d)

The policy player takes ordinary PPO steps on the penalised advantage (scaled so its size does not grow
with λ), and the multiplier player takes projected gradient steps on the measured violation:

    Â_t = (Â^R_t − λ Â^C_t) / (1 + λ)
    λ ← max(0, λ + η_λ (Ĵ_C − d))

The constraint holds only on average over training, and λ lags the violation, so episode costs typically
oscillate around d before settling — the behaviour the constraint study contrasts with CPO's per-update
guarantee. This is the plan's "primal–dual" reading of PCPO.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.advantages import gae, normalize
from studyforge.experiments.policy_gradient.core import linear_schedule
from studyforge.experiments.policy_gradient.networks import log_prob, make_agent
from studyforge.experiments.policy_gradient.ppo import PPOConfig, approx_kl, clipped_surrogate_loss
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.training import LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class PPOLagrangianConfig(PPOConfig):
    cost_limit: float = Field(25.0, ge=0, description="d: the allowed expected cost per episode")
    cost_gamma: float = Field(0.99, ge=0, le=1, description="discount factor of the cost critic")
    cost_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ of the cost advantages")
    cost_window: int = Field(20, ge=1, description="recent episodes averaged into the estimate of J_C")
    lagrangian_lr: float = Field(0.05, gt=0, description="η_λ: step size of the multiplier")
    lagrangian_init: float = Field(0.0, ge=0, description="initial λ")


def train(env_id: str, cfg: PPOLagrangianConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train PPO-Lagrangian on a constrained env (one whose steps report `info["cost"]`)."""
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden), cost_critic=True).to(device)
    params = list(agent.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, eps=cfg.adam_eps)
    rec = Recorder(log, prefix)
    collector = RolloutCollector(envs, agent, cfg.num_steps, cfg.gamma, seed, rec, device, track_cost=True,
                                 cost_gamma=cfg.cost_gamma)
    batch_size = cfg.num_envs * cfg.num_steps
    num_updates = -(-total_steps // batch_size)
    lam = cfg.lagrangian_init

    for update in range(num_updates):
        frac = update / num_updates
        lr = linear_schedule(cfg.learning_rate, frac) if cfg.anneal_lr else cfg.learning_rate
        clip = linear_schedule(cfg.clip_coef, frac) if cfg.anneal_clip else cfg.clip_coef
        for group in optimizer.param_groups:
            group["lr"] = lr
        ro = collector.collect()
        adv, returns = gae(ro.rewards, ro.values, ro.dones, ro.next_value, ro.next_done, cfg.gamma,
                           cfg.gae_lambda)
        cost_adv, cost_returns = gae(ro.costs, ro.cost_values, ro.dones, ro.next_cost_value, ro.next_done,
                                     cfg.cost_gamma, cfg.cost_lambda)
        # the dual step on the measured violation: λ ← max(0, λ + η_λ (Ĵ_C − d))
        recent = rec.episode_costs[-cfg.cost_window:]
        ep_cost = float(np.mean(recent)) if recent else 0.0
        lam = max(0.0, lam + cfg.lagrangian_lr * (ep_cost - cfg.cost_limit))
        # Â = (Â^R − λ Â^C) / (1 + λ)
        b_adv = ((adv - lam * cost_adv) / (1 + lam)).reshape(-1)

        b_obs = ro.obs.reshape(batch_size, *obs_shape)
        b_actions, b_logprobs = ro.actions.reshape(-1), ro.logprobs.reshape(-1)
        b_returns, b_cost_returns = returns.reshape(-1), cost_returns.reshape(-1)
        for _epoch in range(cfg.update_epochs):
            perm = torch.randperm(batch_size, device=device)
            for start in range(0, batch_size, cfg.minibatch_size):
                mb = perm[start:start + cfg.minibatch_size]
                logratio = log_prob(agent.logits(b_obs[mb]), b_actions[mb]) - b_logprobs[mb]
                mb_adv = normalize(b_adv[mb]) if cfg.norm_adv and len(mb) > 1 else b_adv[mb]
                pg_loss = clipped_surrogate_loss(logratio.exp(), mb_adv, clip)
                # both critics regress on their λ-returns: ½ E[(V − R)²] + ½ E[(V_C − R_C)²]
                v_loss = 0.5 * ((agent.value(b_obs[mb]) - b_returns[mb]) ** 2).mean()
                vc_loss = 0.5 * ((agent.cost_value(b_obs[mb]) - b_cost_returns[mb]) ** 2).mean()
                loss = pg_loss + cfg.vf_coef * (v_loss + vc_loss)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
        rec.update(collector.global_step, **{
            "lagrangian/lambda": lam, "charts/cost_estimate": ep_cost, "charts/cost_limit": cfg.cost_limit,
            "losses/policy_loss": pg_loss.item(), "losses/value_loss": v_loss.item(),
            "losses/cost_value_loss": vc_loss.item(),
            "losses/approx_kl": float(approx_kl(logratio.detach()))})
    rec.flush(collector.global_step)
    envs.close()
    return TrainResult.from_recorder("ppo_lagrangian", env_id, seed, agent, collector.global_step, started,
                                     rec)
