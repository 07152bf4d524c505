"""Evaluation: N fresh episodes of a trained agent, with the greedy (deterministic) or the sampled policy.

Training curves show the *stochastic* policy while it learns; an evaluation reruns the final agent on
episodes it has not seen (seeds disjoint from training's) and reports both readings: the greedy policy
argmax_a π(a|s) is what one would deploy, the sampled policy is what the algorithm actually optimised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from studyforge.experiments.rl.envs import make_env
from studyforge.experiments.rl.episodes import Policy, run_episodes

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes use seeds no training env starts from


@dataclass
class EvalResult:
    returns: np.ndarray
    lengths: np.ndarray
    costs: np.ndarray
    deterministic: bool

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        return float(self.returns.std())

    def summary(self) -> dict[str, float]:
        out = {"mean": self.mean, "std": self.std, "min": float(self.returns.min()),
               "max": float(self.returns.max()), "episodes": len(self.returns)}
        if self.costs.any():
            out["cost"] = float(self.costs.mean())
        return out


def evaluate(agent: Policy, env_id: str, episodes: int = 20, deterministic: bool = True, seed: int = 0,
             device: torch.device | str = "cpu", env_kwargs: dict[str, Any] | None = None,
             batch: int = 32) -> EvalResult:
    """Run `episodes` episodes (seeds seed+offset, seed+offset+1, …), `batch` environments at a time."""
    returns, lengths, costs = [], [], []
    base = seed + EVAL_SEED_OFFSET
    done = 0
    while done < episodes:
        n = min(batch, episodes - done)
        envs = [make_env(env_id, **(env_kwargs or {})) for _ in range(n)]
        eps = run_episodes(envs, agent, [base + done + i for i in range(n)], deterministic=deterministic,
                           device=device)
        for env in envs:
            env.close()
        returns += [e.ret for e in eps]
        lengths += [len(e) for e in eps]
        costs += [e.cost for e in eps]
        done += n
    return EvalResult(np.array(returns), np.array(lengths), np.array(costs), deterministic)


def random_policy_return(env_id: str, episodes: int = 100, seed: int = 0,
                         env_kwargs: dict[str, Any] | None = None) -> float:
    """Mean return of the uniform random policy (the baseline every learner must clear)."""
    rng = np.random.default_rng(seed)
    total = 0.0
    for i in range(episodes):
        env = make_env(env_id, **(env_kwargs or {}))
        env.reset(seed=seed + EVAL_SEED_OFFSET + i)
        done = False
        while not done:
            _, r, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
            total += r
            done = term or trunc
        env.close()
    return total / episodes
