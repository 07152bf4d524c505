"""`model_based.dyna_q_plus_shortcut`: Dyna-Q+ on the blocking and shortcut mazes — planning with a wrong model.

Sutton & Barto's Examples 8.2 and 8.3 (§8.3, Figures 8.4 and 8.5). When the world changes, a Dyna agent plans
with a model that is now wrong. Dyna-Q+ adds an exploration bonus κ√τ to the simulated reward of an action
untried for τ steps, so it goes back to check: it finds a new path sooner when the old one closes, and finds a
shortcut that plain Dyna-Q, trusting its model, never looks for.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.model_based import dyna, mazes, plots
from studyforge.experiments.registry import register

SHORTCUT_PATH = 10  # start (5, 3) → right along row 4 → up through the new gap at (3, 8): 10 steps


class ChangingMazeConfig(ExperimentConfig):
    runs: int = Field(20, ge=1, description="independent runs averaged")
    alpha: float = Field(1.0, gt=0, le=1, description="step size α (deterministic mazes: 1 is exact)")
    gamma: float = Field(0.95, gt=0, le=1, description="discount γ")
    epsilon: float = Field(0.1, ge=0, le=1, description="ε of the ε-greedy behaviour")
    blocking_planning_steps: int = Field(10, ge=0, description="n on the blocking maze")
    blocking_kappa: float = Field(1e-4, ge=0, description="Dyna-Q+ bonus κ on the blocking maze")
    blocking_change: int = Field(1000, ge=1, description="step at which the blocking maze's gap moves (book: 1000)")
    blocking_steps: int = Field(3000, ge=2, description="total steps on the blocking maze (book: 3000)")
    shortcut_planning_steps: int = Field(50, ge=0, description="n on the shortcut maze")
    shortcut_kappa: float = Field(1e-3, ge=0, description="Dyna-Q+ bonus κ on the shortcut maze")
    shortcut_change: int = Field(3000, ge=1, description="step at which the shortcut opens (book: 3000)")
    shortcut_steps: int = Field(6000, ge=2, description="total steps on the shortcut maze (book: 6000)")

    presets: ClassVar = {"quick": {"runs": 2, "blocking_steps": 1500, "shortcut_change": 600,
                                   "shortcut_steps": 1200, "shortcut_planning_steps": 5},
                         "full": {"runs": 100}}


@register("model_based.dyna_q_plus_shortcut", week=15, config=ChangingMazeConfig,
          headline="shortcut.dyna_q_plus.found_shortcut_fraction")
def dyna_q_plus_shortcut(ctx, cfg: ChangingMazeConfig) -> None:
    """Dyna-Q+ on the blocking and shortcut mazes: planning with a wrong model, and an exploration bonus.

    Sutton & Barto's Examples 8.2 and 8.3. In the blocking maze the known path closes: both agents must
    discover the new one, and Dyna-Q+ does so sooner. In the shortcut maze a shorter path opens: Dyna-Q's
    model says the old path is fine and it never looks, while Dyna-Q+'s bonus κ√τ on long-untried actions
    sends it to check and it finds the shortcut. Cumulative reward against time steps, averaged over runs.
    """
    setups = {
        "blocking": (mazes.blocking_maze(), mazes.blocking_maze(after=True), cfg.blocking_change,
                     cfg.blocking_steps, cfg.blocking_planning_steps, cfg.blocking_kappa),
        "shortcut": (mazes.shortcut_maze(), mazes.shortcut_maze(after=True), cfg.shortcut_change,
                     cfg.shortcut_steps, cfg.shortcut_planning_steps, cfg.shortcut_kappa),
    }
    summary: dict[str, Any] = {}
    cumulative: dict[str, dict[str, np.ndarray]] = {}  # maze -> agent -> mean cumulative reward per step
    with ctx.progress(total=2 * 2 * cfg.runs, description="Dyna-Q / Dyna-Q+") as bar:
        for name, (before, after, change, total, n, kappa) in setups.items():
            worlds = [(0, dyna.MazeWorld.from_env(before)), (change, dyna.MazeWorld.from_env(after))]
            summary[name] = {"change_step": change, "planning_steps": n}
            cumulative[name] = {}
            for label, k in (("dyna_q", 0.0), ("dyna_q_plus", kappa)):
                cums, paths = [], []
                for run in range(cfg.runs):
                    agent = dyna.DynaQ(worlds[0][1].n_cells, 4, n, alpha=cfg.alpha, gamma=cfg.gamma,
                                       epsilon=cfg.epsilon, kappa=k, seed=ctx.seed * 1000 + run)
                    cums.append(dyna.run_changing(worlds, agent, total))
                    paths.append(agent.greedy_path_length(worlds[1][1]))
                    bar.advance(1)
                cum = np.mean(cums, axis=0)
                for t in range(99, total, 100):
                    ctx.log({f"{name}/{label}/cumulative_reward": float(cum[t])}, step=t + 1)
                s = {"cumulative_reward_at_change": float(cum[change - 1]), "cumulative_reward_end": float(cum[-1]),
                     "reward_after_change": float(cum[-1] - cum[change - 1]), "kappa": k,
                     "greedy_path_end_median": float(np.median(paths))}
                if name == "shortcut":
                    s["found_shortcut_fraction"] = float(np.mean(np.array(paths) == SHORTCUT_PATH))
                else:
                    s["found_new_path_fraction"] = float(np.mean(np.array(paths) < 1000))
                summary[name][label] = s
                cumulative[name][label] = cum
    ctx.summary(**summary)
    ctx.log_figure("changing_mazes_cumulative_reward",
                   plots.changing_mazes(cumulative, {name: summary[name]["change_step"] for name in setups},
                                        {name: summary[name]["planning_steps"] for name in setups}, cfg.runs),
                   caption="Cumulative reward of Dyna-Q and Dyna-Q+ (cf. S&B Figures 8.4 and 8.5); the dotted "
                           "line marks the change of the maze.")
