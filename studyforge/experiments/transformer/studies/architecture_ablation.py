"""`transformer.architecture_ablation`: every swappable part of the transformer, one at a time.

A GPT-2-style base (pre-LayerNorm, GELU, learned positions) with one part changed per variant: post-norm (the
original Transformer; its large early gradients fail at high learning rates, Xiong et al., arXiv:2002.04745),
RMSNorm (arXiv:1910.07467), QK-norm, SwiGLU (arXiv:2002.05202), ReLU, parallel attention and feed-forward
(GPT-J, PaLM), RoPE (arXiv:2104.09864), all of LLaMA's choices together (arXiv:2302.13971), a mixture of
experts (Switch, arXiv:2101.03961), and the attention-free Mamba (arXiv:2312.00752) and RetNet
(arXiv:2307.08621) mixers.
"""

from __future__ import annotations

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
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.studies.common import (
    QUICK_SHAPE,
    LMStudyConfig,
    base_model,
    corpus_summary,
    load_corpus,
    train_cfg,
)

# name -> TransformerConfig overrides of the base model; "depth_multiplier" multiplies n_layers (Mamba
# blocks have no feed-forward, so twice as many of them match an attention block's parameters, as in the paper)
ABLATION_VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "post_norm": {"norm_position": "post"},
    "rmsnorm": {"norm": "rmsnorm"},
    "qk_norm": {"qk_norm": True},
    "swiglu": {"activation": "swiglu", "ffn_multiple_of": 8},
    "relu": {"activation": "relu"},
    "parallel": {"parallel": True},
    "rope": {"position": "rope"},
    "llama": {"norm": "rmsnorm", "activation": "swiglu", "position": "rope", "ffn_multiple_of": 8},
    "moe": {"ffn": "moe", "moe": {"n_experts": 4, "top_k": 1}},
    "mamba": {"mixer": "mamba", "depth_multiplier": 2, "mamba_d_state": 8},
    "retnet": {"mixer": "retnet"},
}


class AblationConfig(LMStudyConfig):
    variants: dict[str, dict[str, Any]] = Field(ABLATION_VARIANTS, description="variant name -> overrides of the "
                                                "base model (GPT-2 style); 'depth_multiplier' scales n_layers")
    high_lr: float = Field(1.5e-2, gt=0, description="a learning rate where post-norm fails and pre-norm survives")
    high_lr_warmup: int = Field(5, ge=0, description="warm-up at the high learning rate (short, as in the "
                                "post-norm instability experiments of Xiong et al.)")
    high_lr_variants: list[str] = Field(["baseline", "post_norm"], description="variants also trained at high_lr")
    presets: ClassVar = {"quick": {**QUICK_SHAPE, "steps": 12, "warmup": 3, "eval_every": 0},
                         "full": {"d_model": 256, "n_layers": 6, "n_heads": 8, "seq_len": 256, "batch_size": 32,
                                  "steps": 5000, "warmup": 200, "lr": 1e-3, "high_lr": 5e-3, "eval_every": 500,
                                  "eval_windows": 400, "high_lr_warmup": 20}}


def _variant_model(cfg, data, overrides: dict[str, Any]) -> TransformerConfig:
    overrides = dict(overrides)
    depth = overrides.pop("depth_multiplier", 1)
    return base_model(cfg, data, **{"n_layers": cfg.n_layers * depth, **overrides})


@register("transformer.architecture_ablation", week=5, config=AblationConfig, headline="best.val_loss")
def architecture_ablation(ctx, cfg: AblationConfig) -> None:
    """Architecture ablation: every swappable part of the transformer, trained as a character-level LM.

    Each variant changes one thing of a GPT-2-style base (pre-LayerNorm, GELU, learned positions), except
    `llama` (RMSNorm + SwiGLU + RoPE together), `moe` (4 experts, top-1: equal active parameters) and the
    attention-free `mamba` and `retnet`. Same data order, steps and learning rate for all; the base and
    post-norm models are also trained at `high_lr` with a short warm-up, where post-norm's large
    early gradients (Xiong et al., arXiv:2002.04745) make it fail. Recorded per variant: loss curves,
    validation loss, gradient-norm spikes, training tokens per second.
    """
    unknown = set(cfg.high_lr_variants) - set(cfg.variants)
    if unknown:
        raise ValueError(f"high_lr_variants not in variants: {sorted(unknown)}")
    data = load_corpus(cfg)
    runs = [(name, over, cfg.lr, cfg.warmup) for name, over in cfg.variants.items()]
    runs += [(f"{name}@high_lr", cfg.variants[name], cfg.high_lr, cfg.high_lr_warmup) for name in cfg.high_lr_variants]
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(runs), description="ablation") as bar:
        for name, overrides, lr, warmup in runs:
            results[name] = train_logged(ctx, data, _variant_model(cfg, data, overrides),
                                         train_cfg(cfg, lr=lr, warmup=warmup), name, bar)

    normal = {k: v for k, v in results.items() if "@" not in k}
    high = {k: v for k, v in results.items() if "@" in k}
    summaries = {k: {kk: finite_or_none(vv) if isinstance(vv, float) else vv for kk, vv in r.summary().items()}
                 for k, r in results.items()}
    rows = [{"variant": k, **s} for k, s in summaries.items()]
    ctx.log_table("variants", rows, caption="One character-level LM per variant: validation loss (nats/char), "
                  "parameters, gradient-norm spikes and training throughput (this machine).")
    ctx.log_figure("loss_curves", plots.loss_curves(normal, f"Architecture ablation at lr={cfg.lr:g}",
                                                    ylim_from=unigram_loss(data) + 0.3),
                   caption="Smoothed training loss per variant (same data order and budget).")
    if high:
        ctx.log_figure("high_lr_stability", plots.high_lr_stability(high, cfg.high_lr),
                       caption="Pre-norm vs post-norm at a high learning rate: loss and gradient norm per step.")
    ctx.log_figure("loss_vs_throughput", plots.loss_vs_throughput(summaries),
                   caption="Validation loss against training throughput per variant.")

    finished = {k: s for k, s in summaries.items() if s["val_loss"] is not None and "@" not in k}
    best = min(finished, key=lambda k: finished[k]["val_loss"]) if finished else None
    checks = {}
    if "baseline@high_lr" in summaries and "post_norm@high_lr" in summaries:
        pre, post = summaries["baseline@high_lr"], summaries["post_norm@high_lr"]
        checks["post_norm_worse_than_pre_norm_at_high_lr"] = post["diverged"] or (
            pre["val_loss"] is not None and post["val_loss"] is not None and post["val_loss"] > pre["val_loss"])
        checks["pre_norm_trains_at_high_lr"] = not pre["diverged"]
    ctx.summary(variants={k: v for k, v in summaries.items() if "@" not in k},
                high_lr={k.split("@")[0]: v for k, v in summaries.items() if "@" in k},
                best={"variant": best, "val_loss": finished[best]["val_loss"] if best else None},
                checks=checks, corpus=corpus_summary(data), lr=cfg.lr, high_lr_value=cfg.high_lr)
