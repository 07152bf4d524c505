"""Figures every RL study draws against environment steps: learning curves with bootstrap bands, and
per-update diagnostics (matplotlib, imported lazily; the runner sets the Agg backend)."""

from __future__ import annotations

from typing import Any

import numpy as np

from studyforge.experiments.rl.curves import aggregate, plot_band


def _finish_step_axes(ax: Any, title: str, ylabel: str, hline: float | None, hline_label: str) -> None:
    """What every plot against environment steps ends with: the optional reference line, labels, legend, grid."""
    if hline is not None:
        ax.axhline(hline, color="k", ls="--", lw=1, label=hline_label or None)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def learning_curves(grid: np.ndarray, groups: dict[str, list[np.ndarray]], title: str, ylabel: str = "return",
                    hline: float | None = None, hline_label: str = "", ax: Any = None) -> Any:
    """IQM curves with 95% bootstrap bands, one per group of runs; returns the figure (or draws on `ax`)."""
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, curves in groups.items():
        if curves:
            plot_band(ax, grid, aggregate(curves), f"{label} (n={len(curves)})")
    _finish_step_axes(ax, title, ylabel, hline, hline_label)
    return fig


def per_update(series: dict[str, list[tuple[np.ndarray, np.ndarray]]], title: str, ylabel: str,
               hline: float | None = None, hline_label: str = "", logy: bool = False) -> Any:
    """A per-update diagnostic (KL, clip fraction, …) against environment steps, every run drawn thin."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, runs) in enumerate(series.items()):
        for j, (x, y) in enumerate(runs):
            ax.plot(x, y, color=colors[i % len(colors)], lw=0.8, alpha=0.7, label=label if j == 0 else None)
    if logy:
        ax.set_yscale("log")
    _finish_step_axes(ax, title, ylabel, hline, hline_label)
    return fig
