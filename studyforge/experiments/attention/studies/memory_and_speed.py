"""`attention.memory_and_speed`: peak memory and time of every attention variant against sequence length.

Exact attention materialises the (T, T) score matrix: O(T²) memory and time. FlashAttention (arXiv:2205.14135)
keeps the O(T²) time but streams the scores tile by tile in O(T) memory; sliding-window, local and
block-sparse patterns (Longformer, arXiv:2004.05150; BigBird, arXiv:2007.14062) and the linear
approximations (Performer, Linformer) cut both to O(T) for a fixed window or size. The slope of a log-log
plot of cost against T estimates the exponent.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from studyforge.experiments.attention import plots
from studyforge.experiments.attention.catalogue import VARIANTS, loglog_slope, measure
from studyforge.experiments.config import ExperimentConfig, names_in
from studyforge.experiments.registry import register


class MemorySpeedConfig(ExperimentConfig):
    lengths: list[int] = Field([256, 512, 1024, 2048, 4096, 8192], description="sequence lengths to measure")
    variants: Annotated[list[str], names_in(VARIANTS, "variants", allow_empty=True)] = Field(
        ["sdpa", "dot_product", "additive", "flash", "sliding_window", "local", "bigbird", "performer", "linformer"],
        description="variants from catalogue.VARIANTS",
    )
    heads: int = Field(1, ge=1, description="attention heads (batch 1)")
    head_dim: int = Field(64, ge=2, description="width of each head")
    repeat: int = Field(3, ge=1, description="timed forward passes per point (best is kept)")
    slope_points: int = Field(3, ge=2, description="fit the log-log slopes on this many longest lengths")
    presets: ClassVar = {"quick": {"lengths": [64, 128, 256], "repeat": 1},
                         "full": {"lengths": [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]}}


@register("attention.memory_and_speed", week=3, config=MemorySpeedConfig, headline="flash.memory_slope")
def memory_and_speed(ctx, cfg: MemorySpeedConfig) -> None:
    """Peak memory and forward time of every attention variant against sequence length.

    One forward pass per (variant, length) on random fp32 q, k, v; memory is the allocator's peak during
    the call (profiling.py; `torch.cuda.max_memory_allocated` on CUDA), time the best of `repeat` runs.
    The log-log slope over the longest lengths estimates each variant's complexity exponent: 2 for the
    O(T²) ones, 1 for the linear ones (constant buffers pull measured slopes below 1 at short lengths).
    """
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
    for name in cfg.variants:
        pts = [r for r in rows if r["variant"] == name]
        lengths = [r["length"] for r in pts]
        mem, ms = [max(r["peak_mib"], 1e-6) for r in pts], [r["ms"] for r in pts]
        entry = {f"peak_mib_T{r['length']}": r["peak_mib"] for r in pts} | {f"ms_T{r['length']}": r["ms"] for r in pts}
        if len(pts) >= 2:
            tail = slice(-cfg.slope_points, None)
            entry["memory_slope"] = loglog_slope(lengths[tail], mem[tail])
            entry["time_slope"] = loglog_slope(lengths[tail], ms[tail])
        summary[name] = entry
    ctx.log_figure("memory_and_time_vs_length", plots.memory_and_time_vs_length(
        rows, cfg.variants, f"Attention variants on {ctx.device}: d={cfg.head_dim}, {cfg.heads} head(s), fp32"),
        caption="Log-log: slope 2 is quadratic in T, slope 1 linear. Slopes in the summary.")
    both = [t for t in cfg.lengths if all(f"peak_mib_T{t}" in summary.get(v, {}) for v in ("flash", "dot_product"))]
    if both:
        longest = max(both)
        summary["flash"]["memory_fraction_of_dot_product"] = (summary["flash"][f"peak_mib_T{longest}"]
                                                              / summary["dot_product"][f"peak_mib_T{longest}"])
        summary["flash"]["compared_at_length"] = longest
    ctx.summary(**summary, device=ctx.device, head_dim=cfg.head_dim, heads=cfg.heads)
