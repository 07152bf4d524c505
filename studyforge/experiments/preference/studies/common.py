"""What week 9's studies share: the reference language model, the gold rewards, prompts and sampled comparisons.

Every study starts the same way (`setup`): a week-8 model — loaded with `reference=RUN_OR_CHECKPOINT`, or
trained here on `corpus_path` by week 8's trainer (`harness.reference_model`) — and the gold rewards, whose
`fluency` lexicon comes from the training split of the same text. `comparisons(...)` then samples k
completions per prompt from it and scores them (`data.sample_comparisons`), with prompts drawn from the train
or the validation split, so held-out pairs have held-out prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.language_modeling.data import TokenData, load_data
from studyforge.experiments.language_modeling.harness import reference_model
from studyforge.experiments.preference.data import Comparisons, sample_comparisons
from studyforge.experiments.preference.gold import GoldRewards, gold_rewards
from studyforge.experiments.preference_optimization.pairs import sample_prompts


class PreferenceStudyConfig(ExperimentConfig):
    """The fields every week-9 study has: where the reference model comes from and the shape of its samples."""

    reference: str | None = Field(None, description="week-8 run folder or .pt checkpoint to sample from (and to "
                                  "start reward models from); None: train one here on corpus_path")
    corpus_path: str = Field("data/tinyshakespeare.txt", description="text for the reference model, the prompts "
                             "and the fluency lexicon; if missing, the offline stdlib-docstring corpus")
    max_chars: int | None = Field(None, description="use only the first this many characters (None: all)")
    d_model: int = Field(64, ge=8, description="reference model width (when trained here)")
    n_layers: int = Field(2, ge=1, description="reference model blocks (when trained here)")
    n_heads: int = Field(4, ge=1, description="reference model heads (when trained here)")
    pretrain_steps: int = Field(600, ge=1, description="steps of next-token training for the reference")
    prompt_len: int = Field(16, ge=1, description="prompt length in tokens")
    completion_len: int = Field(24, ge=1, description="completion length in tokens")


@dataclass
class Setup:
    data: TokenData
    reference: torch.nn.Module
    tokenizer: Any
    gold: GoldRewards
    device: torch.device

    def prompts(self, split: str, n: int, length: int, generator: torch.Generator) -> torch.Tensor:
        """n prompts of `length` tokens from the train or val split (on the study's device)."""
        return sample_prompts(self.data, self.tokenizer, split, n, length, generator).to(self.device)

    def comparisons(self, split: str, n: int, k: int, cfg: PreferenceStudyConfig, generator: torch.Generator,
                    sample_generator: torch.Generator, model: torch.nn.Module | None = None) -> Comparisons:
        """k completions (of `cfg.completion_len` tokens) for each of n prompts of `split`, from `model` (default:
        the reference), gold-scored."""
        prompts = self.prompts(split, n, cfg.prompt_len, generator)
        return sample_comparisons(model or self.reference, self.tokenizer, prompts, k, cfg.completion_len,
                                  self.gold, sample_generator)


def setup(ctx, cfg: PreferenceStudyConfig, bar=None) -> Setup:
    """Load the corpus, get the reference model (load or train; `bar` advances by `cfg.pretrain_steps` when it is
    trained) and build the gold rewards on the training split."""
    data = load_data(cfg.corpus_path, max_chars=cfg.max_chars)
    model, tokenizer = reference_model(ctx, data, cfg.reference, max_len=cfg.prompt_len + cfg.completion_len,
                                       d_model=cfg.d_model, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                                       steps=cfg.pretrain_steps, bar=bar)
    model.eval().requires_grad_(False)
    gold = gold_rewards(data.text("train"))
    ctx.summary(corpus=data.source, gold_rewards=gold.describe())
    return Setup(data, model, tokenizer, gold, ctx.torch_device)


def pretrain_total(cfg: PreferenceStudyConfig) -> int:
    """Progress-bar units `setup` uses (0 when the reference is loaded)."""
    return 0 if cfg.reference else cfg.pretrain_steps
