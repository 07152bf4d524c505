"""What weeks 10 and 12 share: the reference model, the gold truth, the proxy reward model and the RLHF settings.

`setup(ctx, cfg)` gives every study the same world:

- the **reference** (SFT) policy — a week-8 model loaded with `reference=RUN_OR_CHECKPOINT` or trained here on
  `corpus_path` (week 9's `preference.studies.common.setup`, which also builds the gold rewards);
- the **gold** truth: the annotator's utility u = Σ_m w_m·gold_m over week 9's `style` and `fluency`
  (`gold_weights`, equal by default: vowel-rich text that is still made of real words);
- the **proxy** reward model — loaded with `reward_model=RUN_OR_FILE` (a week-9 `studyforge.rm/1` checkpoint,
  e.g. `preference.reward_model_ensembles`' run folder; its tokenizer must be the reference's), or trained here
  on `rm_pairs` pairs of reference responses labelled by a Bradley–Terry annotator of that utility;
- prompts: windows of the corpus (`prompt_len` tokens), train split for training, validation split for
  evaluation.

The stop token (`rlhf.stop`, a newline) must be in the tokenizer's vocabulary; otherwise responses run to
`max_new_tokens`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from studyforge.errors import ForgeError
from studyforge.experiments.policy_gradient.networks import entropy
from studyforge.experiments.preference.data import Annotator
from studyforge.experiments.preference.reward_model import (
    RewardEnsemble,
    RewardTrainConfig,
    load_reward_model,
)
from studyforge.experiments.preference.studies.common import PreferenceStudyConfig
from studyforge.experiments.preference.studies.common import setup as preference_setup
from studyforge.experiments.rlhf.ppo import RLHFConfig
from studyforge.experiments.rlhf.reward import GoldScore, ProxyReward, sample_labelled_pairs, train_proxy
from studyforge.experiments.rlhf.rollout import (
    reference_logprobs,
    response_slice,
    sample_responses,
    token_logprobs,
)


class RLHFStudyConfig(PreferenceStudyConfig):
    """Week 9's reference-model fields, plus the truth, the proxy reward model and the RLHF settings."""

    reward_model: str | None = Field(None, description="week-9 reward-model run folder or file to use as the "
                                     "proxy; None: train one here")
    gold_weights: dict[str, float] = Field({"style": 1.0, "fluency": 1.0},
                                           description="the gold utility Σ w·gold (and the annotator's)")
    bt_scale: float = Field(20.0, gt=0, description="Bradley–Terry scale of the annotator labelling the proxy's pairs")
    # 2048 pairs × 300 steps: held-out gold accuracy 0.65 against 0.52 for 512 × 150 (one pretrained reference;
    # reward_hacking.distributional_shift's measurement) — a proxy weaker than that leaves nothing to over-optimise
    rm_pairs: int = Field(2048, ge=8, description="labelled pairs the proxy reward model is trained on")
    rm_steps: int = Field(300, ge=1, description="reward-model training steps")
    rm_members: int = Field(1, ge=1, description="reward-model ensemble members (1: a single model)")
    rl_updates: int = Field(60, ge=1, description="RLHF updates (rollout + optimisation)")
    eval_prompts: int = Field(128, ge=8, description="held-out prompts for the evaluations")
    rlhf: RLHFConfig = Field(default_factory=RLHFConfig, description="the PPO / GRPO settings")


@dataclass
class World:
    reference: torch.nn.Module
    tokenizer: Any
    gold: GoldScore
    proxy: ProxyReward
    stop_id: int | None
    device: torch.device
    prep: Any  # week 9's Setup (data, prompts)
    rm_metrics: dict[str, float]

    def prompts(self, split: str, n: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return self.prep.prompts(split, n, length, generator)

    @torch.no_grad()
    def evaluate(self, lm: torch.nn.Module, prompts: torch.Tensor, max_new_tokens: int,
                 generator: torch.Generator) -> dict[str, Any]:
        """Fresh responses of `lm` (a policy's language model, or the reference) to `prompts`: the mean KL from
        the reference per response (k1, with its standard error), proxy score, gold utility and each gold
        objective, response length, `lm`'s entropy per token on its responses; `texts`, the response `tokens`
        and the per-response `proxy_scores` / `utility` too."""
        responses, mask, lengths = sample_responses(lm, prompts, max_new_tokens, generator, self.stop_id)
        logits = lm(torch.cat([prompts, responses], 1)[:, :-1]).logits[:, response_slice(prompts.shape[1],
                                                                                          responses.shape[1])]
        logp = token_logprobs(logits, responses)
        ref = reference_logprobs(self.reference, prompts, responses)
        kl = ((logp - ref) * mask).sum(1)
        proxy = self.proxy(prompts, responses, lengths).float().cpu()
        gold, utility = self.gold.scores(responses, lengths)
        n = len(prompts)
        return {"kl": float(kl.mean()), "kl_se": float(kl.std() / n ** 0.5) if n > 1 else 0.0,
                "proxy": float(proxy.mean()), "gold": float(utility.mean()),
                **{f"gold_{name}": float(gold[:, i].mean()) for i, name in enumerate(self.gold.gold.names)},
                "length": float(lengths.float().mean()), "texts": self.gold.texts(responses, lengths),
                "entropy": float((entropy(logits.float()) * mask).sum() / mask.sum()),
                "tokens": [r[:k].tolist() for r, k in zip(responses.cpu(), lengths.cpu().tolist(), strict=True)],
                "proxy_scores": proxy.tolist(), "utility": utility.tolist()}


def stop_token(tokenizer, stop: str | None) -> int | None:
    """The id of `stop` when the tokenizer has it as one token, else None (responses then run to the limit)."""
    if stop is None:
        return None
    try:
        ids = tokenizer.encode(stop)
    except ValueError:
        return None
    return ids[0] if len(ids) == 1 else None


def setup(ctx, cfg: RLHFStudyConfig, bar=None) -> World:
    """The reference, gold, proxy reward model (loaded or trained; `bar` advances by `setup_total(cfg)`)."""
    from studyforge.experiments.preference.reward_model import evaluate

    prep = preference_setup(ctx, cfg, bar)
    device = prep.device
    stop_id = stop_token(prep.tokenizer, cfg.rlhf.stop)
    gold = GoldScore(prep.gold, cfg.gold_weights, prep.tokenizer.decode)
    annotator = Annotator(weights=cfg.gold_weights, scale=cfg.bt_scale)
    g = torch.Generator(device=device).manual_seed(ctx.seed + 17)
    heldout = sample_labelled_pairs(prep.reference, prep.prompts("val", cfg.eval_prompts, cfg.prompt_len, g),
                                    cfg.rlhf.max_new_tokens, stop_id, gold, annotator, g)
    if cfg.reward_model:
        rm, tok, _meta = load_reward_model(cfg.reward_model, device)
        if tok.to_dict() != prep.tokenizer.to_dict():
            raise ForgeError(f"the reward model {cfg.reward_model} reads another tokenizer than the reference model",
                             hint="pass --set reference= the week-8 run the reward model was trained from")
    else:
        # their own generator: the proxy's training pairs do not depend on how many held-out pairs came first
        t = torch.Generator(device=device).manual_seed(ctx.seed + 18)
        pairs = sample_labelled_pairs(prep.reference, prep.prompts("train", cfg.rm_pairs, cfg.prompt_len, t),
                                      cfg.rlhf.max_new_tokens, stop_id, gold, annotator, t)
        rm_cfg = RewardTrainConfig(steps=cfg.rm_steps, batch_size=32, lr=3e-4)

        def on_step(step: int, row: dict[str, float]) -> None:
            if bar is not None:
                bar.advance(1)

        rm = train_proxy(prep.reference, pairs, rm_cfg, ctx.seed, cfg.rm_members, device, on_step)
    metrics = evaluate(rm, heldout, cfg.gold_weights, device)
    ctx.summary(proxy_reward_model={"source": cfg.reward_model or "trained here",
                                    "pairs": None if cfg.reward_model else cfg.rm_pairs,
                                    "members": len(rm) if isinstance(rm, RewardEnsemble) else 1, "heldout_gold_accuracy": metrics["gold_accuracy"],
                                    "heldout_label_accuracy": metrics["label_accuracy"]},
                gold_weights=cfg.gold_weights, stop_token=repr(cfg.rlhf.stop) if stop_id is not None else None)
    return World(prep.reference, prep.tokenizer, gold, ProxyReward(rm), stop_id, device, prep, metrics)


def setup_total(cfg: RLHFStudyConfig) -> int:
    """Progress-bar units `setup` uses."""
    return (0 if cfg.reference else cfg.pretrain_steps) + (0 if cfg.reward_model else cfg.rm_steps * cfg.rm_members)


# -------------------------------------------------------------------------------------------------
# Reading held-out curves (every week-10/12 study compares runs this way).


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """(mean, standard error of the mean): SE = s / √n with the sample standard deviation s (0 for one value).

    >>> m, se = mean_se([1.0, 2.0, 3.0, 4.0])
    >>> m, round(se, 4)
    (2.5, 0.6455)
    """
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def value_at_kl(kl: Sequence[float], values: Sequence[float], target: float) -> float | None:
    """A curve's value at KL = `target` (points in update order): linear interpolation between the two
    consecutive points whose KLs bracket `target`, at the curve's first crossing — a KL estimate need not grow
    monotonically (noise, a policy pulled back by β), and the first crossing is the one the run reached first;
    None when it never reaches `target`.

    >>> value_at_kl([0.0, 1.0, 3.0], [0.5, 1.0, 2.0], 2.0)
    1.5
    >>> value_at_kl([0.0, 4.0, 1.0, 6.0], [0.0, 4.0, 9.0, 9.0], 2.0), value_at_kl([0.0, 1.0], [0.0, 1.0], 5.0)
    (2.0, None)
    """
    for i in range(len(kl) - 1):
        a, b = kl[i], kl[i + 1]
        if a == target:
            return float(values[i])
        if (a - target) * (b - target) < 0:
            # v = v_i + (target − a) / (b − a) · (v_{i+1} − v_i)
            return float(values[i] + (target - a) / (b - a) * (values[i + 1] - values[i]))
    return float(values[-1]) if len(kl) and kl[-1] == target else None
