"""Figures of the week-14 studies: greedy-evaluation curves of DQN agents, S&B's cliff walk, the Rainbow
ablation's bars.

Learning curves of training returns against environment steps are the RL core's
`studyforge.experiments.rl.plots`. matplotlib is imported inside the functions (the CLI must start fast); the
runner selects the Agg backend. Each function returns a Figure for `ctx.log_figure`, which saves and closes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from studyforge.experiments.rl import curves


def evaluation_curves(results_by_label: Mapping[str, list], total_steps: int, title: str,
                      threshold: float | None) -> Any:
    """Median evaluation return against env steps, one line per label (thin lines: the seeds).

    Each result's `extras["evals"]` holds rows of (env step, mean return, std) of its greedy evaluations.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, results) in enumerate(results_by_label.items()):
        evals = [np.array(r.extras["evals"]) for r in results if r.extras["evals"]]
        if not evals:
            continue
        color = colors[i % len(colors)]
        for e in evals:
            ax.plot(e[:, 0], e[:, 1], color=color, lw=0.6, alpha=0.35)
        n = min(len(e) for e in evals)
        ax.plot(evals[0][:n, 0], np.median([e[:n, 1] for e in evals], axis=0), color=color, lw=1.8,
                label=f"{label} (n={len(evals)})")
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlim(0, total_steps)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return (greedy, mean of episodes)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


def cliff_walking(returns_by_algo: Mapping[str, np.ndarray], runs: int) -> Any:
    """S&B Figure 6.4: the online return per episode of each tabular learner (averaged over `runs` runs),
    smoothed over 10 episodes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for algo, c in returns_by_algo.items():
        ax.plot(np.arange(1, len(c) + 1), curves.smoothed(c, 10), label=algo.replace("_", "-"))
    ax.set_ylim(-100, 0)
    ax.set_xlabel("episode")
    ax.set_ylabel("sum of rewards during episode")
    ax.set_title(f"Cliff walking, ε = 0.1, α = 0.5 ({runs} runs; S&B Figure 6.4)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def ablation_auc(summary: Mapping[str, Mapping[str, Any]], env_id: str) -> Any:
    """One bar per ablation arm: its mean evaluation return over training (the area under the evaluation
    curve, a sample-efficiency measure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    arms = list(summary)
    ax.bar(arms, [summary[a]["mean_eval_return"] for a in arms], color="tab:purple", alpha=0.8)
    ax.set_ylabel("mean evaluation return over training")
    ax.set_title(f"{env_id}: Rainbow ablation (area under the evaluation curve)")
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
    return fig
