"""Advantage actor-critic (A2C): synchronous n-step actor-critic over parallel environments.

Mnih, Badia, Mirza, Graves, Lillicrap, Harley, Silver & Kavukcuoglu, 2016, "Asynchronous Methods for Deep
Reinforcement Learning", arXiv 1602.01783. A3C runs actor-learners asynchronously; A2C (OpenAI Baselines,
2017) is its synchronous variant: N environments step in lock step, and after every n steps one gradient
step is taken on the N·n transitions.

The critic turns REINFORCE's Monte-Carlo return into an n-step bootstrapped one, which is what makes
updates every few steps possible:

    R_t = r_t + γ r_{t+1} + … + γ^{n−1} r_{t+n−1} + γ^n V(s_{t+n})      (GAE with λ = 1 over the rollout)
    Â_t = R_t − V(s_t)
    L = −E[log π(a_t|s_t) Â_t] + c_V · ½ E[(V(s_t) − R_t)²] − c_H · E[H[π(·|s_t)]]

Defaults are rl-baselines3-zoo's CartPole-v1 settings for A2C (8 envs, n = 5, γ = 0.99, RMSprop with
lr 7e-4, α = 0.99, ε = 1e-5, no entropy bonus, gradient norm clipped at 0.5). c_V = 1 with the ½ in L^V
equals stable-baselines3's 0.5 × MSE.
"""

from __future__ import annotations

import time
from typing import Literal

import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.advantages import gae, normalize
from studyforge.experiments.policy_gradient.core import explained_variance, linear_schedule
from studyforge.experiments.policy_gradient.networks import make_agent
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class A2CConfig(AlgoConfig):
    num_envs: int = Field(8, ge=1, description="parallel environments")
    num_steps: int = Field(5, ge=1, description="n of the n-step return (steps per env per update)")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    gae_lambda: float = Field(1.0, ge=0, le=1, description="λ (1: plain n-step returns, as in the paper)")
    learning_rate: float = Field(7e-4, gt=0, description="optimizer step size")
    anneal_lr: bool = Field(False, description="anneal the learning rate linearly to 0")
    optimizer: Literal["rmsprop", "adam"] = Field("rmsprop", description="RMSprop (the paper's) or Adam")
    rms_alpha: float = Field(0.99, gt=0, lt=1, description="RMSprop smoothing constant")
    eps: float = Field(1e-5, gt=0, description="optimizer ε")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus coefficient c_H")
    vf_coef: float = Field(1.0, ge=0, description="value-loss coefficient c_V (on ½ MSE)")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient-norm clip")
    norm_adv: bool = Field(False, description="normalise advantages per batch")
    hidden: list[int] = Field(default_factory=lambda: [64, 64],
                              description="hidden layer widths (MLP agents)")


def train(env_id: str, cfg: A2CConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train A2C on `env_id` for `total_steps` environment steps."""
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden)).to(device)
    params = list(agent.parameters())
    if cfg.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(params, lr=cfg.learning_rate, alpha=cfg.rms_alpha, eps=cfg.eps)
    else:
        optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, eps=cfg.eps)
    rec = Recorder(log, prefix)
    collector = RolloutCollector(envs, agent, cfg.num_steps, cfg.gamma, seed, rec, device)
    batch_size = cfg.num_envs * cfg.num_steps
    num_updates = -(-total_steps // batch_size)

    for update in range(num_updates):
        lr = linear_schedule(cfg.learning_rate, update / num_updates) if cfg.anneal_lr else cfg.learning_rate
        for group in optimizer.param_groups:
            group["lr"] = lr
        ro = collector.collect()
        # R_t and Â_t = R_t − V(s_t), bootstrapped from V(s_{t+n}) at the end of the rollout
        advantages, returns = gae(ro.rewards, ro.values, ro.dones, ro.next_value, ro.next_done,
                                  cfg.gamma, cfg.gae_lambda)
        b_obs = ro.obs.reshape(batch_size, *obs_shape)
        b_adv, b_returns = advantages.reshape(-1), returns.reshape(-1)
        if cfg.norm_adv:
            b_adv = normalize(b_adv)

        logits, values = agent.logits_and_value(b_obs)
        logp_all = torch.log_softmax(logits, dim=-1)
        logp = logp_all.gather(-1, ro.actions.reshape(-1, 1)).squeeze(-1)
        # −E[log π(a|s) Â]
        pg_loss = -(logp * b_adv).mean()
        # ½ E[(V(s) − R)²]
        v_loss = 0.5 * ((values - b_returns) ** 2).mean()
        # E[H[π(·|s)]]
        ent = -(logp_all.exp() * logp_all).sum(-1).mean()
        loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * ent

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        rec.update(collector.global_step, **{
            "charts/learning_rate": lr, "losses/policy_loss": pg_loss.item(),
            "losses/value_loss": v_loss.item(), "losses/entropy": ent.item(),
            "losses/grad_norm": grad_norm.item(),
            "losses/explained_variance": explained_variance(ro.values.reshape(-1), b_returns)})
    rec.flush(collector.global_step)
    envs.close()
    return TrainResult.from_recorder("a2c", env_id, seed, agent, collector.global_step, started, rec)
