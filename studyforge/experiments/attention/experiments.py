"""Week 3's runnable studies: the attention landscape, measured.

- `attention.variants_vs_reference`  every variant against torch's SDPA: the error of each exact one, and
                                     how the approximate ones (Performer, Linformer) converge with size.
- `attention.memory_and_speed`       peak memory and time of every variant against sequence length, with
                                     log-log complexity slopes.
- `attention.length_extrapolation`   one small character-level LM per positional encoding, trained at one
                                     length and evaluated at 1×, 2×, 4×, 8× it.
- `attention.pattern_analysis`       a trained model's attention maps, per-head entropy and mean attention
                                     distance, head importance by masking and the pruning curve.

The language-model studies read their corpus from `corpus_path` (Tiny Shakespeare's `input.txt` is the
intended one; the default looks for it at `data/tinyshakespeare.txt` in the workspace). If the file is not
there they fall back to an offline corpus built from Python standard-library docstrings (`data.py`), and
the summary says which one was used (`corpus.source`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, field_validator

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.registry import register

CORPUS_FIELD = Field("data/tinyshakespeare.txt",
                     description="text file to train on (char-level); if missing, an offline corpus of Python "
                                 "standard-library docstrings is used instead")


def _corpus(path: str | None):
    from studyforge.experiments.attention.data import CharCorpus, load_text

    text, source = load_text(path)
    return CharCorpus(text, source)


def _scale_key(scale: float) -> str:
    """A summary-key-safe name of an input scale: 0.5 -> 'std0_5' (dots separate summary keys)."""
    return "std" + f"{scale:g}".replace(".", "_")


def _corpus_summary(corpus) -> dict:
    return {"source": corpus.source, "chars": len(corpus.text), "vocab_size": corpus.vocab_size,
            "sha256_16": corpus.sha256}


# --------------------------------------------------------------------------------------------------------
# attention.variants_vs_reference
# --------------------------------------------------------------------------------------------------------


class VariantsConfig(ExperimentConfig):
    length: int = Field(257, ge=8, description="sequence length of the random test inputs (odd on purpose)")
    batch: int = Field(2, ge=1, description="batch size of the test inputs")
    heads: int = Field(4, ge=1, description="attention heads")
    head_dim: int = Field(32, ge=2, description="width of each head (even, for RoPE-free variants too)")
    performer_features: list[int] = Field([16, 64, 256, 1024], description="FAVOR+ feature counts m to try")
    linformer_ranks: list[int] = Field([16, 64, 128, 256], description="Linformer projection sizes k to try")
    approx_seeds: int = Field(3, ge=1, description="random-feature / projection draws averaged per size")
    approx_input_scales: list[float] = Field([0.5, 1.0], description="std of the q, k, v entries for the "
                                             "approximation errors (FAVOR+'s variance grows like exp(‖q‖²/√d))")
    presets: ClassVar = {"quick": {"length": 65, "performer_features": [16, 64, 256], "linformer_ranks": [8, 32, 64],
                                   "approx_seeds": 2},
                         "full": {"length": 1025, "performer_features": [16, 64, 256, 1024, 4096],
                                  "linformer_ranks": [16, 64, 256, 512, 1024], "approx_seeds": 10}}


@register("attention.variants_vs_reference", week=3, config=VariantsConfig,
          headline="exact.flash.max_abs_error")
def variants_vs_reference(ctx, cfg: VariantsConfig) -> None:
    """Every attention variant against torch's scaled_dot_product_attention.

    Exact variants (dot-product, FlashAttention forward and gradients, multi-head vs torch's
    MultiheadAttention, GQA vs its expanded MHA, KV-cache decoding vs full recompute, sliding-window, local,
    BigBird and Longformer block-sparse) report their maximum absolute error on the same random fp32
    inputs; approximations (Performer FAVOR+, Linformer with random projections) report their RMS error as
    their size grows, at two input scales: FAVOR+ is unbiased but its variance grows like exp(‖q‖²/√d),
    so at unit-variance inputs it converges far more slowly than at half that scale.
    """
    from studyforge.experiments.attention import masks, sparse
    from studyforge.experiments.attention.dot_product import scaled_dot_product_attention
    from studyforge.experiments.attention.flash import flash_attention
    from studyforge.experiments.attention.local import local_attention
    from studyforge.experiments.attention.multi_head import MultiHeadAttention
    from studyforge.experiments.attention.performer import orthogonal_random_features, performer_attention
    from studyforge.experiments.attention.sliding_window import sliding_window_attention

    b, h, t, d = cfg.batch, cfg.heads, cfg.length, cfg.head_dim
    dev = ctx.torch_device
    g = torch.Generator().manual_seed(ctx.seed)
    q, k, v = (torch.randn(b, h, t, d, generator=g).to(dev) for _ in range(3))

    def err(a: torch.Tensor, ref: torch.Tensor) -> float:
        return float((a - ref).detach().abs().max())

    def sdpa(mask=None, causal=False):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)

    exact: dict[str, float] = {}
    for causal in (False, True):
        tag = "causal" if causal else "full"
        exact[f"dot_product.{tag}"] = err(scaled_dot_product_attention(q, k, v, causal=causal), sdpa(causal=causal))
        qg, kg, vg = (x.clone().requires_grad_() for x in (q, k, v))
        ours = flash_attention(qg, kg, vg, causal=causal, block_q=64, block_k=48)  # blocks not dividing T
        ref = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal)
        d_out = torch.randn(ours.shape, generator=g).to(dev)
        grads = torch.autograd.grad(ours, (qg, kg, vg), d_out)
        ref_grads = torch.autograd.grad(ref, (qg, kg, vg), d_out)
        exact[f"flash.{tag}"] = err(ours, ref)
        exact[f"flash_grad.{tag}"] = max(err(a, r) for a, r in zip(grads, ref_grads, strict=True))
        window = max(4, t // 8)
        exact[f"sliding_window.{tag}"] = err(sliding_window_attention(q, k, v, window, causal),
                                             sdpa(masks.sliding_window_mask(t, window, causal, dev)))
        exact[f"local.{tag}"] = err(local_attention(q, k, v, 16, causal),
                                    sdpa(masks.local_block_mask(t, 16, causal, device=dev)))
    layout = sparse.bigbird_layout(math.ceil(t / 16), 3, 1, 2, seed=ctx.seed)
    exact["bigbird"] = err(sparse.block_sparse_attention(q, k, v, layout, 16),
                           sdpa(sparse.expand_layout(layout, 16, t).to(dev)))
    longformer = sparse.longformer_mask(t, 16, [0, t // 2], device=dev)
    exact["longformer"] = err(sparse.block_sparse_attention(q, k, v, longformer, 1), sdpa(longformer))
    keep = masks.padding_mask(torch.tensor([t] + [t // 2] * (b - 1)), t).to(dev)
    exact["dot_product.padding"] = err(scaled_dot_product_attention(q, k, v, mask=keep), sdpa(keep))

    # multi-head against torch.nn.MultiheadAttention with the same weights; GQA against its expanded MHA
    d_model = h * d
    x = torch.randn(b, t, d_model, generator=g).to(dev)
    mha = MultiHeadAttention(d_model, h).to(dev)
    ref_mha = torch.nn.MultiheadAttention(d_model, h, bias=False, batch_first=True).to(dev)
    with torch.no_grad():
        ref_mha.in_proj_weight.copy_(torch.cat([mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight]))
        ref_mha.out_proj.weight.copy_(mha.o_proj.weight)
        causal_block = ~masks.causal_mask(t, device=dev)
        exact["multi_head.vs_torch_mha"] = err(mha(x, causal=True),
                                               ref_mha(x, x, x, attn_mask=causal_block, need_weights=False)[0])
        for n_kv in sorted({1, max(1, h // 2)}):
            gqa = MultiHeadAttention(d_model, h, n_kv_heads=n_kv).to(dev)
            expanded = MultiHeadAttention(d_model, h).to(dev)
            expanded.q_proj.weight.copy_(gqa.q_proj.weight)
            expanded.o_proj.weight.copy_(gqa.o_proj.weight)
            for dst, src in ((expanded.k_proj, gqa.k_proj), (expanded.v_proj, gqa.v_proj)):
                dst.weight.copy_(src.weight.view(n_kv, d, d_model).repeat_interleave(h // n_kv, 0).reshape(-1, d_model))
            name = "multi_query" if n_kv == 1 else f"grouped_query_{n_kv}"
            exact[f"{name}.vs_expanded_mha"] = err(gqa(x, causal=True), expanded(x, causal=True))
            cache = gqa.new_cache(b, t, device=dev)
            steps = [gqa(x[:, : t // 2], causal=True, cache=cache)]
            steps += [gqa(x[:, i : i + 1], causal=True, cache=cache) for i in range(t // 2, t)]
            exact[f"{name}.kv_cache_vs_recompute"] = err(torch.cat(steps, 1), gqa(x, causal=True))
    rows = [{"variant": name, "max_abs_error": value, "within_1e-5": value <= 1e-5} for name, value in exact.items()]
    ctx.log_table("exact_variants", rows, caption="Max |ours − reference| on the same random fp32 inputs.")

    # approximations: error against exact softmax attention as the approximation grows, at each input scale
    approx_rows = []
    for scale in cfg.approx_input_scales:
        qs, ks, vs = (x * scale for x in (q, k, v))
        exact_out = F.scaled_dot_product_attention(qs, ks, vs)
        for m in cfg.performer_features:
            errs = [float((performer_attention(qs, ks, vs, orthogonal_random_features(
                m, d, torch.Generator().manual_seed(ctx.seed * 1000 + s)).to(dev)) - exact_out).pow(2).mean().sqrt())
                for s in range(cfg.approx_seeds)]
            approx_rows.append({"method": "performer", "input_scale": scale, "size": m, "rmse": float(np.mean(errs))})
        for rank in cfg.linformer_ranks:
            errs = []
            for s in range(cfg.approx_seeds):
                gen = torch.Generator().manual_seed(ctx.seed * 1000 + s)
                e, f = (torch.randn(rank, t, generator=gen).to(dev) / math.sqrt(rank) for _ in range(2))
                errs.append(float((scaled_dot_product_attention(qs, e @ ks, f @ vs) - exact_out).pow(2).mean().sqrt()))
            approx_rows.append({"method": "linformer_random", "input_scale": scale, "size": rank,
                                "rmse": float(np.mean(errs))})
    ctx.log_table("approximations", approx_rows, caption="RMS error against exact attention (mean over draws).")

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    labels = {"performer": "Performer FAVOR+ (m features)", "linformer_random": "Linformer, random E/F (k rows)"}
    for method, label in labels.items():
        for scale in cfg.approx_input_scales:
            pts = [(r["size"], r["rmse"]) for r in approx_rows if r["method"] == method and r["input_scale"] == scale]
            ax.loglog(*zip(*pts, strict=True), "o-" if method == "performer" else "s--", label=f"{label}, std {scale:g}")
    ax.set_xlabel("approximation size (m or k)")
    ax.set_ylabel("RMS error vs softmax attention")
    ax.legend(fontsize=7)
    ax.set_title(f"Approximate attention, T={t}, d={d}")
    ctx.log_figure("approximation_error", fig, caption="Error of the linear-attention approximations vs size, "
                                                       "for inputs of two scales.")

    summary_exact = {}
    for name, value in exact.items():
        variant, _, tag = name.partition(".")
        summary_exact.setdefault(variant, {})[f"{tag or 'full'}_max_abs_error"] = value
    summary_exact["flash"]["max_abs_error"] = max(exact["flash.full"], exact["flash.causal"])
    ctx.summary(
        exact=summary_exact,
        all_exact_within_1e_5=all(value <= 1e-5 for value in exact.values()),
        approx={method: {_scale_key(scale): {f"size{r['size']}_rmse": r["rmse"] for r in approx_rows
                                             if r["method"] == method and r["input_scale"] == scale}
                         for scale in cfg.approx_input_scales} for method in ("performer", "linformer_random")},
        inputs={"batch": b, "heads": h, "length": t, "head_dim": d},
    )


# --------------------------------------------------------------------------------------------------------
# attention.memory_and_speed
# --------------------------------------------------------------------------------------------------------


class MemorySpeedConfig(ExperimentConfig):
    lengths: list[int] = Field([256, 512, 1024, 2048, 4096, 8192], description="sequence lengths to measure")
    variants: list[str] = Field(
        ["sdpa", "dot_product", "additive", "flash", "sliding_window", "local", "bigbird", "performer", "linformer"],
        description="variants from catalogue.VARIANTS",
    )
    heads: int = Field(1, ge=1, description="attention heads (batch 1)")
    head_dim: int = Field(64, ge=2, description="width of each head")
    repeat: int = Field(3, ge=1, description="timed forward passes per point (best is kept)")
    slope_points: int = Field(3, ge=2, description="fit the log-log slopes on this many longest lengths")
    presets: ClassVar = {"quick": {"lengths": [64, 128, 256], "repeat": 1},
                         "full": {"lengths": [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]}}

    @field_validator("variants")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from studyforge.experiments.attention.catalogue import VARIANTS

        unknown = [v for v in value if v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
        return value


@register("attention.memory_and_speed", week=3, config=MemorySpeedConfig, headline="flash.memory_slope")
def memory_and_speed(ctx, cfg: MemorySpeedConfig) -> None:
    """Peak memory and forward time of every attention variant against sequence length.

    One forward pass per (variant, length) on random fp32 q, k, v; memory is the allocator's peak during
    the call (profiling.py; `torch.cuda.max_memory_allocated` on CUDA), time the best of `repeat` runs.
    The log-log slope over the longest lengths estimates each variant's complexity exponent: 2 for the
    O(T²) ones, 1 for the linear ones (constant buffers pull measured slopes below 1 at short lengths).
    """
    import matplotlib.pyplot as plt

    from studyforge.experiments.attention.catalogue import VARIANTS, loglog_slope, measure

    points = [(name, t) for name in cfg.variants for t in cfg.lengths if t <= VARIANTS[name].max_len]
    rows = []
    with ctx.progress(total=len(points), description="attention variants × lengths") as bar:
        for name, t in points:
            m = measure(name, t, heads=cfg.heads, head_dim=cfg.head_dim, device=ctx.device, repeat=cfg.repeat,
                        seed=ctx.seed)
            rows.append({"variant": name, "length": t, "complexity": VARIANTS[name].complexity,
                         "peak_mib": m.peak_bytes / 2**20, "ms": m.seconds * 1e3})
            ctx.log({f"memory_mib/{name}": m.peak_bytes / 2**20, f"time_ms/{name}": m.seconds * 1e3}, step=t)
            bar.advance(1)
    ctx.log_table("memory_and_speed", rows, caption="Peak memory and best forward time per variant and length.")

    summary = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name in cfg.variants:
        pts = [r for r in rows if r["variant"] == name]
        lengths = [r["length"] for r in pts]
        mem, ms = [max(r["peak_mib"], 1e-6) for r in pts], [r["ms"] for r in pts]
        axes[0].loglog(lengths, mem, "o-", label=name)
        axes[1].loglog(lengths, ms, "o-", label=name)
        entry = {f"peak_mib_T{r['length']}": r["peak_mib"] for r in pts} | {f"ms_T{r['length']}": r["ms"] for r in pts}
        if len(pts) >= 2:
            tail = slice(-cfg.slope_points, None)
            entry["memory_slope"] = loglog_slope(lengths[tail], mem[tail])
            entry["time_slope"] = loglog_slope(lengths[tail], ms[tail])
        summary[name] = entry
    for ax, what in zip(axes, ("peak memory (MiB)", "forward time (ms)"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Attention variants on {ctx.device}: d={cfg.head_dim}, {cfg.heads} head(s), fp32")
    ctx.log_figure("memory_and_time_vs_length", fig,
                   caption="Log-log: slope 2 is quadratic in T, slope 1 linear. Slopes in the summary.")
    both = [t for t in cfg.lengths if all(f"peak_mib_T{t}" in summary.get(v, {}) for v in ("flash", "dot_product"))]
    if both:
        longest = max(both)
        summary["flash"]["memory_fraction_of_dot_product"] = (summary["flash"][f"peak_mib_T{longest}"]
                                                              / summary["dot_product"][f"peak_mib_T{longest}"])
        summary["flash"]["compared_at_length"] = longest
    ctx.summary(**summary, device=ctx.device, head_dim=cfg.head_dim, heads=cfg.heads)


# --------------------------------------------------------------------------------------------------------
# attention.length_extrapolation
# --------------------------------------------------------------------------------------------------------


class ExtrapolationConfig(ExperimentConfig):
    corpus_path: str | None = CORPUS_FIELD
    encodings: list[str] = Field(["none", "sinusoidal", "learned", "shaw", "rope", "alibi"],
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

    @field_validator("encodings")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from studyforge.experiments.attention.model import POSITIONS

        unknown = [v for v in value if v not in POSITIONS]
        if unknown:
            raise ValueError(f"unknown encodings {unknown}; known: {', '.join(POSITIONS)}")
        return value


@register("attention.length_extrapolation", week=3, config=ExtrapolationConfig, headline="alibi.ppl_ratio_max")
def length_extrapolation(ctx, cfg: ExtrapolationConfig) -> None:
    """Position encodings compared on length extrapolation.

    One small character-level LM per positional encoding, same data, seed and budget, trained on windows
    of `train_length` characters, then evaluated (perplexity over every position of non-overlapping
    validation windows) at 1×, 2×, 4×, 8× the training length. The plan's story — ALiBi and RoPE degrade
    gracefully, learned absolute positions cannot extrapolate — is checked, not assumed: the summary's
    `checks` say which encodings stayed within `graceful_ratio` of their training-length perplexity.
    """
    import matplotlib.pyplot as plt

    from studyforge.experiments.attention.model import TinyLM, evaluate, train

    corpus = _corpus(cfg.corpus_path)
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

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for enc, entry in results.items():
        axes[0].plot(lengths, [entry[f"ppl_L{L}"] for L in lengths], "o-", label=enc)
        curve = position_curves[enc]
        bucket = max(1, len(curve) // 64)
        smoothed = curve[: len(curve) // bucket * bucket].view(-1, bucket).mean(1)
        axes[1].plot(np.arange(len(smoothed)) * bucket + bucket / 2, smoothed.exp().numpy(), label=enc)
    axes[0].set_xscale("log", base=2)
    axes[0].set_yscale("log")
    axes[0].axvline(cfg.train_length, color="grey", ls=":", lw=1)
    axes[0].set_xlabel("evaluation length (characters)")
    axes[0].set_ylabel("validation perplexity")
    axes[0].legend(fontsize=8)
    axes[1].axvline(cfg.train_length, color="grey", ls=":", lw=1)
    axes[1].set_yscale("log")
    axes[1].set_xlabel(f"position in a window of {lengths[-1]}")
    axes[1].set_ylabel("perplexity at that position")
    fig.suptitle(f"Length extrapolation, trained at {cfg.train_length} characters ({corpus.source.split('/')[-1]})")
    ctx.log_figure("perplexity_vs_length", fig,
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
    ctx.summary(**results, checks=checks, corpus=_corpus_summary(corpus),
                eval_lengths=lengths, train_length=cfg.train_length)


# --------------------------------------------------------------------------------------------------------
# attention.pattern_analysis
# --------------------------------------------------------------------------------------------------------


class PatternConfig(ExperimentConfig):
    corpus_path: str | None = CORPUS_FIELD
    encoding: str = Field("rope", description="positional encoding of the analysed model (model.POSITIONS)")
    train_length: int = Field(128, ge=8, description="training sequence length (characters)")
    steps: int = Field(500, ge=1, description="training steps")
    batch_size: int = Field(32, ge=1, description="training windows per step")
    lr: float = Field(3e-3, gt=0, description="peak AdamW learning rate")
    d_model: int = Field(64, ge=8, description="model width")
    n_layers: int = Field(3, ge=1, description="transformer blocks")
    n_heads: int = Field(4, ge=1, description="attention heads per block")
    eval_windows: int = Field(64, ge=1, description="validation windows for entropy, distance and importance")
    map_length: int = Field(48, ge=4, description="characters shown in the attention-map figure")
    pruning_tolerance: float = Field(0.05, gt=0, description="count heads removable before loss rises by this fraction")
    presets: ClassVar = {
        "quick": {"train_length": 32, "steps": 15, "batch_size": 8, "d_model": 32, "n_layers": 2, "n_heads": 2,
                  "eval_windows": 8, "map_length": 16},
        "full": {"steps": 3000, "d_model": 128, "n_layers": 4, "n_heads": 8, "eval_windows": 256},
    }


@register("attention.pattern_analysis", week=3, config=PatternConfig,
          headline="pruning.heads_removable_within_tolerance")
def pattern_analysis(ctx, cfg: PatternConfig) -> None:
    """Attention patterns of a trained model: maps, entropy, distance, head importance and pruning.

    Trains one small character-level LM, then on validation windows: attention maps of every layer and
    head for one passage; each head's mean attention entropy and mean attention distance (local vs
    long-range heads); each head's importance as the loss increase when it alone is masked (Michel et al.,
    arXiv:1905.10650); and the pruning curve — loss as heads are removed cumulatively, least important
    first, against most-important-first and a random order.
    """
    import matplotlib.pyplot as plt

    from studyforge.experiments.attention import analysis
    from studyforge.experiments.attention.model import TinyLM, evaluate, train

    corpus = _corpus(cfg.corpus_path)
    dev = ctx.torch_device
    model = TinyLM(corpus.vocab_size, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.encoding, cfg.train_length).to(dev)
    gen = torch.Generator().manual_seed(ctx.seed)
    with ctx.progress(total=cfg.steps, description=f"training a {cfg.encoding} LM") as bar:
        def on_step(step: int, loss: float) -> None:
            if step % 10 == 0 or step == cfg.steps - 1:
                ctx.log({"train_loss": loss}, step=step)
            bar.advance(1, loss=round(loss, 3))

        train(model, corpus, cfg.steps, cfg.batch_size, cfg.train_length, cfg.lr, gen, on_step)

    x, y = corpus.windows("val", cfg.train_length, cfg.eval_windows)
    with torch.no_grad():
        _, _, maps = model(x.to(dev))  # L × (N, H, T, T)
    entropy = torch.stack([analysis.attention_entropy(m) for m in maps]).cpu()  # (L, H)
    distance = torch.stack([analysis.mean_attention_distance(m) for m in maps]).cpu()  # (L, H)

    passage = x[:1, : cfg.map_length]
    with torch.no_grad():
        _, _, passage_maps = model(passage.to(dev))
    ctx.log_figure("attention_maps", analysis.plot_attention_maps(
        [m[0].cpu() for m in passage_maps], tokens=[repr(c)[1:-1] or " " for c in corpus.decode(passage[0])],
        title=f"{cfg.encoding} model: attention per layer and head"),
        caption="Attention weights on one validation passage (rows: queries, columns: keys).")

    def eval_loss(head_mask: torch.Tensor) -> float:
        return evaluate(model, x, y, head_mask=head_mask)

    base, importance = analysis.head_importance(eval_loss, cfg.n_layers, cfg.n_heads)
    order = analysis.least_important_first(importance)
    curves = {"least_important_first": analysis.pruning_curve(eval_loss, order, cfg.n_layers, cfg.n_heads),
              "most_important_first": analysis.pruning_curve(eval_loss, order[::-1], cfg.n_layers, cfg.n_heads)}
    shuffled = [order[i] for i in np.random.default_rng(ctx.seed).permutation(len(order))]
    curves["random_order"] = analysis.pruning_curve(eval_loss, shuffled, cfg.n_layers, cfg.n_heads)

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for ax, values, title in ((axes[0], entropy, "mean entropy (nats)"), (axes[1], distance, "mean distance (chars)"),
                              (axes[2], importance, "Δ loss when masked")):
        im = ax.imshow(values.numpy(), cmap="magma", aspect="auto")
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_title(title)
        fig.colorbar(im, ax=ax)
    for name, rows in curves.items():
        axes[3].plot([r["heads_removed"] for r in rows], [r["loss"] for r in rows], "o-", ms=3, label=name)
    axes[3].axhline(base * (1 + cfg.pruning_tolerance), color="grey", ls=":", lw=1)
    axes[3].set_xlabel("heads removed")
    axes[3].set_ylabel("validation loss (nats/char)")
    axes[3].legend(fontsize=7)
    fig.tight_layout()
    ctx.log_figure("head_analysis", fig, caption="Per-head entropy, attention distance, importance by masking, "
                                                 "and pruning curves (dotted: loss tolerance).")
    ctx.log_table("heads", [{"layer": layer, "head": head, "entropy": float(entropy[layer, head]),
                             "mean_distance": float(distance[layer, head]),
                             "importance": float(importance[layer, head])}
                            for layer in range(cfg.n_layers) for head in range(cfg.n_heads)],
                  caption="Per-head statistics on validation windows.")
    ctx.log_table("pruning_curve", [{"order": name, **r} for name, rows in curves.items() for r in rows],
                  caption="Loss as heads are removed cumulatively.")

    limit = base * (1 + cfg.pruning_tolerance)
    removable = max(r["heads_removed"] for r in curves["least_important_first"]
                    if all(p["loss"] <= limit for p in curves["least_important_first"][: r["heads_removed"] + 1]))
    ctx.summary(
        heads={f"layer{layer}": {f"head{head}": {"entropy": float(entropy[layer, head]),
                                                 "mean_distance": float(distance[layer, head]),
                                                 "importance": float(importance[layer, head])}
                                 for head in range(cfg.n_heads)} for layer in range(cfg.n_layers)},
        entropy_by_layer=[float(e) for e in entropy.mean(1)],
        mean_distance_by_layer=[float(d) for d in distance.mean(1)],
        pruning={"loss_all_heads": base, "heads_total": cfg.n_layers * cfg.n_heads,
                 "heads_removable_within_tolerance": removable, "tolerance": cfg.pruning_tolerance,
                 "loss_half_removed": {name: rows[len(rows) // 2]["loss"] for name, rows in curves.items()},
                 "loss_all_removed": curves["least_important_first"][-1]["loss"]},
        corpus=_corpus_summary(corpus), encoding=cfg.encoding,
    )
