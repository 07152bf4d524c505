"""Week 14: DQN on CartPole-v1 — does it solve the task in 50k steps, and is it as fast as stable-baselines3?

Ours is `value_based.dqn.train` with its defaults, which are rl-baselines3-zoo's tuned CartPole-v1
hyperparameters for DQN (MLP 256-256, Adam 2.3e-3, batch 64, 100k replay, 1k warm-up steps, 128 gradient
steps every 256 env steps, target copied every 10 steps, ε 1 → 0.04 over 16% of the run). The peer is
stable-baselines3's `DQN` with the same hyperparameters on the same machine, in the same process, one torch
thread each (sb3 is a bench-only extra: `pip install stable-baselines3`; without it the peer rows are skipped).

Targets (issue 9): the greedy policy's mean return over 20 evaluation episodes reaches 475 at some
evaluation within 50,000 env steps in at least 2 of 3 seeds (evaluations every 5,000 steps), and our
training throughput in env steps per second (evaluation time excluded) is ≥ sb3's.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import torch

from benchmarks.common import Row, report
from studyforge.experiments.rl.evaluation import evaluate
from studyforge.experiments.value_based.dqn import DQNConfig, train

ENV = "CartPole-v1"
STEPS = 50_000
SEEDS = (0, 1, 2)
SOLVED = 475.0
# rl-baselines3-zoo, hyperparams/dqn.yml, CartPole-v1
ZOO = {"learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1_000, "gamma": 0.99,
       "target_update_interval": 10, "train_freq": 256, "gradient_steps": 128, "exploration_fraction": 0.16,
       "exploration_final_eps": 0.04}


def sb3_run(seed: int) -> tuple[float, float]:
    """(env steps per second of `learn`, greedy evaluation mean over 20 episodes) of sb3's DQN."""
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.logger import Logger

    model = DQN("MlpPolicy", gym.make(ENV), policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu",
                verbose=0, **ZOO)
    model.set_logger(Logger(folder=None, output_formats=[]))  # else sb3 makes a tempdir/SB3-<time> per run
    start = time.perf_counter()
    model.learn(total_timesteps=STEPS)
    sps = STEPS / (time.perf_counter() - start)

    class Greedy:  # sb3's policy behind the interface `evaluate` calls
        def act(self, obs, deterministic=True):
            actions, _ = model.predict(obs.numpy(), deterministic=True)
            return torch.as_tensor(actions), torch.zeros(len(actions))

    return sps, evaluate(Greedy(), ENV, episodes=20, seed=seed).mean


def main() -> bool:
    torch.set_num_threads(1)
    cfg = DQNConfig()
    ours = [train(ENV, cfg, total_steps=STEPS, seed=s, eval_every=5_000, eval_episodes=20, solve_threshold=SOLVED)
            for s in SEEDS]
    solved = [r.extras["solved_at"] for r in ours]
    n_solved = sum(s is not None for s in solved)
    sps = [r.env_steps / (r.wall_time - r.extras["eval_time"]) for r in ours]
    rows = [
        Row(f"DQN seeds solving {ENV} (eval ≥ {SOLVED:g} within {STEPS // 1000}k steps)", n_solved, "of 3",
            target="≥ 2 of 3", ok=n_solved >= 2),
    ]
    for seed, r, at in zip(SEEDS, ours, solved, strict=True):
        evals = ", ".join(f"{m:.0f}" for _, m, _ in r.extras["evals"])
        rows.append(Row(f"  seed {seed}: first solved at (evals every 5k: {evals})", at or float("nan"), "steps"))
    have_sb3 = importlib.util.find_spec("stable_baselines3") is not None
    if have_sb3:
        peer_sps, peer_eval = sb3_run(SEEDS[0])
        rows.append(Row("DQN training throughput (zoo CartPole settings, evals excluded)", float(np.mean(sps)),
                        "steps/s", peer=peer_sps, peer_name="stable-baselines3 DQN", target="≥ sb3",
                        ok=float(np.mean(sps)) >= peer_sps))
        rows.append(Row("final greedy eval, seed 0 (20 episodes)", ours[0].extras["evals"][-1][1], "return",
                        peer=peer_eval, peer_name="stable-baselines3 DQN"))
    else:
        rows.append(Row("DQN training throughput (sb3 not installed: no peer)", float(np.mean(sps)), "steps/s"))
    return report("Week 14: DQN on CartPole-v1", rows)


if __name__ == "__main__":
    import sys

    sys.exit(0 if main() else 1)
