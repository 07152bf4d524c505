"""Group Relative Policy Optimization, transplanted from language models to control.

Shao, Wang, Zhu, Xu, Song, Bi, Zhang, Zhang, Li, Wu & Guo, 2024, "DeepSeekMath: Pushing the Limits of
Mathematical Reasoning in Open Language Models", arXiv 2402.03300 (§4.1, where GRPO is introduced).

PPO needs a critic to baseline its advantages. GRPO drops the critic: it samples a *group* of G outputs for
the same prompt and uses the group itself as the baseline. Here a prompt is a start state — G environments
reset with the same seed start from the same state — and an output is an episode. With episode returns
R_1 … R_G of one group, every step of episode i gets the outcome-supervision advantage

    Â_{i,t} = (R_i − mean(R)) / std(R)

and the policy maximises PPO's clipped surrogate, minus an optional KL penalty to a frozen reference
policy π_ref, averaged per episode and then over the group (the paper's 1/G Σ_i 1/|o_i| Σ_t):

    J(θ) = 1/G Σ_i 1/|o_i| Σ_t [ min(r_{i,t} Â_{i,t}, clip(r_{i,t}, 1−ε, 1+ε) Â_{i,t}) − β D_KL[π_θ ‖ π_ref] ]
    D_KL ≈ π_ref/π_θ − log(π_ref/π_θ) − 1                                (the paper's unbiased estimator)

`scale_by_std=False` drops the division by std(R) and `loss_norm="step"` averages over all steps instead of
per episode — the two changes Liu et al., 2025 ("Understanding R1-Zero-Like Training", arXiv 2503.20783)
argue remove GRPO's length and difficulty biases. A group whose episodes all score alike has zero
advantage and teaches nothing: on CartPole, a group of G perfect 500-step episodes.
"""

from __future__ import annotations

import copy
import time
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.policy_gradient.networks import log_prob, make_agent
from studyforge.experiments.rl.envs import env_spec, make_env
from studyforge.experiments.rl.episodes import run_episodes
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class GRPOConfig(AlgoConfig):
    group_size: int = Field(8, ge=2, description="G: episodes from the same start state")
    groups_per_batch: int = Field(2, ge=1, description="start states per update")
    learning_rate: float = Field(3e-3, gt=0, description="Adam step size")
    update_epochs: int = Field(4, ge=1, description="gradient steps on each batch")
    clip_coef: float = Field(0.2, gt=0, description="clip range ε")
    kl_coef: float = Field(0.0, ge=0, description="β of the KL penalty to the reference policy (0: none)")
    ref_update_every: int | None = Field(
        None, ge=1, description="refresh π_ref to the current policy every this many batches (None: frozen)")
    scale_by_std: bool = Field(True, description="divide the group-centred returns by their std")
    loss_norm: Literal["episode", "step"] = Field(
        "episode", description="average per episode then over episodes (paper), or over all steps")
    max_grad_norm: float = Field(1.0, gt=0, description="global gradient-norm clip")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")


def group_advantages(returns: torch.Tensor, scale_by_std: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Group-relative advantages of returns shaped (groups, G).

    >>> group_advantages(torch.tensor([[1., 2., 3.]])).tolist()
    [[-1.0, 0.0, 1.0]]
    """
    centred = returns - returns.mean(dim=1, keepdim=True)
    # Â_i = (R_i − mean(R)) / std(R)
    return centred / (returns.std(dim=1, keepdim=True) + eps) if scale_by_std else centred


def train(env_id: str, cfg: GRPOConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """Train GRPO on `env_id` until `total_steps` environment steps have been used."""
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    G, n_groups = cfg.group_size, cfg.groups_per_batch
    envs = [make_env(env_id, **(env_kwargs or {})) for _ in range(G * n_groups)]
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden), critic=False).to(device)
    reference = copy.deepcopy(agent).requires_grad_(False)
    params = list(agent.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate)
    rec = Recorder(log, prefix)
    steps, batch = 0, 0
    rng = np.random.default_rng(seed)
    while steps < total_steps:
        # each group's G environments start from one shared state
        starts = rng.integers(0, 2**31 - 1, size=n_groups)
        episodes = run_episodes(envs, agent, [int(s) for s in starts for _ in range(G)], device=device)
        steps += sum(len(e) for e in episodes)
        for ep in episodes:
            rec.episode(steps, ep.ret, len(ep), ep.cost)

        returns = torch.tensor([ep.ret for ep in episodes]).view(n_groups, G)
        adv_per_episode = group_advantages(returns, cfg.scale_by_std).view(-1)
        lengths = torch.tensor([len(ep) for ep in episodes])
        obs = torch.cat([ep.obs for ep in episodes])
        actions = torch.cat([ep.actions for ep in episodes])
        old_logp = torch.cat([ep.logprobs for ep in episodes])
        # every step of episode i carries Â_i
        adv = adv_per_episode.repeat_interleave(lengths)
        # per-step weights: 1/(G·|o_i|) per episode, or 1/Σ|o_i| over all steps
        if cfg.loss_norm == "episode":
            weights = (1.0 / (lengths * len(episodes))).repeat_interleave(lengths).float()
        else:
            weights = torch.full((len(obs),), 1.0 / len(obs))
        with torch.no_grad():
            ref_logp = log_prob(reference.logits(obs), actions)

        for _epoch in range(cfg.update_epochs):
            logp = log_prob(agent.logits(obs), actions)
            # r = π_θ / π_old
            ratio = torch.exp(logp - old_logp)
            surrogate = torch.min(ratio * adv, torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef) * adv)
            # D_KL ≈ π_ref/π_θ − log(π_ref/π_θ) − 1
            log_ref_ratio = ref_logp - logp
            kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1
            loss = -((surrogate - cfg.kl_coef * kl) * weights).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
        batch += 1
        if cfg.ref_update_every and batch % cfg.ref_update_every == 0:
            reference.load_state_dict(agent.state_dict())
        rec.update(steps, **{
            "losses/policy_loss": loss.item(), "losses/kl_ref": float((kl * weights).sum().detach()),
            "grpo/clipfrac": float(((ratio - 1).abs() > cfg.clip_coef).float().mean()),
            "grpo/zero_advantage_groups": float((returns.std(dim=1) == 0).float().mean()),
            "grpo/return_std_in_group": float(returns.std(dim=1).mean())})
    rec.flush(steps)
    for env in envs:
        env.close()
    return TrainResult.from_recorder("grpo", env_id, seed, agent, steps, started, rec)
