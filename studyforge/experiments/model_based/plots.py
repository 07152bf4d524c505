"""Figures of the week-15 studies: Dyna-Q's steps per episode, cumulative reward on the changing mazes, MPC
against PPO in env steps, and the learned model's error against the horizon.

matplotlib is imported inside the functions (the CLI must start fast); the runner selects the Agg backend.
Each function returns a Figure for `ctx.log_figure`, which saves and closes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from studyforge.experiments.rl import curves


def dyna_maze_steps(steps_by_n: Mapping[int, np.ndarray], shortest: int, floor: float, runs: int) -> Any:
    """S&B Figure 8.2: steps per episode (averaged over runs) from episode 2 on, one line per planning budget
    n, beside the shortest path and the ε-greedy optimal policy's expected steps (`floor`)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for n, avg in steps_by_n.items():
        ax.plot(np.arange(2, len(avg) + 1), avg[1:], label=f"{n} planning steps")
    ax.axhline(shortest, color="k", lw=0.8, ls=":", label=f"shortest path ({shortest})")
    ax.axhline(floor, color="grey", lw=0.8, ls="--", label=f"ε-greedy optimal ({floor:.1f})")
    ax.set_ylim(0, 800)
    ax.set_xlabel("episodes")
    ax.set_ylabel("steps per episode")
    ax.set_title(f"Dyna-Q on the Dyna Maze ({runs} runs; cf. S&B Figure 8.2)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def changing_mazes(cumulative: Mapping[str, Mapping[str, np.ndarray]], change_step: Mapping[str, int],
                   planning_steps: Mapping[str, int], runs: int) -> Any:
    """S&B Figures 8.4 and 8.5: one panel per maze (`cumulative[maze][agent]`: the mean cumulative reward at
    every time step), a dotted line where the maze changes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (name, by_agent) in zip(axes, cumulative.items(), strict=True):
        for label, cum in by_agent.items():
            ax.plot(np.arange(1, len(cum) + 1), cum, label=label.replace("_plus", "+").replace("_", "-"))
        ax.axvline(change_step[name], color="grey", ls=":", lw=1)
        ax.set_title(f"{name} maze (n = {planning_steps[name]}, {runs} runs)")
        ax.set_xlabel("time steps")
        ax.set_ylabel("cumulative reward")
        ax.legend()
        ax.grid(alpha=0.3)
    return fig


def planning_vs_learning(runs_by_method: Mapping[str, list], threshold: float, window: int, env_id: str) -> Any:
    """Return (mean of the last `window` episodes) against env steps on a log axis, one line per run, one colour
    per method."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(7.5, 4.4), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (m, runs) in enumerate(runs_by_method.items()):
        for i, r in enumerate(runs):
            ax.plot(r.episode_steps, curves.smoothed(r.episode_returns, window), lw=1.2,
                    label=m if i == 0 else None, color=colors[j % len(colors)])
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xscale("log")
    # 1, 2 and 5 of each decade as plain numbers; the default also labels 3, 4, 6 … when the axis spans
    # about a decade, and those run into each other
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("environment steps (log)")
    ax.set_ylabel(f"return (mean of last {window} episodes)")
    ax.set_title(f"{env_id}: planning with a learned model vs learning a policy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def model_error_vs_horizon(by_size: Mapping[int, Mapping[str, np.ndarray]], env_id: str,
                           show_spread: bool = True) -> Any:
    """Left: open-loop RMSE against the horizon per training-set size (solid: the ensemble mean, dashed: a
    single member, dotted: h × the one-step error). Right: the ensemble's spread against its actual error at
    the longest horizon, one point per rollout (when the ensemble has more than one member).

    `by_size[size]` holds `rmse` and `rmse_member` (H,), and `spread` and `error` (one per rollout).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    H = 0
    for size, d in by_size.items():
        rmse = d["rmse"]
        H = len(rmse)
        hs = np.arange(1, H + 1)
        line = axes[0].plot(hs, rmse, label=f"{size} transitions (ensemble mean)")[0]
        axes[0].plot(hs, d["rmse_member"], ls="--", color=line.get_color(), lw=0.9)
        axes[0].plot(hs, rmse[0] * hs, ls=":", color=line.get_color(), lw=0.8)
        if show_spread:
            axes[1].scatter(d["spread"], d["error"], s=8, alpha=0.6, label=f"{size}", color=line.get_color())
    axes[0].set_yscale("log")
    axes[0].set_xlabel("open-loop horizon h (steps)")
    axes[0].set_ylabel("RMSE (units of state std)")
    axes[0].set_title(f"{env_id}: compounding model error")
    axes[0].legend(fontsize=7)
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel(f"ensemble spread at h = {H}")
    axes[1].set_ylabel(f"error of the ensemble mean at h = {H}")
    axes[1].set_title("does the ensemble know when it is wrong?")
    axes[1].legend(fontsize=7)
    axes[1].grid(alpha=0.3)
    return fig
