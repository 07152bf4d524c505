"""Independent training runs, two at a time: `policy_gradient.jobs` generalised to any `module:function`.

`policy_gradient.jobs.run_jobs` runs that package's algorithms; the value-based and model-based studies
also run DQN (`value_based.dqn:train`) and MPC (`model_based.mpc:train_mpc`) next to PPO and A2C, so a
`Call` names its training function by import path. Everything else is theirs: one torch thread per run,
the process pool (`jobs.run_each`), results in the calls' order, `jobs.log_result` to replay a run into
`ctx.log`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studyforge.experiments.policy_gradient.core import TrainResult
from studyforge.experiments.policy_gradient.jobs import run_each, single_thread

DQN = "studyforge.experiments.value_based.dqn:train"
PPO = "studyforge.experiments.policy_gradient.ppo:train"
A2C = "studyforge.experiments.policy_gradient.a2c:train"
MPC = "studyforge.experiments.model_based.mpc:train_mpc"


@dataclass
class Call:
    """`target(env_id, cfg, total_steps=…, seed=…, **kwargs)`, identified by `key`."""

    key: tuple
    target: str  # "package.module:function"
    env_id: str
    cfg: Any
    total_steps: int
    seed: int
    kwargs: dict[str, Any] = field(default_factory=dict)


def run_call(call: Call) -> TrainResult:
    """Run one call in this process with one torch thread; the agent comes back on the CPU."""
    module, _, function = call.target.partition(":")
    fn = getattr(importlib.import_module(module), function)
    with single_thread():
        result = fn(call.env_id, call.cfg, total_steps=call.total_steps, seed=call.seed, **call.kwargs)
    if hasattr(result.agent, "cpu"):
        result.agent = result.agent.cpu()
    return result


def run_calls(calls: list[Call], workers: int = 1,
              on_done: Callable[[Call, TrainResult], None] | None = None) -> dict[tuple, TrainResult]:
    """Run every call (in `workers` spawned processes when > 1); returns {call.key: result} in order."""
    return run_each(calls, run_call, workers, on_done)
