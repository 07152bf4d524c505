"""Figures of the week-3 studies: approximation error, memory and time against length, perplexity against
evaluation length, attention maps, and the per-head analysis.

matplotlib is imported inside the functions (the CLI must start fast); the runner selects the Agg backend.
Each function returns a Figure for `ctx.log_figure`, which saves and closes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch


def approximation_error(rows: list[dict], scales: Sequence[float], length: int, head_dim: int):
    """RMS error against exact attention as the approximation grows (log-log), one line per method and input
    scale (`rows`: {"method", "input_scale", "size", "rmse"})."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    labels = {"performer": "Performer FAVOR+ (m features)", "linformer_random": "Linformer, random E/F (k rows)"}
    for method, label in labels.items():
        for scale in scales:
            pts = [(r["size"], r["rmse"]) for r in rows if r["method"] == method and r["input_scale"] == scale]
            ax.loglog(*zip(*pts, strict=True), "o-" if method == "performer" else "s--", label=f"{label}, std {scale:g}")
    ax.set_xlabel("approximation size (m or k)")
    ax.set_ylabel("RMS error vs softmax attention")
    ax.legend(fontsize=7)
    ax.set_title(f"Approximate attention, T={length}, d={head_dim}")
    return fig


def memory_and_time_vs_length(rows: list[dict], variants: Sequence[str], title: str):
    """Peak memory and forward time against sequence length (log-log), one line per variant (`rows`:
    {"variant", "length", "peak_mib", "ms"}; memory floored at 1e-6 MiB for the log scale)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name in variants:
        pts = [r for r in rows if r["variant"] == name]
        lengths = [r["length"] for r in pts]
        axes[0].loglog(lengths, [max(r["peak_mib"], 1e-6) for r in pts], "o-", label=name)
        axes[1].loglog(lengths, [r["ms"] for r in pts], "o-", label=name)
    for ax, what in zip(axes, ("peak memory (MiB)", "forward time (ms)"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    return fig


def perplexity_vs_length(results: Mapping[str, dict], position_curves: Mapping[str, torch.Tensor],
                         lengths: Sequence[int], train_length: int, source: str):
    """Left: validation perplexity against evaluation length per encoding (`results[enc][f"ppl_L{L}"]`).
    Right: perplexity by position inside the longest windows (per-position losses, bucketed to ≤ 64 points)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for enc, entry in results.items():
        axes[0].plot(lengths, [entry[f"ppl_L{L}"] for L in lengths], "o-", label=enc)
        curve = position_curves[enc]
        bucket = max(1, len(curve) // 64)
        smoothed = curve[: len(curve) // bucket * bucket].view(-1, bucket).mean(1)
        axes[1].plot(np.arange(len(smoothed)) * bucket + bucket / 2, smoothed.exp().numpy(), label=enc)
    axes[0].set_xscale("log", base=2)
    axes[0].set_yscale("log")
    axes[0].axvline(train_length, color="grey", ls=":", lw=1)
    axes[0].set_xlabel("evaluation length (characters)")
    axes[0].set_ylabel("validation perplexity")
    axes[0].legend(fontsize=8)
    axes[1].axvline(train_length, color="grey", ls=":", lw=1)
    axes[1].set_yscale("log")
    axes[1].set_xlabel(f"position in a window of {lengths[-1]}")
    axes[1].set_ylabel("perplexity at that position")
    fig.suptitle(f"Length extrapolation, trained at {train_length} characters ({source.split('/')[-1]})")
    return fig


def attention_maps(maps: Sequence[torch.Tensor], tokens: Sequence[str] | None = None, title: str = ""):
    """One panel per (layer, head): maps is a list over layers of (H, Tq, Tk) weights for one sequence.

    Returns a matplotlib Figure (rows: layers, columns: heads)."""
    import matplotlib.pyplot as plt

    n_layers, n_heads = len(maps), maps[0].shape[0]
    fig, axes = plt.subplots(n_layers, n_heads, figsize=(2.2 * n_heads, 2.2 * n_layers), squeeze=False)
    for layer, layer_maps in enumerate(maps):
        for head in range(n_heads):
            ax = axes[layer][head]
            ax.imshow(layer_maps[head].detach().float().cpu().numpy(), cmap="viridis", vmin=0.0, aspect="auto")
            ax.set_title(f"layer {layer} head {head}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            if tokens is not None and len(tokens) <= 32:
                if layer == n_layers - 1:
                    ax.set_xticks(range(len(tokens)), tokens, fontsize=5, rotation=90)
                if head == 0:
                    ax.set_yticks(range(len(tokens)), tokens, fontsize=5)
    fig.supxlabel("key position")
    fig.supylabel("query position")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def head_analysis(entropy: torch.Tensor, distance: torch.Tensor, importance: torch.Tensor,
                  curves: Mapping[str, list[dict]], loss_limit: float):
    """Per-head heatmaps (layers × heads) of entropy, mean distance and importance, and the pruning curves
    (`curves[order]`: rows {"heads_removed", "loss"}) with the loss limit dotted."""
    import matplotlib.pyplot as plt

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
    axes[3].axhline(loss_limit, color="grey", ls=":", lw=1)
    axes[3].set_xlabel("heads removed")
    axes[3].set_ylabel("validation loss (nats/char)")
    axes[3].legend(fontsize=7)
    fig.tight_layout()
    return fig
