"""Figures of the week-5 studies: loss curves, stability at a high learning rate, quality against speed,
MoE expert load, memory and compute per architecture, learning-rate sensitivity, width against depth.

matplotlib is imported inside the functions (the CLI must start fast); the runner selects the Agg backend.
Each function returns a Figure for `ctx.log_figure`, which saves and closes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from studyforge.experiments.language_modeling.harness import TrainResult, smooth
from studyforge.experiments.plotting import label_points


def loss_curves(results: Mapping[str, TrainResult], title: str, ylim_from: float | None = None):
    """Smoothed training loss per run against the step; `ylim_from` caps the y axis (the unigram loss plus a
    margin keeps a failed run from squashing the others)."""
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


def high_lr_stability(results: Mapping[str, TrainResult], lr: float):
    """Loss (smoothed) and gradient norm per step of the runs at the high learning rate `lr`."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name, r in results.items():
        a1.plot(smooth(r.losses), label=name)
        a2.semilogy(r.grad_norms, label=name, lw=0.8)
    a1.set(xlabel="step", ylabel="training loss (smoothed)", title=f"lr = {lr:g}")
    a2.set(xlabel="step", ylabel="gradient norm (before clipping)", title="gradient norms")
    for ax in (a1, a2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def loss_vs_throughput(summaries: Mapping[str, Mapping[str, Any]]):
    """Validation loss against training tokens/s, one named point per variant that finished (`summaries`:
    variant -> {"val_loss", "tokens_per_s"}; the high-learning-rate runs, named `…@high_lr`, are left out)."""
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
    return fig


def expert_load(traces: Mapping[str, Mapping[str, list]], names: Sequence[str], n_experts: int):
    """Each expert's share of layer 0's routed tokens over training, one panel per MoE run (`traces[name]`:
    {"step": [...], "load0": [[share per expert], ...]}), uniform dotted."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(11, 4), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        loads = np.array(traces[name]["load0"])
        for e in range(n_experts):
            ax.plot(traces[name]["step"], smooth(loads[:, e].tolist(), 0.8), label=f"expert {e}")
        ax.axhline(1 / n_experts, color="k", ls=":", lw=0.8)
        ax.set(xlabel="step", title=name, ylabel="share of routed tokens (layer 0)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return fig


def dropped_and_imbalance(traces: Mapping[str, Mapping[str, list]], names: Sequence[str], capacity_factor: float):
    """Fraction of assignments dropped at the capacity limit, and load imbalance (N · max share), over
    training per MoE run (`traces[name]`: {"step", "dropped", "imbalance"})."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for name in names:
        a1.plot(traces[name]["step"], smooth(traces[name]["dropped"], 0.8), label=name)
        a2.plot(traces[name]["step"], smooth(traces[name]["imbalance"], 0.8), label=name)
    a1.set(xlabel="step", ylabel="fraction of assignments dropped", title=f"capacity factor {capacity_factor}")
    a2.set(xlabel="step", ylabel="N · max expert share (1 = balanced)", title="load imbalance (mean over layers)")
    for ax in (a1, a2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def memory_compute(arch: Mapping[str, Mapping[str, Any]], settings: Sequence[str], subtitle: str):
    """Per architecture: activation memory and step time in each setting (`settings`: keys of
    `arch[name]["activation_mb"]` and `["step_ms"]`, e.g. 'fp32_ckpt'), and training FLOPs per token against 6N."""
    import matplotlib.pyplot as plt

    names = list(arch)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
    width = 0.2
    for i, key in enumerate(settings):
        axes[0].bar(np.arange(len(names)) + (i - 1.5) * width, [arch[n]["activation_mb"][key] for n in names],
                    width, label=key)
        axes[2].bar(np.arange(len(names)) + (i - 1.5) * width, [arch[n]["step_ms"][key] for n in names], width,
                    label=key)
    axes[0].set(ylabel="activation memory (MiB)", title=subtitle)
    axes[2].set(ylabel="training step (ms, this machine)", title="step time")
    axes[1].bar(np.arange(len(names)) - 0.2, [arch[n]["train_flops_per_token"] / 1e6 for n in names], 0.4,
                label="counted (fwd + bwd)")
    axes[1].bar(np.arange(len(names)) + 0.2, [arch[n]["six_n"] / 1e6 for n in names], 0.4, label="6·N (active)")
    axes[1].set(ylabel="MFLOPs per token", title="training compute per token")
    for ax in axes:
        ax.set_xticks(np.arange(len(names)), names, rotation=30)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    return fig


def lr_sensitivity(sweeps: Mapping[str, tuple[Sequence[float], Sequence[float | None]]]):
    """Final validation loss against peak learning rate, one line per optimizer (`sweeps[name]`: (lrs, val
    losses), None for a run that diverged)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for opt, (lrs, vals) in sweeps.items():
        ax.plot(lrs, [v if v is not None else np.nan for v in vals], "o-", label=opt)
    ax.set_xscale("log")
    ax.set(xlabel="peak learning rate", ylabel="validation loss (nats/char)", title="Learning-rate sensitivity")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def width_vs_depth(shapes: Mapping[str, Mapping[str, Any]], results: Mapping[str, TrainResult], target_params: int,
                   loss_top: float):
    """Left: validation loss against the aspect ratio d / L, each point named by its shape (`shapes[name]`:
    {"aspect_ratio", "val_loss"}). Right: the training curves, capped at `loss_top`."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    a1.plot([v["aspect_ratio"] for v in shapes.values()], [v["val_loss"] or np.nan for v in shapes.values()], "o-")
    a1.set_xscale("log")
    a1.margins(0.15)  # room for the names of the points at the edges
    a1.set(xlabel="aspect ratio d / L", ylabel="validation loss (nats/char)",
           title=f"≈{target_params:,} non-embedding parameters")
    for name, r in results.items():
        a2.plot(smooth(r.losses), label=name)
    a2.set(xlabel="step", ylabel="training loss (smoothed)", ylim=(None, loss_top))
    a2.legend(fontsize=8)
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
    label_points(a1, [(v["aspect_ratio"], v["val_loss"] or np.nan) for v in shapes.values()], list(shapes))
    return fig
