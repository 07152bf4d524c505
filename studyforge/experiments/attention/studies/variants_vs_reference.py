"""`attention.variants_vs_reference`: every attention variant checked against torch's SDPA.

An exact variant — scaled dot-product attention softmax(QKᵀ/√d)V (Vaswani et al., arXiv:1706.03762), computed
tile by tile (FlashAttention, arXiv:2205.14135), with fewer key/value heads (arXiv:1911.02150, 2305.13245),
through a KV cache, or restricted to a sparse pattern — must match the reference to float rounding. The
approximations — Performer's random features (arXiv:2009.14794) and Linformer's low-rank projections
(arXiv:2006.04768) — approach it as their size grows; how fast is what the study measures.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from studyforge.experiments.attention import plots
from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.registry import register


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


def _scale_key(scale: float) -> str:
    """A summary-key-safe name of an input scale: 0.5 -> 'std0_5' (dots separate summary keys)."""
    return "std" + f"{scale:g}".replace(".", "_")


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
    ctx.log_figure("approximation_error", plots.approximation_error(approx_rows, cfg.approx_input_scales, t, d),
                   caption="Error of the linear-attention approximations vs size, for inputs of two scales.")

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
