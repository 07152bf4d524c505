"""REINFORCE: the Monte-Carlo policy gradient, with the variance-reduction ladder built in.

Williams, 1992, "Simple Statistical Gradient-Following Algorithms for Connectionist Reinforcement
Learning", Machine Learning 8 (no arXiv id). Reward-to-go and baselines as in Sutton & Barto (2018,
§13.3–13.4) and OpenAI Spinning Up's "Vanilla Policy Gradient"; GAE from Schulman et al., 2015,
arXiv 1506.02438.

The likelihood-ratio identity ∇_θ E_τ[R(τ)] = E_τ[Σ_t ∇_θ log π_θ(a_t|s_t) R(τ)] turns the gradient of an
expectation we cannot differentiate (the environment is a black box) into an expectation we can sample.
Each estimator below keeps the expectation and lowers the variance:

    advantage="total_return", baseline="none":   Ψ_t = G_0                     (Williams' estimator)
    advantage="total_return", baseline="value":  Ψ_t = G_0 − V(s_0)            (a baseline: E[∇log π · b] = 0)
    advantage="reward_to_go", baseline="none":   Ψ_t = G_t = Σ_{k≥t} γ^{k−t} r_k  (no action moves the past)
    advantage="reward_to_go", baseline="value":  Ψ_t = G_t − V(s_t)
    gae_lambda=λ (needs the value baseline):     Ψ_t = Σ_l (γλ)^l δ_{t+l}       (biased by V for λ < 1)

    ĝ = (1/|D|) Σ_{τ∈D} Σ_t ∇_θ log π_θ(a_t|s_t) Ψ_t

A batch is `episodes_per_batch` complete episodes run side by side (`storage.run_episodes`), so no return
is ever cut by the batch boundary. An episode cut by the time limit is bootstrapped from V(s_final) when
there is a critic; without one, the return simply stops (REINFORCE has nothing to bootstrap with).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from studyforge.experiments.policy_gradient.advantages import gae, normalize, reward_to_go
from studyforge.experiments.policy_gradient.networks import Agent, entropy, log_prob, make_agent
from studyforge.experiments.policy_gradient.trust_region import fit_value
from studyforge.experiments.rl.envs import env_spec, make_env
from studyforge.experiments.rl.episodes import Episode, run_episodes
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class ReinforceConfig(AlgoConfig):
    episodes_per_batch: int = Field(8, ge=1, description="complete episodes per gradient step")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    advantage: Literal["total_return", "reward_to_go"] = Field(
        "reward_to_go", description="weight every step by the whole return G_0, or by the return-to-go G_t")
    baseline: Literal["none", "value"] = Field("value", description="subtract a learned V, or nothing")
    gae_lambda: float | None = Field(None, ge=0, le=1,
                                     description="use GAE(λ) advantages instead (needs baseline=value)")
    normalize_advantages: bool = Field(False, description="standardise Ψ per batch (acts as a baseline too)")
    learning_rate: float = Field(3e-3, gt=0, description="policy Adam step size")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus coefficient")
    vf_lr: float = Field(1e-3, gt=0, description="critic Adam step size")
    vf_epochs: int = Field(5, ge=1, description="critic regression passes per batch")
    vf_minibatch_size: int = Field(256, ge=1, description="critic minibatch size")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")

    @model_validator(mode="after")
    def _gae_needs_critic(self) -> ReinforceConfig:
        if self.gae_lambda is not None and self.baseline != "value":
            raise ValueError("gae_lambda needs baseline='value' (GAE is built from V's TD errors)")
        return self


def advantages_for(episodes: list[Episode], agent: Agent, cfg: ReinforceConfig
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(obs, actions, Ψ, critic targets) of a batch of episodes, concatenated along time: (Σ L, …)."""
    critic = cfg.baseline == "value"
    obs, actions, psis, targets = [], [], [], []
    for ep in episodes:
        with torch.no_grad():
            values = agent.value(ep.obs) if critic else torch.zeros(len(ep))
            # a time-limit cut is bootstrapped from V(s_final); a true termination is worth 0
            tail = float(agent.value(ep.final_obs[None])[0]) if critic and ep.truncated else 0.0
        g = reward_to_go(ep.rewards, cfg.gamma, bootstrap=tail)  # G_t
        if cfg.gae_lambda is not None:
            adv, _ = gae(ep.rewards[:, None], values[:, None], torch.zeros(len(ep), 1), torch.tensor([tail]),
                         torch.tensor([0.0]), cfg.gamma, cfg.gae_lambda)
            psi = adv[:, 0]
        elif cfg.advantage == "reward_to_go":
            # Ψ_t = G_t (− V(s_t))
            psi = g - values if cfg.baseline == "value" else g
        else:
            # Ψ_t = G_0 (− V(s_0)) for every t
            psi = torch.full_like(g, float(g[0]) - (float(values[0]) if cfg.baseline == "value" else 0.0))
        obs.append(ep.obs)
        actions.append(ep.actions)
        psis.append(psi)
        targets.append(g)
    psi = torch.cat(psis)
    if cfg.normalize_advantages and psi.numel() > 1:
        psi = normalize(psi)
    return torch.cat(obs), torch.cat(actions), psi, torch.cat(targets)


def policy_loss(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, psi: torch.Tensor,
                ent_coef: float = 0.0) -> torch.Tensor:
    """−(1/N) Σ log π_θ(a_t|s_t) Ψ_t (− c_H H): its gradient is minus the REINFORCE estimate ĝ."""
    logits = agent.logits(obs)
    loss = -(log_prob(logits, actions) * psi).mean()
    if ent_coef:
        loss = loss - ent_coef * entropy(logits).mean()
    return loss


def train(env_id: str, cfg: ReinforceConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None,
          on_batch=None) -> TrainResult:
    """Train REINFORCE on `env_id` until `total_steps` environment steps have been used.

    `on_batch(agent, batch_index, env_steps)`, if given, is called before every batch and once at the end
    (the variance study uses it to take snapshots of the policy along the way).
    """
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = [make_env(env_id, **(env_kwargs or {})) for _ in range(cfg.episodes_per_batch)]
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden), critic=cfg.baseline == "value").to(device)
    optimizer = torch.optim.Adam(agent.policy_parameters(), lr=cfg.learning_rate)
    vf_optimizer = torch.optim.Adam(agent.critic.parameters(), lr=cfg.vf_lr) if agent.has_critic else None
    rec = Recorder(log, prefix)
    steps, batch = 0, 0
    while steps < total_steps:
        if on_batch is not None:
            on_batch(agent, batch, steps)
        # the first batch seeds every env; later resets continue each env's own random stream
        seeds = [seed * 1_000 + i for i in range(len(envs))] if batch == 0 else [None] * len(envs)
        episodes = run_episodes(envs, agent, seeds, device=device)
        steps += sum(len(e) for e in episodes)
        for ep in episodes:
            rec.episode(steps, ep.ret, len(ep), ep.cost)

        obs, actions, psi, targets = advantages_for(episodes, agent, cfg)
        loss = policy_loss(agent, obs, actions, psi, cfg.ent_coef)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        metrics = {"losses/policy_loss": loss.item(), "charts/batch_steps": float(len(obs)),
                   "charts/advantage_std": float(psi.std()) if len(psi) > 1 else 0.0}
        if vf_optimizer is not None:
            metrics["losses/value_loss"] = fit_value(agent.value, vf_optimizer, obs, targets, cfg.vf_epochs,
                                                     cfg.vf_minibatch_size)
        rec.update(steps, **metrics)
        batch += 1
    if on_batch is not None:
        on_batch(agent, batch, steps)
    rec.flush(steps)
    for env in envs:
        env.close()
    return TrainResult.from_recorder("reinforce", env_id, seed, agent, steps, started, rec)


def gradient_estimates(agent: Agent, episodes: list[Episode], cfg: ReinforceConfig) -> np.ndarray:
    """The flat policy-gradient estimate ĝ of one batch of episodes under `cfg`'s estimator, (P,)."""
    from studyforge.experiments.policy_gradient.trust_region import flat_grad

    obs, actions, psi, _ = advantages_for(episodes, agent, cfg)
    params = agent.policy_parameters()
    # ĝ = ∇_θ (1/N) Σ log π_θ(a_t|s_t) Ψ_t
    return flat_grad(-policy_loss(agent, obs, actions, psi), params).cpu().numpy()
