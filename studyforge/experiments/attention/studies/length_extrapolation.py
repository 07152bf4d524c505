"""`attention.length_extrapolation`: which position encodings let a model read past its training length.

Attention itself is order-blind; positions come from an encoding. Learned absolute positions (GPT-2) have no
embedding past the training length; sinusoids (Vaswani et al., arXiv:1706.03762) exist at every position but
were never seen there; relative schemes — Shaw et al.'s clipped relative embeddings (arXiv:1803.02155), RoPE's
rotations (arXiv:2104.09864), ALiBi's linear distance penalty (Press et al., arXiv:2108.12409, "Train Short,
Test Long") — depend only on distances, which longer windows keep reusing.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.attention import plots
from studyforge.experiments.attention.model import POSITIONS, TinyLM, evaluate, train
from studyforge.experiments.attention.studies.common import CORPUS_FIELD, corpus_summary, load_corpus
from studyforge.experiments.config import ExperimentConfig, names_in
from studyforge.experiments.registry import register


class ExtrapolationConfig(ExperimentConfig):
    corpus_path: str | None = CORPUS_FIELD
    encodings: Annotated[list[str], names_in(POSITIONS, "encodings", allow_empty=True)] = Field(
        ["none", "sinusoidal", "learned", "shaw", "rope", "alibi"],
        description="positional encodings to compare (model.POSITIONS)")
    train_length: int = Field(128, ge=8, description="training sequence length (characters)")
    eval_multiples: list[int] = Field([1, 2, 4, 8], description="evaluate at these multiples of train_length")
    eval_tokens: int = Field(32768, ge=64, description="validation characters per evaluation length")
    steps: int = Field(400, ge=1, description="training steps per model")
    batch_size: int = Field(32, ge=1, description="training windows per step")
    lr: float = Field(3e-3, gt=0, description="peak AdamW learning rate")
    d_model: int = Field(64, ge=8, description="model width")
    n_layers: int = Field(2, ge=1, description="transformer blocks")
    n_heads: int = Field(4, ge=1, description="attention heads per block")
    shaw_max_distance: int = Field(16, ge=1, description="Shaw et al.'s clipping distance k")
    graceful_ratio: float = Field(1.25, gt=1, description="'degrades gracefully' means ppl(8x) / ppl(1x) <= this")
    presets: ClassVar = {
        "quick": {"train_length": 32, "eval_multiples": [1, 2, 4], "eval_tokens": 2048, "steps": 15,
                  "batch_size": 8, "d_model": 32, "n_layers": 1, "n_heads": 2, "shaw_max_distance": 8},
        "full": {"steps": 3000, "d_model": 128, "n_layers": 4, "eval_multiples": [1, 2, 4, 8, 16]},
    }


@register("attention.length_extrapolation", week=3, config=ExtrapolationConfig, headline="alibi.ppl_ratio_max")
def length_extrapolation(ctx, cfg: ExtrapolationConfig) -> None:
    """Position encodings compared on length extrapolation.

    One small character-level LM per positional encoding, same data, seed and budget, trained on windows
    of `train_length` characters, then evaluated (perplexity over every position of non-overlapping
    validation windows) at 1×, 2×, 4×, 8× the training length. The plan's story — ALiBi and RoPE degrade
    gracefully, learned absolute positions cannot extrapolate — is checked, not assumed: the summary's
    `checks` say which encodings stayed within `graceful_ratio` of their training-length perplexity.
    """
    corpus = load_corpus(cfg.corpus_path)
    dev = ctx.torch_device
    lengths = [cfg.train_length * m for m in cfg.eval_multiples]
    eval_sets = {L: corpus.windows("val", L, max(1, cfg.eval_tokens // L)) for L in lengths}
    results: dict[str, dict] = {}
    position_curves = {}
    with ctx.progress(total=len(cfg.encodings) * cfg.steps, description="training one LM per encoding") as bar:
        for enc in cfg.encodings:
            torch.manual_seed(ctx.seed)  # same initialisation stream and data order for every encoding
            model = TinyLM(corpus.vocab_size, cfg.d_model, cfg.n_layers, cfg.n_heads, enc, cfg.train_length,
                           cfg.shaw_max_distance).to(dev)
            gen = torch.Generator().manual_seed(ctx.seed)

            def on_step(step: int, loss: float, enc=enc) -> None:
                if step % 10 == 0 or step == cfg.steps - 1:
                    ctx.log({f"train_loss/{enc}": loss}, step=step)
                bar.advance(1, loss=round(loss, 3))

            losses = train(model, corpus, cfg.steps, cfg.batch_size, cfg.train_length, cfg.lr, gen, on_step)
            entry: dict = {"final_train_loss": float(np.mean(losses[-10:]))}
            for L in lengths:
                x, y = eval_sets[L]
                if L == lengths[-1]:
                    loss, per_pos = evaluate(model, x, y, per_position=True)
                    position_curves[enc] = per_pos
                else:
                    loss = evaluate(model, x, y)
                # perplexity = exp(mean cross-entropy per character)
                entry[f"ppl_L{L}"] = math.exp(loss)
            base = entry[f"ppl_L{cfg.train_length}"]
            for m, L in zip(cfg.eval_multiples, lengths, strict=True):
                entry[f"ppl_ratio_{m}x"] = entry[f"ppl_L{L}"] / base
            entry["ppl_ratio_max"] = entry[f"ppl_ratio_{cfg.eval_multiples[-1]}x"]
            entry["graceful"] = entry["ppl_ratio_max"] <= cfg.graceful_ratio
            results[enc] = entry
            ctx.log({f"ppl/{enc}/L{L}": entry[f"ppl_L{L}"] for L in lengths})
            ctx.save_checkpoint(f"lm_{enc}", {"state_dict": model.state_dict(), "encoding": enc,
                                              "chars": corpus.chars, "config": cfg.model_dump()})

    ctx.log_figure("perplexity_vs_length", plots.perplexity_vs_length(results, position_curves, lengths,
                                                                      cfg.train_length, corpus.source),
                   caption="Left: perplexity against evaluation length (dotted: training length). Right: where, "
                           "inside the longest windows, each encoding's predictions degrade.")
    ctx.log_table("extrapolation", [{"encoding": enc, **{f"ppl_L{L}": e[f"ppl_L{L}"] for L in lengths},
                                     "ratio_max": e["ppl_ratio_max"]} for enc, e in results.items()],
                  caption="Validation perplexity per encoding and evaluation length.")
    ranking = sorted(results, key=lambda e: results[e][f"ppl_L{lengths[-1]}"])
    checks = {"graceful": [e for e in ranking if results[e]["graceful"]], f"ranking_at_L{lengths[-1]}": ranking}
    if "learned" in results:
        others = [e for e in ("alibi", "rope") if e in results]
        checks["learned_worse_than_alibi_and_rope_at_max"] = all(
            results["learned"]["ppl_ratio_max"] > results[o]["ppl_ratio_max"] for o in others) if others else None
    ctx.summary(**results, checks=checks, corpus=corpus_summary(corpus),
                eval_lengths=lengths, train_length=cfg.train_length)
