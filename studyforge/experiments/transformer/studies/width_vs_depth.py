"""`transformer.width_vs_depth`: at a fixed parameter count, does the model's shape matter?

A block holds ≈ 12·d² parameters (4d² of attention, 8d² of a 4d feed-forward), so L blocks of width d hold
≈ 12·L·d². Kaplan et al. ("Scaling Laws for Neural Language Models", arXiv:2001.08361, §3.1) found the loss
at fixed N depends only weakly on the aspect ratio d / L over a wide range; the study trains shapes from
shallow-wide to deep-narrow on the same tokens and measures the spread.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field

from studyforge.experiments.language_modeling.harness import (
    TrainResult,
    finite_or_none,
    train_logged,
    unigram_loss,
)
from studyforge.experiments.registry import register
from studyforge.experiments.transformer import plots
from studyforge.experiments.transformer.studies.common import (
    QUICK_SHAPE,
    LMStudyConfig,
    base_model,
    corpus_summary,
    load_corpus,
    train_cfg,
)


class WidthDepthConfig(LMStudyConfig):
    target_params: int = Field(200_000, ge=1000, description="non-embedding parameters to aim at (≈ 12·L·d²)")
    depths: list[int] = Field([1, 2, 4, 8], description="numbers of layers to try")
    head_dim: int = Field(16, ge=2, description="width per head; d is rounded to a multiple of it")
    presets: ClassVar = {"quick": {**QUICK_SHAPE, "steps": 12, "warmup": 3, "eval_every": 0, "target_params": 20_000,
                                   "depths": [1, 2]},
                         "full": {"seq_len": 256, "batch_size": 32, "steps": 5000, "warmup": 200, "lr": 1e-3,
                                  "eval_every": 500, "eval_windows": 400, "target_params": 5_000_000,
                                  "depths": [1, 2, 4, 8, 16, 32], "head_dim": 32}}


def shape_for(target: int, depth: int, head_dim: int) -> int:
    """Width d with 12·L·d² ≈ target, rounded to a multiple of head_dim: `shape_for(196_608, 4, 16)` -> 64."""
    # 12·L·d² = P  =>  d = √(P / 12L)
    d = math.sqrt(target / (12 * depth))
    return max(head_dim, int(round(d / head_dim)) * head_dim)


@register("transformer.width_vs_depth", week=5, config=WidthDepthConfig, headline="spread")
def width_vs_depth(ctx, cfg: WidthDepthConfig) -> None:
    """Width against depth at (nearly) fixed non-embedding parameters, trained on the same tokens.

    For each depth L the width d is chosen so that 12·L·d² ≈ `target_params` (a block's attention plus
    4d feed-forward), rounded to whole heads. Kaplan et al. ("Scaling Laws for Neural Language Models",
    arXiv:2001.08361, §3.1) found the loss at fixed N depends only weakly on the shape over a wide range
    of aspect ratios d/L. Recorded: the exact parameters, validation loss, throughput, and the relative
    spread of the losses.
    """
    data = load_corpus(cfg)
    shapes = [(depth, shape_for(cfg.target_params, depth, cfg.head_dim)) for depth in cfg.depths]
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(shapes), description="width vs depth") as bar:
        for depth, width in shapes:
            mcfg = base_model(cfg, data, n_layers=depth, d_model=width, n_heads=width // cfg.head_dim)
            results[f"L{depth}_d{width}"] = train_logged(ctx, data, mcfg, train_cfg(cfg), f"L{depth}_d{width}", bar)
    summary = {}
    for (depth, width), (name, r) in zip(shapes, results.items(), strict=True):
        s = r.summary()
        summary[name] = {"depth": depth, "width": width, "aspect_ratio": width / depth,
                         "params_non_embedding": s["params_non_embedding"], "val_loss": finite_or_none(s["val_loss"]),
                         "tokens_per_s": s["tokens_per_s"]}
    losses = [v["val_loss"] for v in summary.values() if v["val_loss"] is not None]
    ctx.log_figure("width_vs_depth", plots.width_vs_depth(summary, results, cfg.target_params,
                                                          unigram_loss(data) + 0.3),
                   caption="Validation loss against aspect ratio at fixed parameters, and the training curves.")
    ctx.log_table("shapes", [{"shape": k, **v} for k, v in summary.items()],
                  caption="Depth, width, exact non-embedding parameters, validation loss, throughput.")
    best = min((k for k in summary if summary[k]["val_loss"] is not None), key=lambda k: summary[k]["val_loss"],
               default=None)
    # spread = (max − min) / min of the validation losses
    spread = (max(losses) - min(losses)) / min(losses) if losses else None
    ctx.summary(shapes=summary, best_shape=best, spread=spread, corpus=corpus_summary(data),
                target_params=cfg.target_params)
