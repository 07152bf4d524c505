"""Weeks 4, 6, 7: PPO, A2C and REINFORCE solve CartPole-v1; PPO's wall time against stable-baselines3's.

- PPO with rl-baselines3-zoo's tuned CartPole-v1 hyperparameters (hyperparams/ppo.yml: 8 envs × 32 steps,
  batch 256, 20 epochs, γ 0.98, λ 0.8, no entropy bonus, lr lin_0.001, clip lin_0.2 — our PPOConfig
  defaults) for 100,000 steps on 10 seeds; the peer is stable-baselines3's PPO with the same zoo settings on
  the same 10 seeds, run interleaved with ours (ours, sb3, ours, sb3, …) in the same process, both with one
  torch thread. The claim is a share: how many of the 10 seeds score ≥ 475 over 20 greedy evaluation
  episodes after 100k steps; target: our share ≥ sb3's. Wall time: median per run, target ≤ 0.5× sb3's
  (meaningful only on an otherwise idle machine; the shares do not depend on load).

  Why a share, not "every seed solves": a seeded run reproduces itself bit for bit on one machine, but not
  across kinds of CPU. torch picks its CPU kernels by instruction set (ATen's vectorised ops by
  `torch.backends.cpu.get_cpu_capability()`, MKL's sgemm by its own dispatch), and they round differently,
  so the same seed trains a different agent on another CPU, and whether that agent solves CartPole by 100k
  steps is a coin with a seed-dependent bias. Measured (issue 13, item 14) with the code that first
  reported 500 on seeds 0–2: on a 2-core AVX2 EPYC seed 0 scores 187.8 with torch's AVX2 kernels, and 500
  with `ATEN_CPU_CAPABILITY=default` or `MKL_CBWR=COMPATIBLE` (four float paths, four different sets of
  trained parameters). A share over 10 seeds, beside the peer's share on the same seeds in the same run,
  is a claim about the recipe rather than one float path.

  The value-loss weight is the zoo's too: the zoo leaves sb3's vf_coef at 0.5 on its unhalved MSE, which is
  1.0 on our ½ E[(V − R)²] (PPOConfig used 0.5, half the peer's weight, until issue 13). On that EPYC: 9 of
  10 seeds at the old weight, 10 of 10 at the zoo's, sb3 10 of 10; on held-out seeds 10–19 both weights
  solve 10 of 10 — the change is parity with the peer, not a measured gain.
- A2C (zoo's CartPole settings; and with the learning rate annealed) and REINFORCE with a learned baseline,
  500,000 steps, 3 seeds: each run must solve CartPole by gymnasium's definition (mean return of 100
  consecutive training episodes ≥ 475) within the budget. The final agent's greedy evaluation is reported
  beside it: A2C with a constant learning rate can solve and later collapse.

stable-baselines3 is a bench-only extra (`pip install stable-baselines3`); without it the PPO rows are
reported without a peer and without a verdict. `python -m benchmarks.bench_policy_gradient ppo` runs the PPO
rows alone.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.common import Row, console, report
from studyforge.experiments.policy_gradient import a2c, ppo, reinforce
from studyforge.experiments.rl.curves import steps_to_threshold
from studyforge.experiments.rl.evaluation import evaluate

ENV = "CartPole-v1"
PPO_STEPS = 100_000
PPO_SEEDS = tuple(range(10))
SLOW_BUDGET = 500_000
SEEDS = (0, 1, 2)
SOLVED = 475.0


@dataclass
class Trial:
    """One PPO run of the side-by-side: its seed, wall time of training, and greedy evaluation return."""

    seed: int
    wall: float
    greedy: float


def run_ours(seed: int, steps: int = PPO_STEPS) -> Trial:
    """Our PPO with its defaults (the zoo's CartPole settings), then 20 greedy evaluation episodes."""
    start = time.perf_counter()
    result = ppo.train(ENV, ppo.PPOConfig(), total_steps=steps, seed=seed)
    elapsed = time.perf_counter() - start
    return Trial(seed, elapsed, evaluate(result.agent, ENV, 20, deterministic=True, seed=seed).mean)


def run_sb3(seed: int, steps: int = PPO_STEPS) -> Trial:
    """stable-baselines3's PPO with the zoo's CartPole settings, then 20 greedy evaluation episodes."""
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
    return Trial(seed, elapsed, float(mean))


def solved(trials: list[Trial]) -> int:
    """How many runs' greedy evaluations reach the solved line: returns [500, 187.8, 475] -> 2."""
    return sum(t.greedy >= SOLVED for t in trials)


def ppo_rows(ours: list[Trial], sb3: list[Trial] | None) -> list[Row]:
    """The PPO claim: our share of solved seeds against sb3's on the same seeds, and the wall-time ratio."""
    if sb3 is not None and [t.seed for t in sb3] != [t.seed for t in ours]:
        raise ValueError("the side-by-side compares the same seeds in the same order")
    n = len(ours)
    t_ours = statistics.median(t.wall for t in ours)
    t_sb3 = statistics.median(t.wall for t in sb3) if sb3 else None
    return [
        Row("PPO CartPole, 100k steps: seeds whose greedy eval (20 episodes) is ≥ 475", solved(ours),
            f"of {n}", peer=solved(sb3) if sb3 else None, peer_name="sb3 PPO, zoo settings, same seeds",
            target="≥ sb3's share", ok=solved(ours) >= solved(sb3) if sb3 else None),
        Row(f"PPO CartPole, 100k steps: greedy eval, median of {n} seeds",
            statistics.median(t.greedy for t in ours), "return",
            peer=statistics.median(t.greedy for t in sb3) if sb3 else None, peer_name="sb3"),
        Row("PPO CartPole: wall time to 100k steps (median)", t_ours, "s", peer=t_sb3,
            peer_name="sb3 PPO, zoo settings, 1 thread", target="≤ 0.5× sb3 (idle machine)",
            ok=t_ours <= 0.5 * t_sb3 if t_sb3 else None),
        Row("PPO CartPole: environment steps per second", PPO_STEPS / t_ours, "steps/s",
            peer=PPO_STEPS / t_sb3 if t_sb3 else None, peer_name="sb3"),
    ]


def ppo_side_by_side(seeds: tuple[int, ...] = PPO_SEEDS, steps: int = PPO_STEPS) -> list[Row]:
    """Ours and sb3 on each seed, interleaved (ours, sb3, ours, sb3, …); prints every seed's evaluations."""
    torch.set_num_threads(1)
    try:
        import stable_baselines3  # noqa: F401

        have_sb3 = True
    except ImportError:
        have_sb3 = False
    # warm-up: the first optimizer step of a process imports torch._dynamo (seconds); neither side pays it
    # in the timed runs below
    run_ours(99, steps=2_048)
    if have_sb3:
        run_sb3(99, steps=2_048)
    ours, sb3 = [], []
    for seed in seeds:
        ours.append(run_ours(seed, steps))
        if have_sb3:
            sb3.append(run_sb3(seed, steps))
        peer = f", sb3 {sb3[-1].greedy:.1f} ({sb3[-1].wall:.1f} s)" if have_sb3 else ""
        console.print(f"PPO seed {seed}: greedy eval ours {ours[-1].greedy:.1f} ({ours[-1].wall:.1f} s){peer}")
    console.print(f"torch CPU capability: {torch.backends.cpu.get_cpu_capability()}")
    return ppo_rows(ours, sb3 if have_sb3 else None)


def slow_rows() -> list[Row]:
    """A2C and REINFORCE: steps until gymnasium's "solved", within 500k steps, 3 seeds."""
    torch.set_num_threads(1)
    rows = []
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
    return rows


def main(parts: tuple[str, ...] = ("ppo", "slow")) -> bool:
    rows = (ppo_side_by_side() if "ppo" in parts else []) + (slow_rows() if "slow" in parts else [])
    return report("Weeks 4, 6, 7: policy optimisation on CartPole-v1", rows)


if __name__ == "__main__":
    raise SystemExit(0 if main(tuple(sys.argv[1:]) or ("ppo", "slow")) else 1)
