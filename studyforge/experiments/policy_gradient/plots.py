"""Figures of the policy-gradient studies (matplotlib, imported lazily; the runner sets the Agg backend).
Each function returns a Figure for `ctx.log_figure`, which saves and closes it.

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


def gradient_variance(variance: dict[str, dict[str, dict[str, float]]], points: list[int], names: list[str]) -> Any:
    """tr Cov[ĝ] of each estimator (log scale), one bar per snapshot of the reference policy.

    `variance["step<point>"][name]["total_variance"]`, as `policy_gradient.variance_reduction_ablation`
    summarises it.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    width = 0.8 / len(points)
    x = np.arange(len(names))
    for i, point in enumerate(points):
        vals = [variance[f"step{point}"][n]["total_variance"] for n in names]
        ax.bar(x + i * width, vals, width, label=f"policy at step {point}")
    ax.set_xticks(x + width * (len(points) - 1) / 2, names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("tr Cov[ĝ]")
    ax.set_title("Variance of the policy-gradient estimate")
    ax.legend(fontsize=8)
    return fig


def final_return_vs_lag(lags: list[int], finals: dict[str, list[dict[str, Any]]]) -> Any:
    """Final return (IQM with its bootstrap 95% CI) against the actors' policy lag, one line per correction."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for corr, ivs in finals.items():
        c = np.array([iv["iqm"] for iv in ivs])
        err = [c - np.array([iv["lo"] for iv in ivs]), np.array([iv["hi"] for iv in ivs]) - c]
        ax.errorbar(lags, c, yerr=np.maximum(err, 0), marker="o", capsize=4, label=corr)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("policy lag (learner updates)")
    ax.set_ylabel("final return")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
