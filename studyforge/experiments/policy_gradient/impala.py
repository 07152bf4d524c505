"""IMPALA / APPO-style actor–learner with lagging actors, corrected (or not) by V-trace.

Espeholt et al., 2018, "IMPALA: Scalable Distributed Deep-RL with Importance Weighted Actor-Learner
Architectures", arXiv 1802.01561. APPO (asynchronous PPO, as in RLlib and Sample Factory — Petrenko et al.,
2020, arXiv 2006.11751) swaps IMPALA's policy-gradient loss for PPO's clipped surrogate on the same
V-trace targets.

In IMPALA the actors never wait for the learner: each acts with the last parameters it received, so its
behaviour policy μ is the learner's policy π from some updates ago. The learner's update is then
off-policy, and V-trace (`vtrace.py`) corrects it with truncated importance weights ρ = min(1, π/μ):

    v_s = V(x_s) + Σ_t γ^{t−s} (Π c_i) ρ_t (r_t + γ V(x_{t+1}) − V(x_t))      (value targets)
    L = −E[ρ_s (r_s + γ v_{s+1} − V(x_s)) log π(a_s|x_s)] + c_V ½ E[(v_s − V(x_s))²] − c_H E[H[π]]

`correction="none"` pretends the data is on-policy (all ratios 1: plain n-step returns and advantages),
which is what the V-trace study compares against. `objective="appo"` uses the clipped surrogate
min(r Â, clip(r, 1±ε) Â) with r = π/μ and Â = r_s + γ v_{s+1} − V(x_s).

The lag here is exact and deterministic: actors act with the learner's parameters from `policy_lag`
updates ago (a queue of snapshots), so the study can vary it as the independent variable. The real
thing — actor processes refreshing their copy whenever the learner publishes — is `actors="processes"`
(`_train_with_processes`), where the lag is whatever the machine makes it and is measured, not set.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from typing import Literal

import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.networks import make_agent
from studyforge.experiments.policy_gradient.storage import Rollout, RolloutCollector
from studyforge.experiments.policy_gradient.vtrace import vtrace
from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class ImpalaConfig(AlgoConfig):
    num_envs: int = Field(8, ge=1, description="environments stepped by the actors")
    unroll_length: int = Field(20, ge=1, description="steps per environment per learner batch")
    policy_lag: int = Field(0, ge=0, description="learner updates between the actors' copy and π")
    correction: Literal["vtrace", "none"] = Field("vtrace", description="V-trace, or treat data as on-policy")
    objective: Literal["impala", "appo"] = Field("impala", description="IMPALA's PG loss or APPO's clip")
    clip_coef: float = Field(0.2, gt=0, description="APPO's clip range ε")
    rho_bar: float = Field(1.0, gt=0, description="ρ̄: truncation of the value-target weights")
    pg_rho_bar: float = Field(1.0, gt=0, description="ρ̄^pg: truncation of the policy-gradient weights")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    learning_rate: float = Field(7e-4, gt=0, description="RMSprop step size")
    rms_alpha: float = Field(0.99, gt=0, lt=1, description="RMSprop smoothing constant")
    eps: float = Field(1e-5, gt=0, description="RMSprop ε")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus coefficient")
    vf_coef: float = Field(1.0, ge=0, description="value-loss coefficient (on ½ MSE)")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient-norm clip")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")
    actors: Literal["simulated", "processes"] = Field(
        "simulated", description="exact lag in-process, or real actor processes (lag measured, not set)")
    num_actor_processes: int = Field(2, ge=1, description="actor processes (actors='processes')")


def learner_loss(agent, ro: Rollout, cfg: ImpalaConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The learner's loss on one batch of (possibly stale) experience, and its diagnostics."""
    T, N = ro.num_steps, ro.num_envs
    logits, values = agent.logits_and_value(ro.obs.reshape(T * N, *ro.obs.shape[2:]))
    logp_all = torch.log_softmax(logits, dim=-1)
    target_logp = logp_all.gather(-1, ro.actions.reshape(-1, 1)).view(T, N)
    values = values.view(T, N)
    with torch.no_grad():
        bootstrap = agent.value(ro.next_obs)
    # γ_t = γ (1 − d_{t+1}): zero where the episode ended after step t
    next_dones = torch.cat([ro.dones[1:], ro.next_done.unsqueeze(0)], dim=0)
    discounts = cfg.gamma * (1.0 - next_dones)
    # log ρ_t = log π(a_t|x_t) − log μ(a_t|x_t)
    log_rhos = target_logp.detach() - ro.logprobs
    used = log_rhos if cfg.correction == "vtrace" else torch.zeros_like(log_rhos)
    vs, pg_adv = vtrace(used, discounts, ro.rewards, values.detach(), bootstrap, cfg.rho_bar, cfg.pg_rho_bar)
    if cfg.objective == "impala":
        # −E[ρ^pg (r + γ v_{s+1} − V) log π(a|x)]
        pg_loss = -(pg_adv * target_logp).mean()
    else:
        # APPO: Â = r + γ v_{s+1} − V (the ρ^pg factor is replaced by the ratio inside the clip)
        vs_tp1 = torch.cat([vs[1:], bootstrap.unsqueeze(0)], dim=0)
        adv = ro.rewards + discounts * vs_tp1 - values.detach()
        ratio = torch.exp(target_logp - ro.logprobs)
        clipped = torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)
        pg_loss = -torch.min(ratio * adv, clipped * adv).mean()
    # ½ E[(v_s − V(x_s))²]
    v_loss = 0.5 * ((vs - values) ** 2).mean()
    ent = -(logp_all.exp() * logp_all).sum(-1).mean()
    loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * ent
    rhos = log_rhos.exp()
    return loss, {"losses/policy_loss": pg_loss.item(), "losses/value_loss": v_loss.item(),
                  "losses/entropy": ent.item(), "vtrace/rho_mean": float(rhos.mean()),
                  "vtrace/rho_clipped_frac": float((rhos > cfg.rho_bar).float().mean()),
                  "vtrace/log_rho_abs": float(log_rhos.abs().mean())}


def train(env_id: str, cfg: ImpalaConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train the actor–learner on `env_id` for `total_steps` environment steps."""
    if cfg.actors == "processes":
        from studyforge.experiments.policy_gradient.impala_processes import train_with_processes

        return train_with_processes(env_id, cfg, total_steps=total_steps, seed=seed, log=log, prefix=prefix,
                                    env_kwargs=env_kwargs)
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden)).to(device)
    actor = copy.deepcopy(agent)  # the actors' copy of the policy
    params = list(agent.parameters())
    optimizer = torch.optim.RMSprop(params, lr=cfg.learning_rate, alpha=cfg.rms_alpha, eps=cfg.eps)
    rec = Recorder(log, prefix)
    collector = RolloutCollector(envs, agent, cfg.unroll_length, cfg.gamma, seed, rec, device)
    # the learner's parameters of the last policy_lag + 1 updates; the actors use the oldest
    snapshots: deque[dict[str, torch.Tensor]] = deque([copy.deepcopy(agent.state_dict())],
                                                      maxlen=cfg.policy_lag + 1)
    batch_size = cfg.num_envs * cfg.unroll_length

    for _update in range(-(-total_steps // batch_size)):
        actor.load_state_dict(snapshots[0])
        ro = collector.collect(policy=actor)
        loss, metrics = learner_loss(agent, ro, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        snapshots.append(copy.deepcopy(agent.state_dict()))
        rec.update(collector.global_step, **metrics, **{"vtrace/policy_lag": float(cfg.policy_lag)})
    rec.flush(collector.global_step)
    envs.close()
    name = f"{cfg.objective}_{cfg.correction}"
    return TrainResult.from_recorder(name, env_id, seed, agent, collector.global_step, started, rec)
