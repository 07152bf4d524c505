"""Running many independent training runs (algorithms × environments × seeds) for one study.

Every run is single-threaded (small MLPs train fastest on one core), so a study with `workers: 2` runs two
at a time in separate processes. Runs are seeded and deterministic, so the results do not depend on the
number of workers or the order in which runs finish. Workers do not talk to W&B or the run record: each
returns its `TrainResult`, and the study logs it afterwards with `log_result`, which replays the run's
episodes and updates as throttled rows (`charts/episodic_return`, `losses/…`) under a prefix.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from studyforge.experiments.policy_gradient.core import LogFn, TrainResult


@dataclass
class Job:
    """One call of `<module>.train(env_id, cfg, total_steps=…, seed=…, **kwargs)`, identified by `key`."""

    key: tuple
    module: str  # e.g. "ppo" (a module of this package)
    env_id: str
    cfg: Any
    total_steps: int
    seed: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    function: str = "train"
    eval_episodes: int = 0  # > 0: evaluate the final agent (greedy and sampled) into result.extras["eval"]


def run_one(job: Job) -> TrainResult:
    """Run `job` in this process with one torch thread; the result's agent is on the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        module = importlib.import_module(f"studyforge.experiments.policy_gradient.{job.module}")
        train = getattr(module, job.function)
        result = train(job.env_id, job.cfg, total_steps=job.total_steps, seed=job.seed, **job.kwargs)
    finally:
        torch.set_num_threads(threads)
    if isinstance(result, TrainResult) and hasattr(result.agent, "cpu"):
        result.agent = result.agent.cpu()
        if job.eval_episodes:
            from studyforge.experiments.policy_gradient.evaluation import evaluate

            env_kwargs = job.kwargs.get("env_kwargs")
            with single_thread():
                result.extras["eval"] = {
                    mode: evaluate(result.agent, job.env_id, job.eval_episodes, deterministic=greedy,
                                   seed=job.seed, env_kwargs=env_kwargs).summary()
                    for mode, greedy in (("greedy", True), ("sampled", False))}
    return result


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def run_each(items: list, run: Callable[[Any], TrainResult], workers: int = 1,
             on_done: Callable[[Any, TrainResult], None] | None = None) -> dict[tuple, TrainResult]:
    """`run(item)` for every item (each has a `key`), in `workers` processes when > 1; returns
    {item.key: result} in the items' order. `run` must be a module-level function (it is pickled)."""
    results: dict[tuple, TrainResult] = {}
    if workers <= 1 or len(items) <= 1:
        for item in items:
            results[item.key] = run(item)
            if on_done:
                on_done(item, results[item.key])
    else:
        # spawn: a clean interpreter per worker, safe whatever threads the parent (W&B, torch) has started
        with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker) as pool:
            futures = {pool.submit(run, item): item for item in items}
            for future in as_completed(futures):
                item = futures[future]
                results[item.key] = future.result()
                if on_done:
                    on_done(item, results[item.key])
    return {item.key: results[item.key] for item in items}


def run_jobs(jobs: list[Job], workers: int = 1,
             on_done: Callable[[Job, TrainResult], None] | None = None) -> dict[tuple, TrainResult]:
    """Run every job (in `workers` processes when > 1); returns {job.key: result} in the jobs' order."""
    return run_each(jobs, run_one, workers, on_done)


def log_result(log: LogFn, result: TrainResult, prefix: str, every: int = 4096) -> None:
    """Replay a finished run into `log`: one row per `every` environment steps with the mean return of the
    episodes finished in that window and the latest update's diagnostics."""
    edges = np.arange(every, result.env_steps + every, every)
    ep_bin = np.searchsorted(edges, result.episode_steps, side="left")
    upd_steps = np.array([u["step"] for u in result.updates]) if result.updates else np.zeros(0)
    upd_bin = np.searchsorted(edges, upd_steps, side="left")
    for b, edge in enumerate(edges):
        row: dict[str, float] = {}
        in_bin = np.flatnonzero(upd_bin == b)
        if len(in_bin):
            row.update({k: v for k, v in result.updates[in_bin[-1]].items() if k != "step"})
        eps = np.flatnonzero(ep_bin == b)
        if len(eps):
            row["charts/episodic_return"] = float(result.episode_returns[eps].mean())
            row["charts/episodic_length"] = float(result.episode_lengths[eps].mean())
            if result.episode_costs[eps].any():
                row["charts/episodic_cost"] = float(result.episode_costs[eps].mean())
        if row:
            log({f"{prefix}{k}": v for k, v in row.items()}, step=int(min(edge, result.env_steps)))


@contextmanager
def single_thread() -> Iterator[None]:
    """Run the enclosed code with one torch thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
