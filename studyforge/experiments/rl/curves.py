"""Learning curves across seeds: a common step grid, the interquartile mean, bootstrap confidence bands.

Agarwal, Schwarzer, Castro, Courville & Bellemare, 2021, "Deep Reinforcement Learning at the Edge of the
Statistical Precipice", arXiv 2108.13264: with a handful of seeds, report the interquartile mean (IQM, the
mean of the middle 50% of runs — robust to one outlier seed, less noisy than the median) with stratified
bootstrap confidence intervals rather than a mean ± std. (With 3 seeds the trimmed fraction rounds to zero
runs and the IQM equals the mean; the bootstrap band still shows how much 3 seeds can say.)

A run's curve is the return of its training episodes, smoothed over a trailing window of episodes and read
off at the grid's environment steps (the last value reached at or before each step; NaN before the first
episode has finished).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def step_grid(total_steps: int, points: int) -> np.ndarray:
    """`points` evenly spaced environment steps ending at `total_steps`: `step_grid(1000, 4)` ->
    `[250, 500, 750, 1000]`."""
    return np.linspace(total_steps / points, total_steps, points).astype(np.int64)


def smoothed(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to `window` values: `[1, 2, 3, 4]`, 2 -> `[1, 1.5, 2.5, 3.5]`."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values
    csum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


def on_grid(steps: np.ndarray, values: np.ndarray, grid: np.ndarray, window: int = 10) -> np.ndarray:
    """The smoothed curve read off at `grid`: steps `[10, 20]`, values `[1, 3]`, grid `[5, 15, 25]`, window 1
    -> `[nan, 1, 3]`."""
    steps = np.asarray(steps)
    curve = smoothed(values, window)
    idx = np.searchsorted(steps, grid, side="right") - 1
    out = np.full(len(grid), np.nan)
    ok = idx >= 0
    out[ok] = curve[idx[ok]]
    return out


def iqm(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Interquartile mean: the mean after dropping ⌊n/4⌋ values at each end along `axis` (scipy's
    `trim_mean(x, 0.25)`). `[1, 2, 3, 100]` -> 2.5."""
    x = np.sort(np.asarray(x, dtype=float), axis=axis)
    n = x.shape[axis]
    k = int(0.25 * n)
    return np.take(x, np.arange(k, n - k), axis=axis).mean(axis=axis)


def bootstrap_ci(runs: np.ndarray, statistic=iqm, n_boot: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap interval of `statistic` over runs (axis 0), per column: (runs, G) -> (G,), (G,).

    Runs are resampled with replacement `n_boot` times; the interval is the (1−c)/2 and (1+c)/2 quantiles
    of the resampled statistic. `statistic(x, axis)` must reduce along `axis` (all resamples at once).
    """
    runs = np.asarray(runs, dtype=float)
    rng = np.random.default_rng(seed)
    n = runs.shape[0]
    picks = rng.integers(0, n, size=(n_boot, n))
    boot = statistic(runs[picks], axis=1)  # (n_boot, n, G) -> (n_boot, G)
    alpha = (1 - confidence) / 2
    return np.nanquantile(boot, alpha, axis=0), np.nanquantile(boot, 1 - alpha, axis=0)


def aggregate(curves: list[np.ndarray], n_boot: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """IQM and 95% bootstrap band of several runs' grid curves (each (G,)): {"iqm", "lo", "hi"}."""
    runs = np.stack(curves)
    filled = np.where(np.isnan(runs), np.nanmin(runs) if np.isfinite(runs).any() else 0.0, runs)
    lo, hi = bootstrap_ci(filled, n_boot=n_boot, seed=seed)
    return {"iqm": iqm(filled), "lo": lo, "hi": hi}


def steps_to_threshold(steps: np.ndarray, values: np.ndarray, threshold: float,
                       window: int = 10) -> int | None:
    """Environment steps at which the smoothed return first reaches `threshold` (None if it never does)."""
    curve = smoothed(values, window)
    hit = np.flatnonzero(curve >= threshold)
    return int(np.asarray(steps)[hit[0]]) if len(hit) else None


def interval(values: list[float], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """IQM and bootstrap 95% CI of one number per run: `{"iqm", "lo", "hi", "values"}`."""
    arr = np.asarray(values, dtype=float)[:, None]
    lo, hi = bootstrap_ci(arr, n_boot=n_boot, seed=seed)
    return {"iqm": float(iqm(arr)[0]), "lo": float(lo[0]), "hi": float(hi[0]),
            "values": [float(v) for v in values]}


def plot_band(ax, grid: np.ndarray, agg: dict[str, np.ndarray], label: str, color: str | None = None) -> None:
    """IQM line with its shaded 95% band."""
    line = ax.plot(grid, agg["iqm"], label=label, color=color)[0]
    ax.fill_between(grid, agg["lo"], agg["hi"], alpha=0.2, color=line.get_color())
