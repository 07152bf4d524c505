"""Weeks 4, 6, 7: PPO, A2C and REINFORCE solve CartPole-v1; PPO's wall time against stable-baselines3's.

- PPO with rl-baselines3-zoo's tuned CartPole-v1 hyperparameters (hyperparams/ppo.yml: 8 envs × 32 steps,
  batch 256, 20 epochs, γ 0.98, λ 0.8, no entropy bonus, lr lin_0.001, clip lin_0.2 — our PPOConfig
  defaults) for 100,000 steps, 3 seeds; each must score ≥ 475 over 20 greedy evaluation episodes. The peer is
  stable-baselines3's PPO with the same zoo settings, run interleaved with ours (ours, sb3, ours, sb3, …) on
  the same machine, both with one torch thread; target: our median wall time ≤ 0.5× sb3's.
- A2C (zoo's CartPole settings; and with the learning rate annealed) and REINFORCE with a learned baseline,
  500,000 steps, 3 seeds: each run must solve CartPole by gymnasium's definition (mean return of 100
  consecutive training episodes ≥ 475) within the budget. The final agent's greedy evaluation is reported
  beside it: A2C with a constant learning rate can solve and later collapse.

stable-baselines3 is a bench-only extra (`pip install stable-baselines3`); without it the timing row is
reported without a peer.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks.common import Row, report
from studyforge.experiments.policy_gradient import a2c, ppo, reinforce
from studyforge.experiments.rl.curves import steps_to_threshold
from studyforge.experiments.rl.evaluation import evaluate

ENV = "CartPole-v1"
PPO_STEPS = 100_000
SLOW_BUDGET = 500_000
SEEDS = (0, 1, 2)
SOLVED = 475.0


def run_sb3(seed: int, steps: int = PPO_STEPS) -> tuple[float, float]:
    """(wall time of `steps` steps, greedy evaluation return) of stable-baselines3's PPO with zoo settings."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.logger import Logger

    start = time.perf_counter()
    env = make_vec_env(ENV, n_envs=8, seed=seed)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0, learning_rate=lambda p: 0.001 * p, clip_range=lambda p: 0.2 * p, seed=seed,
                device="cpu", verbose=0)
    model.set_logger(Logger(folder=None, output_formats=[]))  # else sb3 makes a tempdir/SB3-<time> per run
    model.learn(steps)
    elapsed = time.perf_counter() - start
    mean, _ = evaluate_policy(model, make_vec_env(ENV, n_envs=1, seed=seed + 10_000), n_eval_episodes=20,
                              deterministic=True)
    return elapsed, float(mean)


def main() -> bool:
    torch.set_num_threads(1)
    try:
        import stable_baselines3  # noqa: F401

        have_sb3 = True
    except ImportError:
        have_sb3 = False

    # warm-up: the first optimizer step of a process imports torch._dynamo (seconds); neither side pays it
    # in the timed runs below
    ppo.train(ENV, ppo.PPOConfig(), total_steps=2_048, seed=99)
    if have_sb3:
        run_sb3(99, steps=2_048)
    ours_t, ours_eval, sb3_t, sb3_eval = [], [], [], []
    for seed in SEEDS:
        start = time.perf_counter()
        result = ppo.train(ENV, ppo.PPOConfig(), total_steps=PPO_STEPS, seed=seed)
        ours_t.append(time.perf_counter() - start)
        ours_eval.append(evaluate(result.agent, ENV, 20, deterministic=True, seed=seed).mean)
        if have_sb3:
            t, e = run_sb3(seed)
            sb3_t.append(t)
            sb3_eval.append(e)
    t_ours = statistics.median(ours_t)
    rows = [
        Row(f"PPO CartPole, 100k steps: greedy eval, worst of {len(SEEDS)} seeds", min(ours_eval), "return",
            peer=min(sb3_eval) if sb3_eval else None, peer_name="sb3 PPO, zoo settings", target="≥ 475 each",
            ok=min(ours_eval) >= SOLVED),
        Row("PPO CartPole: wall time to 100k steps (median)", t_ours, "s",
            peer=statistics.median(sb3_t) if sb3_t else None, peer_name="sb3 PPO, zoo settings, 1 thread",
            target="≤ 0.5× sb3", ok=(t_ours <= 0.5 * statistics.median(sb3_t)) if sb3_t else None),
        Row("PPO CartPole: environment steps per second", PPO_STEPS / t_ours, "steps/s",
            peer=PPO_STEPS / statistics.median(sb3_t) if sb3_t else None, peer_name="sb3"),
    ]

    slow = (("A2C", a2c, a2c.A2CConfig()),
            ("A2C, lr annealed", a2c, a2c.A2CConfig(anneal_lr=True)),
            ("REINFORCE + baseline", reinforce, reinforce.ReinforceConfig(baseline="value")))
    for name, module, cfg in slow:
        reached, evals, times = [], [], []
        for seed in SEEDS:
            start = time.perf_counter()
            result = module.train(ENV, cfg, total_steps=SLOW_BUDGET, seed=seed)
            times.append(time.perf_counter() - start)
            # gymnasium's definition of solved: the mean return of 100 consecutive episodes ≥ 475
            hit = steps_to_threshold(result.episode_steps, result.episode_returns, SOLVED, window=100)
            reached.append(hit if hit is not None else float("inf"))
            evals.append(evaluate(result.agent, ENV, 20, deterministic=True, seed=seed).mean)
        worst = max(reached)
        rows.append(Row(f"{name}: steps until 100-episode mean ≥ 475 (worst of {len(SEEDS)} seeds)",
                        worst if np.isfinite(worst) else float(SLOW_BUDGET), "steps", target="≤ 500k",
                        ok=bool(np.isfinite(worst) and worst <= SLOW_BUDGET)))
        rows.append(Row(f"{name}: greedy eval of the final agent, 20 episodes (worst seed)", min(evals),
                        "return"))
        rows.append(Row(f"{name}: wall time of 500k steps (median)", statistics.median(times), "s"))
    return report("Weeks 4, 6, 7: policy optimisation on CartPole-v1", rows)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
