"""`language_modeling.perplexity_vs_model_size`: validation loss against model size, and a power-law fit.

Kaplan et al. ("Scaling Laws for Neural Language Models", arXiv:2001.08361) found the converged loss of a
language model falls as a power of its non-embedding parameters, L(N) ≈ (N_c / N)^α_N with α_N ≈ 0.076;
Hoffmann et al. (Chinchilla, arXiv:2203.15556) that parameters and training tokens should grow together.
Small, briefly trained models sit far from that regime, so the fitted α here is descriptive only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.language_modeling import plots
from studyforge.experiments.language_modeling.harness import TrainResult, finite_or_none, train_logged
from studyforge.experiments.language_modeling.studies.common import (
    QUICK,
    LMConfig,
    bits_per_char,
    chars_per_token,
    corpus_summary,
    load_corpus,
    model_cfg,
    train_cfg,
)
from studyforge.experiments.registry import register


class SizesConfig(LMConfig):
    sizes: list[tuple[int, int, int]] = Field([(32, 1, 2), (64, 2, 4), (96, 3, 4), (128, 4, 4), (192, 4, 6)],
                                              description="(d_model, n_layers, n_heads) of each model")
    presets: ClassVar = {"quick": {**QUICK, "steps": 12, "warmup": 3, "sizes": [(16, 1, 2), (24, 1, 2), (32, 1, 2),
                                                                                 (32, 2, 2)]},
                         "full": {"seq_len": 256, "batch_size": 64, "steps": 5000, "eval_windows": 400,
                                  "sizes": [(64, 2, 4), (128, 4, 4), (192, 6, 6), (256, 6, 8), (384, 6, 6),
                                            (512, 8, 8)]}}
    steps: int = Field(600, ge=1, description="optimizer steps per model (every size sees the same tokens)")
    eval_every: int = Field(100, ge=0, description="evaluate every this many steps (the tokens curve)")


def power_law_fit(n: list[float], loss: list[float]) -> tuple[float, float]:
    """(α, a) of loss ≈ a · N^(−α), by least squares in log-log: exact for `power_law_fit([1, 10], [2, 1])`,
    α = log10(2) ≈ 0.301."""
    slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)
    return float(-slope), float(np.exp(intercept))


@register("language_modeling.perplexity_vs_model_size", week=8, config=SizesConfig, headline="fit.alpha")
def perplexity_vs_model_size(ctx, cfg: SizesConfig) -> None:
    """Validation perplexity against model size (≥ 4 sizes) and against training tokens.

    Every size is trained on the same batches for the same steps and evaluated every `eval_every` steps,
    which gives perplexity against training tokens per size; the final validation losses against the
    non-embedding parameters N are fitted by a power law L ≈ a·N^(−α) in log-log space (Kaplan et al.,
    arXiv:2001.08361, report α ≈ 0.076 for converged large models; small, briefly trained models here
    are far from that regime, so α is descriptive only).
    """
    data = load_corpus(cfg)
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(cfg.sizes), description="model sizes") as bar:
        for d, layers, heads in cfg.sizes:
            name = f"d{d}_L{layers}"
            results[name] = train_logged(ctx, data, model_cfg(cfg, data, d_model=d, n_layers=layers, n_heads=heads),
                                         train_cfg(cfg), name, bar)
    sizes: dict[str, Any] = {}
    for name, r in results.items():
        s = r.summary()
        sizes[name] = {"params": s["params"], "params_non_embedding": s["params_non_embedding"],
                       "val_loss": s["val_loss"], "val_ppl": s["val_ppl"], "tokens_per_s": s["tokens_per_s"],
                       "curve": [[e["tokens"], finite_or_none(e["val_loss"])] for e in r.evals]}
    ok = {k: v for k, v in sizes.items() if v["val_loss"] is not None}
    alpha, a = power_law_fit([v["params_non_embedding"] for v in ok.values()], [v["val_loss"] for v in ok.values()])
    ctx.log_figure("perplexity_vs_size", plots.perplexity_vs_size(sizes, ok, alpha, a),
                   caption="Validation perplexity against training tokens per model "
                   "size, and final validation loss against non-embedding parameters with a power-law fit.")
    ctx.log_table("sizes", [{"model": k, **{kk: vv for kk, vv in v.items() if kk != "curve"}} for k, v in sizes.items()],
                  caption="Model sizes: parameters, final validation loss and perplexity, throughput.")
    ordered = [v["val_loss"] for v in sorted(ok.values(), key=lambda v: v["params_non_embedding"])]
    ctx.summary(sizes=sizes, fit={"alpha": alpha, "a": a},
                checks={"larger_models_reach_lower_loss": all(x > y for x, y in zip(ordered, ordered[1:], strict=False)),
                        "at_least_four_sizes": len(ok) >= 4},
                tokens_per_model=cfg.steps * cfg.batch_size * cfg.seq_len, corpus=corpus_summary(data),
                bits_per_char={k: bits_per_char(v["val_loss"], chars_per_token(data)) for k, v in ok.items()})
