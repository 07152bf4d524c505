"""What the policy-gradient studies share: the solve thresholds, and one group of seeded runs summarised.

A group is the `seeds` runs of one setting (an algorithm on an environment, a clip range, a policy lag, …),
summarised as an interquartile mean with a bootstrap 95% CI (`rl.curves.interval`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studyforge.experiments.rl import curves
from studyforge.experiments.rl.envs import CONSTRAINED_CARTPOLE

# returns at which an environment counts as solved (gymnasium's reward_threshold where it has one)
THRESHOLDS = {"CartPole-v1": 475.0, CONSTRAINED_CARTPOLE: 475.0, "Acrobot-v1": -100.0,
              "MountainCar-v0": -110.0, "LunarLander-v3": 200.0}


def eval_means(results: list, mode: str) -> list[float]:
    """The mean evaluation return (`greedy` or `sampled`) of every run that was evaluated."""
    return [r.extras["eval"][mode]["mean"] for r in results if "eval" in r.extras]


def group_summary(results: list, threshold: float | None, last: int = 20) -> dict[str, Any]:
    """IQM + CI of the final training return, evaluation returns, steps to threshold, wall time."""
    final = curves.interval([r.final_return(last) for r in results])
    out: dict[str, Any] = {"final_return": final["iqm"], "final_return_ci95": [final["lo"], final["hi"]],
                           "final_return_per_seed": final["values"],
                           "wall_time_s": float(np.mean([r.wall_time for r in results]))}
    for mode in ("greedy", "sampled"):
        means = eval_means(results, mode)
        if means:
            out[f"eval_return_{mode}"] = float(curves.iqm(np.array(means)))
    if threshold is not None:
        hits = [curves.steps_to_threshold(r.episode_steps, r.episode_returns, threshold) for r in results]
        reached = [h for h in hits if h is not None]
        out["threshold"] = threshold
        out["reached_threshold"] = f"{len(reached)}/{len(hits)}"
        out["steps_to_threshold_median"] = float(np.median(reached)) if reached else None
    return out
