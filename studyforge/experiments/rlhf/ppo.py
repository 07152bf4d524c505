"""PPO and GRPO for language models: the RLHF update, on week 7's PPO pieces.

The recipe of Ziegler et al. 2019 (arXiv 1909.08593) and InstructGPT (Ouyang et al. 2022, arXiv 2203.02155), in
the form TRL and "The N Implementation Details of RLHF with PPO" (Huang et al. 2024, arXiv 2403.17031) document:

1. **Rollout** (`rollout.collect`): a batch of prompts, one response each from the policy π (KV-cache sampling),
   log π and V from one pass of the policy, log π_ref from one pass of the frozen reference, the reward
   model's score s(x, y) of the whole response.
2. **Per-token rewards** (`token_rewards`): r_t = −β·(log π(y_t) − log π_ref(y_t)) on every response token, plus
   s(x, y) on its last real token — a sequence-level reward delivered at the end, a KL penalty on the way.
   β is fixed or steered by `kl.AdaptiveKLController`. `whiten_scores` standardises s over the batch first
   (Ziegler et al. normalise the reward model to mean 0, std 1 on reference samples; here per batch).
3. **Advantages** (`masked_gae`): token-level GAE over the response (γ = 1 by default, λ = 0.95), the episode
   ending at the last real token — padding is a terminal state with zero reward and value, so it adds
   nothing; this *is* week 7's `advantages.gae` with `dones` marking the padding. Advantages are whitened
   over the batch's real tokens (`masked_whiten`).
4. **Update**: `update_epochs` passes over the batch in minibatches; week 7's `clipped_surrogate_loss` and
   `value_loss` (clipped around the old values) averaged over real tokens only; global gradient clipping.

**GRPO** (DeepSeekMath, Shao et al. 2024, arXiv 2402.03300, §4.1): the same rollout code with each prompt
repeated G times; no critic — the advantage of every token of response i is its group-normalised score
Â_i = (s_i − mean(s_group)) / std(s_group) (week 7's `grpo.group_advantages`); the KL is not in the reward but
in the loss, estimated per token by k3 = ρ − 1 − log ρ (ρ = π_ref/π_θ), and the objective is averaged per
response, then over the batch:

    J = 1/G Σ_i 1/|o_i| Σ_t [ min(r_{i,t} Â_i, clip(r_{i,t}, 1 ± ε) Â_i) − β·k3_{i,t} ]

**Cost accounting**: every update counts the tokens generated and the forward/backward passes of each model
(`RLHFTrainer.cost`), so a study can report the price of one update beside its gain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from studyforge.experiments.policy_gradient.advantages import gae
from studyforge.experiments.policy_gradient.core import clip_grad_norm
from studyforge.experiments.policy_gradient.grpo import group_advantages
from studyforge.experiments.policy_gradient.networks import entropy
from studyforge.experiments.policy_gradient.ppo import (
    approx_kl,
    clip_fraction,
    clipped_surrogate_loss,
    value_loss,
)
from studyforge.experiments.rlhf.kl import AdaptiveKLController, FixedKLController, k3
from studyforge.experiments.rlhf.rollout import PolicyWithValue, Rollout, ScoreFn, collect, policy_outputs
from studyforge.experiments.transformer.model import Transformer


class RLHFConfig(BaseModel):
    """One RLHF run's settings (PPO or GRPO); the defaults are a small-model version of TRL's PPO defaults."""

    model_config = ConfigDict(extra="forbid")

    algo: Literal["ppo", "grpo"] = Field("ppo", description="PPO with a value head, or GRPO (no critic)")
    batch_size: int = Field(64, ge=2, description="responses per rollout (GRPO: prompts × group_size)")
    group_size: int = Field(8, ge=2, description="GRPO: responses per prompt")
    max_new_tokens: int = Field(24, ge=1, description="response length limit in tokens")
    lr: float = Field(1e-4, gt=0, description="Adam learning rate")
    update_epochs: int = Field(4, ge=1, description="passes over each rollout batch")
    minibatch_size: int = Field(32, ge=1, description="responses per gradient step")
    clip_coef: float = Field(0.2, gt=0, description="clip range ε of the probability ratio")
    vf_coef: float = Field(0.1, ge=0, description="value-loss coefficient (TRL: 0.1)")
    clip_vloss: float | None = Field(0.2, description="clip range of the value update (None: unclipped)")
    gamma: float = Field(1.0, ge=0, le=1, description="discount over response tokens")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ")
    kl_coef: float = Field(0.05, ge=0, description="β: the KL penalty (PPO) or KL loss (GRPO) coefficient")
    adaptive_kl: bool = Field(False, description="steer β with Ziegler et al.'s adaptive controller")
    kl_target: float = Field(2.0, gt=0, description="adaptive controller's target KL per response (nats)")
    kl_horizon: float = Field(10_000, gt=0, description="adaptive controller's horizon (responses)")
    whiten_scores: bool = Field(True, description="standardise the reward-model scores over each batch")
    norm_adv: bool = Field(True, description="whiten advantages over the batch's real tokens")
    value_warmup: int = Field(2, ge=0, description="PPO: rollouts that fit only the value head before the "
                              "policy moves (0: no warm start)")
    max_grad_norm: float = Field(1.0, gt=0, description="global gradient-norm clip")
    stop: str | None = Field("\n", description="a response ends at this token (None: always max_new_tokens)")


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std over the entries where `mask` is set (others untouched); `shift_mean=False` keeps the
    mean (TRL's choice for rewards). `[1, 2, 3, 100]` masked to the first three -> `[-1, 0, 1, 100]`."""
    vals = x[mask]
    mean, std = vals.mean(), vals.std()
    out = (x - mean) / (std + eps) + (0 if shift_mean else mean)
    return torch.where(mask, out, x)


def token_rewards(scores: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor,
                  lengths: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-token rewards (B, T): −β·(log π − log π_ref) on real tokens, plus the score on the last real one.

    >>> token_rewards(torch.tensor([1.0]), torch.tensor([[-1.0, -1.0, 0.0]]), torch.tensor([[-2.0, -1.0, 0.0]]),
    ...               torch.tensor([[True, True, False]]), torch.tensor([2]), beta=0.5).tolist()
    [[-0.5, 1.0, 0.0]]
    """
    rewards = torch.where(mask, -beta * (logprobs - ref_logprobs), torch.zeros_like(logprobs))
    last = (lengths - 1).clamp(min=0)
    return rewards.scatter_add(1, last[:, None], scores[:, None].to(rewards.dtype))


def masked_gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
               lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-level GAE over responses, batch-major (B, T) -> (advantages, returns), zero on padding.

    Week 7's `gae` (time-major) with the padding as the terminal state: `dones` is 1 on padded positions, the
    value and reward there are 0, and the step after the last token is terminal — so a response's advantages
    equal `gae` on that response alone, whatever padding follows it."""
    m = mask.to(rewards.dtype)
    r, v = (rewards * m).T, (values * m).T  # (T, B)
    dones = (1 - m).T
    b = rewards.shape[0]
    adv, ret = gae(r, v, dones, torch.zeros(b, dtype=r.dtype, device=r.device),
                   torch.ones(b, dtype=r.dtype, device=r.device), gamma, lam)
    return adv.T * m, ret.T * m


def grpo_advantages(scores: torch.Tensor, group_size: int) -> torch.Tensor:
    """Group-normalised advantage of each response (B,) from scores (B,) in consecutive groups of G.

    >>> grpo_advantages(torch.tensor([1.0, 3.0, 2.0, 2.0]), 2).tolist()
    [-0.7071067690849304, 0.7071067690849304, 0.0, 0.0]
    """
    return group_advantages(scores.view(-1, group_size)).view(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


class RLHFTrainer:
    """PPO or GRPO on a week-8 language model against a scalar reward (`score`).

    `step(prompts)` runs one rollout and one update and returns a row of everything worth logging; the
    policy, reference and β persist between calls, so a study can evaluate, stop early or sample between
    updates. `prompts` are (B, P) for PPO and (B/G, P) for GRPO (each repeated G times here)."""

    def __init__(self, reference: Transformer, score: ScoreFn, cfg: RLHFConfig, seed: int, stop_id: int | None,
                 device: torch.device | str = "cpu", gold: Callable[[Rollout], dict[str, float]] | None = None):
        self.cfg = cfg
        self.reference = reference.eval().requires_grad_(False)
        self.policy = PolicyWithValue.from_reference(reference)
        self.score = score
        self.gold = gold
        self.stop_id = stop_id
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.shuffle = torch.Generator().manual_seed(seed + 1)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr, eps=1e-5)
        self.kl_ctl = (AdaptiveKLController(cfg.kl_coef, cfg.kl_target, cfg.kl_horizon) if cfg.adaptive_kl
                       else FixedKLController(cfg.kl_coef))
        self.updates = 0
        self.warmups_left = cfg.value_warmup if cfg.algo == "ppo" else 0
        self.cost = {"tokens_generated": 0, "policy_forward": 0, "policy_backward": 0, "reference_forward": 0,
                     "reward_forward": 0}
        self.timing = {"generate_s": 0.0, "score_s": 0.0, "optimise_s": 0.0}

    @property
    def beta(self) -> float:
        return self.kl_ctl.value

    def rollout(self, prompts: torch.Tensor) -> Rollout:
        if self.cfg.algo == "grpo":
            prompts = prompts.repeat_interleave(self.cfg.group_size, 0)
        t0 = time.perf_counter()
        ro = collect(self.policy, self.reference, prompts, self.cfg.max_new_tokens, self._timed_score,
                     self.generator, self.stop_id)
        # sampling and the policy / reference passes; the reward model's time is counted apart
        self.timing["generate_s"] += time.perf_counter() - t0 - self._last_score_s
        n = len(prompts)
        self.cost["tokens_generated"] += n * self.cfg.max_new_tokens
        self.cost["policy_forward"] += n  # the pass for log π_old and V_old (sampling is counted in tokens)
        self.cost["reference_forward"] += n
        self.cost["reward_forward"] += n
        return ro

    def _timed_score(self, prompts: torch.Tensor, responses: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        out = self.score(prompts, responses, lengths)
        self._last_score_s = time.perf_counter() - t0
        self.timing["score_s"] += self._last_score_s
        return out

    def step(self, prompts: torch.Tensor) -> dict[str, float]:
        """One rollout and one update; returns the row logged for it."""
        ro = self.rollout(prompts)
        t0 = time.perf_counter()
        warmup = self.warmups_left > 0
        if self.cfg.algo == "ppo":
            row = self._update_ppo(ro, value_only=warmup)
        else:
            row = self._update_grpo(ro)
        self.timing["optimise_s"] += time.perf_counter() - t0
        if warmup:
            self.warmups_left -= 1
        else:
            self.updates += 1
        kl_seq = ro.kl()
        beta = self.beta
        self.kl_ctl.update(float(kl_seq.mean()), len(ro))
        row.update(self.describe(ro))
        row.update({"beta": beta, "value_warmup": float(warmup), "update": self.updates,
                    **{f"cost/{k}": float(v) for k, v in self.cost.items()},
                    **{f"time/{k}": v for k, v in self.timing.items()}})
        return row

    def describe(self, ro: Rollout) -> dict[str, float]:
        """Figures of a rollout: score, KL (k1 and k3 per response), entropy, length, and gold if known."""
        m = ro.mask.float()
        out = {"score": float(ro.scores.mean()), "kl": float(ro.kl().mean()),
               "kl_k3": float((k3(ro.logprobs, ro.ref_logprobs) * m).sum(1).mean()),
               "length": float(ro.lengths.float().mean()),
               "entropy": ro.stats.get("entropy", float("nan"))}
        if self.gold is not None:
            out.update(self.gold(ro))
        return out

    # -- PPO ----------------------------------------------------------------------------------------------

    def _update_ppo(self, ro: Rollout, value_only: bool = False) -> dict[str, float]:
        cfg = self.cfg
        scores = ro.scores
        if cfg.whiten_scores and len(scores) > 1:
            scores = (scores - scores.mean()) / (scores.std() + 1e-8)
        rewards = token_rewards(scores, ro.logprobs, ro.ref_logprobs, ro.mask, ro.lengths, self.beta)
        adv, returns = masked_gae(rewards, ro.values, ro.mask, cfg.gamma, cfg.gae_lambda)
        if cfg.norm_adv:
            adv = masked_whiten(adv, ro.mask)
        stats = self._epochs(ro, adv, returns, value_only)
        stats["non_score_reward"] = float(((rewards * ro.mask).sum(1) - scores).mean())
        return stats

    # -- GRPO ---------------------------------------------------------------------------------------------

    def _update_grpo(self, ro: Rollout) -> dict[str, float]:
        adv = grpo_advantages(ro.scores, self.cfg.group_size)[:, None].expand_as(ro.logprobs)
        stats = self._epochs(ro, adv, None, False)
        groups = ro.scores.view(-1, self.cfg.group_size)
        stats["zero_advantage_groups"] = float((groups.std(1) == 0).float().mean())
        return stats

    # -- the shared epochs ----------------------------------------------------------------------------------

    def _epochs(self, ro: Rollout, adv: torch.Tensor, returns: torch.Tensor | None, value_only: bool) -> dict:
        cfg = self.cfg
        self.policy.train()
        n = len(ro)
        params = list(self.policy.parameters())
        rows: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "clipfrac", "approx_kl",
                                                         "entropy", "kl_loss")}
        for _ in range(cfg.update_epochs):
            perm = torch.randperm(n, generator=self.shuffle)
            for lo in range(0, n, cfg.minibatch_size):
                mb = perm[lo:lo + cfg.minibatch_size].to(ro.prompts.device)
                mask = ro.mask[mb]
                logp, values, logits = policy_outputs(self.policy, ro.prompts[mb], ro.responses[mb])
                logratio = (logp - ro.logprobs[mb])[mask]
                ratio = logratio.exp()
                if cfg.algo == "ppo":
                    v_loss = value_loss(values[mask], ro.values[mb][mask], returns[mb][mask], cfg.clip_vloss)
                    if value_only:
                        pg_loss = torch.zeros((), device=values.device)
                        loss = v_loss
                    else:
                        pg_loss = clipped_surrogate_loss(ratio, adv[mb][mask], cfg.clip_coef)
                        loss = pg_loss + cfg.vf_coef * v_loss
                    kl_loss = torch.zeros(())
                else:
                    # per token: −min(r Â, clip(r) Â) + β k3, averaged per response then over responses
                    a = adv[mb]
                    r_all = (logp - ro.logprobs[mb]).exp()
                    surrogate = torch.min(r_all * a, r_all.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef) * a)
                    kl_tok = k3(logp, ro.ref_logprobs[mb])
                    per_tok = -surrogate + self.beta * kl_tok
                    m = mask.float()
                    loss = ((per_tok * m).sum(1) / m.sum(1).clamp(min=1)).mean()
                    pg_loss = ((-surrogate * m).sum(1) / m.sum(1).clamp(min=1)).mean()
                    kl_loss = ((kl_tok * m).sum(1) / m.sum(1).clamp(min=1)).mean()
                    v_loss = torch.zeros(())
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if value_only:  # the warm start moves the value head only
                    for p in self.policy.lm.parameters():
                        p.grad = None
                clip_grad_norm(params, cfg.max_grad_norm)
                self.optimizer.step()
                self.cost["policy_forward"] += len(mb)
                self.cost["policy_backward"] += len(mb)
                with torch.no_grad():
                    rows["policy_loss"].append(float(pg_loss))
                    rows["value_loss"].append(float(v_loss))
                    rows["clipfrac"].append(float(clip_fraction(ratio, cfg.clip_coef)))
                    rows["approx_kl"].append(float(approx_kl(logratio)))
                    rows["entropy"].append(float(masked_mean(entropy(logits.float()), mask)))
                    rows["kl_loss"].append(float(kl_loss))
        self.policy.eval()
        out = {k: sum(v) / len(v) for k, v in rows.items()}
        ro.stats["entropy"] = out.pop("entropy")
        return out
