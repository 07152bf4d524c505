"""The figure of week 4's preference-optimization study: ranking over training, implicit rewards, and reward
against KL.

Methods often draw the same line: at the start of training Adam moves DPO and KTO by the same steps (their
gradients point the same way, and Adam discards the scale), and on a small run every method ranks the
held-out pairs equally. So each method has its own marker and line style, drawn in a fixed order with the
first ones widest, and a line hidden under another still shows at its edges and markers.

matplotlib is imported inside the function (the CLI must start fast); the runner selects the Agg backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

STYLE = {  # method -> (colour, marker, line style, line width, marker size)
    "dpo": ("C0", "o", "-", 3.2, 8),
    "ipo": ("C1", "s", "--", 2.4, 6.5),
    "simpo": ("C2", "^", "-.", 1.8, 5.5),
    "kto": ("C3", "x", ":", 1.4, 6),
}


def method_comparison(curves: Mapping[str, Sequence[Mapping[str, Any]]], results: Mapping[str, Mapping[str, Any]],
                      reference_reward: float, labels_agree_with_truth: float):
    """Three panels: held-out preference accuracy per evaluation step; implicit rewards of the chosen and
    rejected completions (DPO and KTO) on the training batches; the true reward of fresh samples against
    their KL from the reference (exact per-token KL summed along each sample, so never below zero)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), layout="constrained")
    for z, (method, rows) in enumerate(curves.items()):
        colour, marker, ls, lw, ms = STYLE[method]
        over = {"color": colour, "ls": ls, "lw": lw, "zorder": 2 + z}
        hollow = {"marker": marker, "ms": ms, "mfc": "none" if marker != "x" else colour, "mec": colour}
        axes[0].plot([r["step"] for r in rows], [r["heldout_accuracy"] for r in rows], label=method,
                     **over, **hollow)
        later = rows[1:]
        if method in ("dpo", "kto"):
            steps = [r["step"] for r in later]
            axes[1].plot(steps, [r["chosen_reward"] for r in later], label=f"{method} chosen", **over, **hollow)
            axes[1].plot(steps, [r["rejected_reward"] for r in later], label=f"{method} rejected",
                         **{**over, "alpha": 0.55}, **hollow)
    axes[0].axhline(labels_agree_with_truth, color="grey", ls=(0, (1, 3)), lw=1, label="labels vs truth")
    axes[0].set(xlabel="step", ylabel="held-out preference accuracy", title="Ranking held-out pairs")
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[1].set(xlabel="step", ylabel="β·(log π − log π_ref), train batch",
                title="Implicit rewards (DPO, KTO; faded: rejected)")
    axes[2].scatter([0.0], [reference_reward], marker="*", s=160, color="black", label="reference", zorder=3)
    for z, (method, r) in enumerate(results.items()):
        colour, marker, *_ = STYLE[method]
        paint = {"color": colour} if marker == "x" else {"facecolors": "none", "edgecolors": colour}
        axes[2].scatter([r["kl_to_reference"]], [r["sample_reward"]], s=90 - 15 * z, marker=marker, label=method,
                        linewidths=1.6, zorder=4 + z, **paint)
    axes[2].set(xlabel="KL(π ‖ π_ref) per sample (nats; exact per token, summed)",
                ylabel="true reward of samples (vowel share)", title="Reward gained against KL spent")
    for ax in axes[:2]:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.legend(fontsize=8)
    axes[2].xaxis.set_major_locator(MaxNLocator(nbins=5))
    return fig
