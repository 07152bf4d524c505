"""Figures of the policy-gradient studies (matplotlib, imported lazily; the runner sets the Agg backend).

Learning curves and per-update diagnostics against environment steps, which every RL week draws, are the RL
core's `studyforge.experiments.rl.plots`.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def interval_bars(labels: list[str], intervals: list[dict[str, Any]], title: str, ylabel: str,
                  logy: bool = False, hline: float | None = None) -> Any:
    """One IQM bar with its bootstrap 95% CI per label."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(labels) + 2), 4))
    centres = np.array([iv["iqm"] for iv in intervals])
    lo = centres - np.array([iv["lo"] for iv in intervals])
    hi = np.array([iv["hi"] for iv in intervals]) - centres
    ax.bar(labels, centres, yerr=[np.maximum(lo, 0), np.maximum(hi, 0)], capsize=4, color="tab:blue",
           alpha=0.8)
    if hline is not None:
        ax.axhline(hline, color="k", ls="--", lw=1)
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
    return fig


def histograms(samples: dict[str, np.ndarray], title: str, clip: float | None = None) -> Any:
    """Overlaid density histograms of probability ratios (log-spaced x), with the clip range marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    all_values = np.concatenate([v for v in samples.values() if len(v)]) if samples else np.ones(1)
    lo, hi = max(float(all_values.min()), 1e-3), max(float(all_values.max()), 1.01)
    bins = np.geomspace(min(lo, 0.5), max(hi, 2.0), 60)
    for label, values in samples.items():
        ax.hist(values, bins=bins, density=True, histtype="step", lw=1.4, label=label)
    if clip is not None:
        for edge in (1 - clip, 1 + clip):
            ax.axvline(edge, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("π_new(a|s) / π_old(a|s)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig
