"""What the DQN studies share: the solve thresholds, and the evaluation-based summary of one variant's seeds.

A DQN run evaluates its greedy policy every `eval_every` env steps (`extras["evals"]`: rows of step, mean
return, std) and notes the first evaluation that reached the solve threshold (`extras["solved_at"]`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studyforge.experiments.rl import curves

SOLVED = {"CartPole-v1": 475.0}


def dqn_summary(results: list, threshold: float | None) -> dict[str, Any]:
    """Evaluation-based summary of several seeds of one DQN variant."""
    evals = [np.array(r.extras["evals"]) for r in results]  # each (n_evals, 3): step, mean, std
    best = [float(e[:, 1].max()) if len(e) else float("nan") for e in evals]
    final = [float(e[-1, 1]) if len(e) else float("nan") for e in evals]
    auc = [float(e[:, 1].mean()) if len(e) else float("nan") for e in evals]
    train_final = curves.interval([r.final_return() for r in results])
    out: dict[str, Any] = {
        "best_eval_return": float(np.median(best)), "final_eval_return": float(np.median(final)),
        "mean_eval_return": float(np.median(auc)), "final_eval_return_per_seed": final,
        "final_train_return": train_final["iqm"],
        "wall_time_s": float(np.mean([r.wall_time for r in results])),
        "env_steps_per_s": float(np.mean([r.env_steps / r.wall_time for r in results])),
    }
    if threshold is not None:
        solved = [r.extras["solved_at"] for r in results]
        hit = [s for s in solved if s is not None]
        out["solved_seeds"] = f"{len(hit)}/{len(solved)}"
        out["first_solved_step"] = float(np.median(hit)) if hit else None
    return out
