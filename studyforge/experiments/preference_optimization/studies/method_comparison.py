"""`preference_optimization.method_comparison`: DPO, IPO, SimPO and KTO from one reference model, on one data set.

Four ways to fit a policy to preferences without a reward model: DPO (Rafailov et al., arXiv 2305.18290), IPO
(Azar et al., arXiv 2310.12036), SimPO (Meng et al., arXiv 2405.14734; no reference model) and KTO (Ethayarajh
et al., arXiv 2402.01306; unpaired). A week-8 language model (trained here, or loaded with
`reference=RUN_OR_CHECKPOINT`) is the reference; it writes two completions per prompt, a Bradley–Terry
annotator labels them by a known reward (`pairs.vowel_share`), and each method trains a copy of the
reference on the same pairs (KTO on the same completions, unpaired: chosen → desirable, rejected →
undesirable). Measured: held-out preference accuracy (against the labels and against the true reward),
implicit reward margins over training, and — what alignment is for — the true reward of fresh samples
against their KL from the reference, with the win rate over the reference's own samples. The
closed-form optima of DPO and IPO on a bandit (`bandit.py`) are checked in the same run.
"""

from __future__ import annotations

import copy
import math
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.language_modeling.data import load_data
from studyforge.experiments.language_modeling.harness import reference_model
from studyforge.experiments.preference_optimization import losses, plots
from studyforge.experiments.preference_optimization.pairs import (
    PreferencePairs,
    completion_logps,
    make_pairs,
    sample_prompts,
    vowel_share,
)
from studyforge.experiments.preference_optimization.training import train_policy
from studyforge.experiments.registry import register

METHODS = ("dpo", "ipo", "simpo", "kto")


class MethodComparisonConfig(ExperimentConfig):
    reference: str | None = Field(None, description="week-8 run folder or .pt checkpoint to use as the reference "
                                  "(SFT) model; None: train one here on corpus_path")
    corpus_path: str = Field("data/tinyshakespeare.txt", description="text for the reference model and the prompts; "
                             "if missing, the offline stdlib-docstring corpus")
    max_chars: int | None = Field(None, description="use only the first this many characters (None: all)")
    d_model: int = Field(96, ge=8, description="reference model width (when trained here)")
    n_layers: int = Field(3, ge=1, description="reference model blocks (when trained here)")
    n_heads: int = Field(4, ge=1, description="reference model heads (when trained here)")
    pretrain_steps: int = Field(800, ge=1, description="steps of next-token training for the reference")
    prompt_len: int = Field(32, ge=1, description="prompt length in tokens")
    completion_len: int = Field(32, ge=1, description="completion length in tokens")
    train_pairs: int = Field(1024, ge=2, description="preference pairs to train on")
    heldout_pairs: int = Field(256, ge=2, description="held-out pairs (prompts from the validation split)")
    bt_scale: float = Field(20.0, gt=0, description="Bradley–Terry scale s: P(y₁ ≻ y₂) = σ(s·(r₁ − r₂))")
    methods: list[Literal["dpo", "ipo", "simpo", "kto"]] = Field(list(METHODS), description="methods to train")
    steps: int = Field(200, ge=1, description="optimizer steps per method")
    batch_size: int = Field(32, ge=2, description="pairs per step")
    lr: float = Field(3e-4, gt=0, description="AdamW learning rate (constant after 10 warm-up steps)")
    beta: float = Field(0.1, gt=0, description="DPO's and KTO's β")
    ipo_tau: float = Field(0.1, gt=0, description="IPO's τ (target log-ratio gap 1/(2τ))")
    simpo_beta: float = Field(2.0, gt=0, description="SimPO's β (on mean per-token log-probs)")
    simpo_gamma: float = Field(1.0, ge=0, description="SimPO's target margin γ")
    eval_every: int = Field(25, ge=1, description="held-out evaluation every this many steps")
    sample_prompts: int = Field(128, ge=1, description="held-out prompts sampled at the end (reward and KL)")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 30,
                  "prompt_len": 8, "completion_len": 8, "train_pairs": 32, "heldout_pairs": 16, "steps": 4,
                  "batch_size": 8, "eval_every": 2, "sample_prompts": 8},
        "full": {"d_model": 192, "n_layers": 6, "n_heads": 6, "pretrain_steps": 5000, "train_pairs": 8192,
                 "heldout_pairs": 1024, "steps": 1000, "batch_size": 64, "sample_prompts": 512},
    }


def implicit_reward(method: str, policy_logps, ref_logps, length: int) -> torch.Tensor:
    """What each method's loss ranks completions by (any positive scale: accuracy ignores it): the
    log-ratio log π − log π_ref for DPO, IPO and KTO; the mean per-token log π for SimPO."""
    return policy_logps / length if method == "simpo" else policy_logps - ref_logps


def method_loss(method: str, cfg: MethodComparisonConfig, policy, reference, b: PreferencePairs,
                device) -> losses.PreferenceLoss:
    """One batch of `method`'s loss (b's tensors on the CPU; moved here)."""
    prompts, chosen, rejected = b.prompts.to(device), b.chosen.to(device), b.rejected.to(device)
    ref_c, ref_r = b.ref_chosen.to(device), b.ref_rejected.to(device)
    if method == "kto":
        # unpaired: every chosen completion is a desirable example, every rejected one undesirable
        ys = torch.cat([chosen, rejected])
        xs = torch.cat([prompts, prompts])
        logps = completion_logps(policy, xs, ys)
        desirable = torch.arange(len(ys), device=device) < len(chosen)
        # z₀: KL(π ‖ π_ref) estimated on mismatched (prompt, completion) pairs, as in the paper
        shifted = torch.roll(prompts, 1, 0)
        with torch.no_grad():
            z0 = losses.kto_reference_point(completion_logps(policy, shifted, chosen),
                                            completion_logps(reference, shifted, chosen))
        return losses.kto_loss(logps, torch.cat([ref_c, ref_r]), desirable, z0, beta=cfg.beta)
    both = completion_logps(policy, torch.cat([prompts, prompts]), torch.cat([chosen, rejected]))
    pol_c, pol_r = both[:len(chosen)], both[len(chosen):]
    if method == "dpo":
        return losses.dpo_loss(pol_c, pol_r, ref_c, ref_r, beta=cfg.beta)
    if method == "ipo":
        return losses.ipo_loss(pol_c, pol_r, ref_c, ref_r, tau=cfg.ipo_tau)
    if method == "simpo":
        n = float(chosen.shape[1])
        return losses.simpo_loss(pol_c, pol_r, n, n, beta=cfg.simpo_beta, gamma=cfg.simpo_gamma)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


@torch.no_grad()
def heldout_metrics(method: str, policy, pairs: PreferencePairs, device, batch: int = 256) -> dict[str, float]:
    """Preference accuracy on held-out pairs against the labels and against the true reward, and the mean
    implicit reward margin (log-ratio, or mean log-prob for SimPO)."""
    policy.eval()
    n = pairs.chosen.shape[1]
    margins = []
    for lo in range(0, len(pairs), batch):
        b = pairs.batch(torch.arange(lo, min(lo + batch, len(pairs))))
        pol_c = completion_logps(policy, b.prompts.to(device), b.chosen.to(device)).cpu()
        pol_r = completion_logps(policy, b.prompts.to(device), b.rejected.to(device)).cpu()
        margins.append(implicit_reward(method, pol_c, b.ref_chosen, n) - implicit_reward(method, pol_r, b.ref_rejected, n))
    margin = torch.cat(margins)
    truth = torch.sign(pairs.reward_chosen - pairs.reward_rejected)  # +1: the label picked the truly better one
    decided = truth != 0
    return {"heldout_accuracy": losses.ranking_accuracy(margin),
            "heldout_accuracy_vs_truth": losses.ranking_accuracy((margin * truth)[decided]),
            "heldout_margin": float(margin.mean())}


@torch.no_grad()
def sequence_kl(policy, reference, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
    """Σ_t KL(π(·|x, y_<t) ‖ π_ref(·|x, y_<t)) along each completion: prompts (B, P), completions (B, C) -> (B,).

    Averaged over completions sampled from π this is the sequence KL(π ‖ π_ref) (the chain rule of KL), as
    is the one-sample log-ratio log π(y) − log π_ref(y); but each term here is an exact KL over the whole
    vocabulary, so the estimate is never negative and varies less. (The log-ratio of a few samples often
    lands below zero: a policy that barely moved, and samples that happen to be likelier under π_ref.)"""
    seq = torch.cat([prompts, completions], dim=1)[:, :-1]
    start = prompts.shape[1] - 1
    log_p = F.log_softmax(policy(seq).logits[:, start:].float(), dim=-1)  # (B, C, V)
    log_q = F.log_softmax(reference(seq).logits[:, start:].float(), dim=-1)
    # KL_t = Σ_v π(v) (log π(v) − log π_ref(v)) ≥ 0; the clamp only removes rounding below zero
    return (log_p.exp() * (log_p - log_q)).sum(-1).clamp_min(0.0).sum(-1)


@torch.no_grad()
def sample_quality(policy, reference, prompts: torch.Tensor, completion_len: int, decode, generator,
                   baseline: list[float] | None = None) -> tuple[dict[str, float], list[float]]:
    """Mean true reward of one sample per prompt, their mean KL(π ‖ π_ref) (`sequence_kl`: the exact
    per-token KL summed along each sample), and (with `baseline`, the reference's rewards on the same
    prompts) the win rate."""
    from studyforge.experiments.language_modeling.generate import generate

    policy.eval()
    ys = generate(policy, prompts, completion_len, temperature=1.0, generator=generator)[:, prompts.shape[1]:]
    rewards = [vowel_share(decode(row.tolist())) for row in ys]
    kl = sequence_kl(policy, reference, prompts, ys)
    out = {"sample_reward": float(np.mean(rewards)), "kl_to_reference": float(kl.mean()),
           "sample_text": decode(ys[0].tolist())}
    if baseline is not None:
        a, b = np.array(rewards), np.array(baseline)
        out["win_rate_vs_reference"] = float(np.mean((a > b) + 0.5 * (a == b)))
    return out, rewards


@register("preference_optimization.method_comparison", week=4, config=MethodComparisonConfig,
          headline="best_win_rate")
def method_comparison(ctx, cfg: MethodComparisonConfig) -> None:
    """DPO vs IPO vs SimPO (paired) and KTO (unpaired) from the same reference and preference data.

    The reference model writes two completions per prompt; a Bradley–Terry annotator labels them by the
    share of vowels (a known reward, so every result can be checked against the truth). Each method then
    trains a fresh copy of the reference for `steps` AdamW steps on the same batches. Logged per method:
    loss, train accuracy and implicit rewards of chosen/rejected (`<method>/…`), and every `eval_every`
    steps the held-out accuracy (vs labels and vs truth) and margin. At the end, one sample per held-out
    prompt from each policy: its true reward, its KL from the reference (`sequence_kl`, never below zero) and
    its win rate over the reference's own sample. Also checked: DPO's and IPO's closed-form optima on a
    6-response bandit (`bandit.check_closed_forms`), fitted from the same loss functions.
    """
    from studyforge.experiments.preference_optimization.bandit import check_closed_forms

    device = ctx.torch_device
    data = load_data(cfg.corpus_path, max_chars=cfg.max_chars)
    total = (0 if cfg.reference else cfg.pretrain_steps) + cfg.steps * len(cfg.methods)
    with ctx.progress(total=total, description="reference + methods") as bar:
        reference, tokenizer = reference_model(ctx, data, cfg.reference, max_len=cfg.prompt_len + cfg.completion_len,
                                               d_model=cfg.d_model, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                                               steps=cfg.pretrain_steps, bar=bar)
        reference.eval().requires_grad_(False)
        g = torch.Generator().manual_seed(ctx.seed)
        sample_gen = torch.Generator(device=device).manual_seed(ctx.seed)
        decode = tokenizer.decode
        train = make_pairs(reference, decode, sample_prompts(data, tokenizer, "train", cfg.train_pairs, cfg.prompt_len,
                                                       g).to(device), cfg.completion_len, cfg.bt_scale, sample_gen)
        heldout = make_pairs(reference, decode, sample_prompts(data, tokenizer, "val", cfg.heldout_pairs, cfg.prompt_len,
                                                         g).to(device), cfg.completion_len, cfg.bt_scale, sample_gen)
        sample_x = heldout.prompts[:cfg.sample_prompts].to(device)
        ref_quality, ref_rewards = sample_quality(reference, reference, sample_x, cfg.completion_len, decode,
                                                  torch.Generator(device=device).manual_seed(ctx.seed + 1))
        results: dict[str, dict] = {}
        curves: dict[str, list[dict]] = {}
        for m_i, method in enumerate(cfg.methods):
            policy = copy.deepcopy(reference).requires_grad_(True)
            order = torch.Generator().manual_seed(ctx.seed + 7)  # the same batches for every method
            curves[method] = [{"step": 0, **heldout_metrics(method, policy, heldout, device)}]

            def log_step(step: int, out: losses.PreferenceLoss, grad_norm: float, method: str = method,
                         policy=policy) -> None:
                row = {f"{method}/loss": float(out.loss.detach()), f"{method}/grad_norm": grad_norm,
                       f"{method}/chosen_reward": float(out.chosen_reward.mean()),
                       f"{method}/rejected_reward": float(out.rejected_reward.mean())}
                if method != "kto":
                    row[f"{method}/train_accuracy"] = out.accuracy
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    ev = heldout_metrics(method, policy, heldout, device)
                    curves[method].append({"step": step, **ev, "chosen_reward": row[f"{method}/chosen_reward"],
                                           "rejected_reward": row[f"{method}/rejected_reward"]})
                    row.update({f"{method}/{k}": v for k, v in ev.items()})
                ctx.log(row, step=step)
                bar.advance(1, **{"method": method})

            train_policy(policy, train, lambda b, method=method, policy=policy: method_loss(
                method, cfg, policy, reference, b, device), steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                order=order, on_step=log_step)
            quality, _ = sample_quality(policy, reference, sample_x, cfg.completion_len, decode,
                                        torch.Generator(device=device).manual_seed(ctx.seed + 100 + m_i), ref_rewards)
            results[method] = {**curves[method][-1], **quality}
            ctx.log({f"{method}/{k}": v for k, v in quality.items() if k != "sample_text"}, step=cfg.steps)

    bandit = check_closed_forms()
    table = [{"method": "reference", "sample_reward": ref_quality["sample_reward"], "kl_to_reference": 0.0,
              "sample_text": ref_quality["sample_text"]}]
    table += [{"method": m, **{k: v for k, v in r.items() if k != "step"}} for m, r in results.items()]
    ctx.log_table("methods", table, caption="Per method after training: held-out preference accuracy (vs labels, "
                  "vs true reward), mean implicit margin, true reward (vowel share) of fresh samples, their "
                  "sequence KL from the reference, and the win rate over the reference's samples.")

    fig = plots.method_comparison(curves, results, ref_quality["sample_reward"], heldout.label_agrees_with_truth)
    ctx.log_figure("preference_optimization", fig, caption="Held-out preference accuracy over training; implicit "
                   "rewards of chosen and rejected completions; true reward of fresh samples against their KL "
                   "from the reference (the exact per-token KL summed along each sample, so never below zero).")

    best = max(results, key=lambda m: results[m].get("win_rate_vs_reference", 0.0)) if results else None
    ctx.summary(methods={m: {k: v for k, v in r.items() if k != "sample_text"} for m, r in results.items()},
                reference_sample_reward=ref_quality["sample_reward"],
                labels_agree_with_truth={"train": train.label_agrees_with_truth,
                                         "heldout": heldout.label_agrees_with_truth},
                best_method=best, best_win_rate=results[best]["win_rate_vs_reference"] if best else math.nan,
                bandit=bandit, corpus=data.source, pairs={"train": len(train), "heldout": len(heldout)})
