"""Figures of the week-1 studies: value heatmaps with greedy-policy arrows, and convergence curves.

matplotlib is imported inside the functions (the CLI must start fast); the runner selects the Agg backend.
Each function returns a Figure for `ctx.log_figure`, which saves and closes it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np

from studyforge.experiments.mdp.envs import WIND_DIRECTIONS, GridEnv
from studyforge.experiments.mdp.tabular import Solution

_WIND_GLYPH = {"^": "↑", "v": "↓", "<": "←", ">": "→"}


def value_heatmap(env: GridEnv, values: np.ndarray, policy: np.ndarray, title: str):
    """V over the grid (colour), the greedy action of every non-terminal state (arrow), cell labels
    (S start, G goal, H hole, C cliff, wind glyphs; walls and terminal cells grey) and the values
    themselves on grids of at most 100 cells."""
    import matplotlib.pyplot as plt

    rows, cols = env.shape
    # terminal cells (V = 0 by definition: goals, holes) are drawn as labels on grey, not as colour
    shown = np.where(env.mdp.terminal, np.nan, values)
    grid = env.grid(shown)
    for r in range(rows):  # the cliff's unreachable states are not part of the picture
        for c in range(cols):
            if env.layout[r][c] == "C":
                grid[r, c] = np.nan
    fig, ax = plt.subplots(figsize=(0.75 * cols + 2.0, 0.75 * rows + 1.2))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
    im = ax.imshow(grid, cmap=cmap, origin="upper")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="V(s)")

    # states worth an arrow: not terminal, and not the cliff (states of gymnasium's table that no move reaches)
    live = ~env.mdp.terminal & np.array([env.layout[r][c] != "C" for r, c in env.cells])
    deltas = np.array(env.action_deltas)[policy[live]]  # (N, 2) of (d_row, d_col)
    rc = env.cells[live]
    # arrows in data coordinates (x = column, y = row, downwards on an image), sized in cells
    ax.quiver(rc[:, 1] - 0.3 * deltas[:, 1], rc[:, 0] - 0.3 * deltas[:, 0], deltas[:, 1], deltas[:, 0],
              angles="xy", scale_units="xy", scale=1 / 0.6, units="xy", width=0.08, headwidth=3,
              headlength=3, headaxislength=2.6, color="white", edgecolor="black", linewidth=0.4)
    small = rows * cols <= 100
    for r in range(rows):
        for c in range(cols):
            token = env.layout[r][c]
            label = _label(token)
            if label:
                ax.text(c - 0.42, r - 0.42, label, ha="left", va="top", fontsize=8, color="black",
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "alpha": 0.7, "lw": 0})
    if small:
        for s, (r, c) in enumerate(env.cells):
            if live[s]:
                ink = "black" if im.norm(values[s]) > 0.6 else "white"  # viridis is light at the top
                ax.text(c, r + 0.4, f"{values[s]:.2f}", ha="center", va="bottom", fontsize=6, color=ink)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    # a small grid makes a narrow figure: the title wraps to its width (about 11 characters an inch at 10 pt)
    ax.set_title(textwrap.fill(title, max(24, int(11 * fig.get_figwidth()))), fontsize=10)
    fig.tight_layout()
    return fig


def _label(token: str) -> str:
    """Layout token -> the label drawn in the cell's corner: '^2' -> '↑2', 'F' -> ''."""
    if token in ("S", "G", "H", "C"):
        return token
    if token and token[0] in WIND_DIRECTIONS:
        return _WIND_GLYPH[token[0]] + (token[1:] if token[1:] not in ("", "1") else "")
    return ""


def convergence_curves(solutions: Mapping[str, Solution], title: str):
    """Bellman residual ‖V_{k+1} − V_k‖∞ (log scale) and greedy-policy changes, against the number of
    sweeps through the state space spent so far. An exact-solve policy iteration spends no sweeps: its
    points are drawn against its iteration count instead (marked ○)."""
    import matplotlib.pyplot as plt

    fig, (ax_res, ax_pol) = plt.subplots(1, 2, figsize=(11, 4))
    for label, sol in solutions.items():
        if not sol.history:
            continue
        exact = sol.eval_sweeps == 0
        x = sol.curve("iteration") if exact else np.cumsum(sol.curve("eval_sweeps"))
        style = {"marker": "o", "linestyle": "--"} if exact or len(x) < 30 else {}
        name = f"{label} (x = solves)" if exact else label
        ax_res.plot(x, np.maximum(sol.curve("residual"), 1e-16), label=name, **style)
        ax_pol.plot(x, sol.curve("policy_changes"), label=name, **style)
    ax_res.set_yscale("log")
    ax_res.set_ylabel(r"Bellman residual $\|V_{k+1} - V_k\|_\infty$")
    ax_pol.set_yscale("symlog", linthresh=1)
    ax_pol.set_ylabel("greedy-policy changes")
    for ax in (ax_res, ax_pol):
        ax.set_xscale("log")
        ax.set_xlabel("sweeps through the state space (cumulative)")
        ax.grid(True, which="both", alpha=0.3)
    ax_res.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    # fixed spacing, room for the x labels below: tight_layout would cost more than the plot itself
    fig.subplots_adjust(wspace=0.28, bottom=0.15)
    return fig
