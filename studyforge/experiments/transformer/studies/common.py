"""What the week-5 training studies share: the corpus, the base model and the training budget.

Text: `corpus_path` (Tiny Shakespeare's `input.txt` is the intended one, looked for at
`data/tinyshakespeare.txt` in the workspace), else the offline stdlib-docstring corpus; the summary says
which (`corpus.source`). Every model is trained by `language_modeling.trainer.Trainer`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.language_modeling.data import load_data
from studyforge.experiments.language_modeling.harness import unigram_loss
from studyforge.experiments.language_modeling.trainer import TrainConfig
from studyforge.experiments.transformer.config import TransformerConfig

CORPUS_FIELD = Field("data/tinyshakespeare.txt", description="text file to train on (characters); if missing, "
                     "an offline corpus of Python standard-library docstrings is used instead")
MAX_CHARS_FIELD = Field(None, description="use only the first this many characters of the corpus (None: all)")
QUICK_SHAPE = {"d_model": 32, "n_layers": 2, "n_heads": 2, "seq_len": 32, "batch_size": 8, "eval_windows": 8,
               "max_chars": 60_000}


class LMStudyConfig(ExperimentConfig):
    """Fields every week-5 training study shares: corpus, model shape, budget."""

    corpus_path: str = CORPUS_FIELD
    max_chars: int | None = MAX_CHARS_FIELD
    d_model: int = Field(64, ge=8, description="residual width of the base model")
    n_layers: int = Field(4, ge=1, description="blocks of the base model")
    n_heads: int = Field(4, ge=1, description="attention heads")
    seq_len: int = Field(64, ge=8, description="context length (characters)")
    batch_size: int = Field(16, ge=1, description="sequences per step")
    steps: int = Field(300, ge=1, description="optimizer steps per model")
    lr: float = Field(2e-3, gt=0, description="peak learning rate (AdamW)")
    warmup: int = Field(30, ge=0, description="warm-up steps")
    eval_every: int = Field(100, ge=0, description="evaluate every this many steps")
    eval_windows: int = Field(100, ge=1, description="validation windows per evaluation")


def load_corpus(cfg):
    """The characters of `cfg.corpus_path` (or the offline fallback), as `language_modeling.data.TokenData`."""
    return load_data(cfg.corpus_path, "char", max_chars=cfg.max_chars)


def corpus_summary(data) -> dict[str, Any]:
    """Where the text came from, its size, vocabulary, hash and unigram loss: the summary's `corpus`."""
    return {"source": data.source, "chars": data.chars, "vocab_size": data.vocab_size, "sha256_16": data.sha256,
            "unigram_loss": unigram_loss(data)}


def base_model(cfg, data, **overrides) -> TransformerConfig:
    """The study's base architecture (GPT-2 style: pre-LayerNorm, GELU, learned positions), then overrides."""
    values = {"vocab_size": data.vocab_size, "max_len": cfg.seq_len, "d_model": cfg.d_model,
              "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, **overrides}
    return TransformerConfig(**values)


def train_cfg(cfg, **overrides) -> TrainConfig:
    """The study's training budget (`cfg`'s steps, batch, lr, warm-up, evaluation; seed 0), then overrides."""
    values = {"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr, "warmup": cfg.warmup,
              "eval_every": cfg.eval_every, "eval_windows": cfg.eval_windows, "eval_batch_size": 50,
              "seed": 0, **overrides}
    return TrainConfig(**values)
