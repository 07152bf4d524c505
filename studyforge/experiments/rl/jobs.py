"""Many independent training runs (algorithms × environments × seeds) for one study: one `Job`, one runner.

A `Job` names a training function — any `train(env_id, cfg, *, total_steps, seed, **kwargs) -> TrainResult`
at module level: PPO's, DQN's, MPC's — and its arguments. `run_jobs(ctx, jobs, workers)` runs them all with
a live progress bar, then replays each run into `ctx.log`.

Every run is single-threaded (small MLPs train fastest on one core), so a study with `workers: 2` runs two
at a time in separate processes. Runs are seeded and deterministic, so the results do not depend on the
number of workers or the order in which runs finish. Workers do not talk to W&B or the run record: each
returns its `TrainResult`, and the study logs it afterwards with `log_result`, which replays the run's
episodes and updates as throttled rows (`charts/episodic_return`, `losses/…`) under a prefix.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from studyforge.experiments.rl.evaluation import evaluate
from studyforge.experiments.rl.training import LogFn, TrainResult


@dataclass
class Job:
    """One call `train(env_id, cfg, total_steps=…, seed=…, **kwargs)`, identified by `key`."""

    key: tuple
    train: Callable[..., TrainResult]  # module level: a worker process receives it by its import path
    env_id: str
    cfg: Any
    total_steps: int
    seed: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    eval_episodes: int = 0  # > 0: evaluate the final agent (greedy and sampled) into result.extras["eval"]


def key_prefix(job: Job) -> str:
    """The default metric prefix of a job's run: its key joined by slashes, `("cartpole_v1", "dqn", "s0")` ->
    `"cartpole_v1/dqn/s0/"`."""
    return "/".join(str(k) for k in job.key) + "/"


def run_jobs(ctx, jobs: list[Job], workers: int = 1, description: str = "training runs",
             prefix: Callable[[Job], str] = key_prefix, every: int | Callable[[Job], int] = 4096,
             ) -> dict[tuple, TrainResult]:
    """Run every job (in `workers` processes when > 1) with a live progress bar, then replay each run into
    `ctx.log` under `prefix(job)`, one row per `every` environment steps; returns {job.key: result} in the
    jobs' order."""
    with ctx.progress(total=len(jobs), description=description) as bar:
        results = _run_each(jobs, workers,
                            on_done=lambda job, res: bar.advance(1, **{"return": res.final_return()}))
    for job in jobs:
        log_result(ctx.log, results[job.key], prefix(job), every=every(job) if callable(every) else every)
    return results


def run_job(job: Job) -> TrainResult:
    """Run `job` in this process with one torch thread; the result's agent is on the CPU."""
    with single_thread():
        result = job.train(job.env_id, job.cfg, total_steps=job.total_steps, seed=job.seed, **job.kwargs)
    if hasattr(result.agent, "cpu"):
        result.agent = result.agent.cpu()
    if job.eval_episodes:
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


def _run_each(jobs: list[Job], workers: int = 1,
              on_done: Callable[[Job, TrainResult], None] | None = None) -> dict[tuple, TrainResult]:
    """`run_job(job)` for every job, in `workers` processes when > 1; returns {job.key: result} in the jobs'
    order."""
    results: dict[tuple, TrainResult] = {}
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            results[job.key] = run_job(job)
            if on_done:
                on_done(job, results[job.key])
    else:
        # spawn: a clean interpreter per worker, safe whatever threads the parent (W&B, torch) has started
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker) as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                results[job.key] = future.result()
                if on_done:
                    on_done(job, results[job.key])
    return {job.key: results[job.key] for job in jobs}


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
