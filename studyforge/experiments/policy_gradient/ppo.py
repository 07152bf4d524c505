"""Proximal Policy Optimization, clipped and adaptive-KL.

Schulman, Wolski, Dhariwal, Radford & Klimov, 2017, "Proximal Policy Optimization Algorithms",
arXiv 1707.06347.

TRPO keeps each update inside a KL trust region with a second-order solve. PPO gets most of the benefit
with first-order SGD over several epochs of the same batch, by making the objective itself stop rewarding
moves far from the policy that collected the data. With the probability ratio r_t(θ) = π_θ(a_t|s_t) /
π_old(a_t|s_t):

    L^CLIP(θ) = E_t[ min(r_t Â_t, clip(r_t, 1 − ε, 1 + ε) Â_t) ]         (objective = "clip")
    L^KLPEN(θ) = E_t[ r_t Â_t − β KL[π_old(·|s_t), π_θ(·|s_t)] ]           (objective = "kl")

with β adapted after each update: halved when the measured KL < d_targ / 1.5, doubled when > 1.5 d_targ.
`objective = "none"` is the bare importance-sampled surrogate E_t[r_t Â_t], the paper's "no clipping or
penalty" row — what PPO is without its constraint.

The implementation details follow Huang et al., 2022 ("The 37 Implementation Details of Proximal Policy
Optimization") and CleanRL's `ppo.py`: GAE advantages, advantage normalisation per minibatch, optional value
clipping, learning rate (and clip range) annealed linearly to 0, orthogonal initialisation, Adam with
ε = 1e-5, global gradient-norm clipping. The defaults are rl-baselines3-zoo's tuned CartPole-v1 settings
(8 envs × 32 steps, 20 epochs of one 256-sample minibatch, γ = 0.98, λ = 0.8, lr and ε annealed from
1e-3 and 0.2), which solve CartPole in 100k steps.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.advantages import gae, normalize
from studyforge.experiments.policy_gradient.core import clip_grad_norm, explained_variance, linear_schedule
from studyforge.experiments.policy_gradient.networks import (
    Agent,
    categorical_kl,
    entropy,
    log_prob,
    make_agent,
)
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class PPOConfig(AlgoConfig):
    num_envs: int = Field(8, ge=1, description="parallel environments")
    num_steps: int = Field(32, ge=1, description="steps per environment per rollout (batch = envs × steps)")
    gamma: float = Field(0.98, ge=0, le=1, description="discount factor γ")
    gae_lambda: float = Field(0.8, ge=0, le=1, description="GAE λ")
    learning_rate: float = Field(1e-3, gt=0, description="Adam step size (start value when annealed)")
    anneal_lr: bool = Field(True, description="anneal the learning rate linearly to 0")
    update_epochs: int = Field(20, ge=1, description="passes over each batch")
    minibatch_size: int = Field(256, ge=1, description="samples per gradient step")
    objective: Literal["clip", "kl", "none"] = Field(
        "clip", description="clipped surrogate, adaptive-KL penalty, or the unconstrained surrogate")
    clip_coef: float = Field(0.2, gt=0, description="clip range ε of the ratio (start value when annealed)")
    anneal_clip: bool = Field(True, description="anneal ε linearly to 0 (as the zoo's lin_0.2)")
    kl_target: float = Field(0.01, gt=0, description="d_targ of the adaptive-KL objective")
    kl_beta: float = Field(1.0, gt=0, description="initial β of the adaptive-KL objective")
    norm_adv: bool = Field(True, description="normalise advantages within each minibatch")
    clip_vloss: bool = Field(False, description="clip the value update around the old values (CleanRL: on)")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus coefficient")
    # the zoo's (sb3's default) vf_coef 0.5 weighs sb3's unhalved MSE; our value_loss is ½ E[(V − R)²]
    vf_coef: float = Field(1.0, ge=0, description="value-loss coefficient c_V (on ½ MSE: sb3's 0.5 on MSE)")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient-norm clip")
    target_kl: float | None = Field(None, description="stop the epochs early when approx. KL exceeds this")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")
    adam_eps: float = Field(1e-5, gt=0, description="Adam's ε")
    record_ratios: bool = Field(False, description="keep π_new/π_old of every sample after each update")
    twin_networks: bool = Field(True, description="evaluate actor and critic as one batched chain "
                                                  "(`TwinMLPAgent`: same maths, fewer kernel launches)")


# -- the loss pieces, as functions of tensors (tested against hand-computed values) ----------------------

def clipped_surrogate_loss(ratio: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
    """−L^CLIP = −E[min(r Â, clip(r, 1−ε, 1+ε) Â)].

    ratio [1.5, 0.5], Â [1, 1], ε 0.2 -> −mean(min(1.5, 1.2), min(0.5, 0.8)) = −(1.2 + 0.5)/2 = −0.85
    """
    # min(r Â, clip(r, 1 − ε, 1 + ε) Â), written as a max of the negatives
    return torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()


def kl_penalty_loss(ratio: torch.Tensor, adv: torch.Tensor, kl: torch.Tensor, beta: float) -> torch.Tensor:
    """−L^KLPEN = −E[r Â − β KL[π_old, π]] (kl: per-state KL, (B,))."""
    return -(ratio * adv - beta * kl).mean()


def value_loss(new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               clip: float | None) -> torch.Tensor:
    """½ E[(V − R)²], or with clipping ½ E[max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²)].

    V [2], V_old [0], R [3], ε 0.5: unclipped ½(2−3)² = 0.5; clipped max(1, (0.5−3)²)/2 = 3.125
    """
    unclipped = (new_values - returns) ** 2
    if clip is None:
        return 0.5 * unclipped.mean()
    # V_clip = V_old + clip(V − V_old, −ε, ε)
    clipped_v = old_values + torch.clamp(new_values - old_values, -clip, clip)
    return 0.5 * torch.max(unclipped, (clipped_v - returns) ** 2).mean()


def approx_kl(logratio: torch.Tensor) -> torch.Tensor:
    """KL[π_old, π] ≈ E[(r − 1) − log r], Schulman's unbiased, always-positive "k3" estimator.

    >>> round(float(approx_kl(torch.log(torch.tensor([1.0, 2.0])))), 4)
    0.1534
    """
    return ((logratio.exp() - 1) - logratio).mean()


def clip_fraction(ratio: torch.Tensor, clip: float) -> torch.Tensor:
    """Fraction of samples whose ratio lies outside [1 − ε, 1 + ε]: `[0.7, 1.0, 1.3]`, 0.2 -> 2/3."""
    return ((ratio - 1.0).abs() > clip).float().mean()


def adapt_beta(beta: float, kl: float, target: float) -> float:
    """The paper's rule: β/2 when KL < d_targ/1.5, 2β when KL > 1.5 d_targ, else unchanged."""
    if kl < target / 1.5:
        return beta / 2
    if kl > target * 1.5:
        return beta * 2
    return beta


# -- the algorithm ------------------------------------------------------------------------------------------

def train(env_id: str, cfg: PPOConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None,
          agent: Agent | None = None) -> TrainResult:
    """Train PPO on `env_id` for `total_steps` environment steps (rounded up to whole rollouts)."""
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    agent = agent or make_agent(obs_shape, n_actions, tuple(cfg.hidden), twin=cfg.twin_networks)
    agent.to(device)
    params = list(agent.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, eps=cfg.adam_eps,
                                 fused=torch.device(device).type in ("cpu", "cuda"))
    rec = Recorder(log, prefix)
    collector = RolloutCollector(envs, agent, cfg.num_steps, cfg.gamma, seed, rec, device)
    batch_size = cfg.num_envs * cfg.num_steps
    num_updates = -(-total_steps // batch_size)
    beta = cfg.kl_beta
    ratios: list[np.ndarray] = []

    for update in range(num_updates):
        frac = update / num_updates
        lr = linear_schedule(cfg.learning_rate, frac) if cfg.anneal_lr else cfg.learning_rate
        clip = linear_schedule(cfg.clip_coef, frac) if cfg.anneal_clip else cfg.clip_coef
        for group in optimizer.param_groups:
            group["lr"] = lr

        ro = collector.collect()
        advantages, returns = gae(ro.rewards, ro.values, ro.dones, ro.next_value, ro.next_done,
                                  cfg.gamma, cfg.gae_lambda)
        # flatten the batch: (T, N, …) -> (T·N, …)
        b_obs = ro.obs.reshape(batch_size, *obs_shape)
        b_actions, b_logprobs = ro.actions.reshape(-1), ro.logprobs.reshape(-1)
        b_action_idx = b_actions.unsqueeze(-1)  # (B, 1), the index `gather` wants
        b_adv, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), ro.values.reshape(-1)
        with torch.no_grad():
            old_logits = agent.logits(b_obs)  # π_old(·|s) for the KL penalty and the diagnostics

        # one minibatch per epoch (the zoo's CartPole setting): no shuffling, normalise the advantages once
        whole = cfg.minibatch_size >= batch_size
        whole_adv = normalize(b_adv) if cfg.norm_adv else b_adv
        pg_losses, v_losses, ratios_seen = [], [], []
        for _epoch in range(cfg.update_epochs):
            perm = None if whole else torch.randperm(batch_size, device=device)
            for start in range(0, batch_size, cfg.minibatch_size):
                mb = slice(None) if whole else perm[start:start + cfg.minibatch_size]
                logits, new_values = agent.logits_and_value(b_obs[mb])
                logp_all = torch.log_softmax(logits, dim=-1)
                new_logp = logp_all.gather(-1, b_action_idx[mb]).squeeze(-1)
                # log r_t = log π_θ(a|s) − log π_old(a|s)
                logratio = new_logp - b_logprobs[mb]
                ratio = logratio.exp()
                adv = whole_adv if whole else (normalize(b_adv[mb]) if cfg.norm_adv else b_adv[mb])

                if cfg.objective == "clip":
                    pg_loss = clipped_surrogate_loss(ratio, adv, clip)
                elif cfg.objective == "kl":
                    pg_loss = kl_penalty_loss(ratio, adv, categorical_kl(old_logits[mb], logits), beta)
                else:
                    # −E[r Â]: the importance-sampled surrogate with nothing holding π near π_old
                    pg_loss = -(ratio * adv).mean()
                v_loss = value_loss(new_values, b_values[mb], b_returns[mb],
                                    clip if cfg.clip_vloss else None)
                # L = −L^π − c_H H[π] + c_V L^V, with H[π(·|s)] = −Σ_a π(a|s) log π(a|s)
                loss = pg_loss + cfg.vf_coef * v_loss
                if cfg.ent_coef:
                    loss = loss + cfg.ent_coef * (logp_all.exp() * logp_all).sum(-1).mean()

                for p in params:
                    p.grad = None
                loss.backward()
                clip_grad_norm(params, cfg.max_grad_norm)
                optimizer.step()
                pg_losses.append(pg_loss.detach())
                v_losses.append(v_loss.detach())
                ratios_seen.append(ratio.detach())
            if cfg.target_kl is not None and float(approx_kl(logratio.detach())) > cfg.target_kl:
                break
        with torch.no_grad():
            last_kl = float(approx_kl(logratio))  # CleanRL's reading: the last minibatch's estimate
            clipfrac = float(clip_fraction(torch.cat(ratios_seen), clip))
            pg_mean, v_mean = float(torch.stack(pg_losses).mean()), float(torch.stack(v_losses).mean())

        with torch.no_grad():
            new_logits = agent.logits(b_obs)
            # the distance actually moved: E_s KL[π_old(·|s) ‖ π_new(·|s)] over the batch
            kl_moved = float(categorical_kl(old_logits, new_logits).mean())
            ratio_after = (log_prob(new_logits, b_actions) - b_logprobs).exp()
            ent_mean = float(entropy(new_logits).mean())
        if cfg.objective == "kl":
            beta = adapt_beta(beta, kl_moved, cfg.kl_target)
        if cfg.record_ratios:
            ratios.append(ratio_after.cpu().numpy().astype(np.float32))
        rec.update(collector.global_step, **{
            "charts/learning_rate": lr, "charts/clip_coef": clip, "charts/kl_beta": beta,
            "losses/policy_loss": pg_mean, "losses/value_loss": v_mean, "losses/entropy": ent_mean,
            "losses/approx_kl": last_kl, "losses/clipfrac": clipfrac, "losses/kl_moved": kl_moved,
            "losses/ratio_max_dev": float((ratio_after - 1).abs().max()),
            "losses/clipfrac_after": float(clip_fraction(ratio_after, clip)) if clip > 0 else 0.0,
            "losses/explained_variance": explained_variance(b_values, b_returns),
        })
    rec.flush(collector.global_step)
    envs.close()
    return TrainResult.from_recorder("ppo", env_id, seed, agent, collector.global_step, started, rec,
                                     ratios=ratios)
