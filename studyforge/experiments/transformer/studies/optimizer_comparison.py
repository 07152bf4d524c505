"""`transformer.optimizer_comparison`: AdamW against Lion and Adafactor on the same model and data.

AdamW (Loshchilov & Hutter, arXiv:1711.05101) keeps two moments per parameter; Lion (Chen et al., "Symbolic
Discovery of Optimization Algorithms", arXiv:2302.06675) keeps one and steps by its sign, so it wants a
smaller learning rate and a larger weight decay; Adafactor (Shazeer & Stern, arXiv:1804.04235) factors the
second moment of a matrix into row and column statistics. Each is swept over learning rates, since an
optimizer compared at one learning rate is mostly compared on that choice.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field

from studyforge.experiments.language_modeling.harness import (
    TrainResult,
    finite_or_none,
    train_logged,
    unigram_loss,
)
from studyforge.experiments.registry import register
from studyforge.experiments.transformer import plots
from studyforge.experiments.transformer.optim import state_bytes
from studyforge.experiments.transformer.studies.common import (
    QUICK_SHAPE,
    LMStudyConfig,
    base_model,
    corpus_summary,
    load_corpus,
    train_cfg,
)

OPTIMIZER_SETTINGS: dict[str, dict[str, float]] = {
    "adamw": {"lr": 3e-3, "weight_decay": 0.1},
    # Lion: 3–10× smaller lr and 3–10× larger weight decay than AdamW (Chen et al., §5)
    "lion": {"lr": 5e-4, "weight_decay": 1.0},
    "adafactor": {"lr": 3e-3, "weight_decay": 0.1},
}


class OptimizerConfig(LMStudyConfig):
    optimizers: dict[str, dict[str, float]] = Field(OPTIMIZER_SETTINGS, description="optimizer -> base lr and "
                                                    "weight decay")
    lr_multipliers: list[float] = Field([0.5, 1.0, 2.0], description="each optimizer is trained at base lr × these")
    architecture: dict[str, Any] = Field({"norm": "rmsnorm", "activation": "swiglu", "position": "rope",
                                          "ffn_multiple_of": 8}, description="overrides of the base model (LLaMA-style)")
    presets: ClassVar = {"quick": {**QUICK_SHAPE, "steps": 12, "warmup": 3, "eval_every": 0, "lr_multipliers": [1.0]},
                         "full": {"d_model": 256, "n_layers": 6, "n_heads": 8, "seq_len": 256, "batch_size": 32,
                                  "steps": 5000, "warmup": 200, "eval_every": 500, "eval_windows": 400,
                                  "lr_multipliers": [0.25, 0.5, 1.0, 2.0, 4.0]}}


@register("transformer.optimizer_comparison", week=5, config=OptimizerConfig, headline="optimizers.adamw.best_val_loss")
def optimizer_comparison(ctx, cfg: OptimizerConfig) -> None:
    """AdamW vs Lion vs Adafactor on the same model and data, each over a small learning-rate sweep.

    AdamW (torch's) against Lion (arXiv:2302.06675) and Adafactor (arXiv:1804.04235, factored second
    moments, here with β₁ momentum and absolute steps), both written from scratch in `transformer.optim`.
    Each optimizer runs at its base learning rate times each multiplier; recorded: loss curves, the best
    validation loss and its learning rate, gradient-norm spikes, and the bytes of optimizer state (Adam
    keeps two moments per parameter, Lion one, Adafactor row and column statistics).
    """
    data = load_corpus(cfg)
    mcfg = base_model(cfg, data, **cfg.architecture)
    runs = [(opt, m) for opt in cfg.optimizers for m in cfg.lr_multipliers]
    results: dict[tuple[str, float], TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(runs), description="optimizers") as bar:
        for opt, mult in runs:
            base = cfg.optimizers[opt]
            tcfg = train_cfg(cfg, optimizer=opt, lr=base["lr"] * mult, weight_decay=base.get("weight_decay", 0.1))
            results[(opt, mult)] = train_logged(ctx, data, mcfg, tcfg, f"{opt}/lr_x{mult:g}", bar)

    summary: dict[str, Any] = {}
    best_runs: dict[str, TrainResult] = {}
    for opt in cfg.optimizers:
        sweep = {m: results[(opt, m)] for m in cfg.lr_multipliers}
        finals = {m: r.summary()["val_loss"] for m, r in sweep.items()}
        ok = {m: v for m, v in finals.items() if v is not None and math.isfinite(v)}
        best_m = min(ok, key=ok.get) if ok else cfg.lr_multipliers[0]
        best_runs[opt] = sweep[best_m]
        r = sweep[best_m]
        summary[opt] = {"best_val_loss": ok.get(best_m), "best_lr": cfg.optimizers[opt]["lr"] * best_m,
                        "val_loss_by_lr": {f"x{m:g}".replace(".", "_"): finite_or_none(v) if v is not None else None
                                           for m, v in finals.items()},
                        "state_bytes": state_bytes(r.trainer.optimizer),
                        "state_bytes_per_param": state_bytes(r.trainer.optimizer) / r.trainer.model.num_params(),
                        "grad_spikes": r.summary()["grad_spikes"], "tokens_per_s": r.tokens_per_s()}
    ctx.log_figure("loss_curves", plots.loss_curves({f"{k} (best lr)": v for k, v in best_runs.items()},
                                                    "Optimizers at their best learning rate",
                                                    ylim_from=unigram_loss(data) + 0.3),
                   caption="Smoothed training loss of each optimizer at the best learning rate of its sweep.")
    ctx.log_figure("lr_sensitivity", plots.lr_sensitivity(
        {opt: ([cfg.optimizers[opt]["lr"] * m for m in cfg.lr_multipliers],
               [results[(opt, m)].summary()["val_loss"] for m in cfg.lr_multipliers]) for opt in cfg.optimizers}),
        caption="Final validation loss against learning rate, per optimizer.")
    ctx.log_table("optimizers", [{"optimizer": k, **{kk: vv for kk, vv in v.items() if kk != "val_loss_by_lr"}}
                                 for k, v in summary.items()],
                  caption="Best validation loss per optimizer, its learning rate, and optimizer-state memory.")
    finished = {k: v["best_val_loss"] for k, v in summary.items() if v["best_val_loss"] is not None}
    ctx.summary(optimizers=summary, best_optimizer=min(finished, key=finished.get) if finished else None,
                corpus=corpus_summary(data), params=mcfg.model_dump(include={"d_model", "n_layers", "n_heads"}))
