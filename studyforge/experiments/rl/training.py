"""What every training run shares around its loop: the config base class, the metric recorder, the result.

A training function (an algorithm's `train`, DQN's, MPC's) has the signature
`train(env_id, cfg, *, total_steps, seed, log=None, ...) -> TrainResult`, and seeds python, numpy and torch
first with `studyforge.tracking.context.seed_everything` (the one the runner seeds a study with).
It logs through a `Recorder`, which keeps every finished episode and every update's diagnostics in
memory (for the studies' curves) and forwards a throttled, aggregated row to `log` — usually a study's
`ctx.log`, with a prefix such as `"CartPole-v1/ppo/s0/"` so that many runs can share one W&B run. Metric
names follow CleanRL's namespaces: `charts/episodic_return`, `losses/approx_kl`, …
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from studyforge.experiments.rl.curves import on_grid

LogFn = Callable[..., None]  # log(metrics: dict, step=int)


class AlgoConfig(BaseModel):
    """Base of every algorithm's hyperparameters: unknown keys are rejected, values validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Recorder:
    """Collects a run's episodes and update diagnostics; forwards an aggregate every `log_every` steps."""

    def __init__(self, log: LogFn | None = None, prefix: str = "", log_every: int = 2048):
        self._log = log
        self.prefix = prefix
        self.log_every = log_every
        self.episode_steps: list[int] = []
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self.episode_costs: list[float] = []
        self.updates: list[dict[str, float]] = []
        self._pending: list[int] = []  # indices of episodes not yet logged
        self._last_logged = -log_every

    def episode(self, step: int, ret: float, length: int, cost: float = 0.0) -> None:
        self._pending.append(len(self.episode_returns))
        self.episode_steps.append(int(step))
        self.episode_returns.append(float(ret))
        self.episode_lengths.append(int(length))
        self.episode_costs.append(float(cost))

    def update(self, step: int, **metrics: float) -> None:
        """One update's diagnostics (`losses/policy_loss=…`); logged with the episodes since the last row."""
        self.updates.append({"step": int(step), **{k: float(v) for k, v in metrics.items()}})
        if self._log is not None and step - self._last_logged >= self.log_every:
            self.flush(step)

    def flush(self, step: int) -> None:
        if self._log is None:
            return
        row = {k: v for k, v in self.updates[-1].items() if k != "step"} if self.updates else {}
        if self._pending:
            idx = self._pending
            row["charts/episodic_return"] = float(np.mean([self.episode_returns[i] for i in idx]))
            row["charts/episodic_length"] = float(np.mean([self.episode_lengths[i] for i in idx]))
            if any(self.episode_costs[i] for i in idx):
                row["charts/episodic_cost"] = float(np.mean([self.episode_costs[i] for i in idx]))
        self._pending = []
        self._last_logged = step
        if row:
            self._log({f"{self.prefix}{k}": v for k, v in row.items()}, step=int(step))


@dataclass
class TrainResult:
    """What a training run leaves behind: the agent, every episode, every update's diagnostics."""

    algo: str
    env_id: str
    seed: int
    agent: Any
    env_steps: int
    wall_time: float
    episode_steps: np.ndarray
    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    episode_costs: np.ndarray
    updates: list[dict[str, float]]
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_recorder(cls, algo: str, env_id: str, seed: int, agent: Any, env_steps: int, started: float,
                      rec: Recorder, **extras: Any) -> TrainResult:
        return cls(algo, env_id, seed, agent, env_steps, time.perf_counter() - started,
                   np.asarray(rec.episode_steps, dtype=np.int64), np.asarray(rec.episode_returns),
                   np.asarray(rec.episode_lengths, dtype=np.int64), np.asarray(rec.episode_costs),
                   rec.updates, dict(extras))

    def final_return(self, last: int = 20) -> float:
        """Mean return of the last `last` training episodes (NaN when none finished)."""
        tail = self.episode_returns[-last:]
        return float(np.mean(tail)) if len(tail) else float("nan")

    def final_cost(self, last: int = 20) -> float:
        tail = self.episode_costs[-last:]
        return float(np.mean(tail)) if len(tail) else float("nan")

    def curve(self, grid: np.ndarray, window: int = 10, costs: bool = False) -> np.ndarray:
        """The episodes' returns (or costs), smoothed over `window` episodes, read off at `grid` (`curves.on_grid`)."""
        return on_grid(self.episode_steps, self.episode_costs if costs else self.episode_returns, grid, window)

    def update_series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(env steps, values) of one per-update diagnostic, e.g. `"losses/approx_kl"`."""
        rows = [u for u in self.updates if key in u]
        return np.array([u["step"] for u in rows]), np.array([u[key] for u in rows])

