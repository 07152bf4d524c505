"""Week 5's runnable studies: one modular transformer, its parts swapped and measured.

- `transformer.architecture_ablation`   one character-level LM per variant (pre/post norm — also at a
                                        learning rate where post-norm fails —, RMSNorm, QK-norm, SwiGLU,
                                        ReLU, parallel blocks, LLaMA, MoE, Mamba, RetNet): loss curves,
                                        gradient-norm spikes, tokens/s.
- `transformer.moe_routing`             top-1 MoE with and without the Switch balance loss against a dense
                                        model of equal active parameters: expert load over training,
                                        dropped tokens, loss.
- `transformer.memory_compute_profile`  parameters, FLOPs per token (counted by torch's FlopCounterMode,
                                        against the 6N rule) and measured activation memory per
                                        architecture, with/without activation checkpointing, fp32/bf16.
- `transformer.optimizer_comparison`    AdamW vs Lion vs Adafactor on one model, each over a small
                                        learning-rate sweep; optimizer-state memory.
- `transformer.width_vs_depth`          models of (nearly) equal non-embedding parameters from shallow-wide
                                        to deep-narrow, trained on the same tokens.

Text: `corpus_path` (Tiny Shakespeare's `input.txt` is the intended one, looked for at
`data/tinyshakespeare.txt` in the workspace), else the offline stdlib-docstring corpus; the summary says
which (`corpus.source`). Every model is trained by `language_modeling.trainer.Trainer`.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.language_modeling.data import load_data
from studyforge.experiments.language_modeling.harness import (
    TrainResult,
    finite_or_none,
    smooth,
    train_logged,
    unigram_loss,
)
from studyforge.experiments.language_modeling.trainer import TrainConfig
from studyforge.experiments.plotting import label_points
from studyforge.experiments.registry import register
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.precision import autocast

CORPUS_FIELD = Field("data/tinyshakespeare.txt", description="text file to train on (characters); if missing, "
                     "an offline corpus of Python standard-library docstrings is used instead")
MAX_CHARS_FIELD = Field(None, description="use only the first this many characters of the corpus (None: all)")
QUICK_SHAPE = {"d_model": 32, "n_layers": 2, "n_heads": 2, "seq_len": 32, "batch_size": 8, "eval_windows": 8,
               "max_chars": 60_000}


class _LMStudyConfig(ExperimentConfig):
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


def _data(cfg):
    return load_data(cfg.corpus_path, "char", max_chars=cfg.max_chars)


def _corpus_summary(data) -> dict[str, Any]:
    return {"source": data.source, "chars": data.chars, "vocab_size": data.vocab_size, "sha256_16": data.sha256,
            "unigram_loss": unigram_loss(data)}


def _base_model(cfg, data, **overrides) -> TransformerConfig:
    """The study's base architecture (GPT-2 style: pre-LayerNorm, GELU, learned positions), then overrides."""
    values = {"vocab_size": data.vocab_size, "max_len": cfg.seq_len, "d_model": cfg.d_model,
              "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, **overrides}
    return TransformerConfig(**values)


def _train_cfg(cfg, **overrides) -> TrainConfig:
    values = {"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr, "warmup": cfg.warmup,
              "eval_every": cfg.eval_every, "eval_windows": cfg.eval_windows, "eval_batch_size": 50,
              "seed": 0, **overrides}
    return TrainConfig(**values)


def _curve_figure(results: dict[str, TrainResult], title: str, ylim_from: float | None = None):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, r in results.items():
        ax.plot(range(1, len(r.losses) + 1), smooth(r.losses), label=name, lw=1.3)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats/char, smoothed)")
    if ylim_from is not None:
        ax.set_ylim(top=ylim_from)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------------------------
# transformer.architecture_ablation
# --------------------------------------------------------------------------------------------------------

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


class AblationConfig(_LMStudyConfig):
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
    return _base_model(cfg, data, **{"n_layers": cfg.n_layers * depth, **overrides})


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
    data = _data(cfg)
    runs = [(name, over, cfg.lr, cfg.warmup) for name, over in cfg.variants.items()]
    runs += [(f"{name}@high_lr", cfg.variants[name], cfg.high_lr, cfg.high_lr_warmup) for name in cfg.high_lr_variants]
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(runs), description="ablation") as bar:
        for name, overrides, lr, warmup in runs:
            results[name] = train_logged(ctx, data, _variant_model(cfg, data, overrides),
                                         _train_cfg(cfg, lr=lr, warmup=warmup), name, bar)

    normal = {k: v for k, v in results.items() if "@" not in k}
    high = {k: v for k, v in results.items() if "@" in k}
    summaries = {k: {kk: finite_or_none(vv) if isinstance(vv, float) else vv for kk, vv in r.summary().items()}
                 for k, r in results.items()}
    rows = [{"variant": k, **s} for k, s in summaries.items()]
    ctx.log_table("variants", rows, caption="One character-level LM per variant: validation loss (nats/char), "
                  "parameters, gradient-norm spikes and training throughput (this machine).")
    ctx.log_figure("loss_curves", _curve_figure(normal, f"Architecture ablation at lr={cfg.lr:g}",
                                                ylim_from=unigram_loss(data) + 0.3),
                   caption="Smoothed training loss per variant (same data order and budget).")
    if high:
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        for name, r in high.items():
            a1.plot(smooth(r.losses), label=name)
            a2.semilogy(r.grad_norms, label=name, lw=0.8)
        a1.set(xlabel="step", ylabel="training loss (smoothed)", title=f"lr = {cfg.high_lr:g}")
        a2.set(xlabel="step", ylabel="gradient norm (before clipping)", title="gradient norms")
        for ax in (a1, a2):
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        ctx.log_figure("high_lr_stability", fig, caption="Pre-norm vs post-norm at a high learning rate: loss and "
                       "gradient norm per step.")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    shown = {name: s for name, s in summaries.items() if s["val_loss"] is not None and "@" not in name}
    for s in shown.values():
        ax.scatter(s["tokens_per_s"], s["val_loss"])
    ax.set(xlabel="training tokens / s (this machine)", ylabel="validation loss (nats/char)",
           title="Quality against speed")
    ax.grid(alpha=0.3)
    ax.margins(0.12)  # room for the names of the points at the edges
    label_points(ax, [(s["tokens_per_s"], s["val_loss"]) for s in shown.values()], list(shown))
    ctx.log_figure("loss_vs_throughput", fig, caption="Validation loss against training throughput per variant.")

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
                checks=checks, corpus=_corpus_summary(data), lr=cfg.lr, high_lr_value=cfg.high_lr)


# --------------------------------------------------------------------------------------------------------
# transformer.moe_routing
# --------------------------------------------------------------------------------------------------------


class MoEConfigStudy(_LMStudyConfig):
    n_experts: int = Field(4, ge=2, description="experts per MoE layer")
    top_k: int = Field(1, ge=1, description="experts per token")
    capacity_factor: float = Field(1.25, gt=0, description="expert capacity factor while training")
    balance_coef: float = Field(0.01, ge=0, description="α of the Switch balance loss in the balanced run")
    z_loss_coef: float = Field(1e-3, ge=0, description="β of the router z-loss")
    log_every: int = Field(5, ge=1, description="record expert load every this many steps")
    presets: ClassVar = {"quick": {**QUICK_SHAPE, "steps": 12, "warmup": 3, "eval_every": 0, "log_every": 2},
                         "full": {"d_model": 256, "n_layers": 6, "n_heads": 8, "seq_len": 256, "batch_size": 32,
                                  "steps": 5000, "warmup": 200, "lr": 1e-3, "n_experts": 8, "eval_every": 500,
                                  "eval_windows": 400, "log_every": 20}}


@register("transformer.moe_routing", week=5, config=MoEConfigStudy, headline="runs.moe_balanced.dropped_fraction_mean")
def moe_routing(ctx, cfg: MoEConfigStudy) -> None:
    """MoE routing: expert load, dropped tokens and the balance loss, against a dense model.

    Three models on the same data: a dense model; an MoE model (top-k routing over `n_experts` experts,
    each as wide as the dense feed-forward, so the parameters a token uses are the dense model's plus a
    router) trained with the Switch load-balancing loss α·N·Σ fᵢ·Pᵢ and the router z-loss; and the same MoE
    model with α = 0. Recorded over training: each expert's share of the routed tokens (layer 0 and the
    mean imbalance over layers), the fraction of assignments dropped at the capacity limit, the balance
    loss; at the end, validation loss and parameter counts.
    """
    data = _data(cfg)
    moe = {"n_experts": cfg.n_experts, "top_k": cfg.top_k, "capacity_factor": cfg.capacity_factor,
           "z_loss_coef": cfg.z_loss_coef}
    runs = {"dense": {}, "moe_balanced": {"ffn": "moe", "moe": {**moe, "balance_coef": cfg.balance_coef}},
            "moe_no_balance_loss": {"ffn": "moe", "moe": {**moe, "balance_coef": 0.0}}}
    traces: dict[str, dict[str, list]] = {}
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(runs), description="moe routing") as bar:
        for name, overrides in runs.items():
            trace = traces[name] = {"step": [], "load0": [], "imbalance": [], "dropped": [], "balance": []}

            def on_step(trainer, row, trace=trace, name=name):
                layers = trainer.model.moe_layers()
                if not layers or trainer.step % cfg.log_every:
                    return
                loads = torch.stack([m.last_stats["load"] for m in layers])  # (layers, N)
                trace["step"].append(trainer.step)
                trace["load0"].append(loads[0].tolist())
                # imbalance: N · max load (1 = perfectly even, N = everything on one expert)
                trace["imbalance"].append(float(cfg.n_experts * loads.max(dim=1).values.mean()))
                trace["dropped"].append(float(np.mean([float(m.last_stats["dropped"]) /
                                                       int(m.last_stats["assignments"]) for m in layers])))
                trace["balance"].append(float(np.mean([float(m.last_stats["balance_loss"]) for m in layers])))
                ctx.log({f"{name}/imbalance": trace["imbalance"][-1], f"{name}/dropped_fraction": trace["dropped"][-1],
                         **{f"{name}/load_layer0_expert{e}": v for e, v in enumerate(trace["load0"][-1])}},
                        step=trainer.step)

            results[name] = train_logged(ctx, data, _base_model(cfg, data, **overrides), _train_cfg(cfg), name, bar,
                                         on_step=on_step)

    import matplotlib.pyplot as plt

    moe_names = [n for n in runs if n != "dense"]
    fig, axes = plt.subplots(1, len(moe_names), figsize=(11, 4), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), moe_names, strict=True):
        loads = np.array(traces[name]["load0"])
        for e in range(cfg.n_experts):
            ax.plot(traces[name]["step"], smooth(loads[:, e].tolist(), 0.8), label=f"expert {e}")
        ax.axhline(1 / cfg.n_experts, color="k", ls=":", lw=0.8)
        ax.set(xlabel="step", title=name, ylabel="share of routed tokens (layer 0)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    ctx.log_figure("expert_load", fig, caption="Share of the tokens routed to each expert of layer 0 over training, "
                   "with and without the balance loss (dotted: uniform).")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for name in moe_names:
        a1.plot(traces[name]["step"], smooth(traces[name]["dropped"], 0.8), label=name)
        a2.plot(traces[name]["step"], smooth(traces[name]["imbalance"], 0.8), label=name)
    a1.set(xlabel="step", ylabel="fraction of assignments dropped", title=f"capacity factor {cfg.capacity_factor}")
    a2.set(xlabel="step", ylabel="N · max expert share (1 = balanced)", title="load imbalance (mean over layers)")
    for ax in (a1, a2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ctx.log_figure("dropped_and_imbalance", fig, caption="Dropped tokens and load imbalance over training.")
    ctx.log_figure("loss_curves", _curve_figure(results, "Dense vs MoE (equal active parameters)"),
                   caption="Smoothed training loss.")

    summary: dict[str, Any] = {}
    for name, r in results.items():
        s = {k: finite_or_none(v) if isinstance(v, float) else v for k, v in r.summary().items()}
        t = traces[name]
        if t["step"]:
            s.update(dropped_fraction_mean=float(np.mean(t["dropped"])), dropped_fraction_final=t["dropped"][-1],
                     imbalance_final=t["imbalance"][-1], imbalance_mean=float(np.mean(t["imbalance"])),
                     balance_loss_final=t["balance"][-1], load_layer0_final=t["load0"][-1])
        summary[name] = s
    rows = [{"run": k, **{kk: vv for kk, vv in v.items() if kk != "load_layer0_final"}} for k, v in summary.items()]
    ctx.log_table("runs", rows, caption="Dense and MoE runs: loss, parameters (total and active), routing.")
    bal, unbal = summary["moe_balanced"], summary["moe_no_balance_loss"]
    checks = {
        "moe_active_params_match_dense": abs(bal["params_active"] - summary["dense"]["params"])
        <= cfg.n_layers * cfg.n_experts * cfg.d_model,  # the routers' weights
        "balance_loss_lowers_imbalance": bal.get("imbalance_mean", 0) <= unbal.get("imbalance_mean", 0),
        "balance_loss_lowers_dropped_tokens": bal.get("dropped_fraction_mean", 0)
        <= unbal.get("dropped_fraction_mean", 0),
    }
    ctx.summary(runs=summary, checks=checks, corpus=_corpus_summary(data), n_experts=cfg.n_experts, top_k=cfg.top_k,
                capacity_factor=cfg.capacity_factor)


# --------------------------------------------------------------------------------------------------------
# transformer.memory_compute_profile
# --------------------------------------------------------------------------------------------------------

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "gpt2": {},
    "llama": {"norm": "rmsnorm", "activation": "swiglu", "position": "rope", "ffn_multiple_of": 32},
    "parallel": {"parallel": True},
    "moe": {"ffn": "moe", "moe": {"n_experts": 4, "top_k": 1}},
    "mamba": {"mixer": "mamba", "depth_multiplier": 2},
    "retnet": {"mixer": "retnet"},
}


class ProfileConfig(ExperimentConfig):
    d_model: int = Field(128, ge=8, description="residual width")
    n_layers: int = Field(4, ge=1, description="blocks (Mamba: twice as many)")
    n_heads: int = Field(4, ge=1, description="heads")
    seq_len: int = Field(256, ge=8, description="tokens per sequence")
    batch_size: int = Field(8, ge=1, description="sequences per step")
    vocab_size: int = Field(65, ge=2, description="vocabulary (characters)")
    architectures: dict[str, dict[str, Any]] = Field(ARCHITECTURES, description="name -> TransformerConfig "
                                                     "overrides ('depth_multiplier' scales n_layers)")
    repeats: int = Field(3, ge=1, description="timed repetitions (best kept)")
    presets: ClassVar = {"quick": {"d_model": 32, "n_layers": 1, "n_heads": 2, "seq_len": 32, "batch_size": 2,
                                   "repeats": 1},
                         "full": {"d_model": 768, "n_layers": 12, "n_heads": 12, "seq_len": 1024, "batch_size": 8,
                                  "vocab_size": 50304, "repeats": 5}}


def _profile_one(model, x, y, device, precision: str, checkpointing: bool, repeats: int) -> dict[str, float]:
    from studyforge.experiments.attention.profiling import peak_memory

    model.train()
    model.gradient_checkpointing = checkpointing

    def forward():
        with autocast(device, precision):
            out = model(x, y)
        return out.loss + out.aux_loss

    # activations: what the forward pass leaves alive for backward (the returned loss holds the graph)
    loss, act_bytes = peak_memory(forward, device)
    loss.backward()
    model.zero_grad(set_to_none=True)
    del loss

    def step():
        forward().backward()
        model.zero_grad(set_to_none=True)

    best, spent = float("inf"), 0.0
    for _ in range(repeats):
        if spent > 2.0:  # slow settings: a couple of seconds of timing is enough
            break
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
        spent += time.perf_counter() - start
    return {"activation_mb": act_bytes / 2**20, "step_ms": best * 1000}


def _train_flops(model, x, y) -> tuple[int, bool]:
    """FLOPs of one forward + backward counted by torch (matrix products, convolutions, and SDPA where torch
    has a formula for the kernel used), and whether SDPA was among the counted operators."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    model.gradient_checkpointing = False
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(x, y)
        (out.loss + out.aux_loss).backward()
    model.zero_grad(set_to_none=True)
    counted_ops = {str(op) for op in counter.get_flop_counts().get("Global", {})}
    return counter.get_total_flops(), any("scaled_dot_product" in op for op in counted_ops)


def attention_train_flops_per_token(n_layers: int, seq_len: int, d_model: int) -> int:
    """Causal attention's score and value products, forward + backward, per token: 6·L·T·d.

    A query at position t spends 2·d·t FLOPs on q·k and 2·d·t on the weighted values; averaged over a
    causal sequence that is ≈ 2·d·T per layer, and backward costs twice the forward (Kaplan et al.'s
    2·n_layer·n_ctx·d per token, times 3). `attention_train_flops_per_token(1, 64, 128)` -> 49152.
    """
    return 6 * n_layers * seq_len * d_model


@register("transformer.memory_compute_profile", week=5, config=ProfileConfig,
          headline="arch.gpt2.checkpointing_memory_ratio")
def memory_compute_profile(ctx, cfg: ProfileConfig) -> None:
    """Memory and compute per architecture: parameters, FLOPs per token, activation memory, step time.

    For each architecture at the same width: parameters (total, non-embedding, active per token); training
    FLOPs per token counted by torch's `FlopCounterMode` over one forward + backward (matrix products and
    convolutions; causal attention's score/value products added as 6·L·T·d where torch cannot count the
    SDPA kernel; elementwise work such as Mamba's scan is not counted), next to Kaplan et al.'s 6·N rule (arXiv:2001.08361, N = non-embedding parameters + the output head, active ones for
    MoE); the activation memory a forward pass keeps for backward, measured from the allocator (CPU
    profiler events, or CUDA's peak counter), in fp32 and under bf16 autocast, with and without activation
    checkpointing; and the time of one training step in each setting.
    """
    device = ctx.torch_device
    g = torch.Generator().manual_seed(ctx.seed)
    x = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.seq_len), generator=g).to(device)
    y = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.seq_len), generator=g).to(device)
    tokens = cfg.batch_size * cfg.seq_len
    settings = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]
    arch: dict[str, dict[str, Any]] = {}
    with ctx.progress(total=len(cfg.architectures) * len(settings), description="profiling") as bar:
        for name, overrides in cfg.architectures.items():
            overrides = dict(overrides)
            depth = overrides.pop("depth_multiplier", 1)
            mcfg = TransformerConfig(vocab_size=cfg.vocab_size, max_len=cfg.seq_len, d_model=cfg.d_model,
                                     n_layers=cfg.n_layers * depth, n_heads=cfg.n_heads, **overrides)
            from studyforge.experiments.transformer.model import Transformer

            torch.manual_seed(ctx.seed)
            model = Transformer(mcfg).to(device)
            n_active = model.num_params(non_embedding=True, active=True) + model.head.weight.numel()
            counted, has_sdpa = _train_flops(model, x, y)
            flops = counted / tokens
            # torch has no FLOP formula for the CPU SDPA kernel: add causal attention's 6·L·T·d analytically
            attention = (attention_train_flops_per_token(mcfg.n_layers, cfg.seq_len, cfg.d_model)
                         if mcfg.mixer == "attention" and not has_sdpa else 0)
            flops += attention
            row: dict[str, Any] = {"params": model.num_params(), "params_non_embedding": model.num_params(True),
                                   "params_active": model.num_params(active=True), "n_layers": mcfg.n_layers,
                                   "train_flops_per_token": flops, "attention_flops_added": attention,
                                   "six_n": 6 * n_active, "flops_over_six_n": flops / (6 * n_active)}
            for precision, ckpt in settings:
                key = precision + ("_ckpt" if ckpt else "")
                m = _profile_one(model, x, y, device, precision, ckpt, cfg.repeats)
                row.setdefault("activation_mb", {})[key] = m["activation_mb"]
                row.setdefault("step_ms", {})[key] = m["step_ms"]
                row.setdefault("tokens_per_s", {})[key] = tokens / (m["step_ms"] / 1000)
                bar.advance(1)
            act = row["activation_mb"]
            row["checkpointing_memory_ratio"] = act["fp32_ckpt"] / act["fp32"]  # < 1: memory saved
            row["bf16_memory_ratio"] = act["bf16"] / act["fp32"]
            row["checkpointing_time_ratio"] = row["step_ms"]["fp32_ckpt"] / row["step_ms"]["fp32"]
            arch[name] = row
            ctx.log({f"{name}/activation_mb_fp32": act["fp32"], f"{name}/train_flops_per_token": flops})

    import matplotlib.pyplot as plt

    names = list(arch)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
    width = 0.2
    for i, (precision, ckpt) in enumerate(settings):
        key = precision + ("_ckpt" if ckpt else "")
        axes[0].bar(np.arange(len(names)) + (i - 1.5) * width, [arch[n]["activation_mb"][key] for n in names],
                    width, label=key)
        axes[2].bar(np.arange(len(names)) + (i - 1.5) * width, [arch[n]["step_ms"][key] for n in names], width,
                    label=key)
    axes[0].set(ylabel="activation memory (MiB)", title=f"B={cfg.batch_size}, T={cfg.seq_len}, d={cfg.d_model}")
    axes[2].set(ylabel="training step (ms, this machine)", title="step time")
    axes[1].bar(np.arange(len(names)) - 0.2, [arch[n]["train_flops_per_token"] / 1e6 for n in names], 0.4,
                label="counted (fwd + bwd)")
    axes[1].bar(np.arange(len(names)) + 0.2, [arch[n]["six_n"] / 1e6 for n in names], 0.4, label="6·N (active)")
    axes[1].set(ylabel="MFLOPs per token", title="training compute per token")
    for ax in axes:
        ax.set_xticks(np.arange(len(names)), names, rotation=30)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    ctx.log_figure("memory_compute", fig, caption="Activation memory (fp32/bf16, with/without checkpointing), "
                   "training FLOPs per token against 6N, and step time per architecture.")
    rows = [{"architecture": n, "params": a["params"], "params_active": a["params_active"],
             "train_mflops_per_token": a["train_flops_per_token"] / 1e6, "six_n_mflops": a["six_n"] / 1e6,
             **{f"act_mb_{k}": v for k, v in a["activation_mb"].items()},
             **{f"step_ms_{k}": v for k, v in a["step_ms"].items()}} for n, a in arch.items()]
    ctx.log_table("profile", rows, caption="Per architecture: parameters, FLOPs per token, activation memory (MiB) "
                  "and step time (ms) in fp32/bf16, with/without activation checkpointing.")
    checks = {"checkpointing_saves_memory_everywhere": all(a["checkpointing_memory_ratio"] < 1 for a in arch.values()),
              "bf16_saves_memory_everywhere": all(a["bf16_memory_ratio"] < 1 for a in arch.values())}
    ctx.summary(arch=arch, checks=checks, device=str(device), batch_size=cfg.batch_size, seq_len=cfg.seq_len)


# --------------------------------------------------------------------------------------------------------
# transformer.optimizer_comparison
# --------------------------------------------------------------------------------------------------------

OPTIMIZER_SETTINGS: dict[str, dict[str, float]] = {
    "adamw": {"lr": 3e-3, "weight_decay": 0.1},
    # Lion: 3–10× smaller lr and 3–10× larger weight decay than AdamW (Chen et al., §5)
    "lion": {"lr": 5e-4, "weight_decay": 1.0},
    "adafactor": {"lr": 3e-3, "weight_decay": 0.1},
}


class OptimizerConfig(_LMStudyConfig):
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
    from studyforge.experiments.transformer.optim import state_bytes

    data = _data(cfg)
    mcfg = _base_model(cfg, data, **cfg.architecture)
    runs = [(opt, m) for opt in cfg.optimizers for m in cfg.lr_multipliers]
    results: dict[tuple[str, float], TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(runs), description="optimizers") as bar:
        for opt, mult in runs:
            base = cfg.optimizers[opt]
            tcfg = _train_cfg(cfg, optimizer=opt, lr=base["lr"] * mult, weight_decay=base.get("weight_decay", 0.1))
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
    ctx.log_figure("loss_curves", _curve_figure({f"{k} (best lr)": v for k, v in best_runs.items()},
                                                "Optimizers at their best learning rate",
                                                ylim_from=unigram_loss(data) + 0.3),
                   caption="Smoothed training loss of each optimizer at the best learning rate of its sweep.")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for opt in cfg.optimizers:
        lrs = [cfg.optimizers[opt]["lr"] * m for m in cfg.lr_multipliers]
        vals = [results[(opt, m)].summary()["val_loss"] for m in cfg.lr_multipliers]
        ax.plot(lrs, [v if v is not None else np.nan for v in vals], "o-", label=opt)
    ax.set_xscale("log")
    ax.set(xlabel="peak learning rate", ylabel="validation loss (nats/char)", title="Learning-rate sensitivity")
    ax.legend()
    ax.grid(alpha=0.3)
    ctx.log_figure("lr_sensitivity", fig, caption="Final validation loss against learning rate, per optimizer.")
    ctx.log_table("optimizers", [{"optimizer": k, **{kk: vv for kk, vv in v.items() if kk != "val_loss_by_lr"}}
                                 for k, v in summary.items()],
                  caption="Best validation loss per optimizer, its learning rate, and optimizer-state memory.")
    finished = {k: v["best_val_loss"] for k, v in summary.items() if v["best_val_loss"] is not None}
    ctx.summary(optimizers=summary, best_optimizer=min(finished, key=finished.get) if finished else None,
                corpus=_corpus_summary(data), params=mcfg.model_dump(include={"d_model", "n_layers", "n_heads"}))


# --------------------------------------------------------------------------------------------------------
# transformer.width_vs_depth
# --------------------------------------------------------------------------------------------------------


class WidthDepthConfig(_LMStudyConfig):
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
    data = _data(cfg)
    shapes = [(depth, shape_for(cfg.target_params, depth, cfg.head_dim)) for depth in cfg.depths]
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(shapes), description="width vs depth") as bar:
        for depth, width in shapes:
            mcfg = _base_model(cfg, data, n_layers=depth, d_model=width, n_heads=width // cfg.head_dim)
            results[f"L{depth}_d{width}"] = train_logged(ctx, data, mcfg, _train_cfg(cfg), f"L{depth}_d{width}", bar)
    summary = {}
    for (depth, width), (name, r) in zip(shapes, results.items(), strict=True):
        s = r.summary()
        summary[name] = {"depth": depth, "width": width, "aspect_ratio": width / depth,
                         "params_non_embedding": s["params_non_embedding"], "val_loss": finite_or_none(s["val_loss"]),
                         "tokens_per_s": s["tokens_per_s"]}
    losses = [v["val_loss"] for v in summary.values() if v["val_loss"] is not None]
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    a1.plot([v["aspect_ratio"] for v in summary.values()], [v["val_loss"] or np.nan for v in summary.values()], "o-")
    a1.set_xscale("log")
    a1.margins(0.15)  # room for the names of the points at the edges
    a1.set(xlabel="aspect ratio d / L", ylabel="validation loss (nats/char)",
           title=f"≈{cfg.target_params:,} non-embedding parameters")
    for name, r in results.items():
        a2.plot(smooth(r.losses), label=name)
    a2.set(xlabel="step", ylabel="training loss (smoothed)", ylim=(None, unigram_loss(data) + 0.3))
    a2.legend(fontsize=8)
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
    label_points(a1, [(v["aspect_ratio"], v["val_loss"] or np.nan) for v in summary.values()], list(summary))
    ctx.log_figure("width_vs_depth", fig, caption="Validation loss against aspect ratio at fixed parameters, and "
                   "the training curves.")
    ctx.log_table("shapes", [{"shape": k, **v} for k, v in summary.items()],
                  caption="Depth, width, exact non-embedding parameters, validation loss, throughput.")
    best = min((k for k in summary if summary[k]["val_loss"] is not None), key=lambda k: summary[k]["val_loss"],
               default=None)
    # spread = (max − min) / min of the validation losses
    spread = (max(losses) - min(losses)) / min(losses) if losses else None
    ctx.summary(shapes=summary, best_shape=best, spread=spread, corpus=_corpus_summary(data),
                target_params=cfg.target_params)
