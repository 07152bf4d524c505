"""What the week-8 studies share: the corpus and its tokenizer, the model and training budget, and the
per-token loss a model gives a sequence.

Text: `corpus_path` (Tiny Shakespeare at `data/tinyshakespeare.txt` in the workspace by default), else the
offline stdlib-docstring corpus (`corpus.source` in the summary says which).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.language_modeling.data import TokenData, load_data
from studyforge.experiments.language_modeling.trainer import TrainConfig
from studyforge.experiments.transformer.config import TransformerConfig

CORPUS_FIELD = Field("data/tinyshakespeare.txt", description="text file to train on; if missing, an offline corpus "
                     "of Python standard-library docstrings is used instead")
QUICK = {"max_chars": 60_000, "seq_len": 32, "batch_size": 8, "eval_windows": 8, "eval_every": 0}


class LMConfig(ExperimentConfig):
    corpus_path: str = CORPUS_FIELD
    max_chars: int | None = Field(None, description="use only the first this many characters (None: all)")
    tokenizer: Literal["char", "bpe"] = Field("char", description="characters, or week 2's byte-level BPE")
    bpe_vocab_size: int = Field(512, ge=257, description="BPE vocabulary size (256 bytes + merges)")
    architecture: Literal["llama", "gpt2"] = Field("llama", description="architecture preset (transformer.config)")
    d_model: int = Field(128, ge=8, description="residual width")
    n_layers: int = Field(4, ge=1, description="blocks")
    n_heads: int = Field(4, ge=1, description="attention heads")
    seq_len: int = Field(64, ge=8, description="context length in tokens")
    batch_size: int = Field(12, ge=1, description="sequences per step")
    steps: int = Field(2000, ge=1, description="optimizer steps")
    lr: float = Field(1e-3, gt=0, description="peak learning rate (AdamW, β₂ = 0.99, cosine to lr/10)")
    warmup: int = Field(100, ge=0, description="warm-up steps")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout")
    eval_every: int = Field(250, ge=0, description="evaluate every this many steps")
    eval_windows: int = Field(200, ge=1, description="validation windows per evaluation")


def load_corpus(cfg) -> TokenData:
    """`cfg.corpus_path` (or the offline fallback) tokenized as `cfg.tokenizer` says."""
    return load_data(cfg.corpus_path, cfg.tokenizer, cfg.bpe_vocab_size, max_chars=cfg.max_chars)


def corpus_summary(data: TokenData) -> dict[str, Any]:
    """Where the text came from, its size, vocabulary, hash, tokenizer and token counts: the summary's `corpus`."""
    return {"source": data.source, "chars": data.chars, "vocab_size": data.vocab_size, "sha256_16": data.sha256,
            "tokenizer": data.tokenizer.kind, "train_tokens": len(data.train), "val_tokens": len(data.val)}


def chars_per_token(data: TokenData) -> float:
    """Characters per validation token (1 for characters), to turn nats/token into bits/character."""
    return len(data.text("val")) / len(data.val)


def bits_per_char(loss_nats_per_token: float, chars_per_token: float) -> float:
    """bpc = loss / (ln 2 · chars per token): `round(bits_per_char(math.log(2), 1.0), 6)` -> 1.0."""
    return loss_nats_per_token / (math.log(2) * chars_per_token)


def model_cfg(cfg, data: TokenData, **overrides) -> TransformerConfig:
    """The `cfg.architecture` preset at the study's shape (vocabulary from `data`), then overrides."""
    values = {"vocab_size": data.vocab_size, "max_len": cfg.seq_len, "d_model": cfg.d_model, "n_layers": cfg.n_layers,
              "n_heads": cfg.n_heads, "ffn_multiple_of": 32, "dropout": cfg.dropout, **overrides}
    return TransformerConfig.preset(cfg.architecture, **values)


def train_cfg(cfg, **overrides) -> TrainConfig:
    """The study's training budget (AdamW, β = (0.9, 0.99), weight decay 0.1, cosine to lr/10), then overrides."""
    values = {"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr, "warmup": cfg.warmup,
              "eval_every": cfg.eval_every, "eval_windows": cfg.eval_windows, "min_lr_ratio": 0.1,
              "betas": (0.9, 0.99), "weight_decay": 0.1, **overrides}
    return TrainConfig(**values)


@torch.no_grad()
def token_nll(model, seq: torch.Tensor) -> torch.Tensor:
    """−log p(x_t | x_<t) for t ≥ 1 of sequences (N, T) -> (N, T − 1), in nats."""
    logits = model(seq[:, :-1]).logits.float()  # (N, T−1, V)
    return -F.log_softmax(logits, dim=-1).gather(-1, seq[:, 1:, None]).squeeze(-1)
