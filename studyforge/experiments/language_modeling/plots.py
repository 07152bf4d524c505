"""Figures of the week-8 studies: training curves and generation quality, perplexity against model size,
and loss by position after a prompt.

matplotlib is imported inside the functions (the CLI must start fast); the runner selects the Agg backend.
Each function returns a Figure for `ctx.log_figure`, which saves and closes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from studyforge.experiments.language_modeling.harness import TrainResult, smooth


def training_and_generation(result: TrainResult, quality: Mapping[str, Mapping[str, Any]], title: str):
    """Left: training loss (smoothed, per step) and validation loss. Right: distinct 4-grams and the share of
    words found in the training text against the sampling temperature (`quality[setting]`: {"temperature",
    "distinct_4grams", "word_validity"})."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot(range(1, len(result.losses) + 1), smooth(result.losses), label="train (smoothed, per step)")
    a1.plot([e["step"] for e in result.evals], [e["val_loss"] for e in result.evals], "o-", label="validation")
    a1.set(xlabel="step", ylabel="loss (nats/token)", title=title)
    taus = [v["temperature"] for v in quality.values()]
    a2.plot(taus, [v["distinct_4grams"] for v in quality.values()], "o-", label="distinct 4-grams")
    a2.plot(taus, [v["word_validity"] or np.nan for v in quality.values()], "s-", label="words found in training text")
    a2.set(xlabel="temperature (0 = greedy)", title="Generation quality against temperature")
    for ax in (a1, a2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def perplexity_vs_size(sizes: Mapping[str, Mapping[str, Any]], fitted: Mapping[str, Mapping[str, Any]], alpha: float,
                       a: float):
    """Left: validation perplexity against training tokens per model (`sizes[name]["curve"]`: [tokens, loss]
    pairs, loss None where it was not finite). Right: final validation loss against non-embedding parameters
    N of the models in `fitted`, with the power law a·N^(−α)."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name, v in sizes.items():
        pts = [p for p in v["curve"] if p[1] is not None]
        a1.plot([p[0] for p in pts], [math.exp(p[1]) for p in pts], "o-", ms=3, label=f"{name} ({v['params']:,})")
    a1.set(xscale="log", yscale="log", xlabel="training tokens", ylabel="validation perplexity",
           title="Perplexity against training tokens")
    n = np.array([v["params_non_embedding"] for v in fitted.values()], dtype=float)
    a2.loglog(n, [v["val_loss"] for v in fitted.values()], "o", label="final validation loss")
    grid = np.geomspace(n.min(), n.max(), 50)
    a2.loglog(grid, a * grid ** -alpha, "--", label=f"fit a·N^(−α), α = {alpha:.3f}")
    a2.set(xlabel="non-embedding parameters N", ylabel="validation loss (nats/token)", title="Loss against size")
    for ax in (a1, a2):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    return fig


def loss_by_position(curves: Mapping[str, np.ndarray]):
    """Per-position loss after the prompt (smoothed), one line per curve (`curves[name]`: (horizon,) nats)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, v in curves.items():
        positions = np.arange(1, len(v) + 1)
        ax.plot(positions, smooth(v.tolist(), 0.7), label=k.replace("_", " "))
    ax.set(xlabel="tokens after the prompt", ylabel="loss (nats/token, smoothed)",
           title="Teacher forcing vs free running")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
