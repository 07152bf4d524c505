"""`language_modeling.train_small_lm`: a small autoregressive language model, trained and sampled.

A decoder-only transformer learns p(x_t | x_<t) by minimising the cross-entropy of the next token (GPT,
Radford et al. 2018; here LLaMA's choices, arXiv:2302.13971). Sampling divides the logits by a temperature τ
(τ → 0: greedy) or keeps only the k most likely tokens (top-k) or the smallest set holding probability p
(nucleus, Holtzman et al., arXiv:1904.09751); lower τ repeats itself, higher τ invents words.
"""

from __future__ import annotations

import re
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.language_modeling import plots
from studyforge.experiments.language_modeling.checkpoint import export
from studyforge.experiments.language_modeling.generate import generate
from studyforge.experiments.language_modeling.harness import finite_or_none, train_logged, unigram_loss
from studyforge.experiments.language_modeling.studies.common import (
    QUICK,
    LMConfig,
    bits_per_char,
    chars_per_token,
    corpus_summary,
    load_corpus,
    model_cfg,
    token_nll,
    train_cfg,
)
from studyforge.experiments.registry import register


class SmallLMConfig(LMConfig):
    temperatures: list[float] = Field([0.0, 0.5, 0.8, 1.0, 1.2], description="sampling temperatures (0 = greedy)")
    top_p: float = Field(0.9, gt=0, le=1, description="nucleus threshold of the extra top-p sample (at τ = 1)")
    top_k: int = Field(10, ge=1, description="k of the extra top-k sample (at τ = 1)")
    sample_tokens: int = Field(300, ge=1, description="tokens per shown sample")
    quality_samples: int = Field(8, ge=1, description="samples per temperature for the quality measures")
    prompt: str = Field("The ", description="prompt of every sample (must be encodable by the tokenizer)")
    presets: ClassVar = {"quick": {**QUICK, "d_model": 32, "n_layers": 2, "n_heads": 2, "steps": 20, "warmup": 5,
                                   "sample_tokens": 40, "quality_samples": 2, "temperatures": [0.0, 1.0]},
                         "full": {"d_model": 384, "n_layers": 6, "n_heads": 6, "seq_len": 256, "batch_size": 64,
                                  "steps": 5000, "dropout": 0.2, "eval_every": 250, "eval_windows": 400}}


def _word_validity(text: str, vocabulary: set[str]) -> float | None:
    """Fraction of the sample's words (letter runs) that occur in the training text."""
    words = re.findall(r"[A-Za-z]+", text)
    return sum(w in vocabulary for w in words) / len(words) if words else None


def _distinct(ids: list[int], n: int = 4) -> float:
    """Distinct n-grams / all n-grams: `_distinct([1, 2, 1, 2, 1], 2)` -> 0.5 (repetition lowers it)."""
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@register("language_modeling.train_small_lm", week=8, config=SmallLMConfig, headline="bits_per_char")
def train_small_lm(ctx, cfg: SmallLMConfig) -> None:
    """Train a small autoregressive transformer and sample from it at several temperatures.

    A LLaMA-style decoder (RMSNorm, SwiGLU, RoPE, tied embeddings; `architecture=gpt2` for pre-LayerNorm,
    GELU, learned positions) trained with AdamW, warm-up and cosine decay, on characters or week 2's BPE.
    Recorded: training and validation loss and perplexity over training, bits per character (comparable
    across tokenizers), throughput; samples at each temperature (0 = greedy) plus a top-k and a top-p one;
    per temperature, over `quality_samples` samples: the model's own NLL of what it wrote, the share of
    distinct 4-grams (repetition), and the share of generated words found in the training text. The
    model is saved as the `model` checkpoint (format: `language_modeling.checkpoint`).
    """
    data = load_corpus(cfg)
    mcfg = model_cfg(cfg, data)
    tcfg = train_cfg(cfg)
    with ctx.progress(total=cfg.steps, description="training") as bar:
        result = train_logged(ctx, data, mcfg, tcfg, "lm", bar)
    model, device = result.trainer.model.eval(), ctx.torch_device
    cpt = chars_per_token(data)
    final = result.final
    metrics = {"val_loss": final["val_loss"], "val_ppl": final["val_ppl"], "train_loss": final["train_loss"],
               "bits_per_char": bits_per_char(final["val_loss"], cpt)}
    ctx.save_checkpoint("model", export(model, data.tokenizer, tcfg.model_dump(mode="json"), result.trainer.step,
                                        result.trainer.tokens_seen, corpus_summary(data), metrics))

    prompt = torch.tensor([data.tokenizer.encode(cfg.prompt)], device=device)
    train_text = data.tokenizer.decode(data.train[:200_000].tolist())
    vocabulary = set(re.findall(r"[A-Za-z]+", train_text))
    samples, quality = {}, {}
    for i, tau in enumerate(cfg.temperatures):
        g = torch.Generator(device=device).manual_seed(ctx.seed * 1000 + i)
        batch = generate(model, prompt.expand(cfg.quality_samples, -1), cfg.sample_tokens, tau, generator=g)
        texts = [data.tokenizer.decode(row[prompt.shape[1]:].tolist()) for row in batch]
        key = f"t{tau:g}".replace(".", "_")
        samples[key] = texts[0]
        validity = [v for v in (_word_validity(t, vocabulary) for t in texts) if v is not None]
        quality[key] = {"temperature": tau,
                        "self_nll": float(token_nll(model, batch)[:, prompt.shape[1] - 1:].mean()),
                        "distinct_4grams": float(np.mean([_distinct(r[prompt.shape[1]:].tolist()) for r in batch])),
                        "word_validity": float(np.mean(validity)) if validity else None}
    g = torch.Generator(device=device).manual_seed(ctx.seed)
    samples["top_k"] = data.tokenizer.decode(generate(model, prompt, cfg.sample_tokens, 1.0, top_k=cfg.top_k,
                                                      generator=g)[0, prompt.shape[1]:].tolist())
    samples["top_p"] = data.tokenizer.decode(generate(model, prompt, cfg.sample_tokens, 1.0, top_p=cfg.top_p,
                                                      generator=g)[0, prompt.shape[1]:].tolist())
    ctx.log_table("samples", [{"setting": k, "text": v} for k, v in samples.items()],
                  caption=f"Samples from the prompt {cfg.prompt!r}: per temperature (t0 = greedy), top-k, top-p.")
    ctx.log_table("generation_quality", [{"setting": k, **v} for k, v in quality.items()],
                  caption="Per temperature: the model's NLL of its own samples (nats/token), distinct 4-grams, "
                          "share of words found in the training text.")
    ctx.log_figure("training_and_generation", plots.training_and_generation(
        result, quality, f"{cfg.architecture}, {data.tokenizer.kind} tokens"),
        caption="Loss curves, and diversity/validity of samples against temperature.")
    s = result.summary()
    ctx.summary(**{k: finite_or_none(v) for k, v in metrics.items()}, params=s["params"],
                params_non_embedding=s["params_non_embedding"], tokens_per_s=s["tokens_per_s"],
                tokens_seen=result.trainer.tokens_seen, chars_per_token=cpt,
                curve=[[e["step"], e["val_loss"]] for e in result.evals], samples=samples, quality=quality,
                checkpoint="checkpoints/model.pt", corpus=corpus_summary(data), architecture=cfg.architecture,
                unigram_loss=unigram_loss(data))
