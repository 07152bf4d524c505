"""Week 15's registered studies: planning with a model, tabular and learned.

- `model_based.dyna_q`                 Dyna-Q with n = 0, 5, 50 planning steps on the Dyna Maze: steps per
                                       episode averaged over runs, against Sutton & Barto's Figure 8.2.
- `model_based.dyna_q_plus_shortcut`   Dyna-Q vs Dyna-Q+ on the blocking and shortcut mazes (Figures 8.4, 8.5):
                                       cumulative reward as the world changes.
- `model_based.planning_vs_learning`   a learned ensemble dynamics model with MPC (random shooting, CEM)
                                       against model-free PPO on CartPole-v1: env steps to a return threshold.
- `model_based.model_error_vs_horizon` the learned model rolled out open-loop: prediction error against the
                                       horizon (compounding error), per amount of training data, and whether
                                       the ensemble's spread tracks its error.

Summary keys nest as study part → setting → quantity, e.g. `n50.episodes_to_near_optimal`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.mdp import envs as mdp_envs
from studyforge.experiments.mdp import tabular as dp
from studyforge.experiments.model_based import dyna, mazes
from studyforge.experiments.model_based.dynamics import DynamicsEnsemble, fit, rollout
from studyforge.experiments.model_based.mpc import MPCConfig, train_mpc
from studyforge.experiments.policy_gradient import ppo
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.envs import make_env
from studyforge.experiments.rl.jobs import Job, run_jobs, single_thread

# Sutton & Barto, §8.2 (as the issue states them): episodes until each agent's steps per episode reach the
# optimal 14-step path in Figure 8.2
BOOK_FIG_8_2 = {0: 25, 5: 5, 50: 3}


def epsilon_greedy_floor(env, epsilon: float) -> float:
    """Expected steps from the start for the ε-greedy version of an optimal policy (week 1's exact policy
    evaluation with −1 per step): the level an ε-greedy learner's steps per episode settle at.

    >>> round(epsilon_greedy_floor(mazes.dyna_maze(), 0.0), 6)
    14.0
    """
    geometry = mdp_envs.maze(mazes.DYNA_MAZE if env.key == "dyna_maze" else [" ".join(r) for r in env.layout],
                             step_reward=-1.0)
    opt = dp.value_iteration(geometry.mdp, 1.0)
    A = geometry.mdp.n_actions
    # π(a|s) = ε/|A| + (1 − ε) 1[a = a*(s)]
    pi = np.full((geometry.mdp.n_states, A), epsilon / A)
    pi[np.arange(geometry.mdp.n_states), opt.policy] += 1 - epsilon
    return float(-dp.evaluate_policy_exact(geometry.mdp, pi, 1.0)[geometry.start_state])


def random_walk_first_episode(env) -> float:
    """Expected length of the first Dyna-Q episode: with Q ≡ 0 and random tie-breaking the agent does a
    uniform random walk until it first hits the goal (exact, by week 1's policy evaluation)."""
    geometry = mdp_envs.maze(mazes.DYNA_MAZE, step_reward=-1.0)
    return float(-dp.evaluate_policy_exact(geometry.mdp, dp.uniform_policy(geometry.mdp), 1.0)[geometry.start_state])


# ======================================================================================= model_based.dyna_q


class DynaConfig(ExperimentConfig):
    planning_steps: list[int] = Field(default_factory=lambda: [0, 5, 50], description="n per real step")
    runs: int = Field(30, ge=1, description="independent runs averaged (S&B Figure 8.2: 30)")
    episodes: int = Field(50, ge=2, description="episodes per run")
    alpha: float = Field(0.1, gt=0, le=1, description="step size α")
    gamma: float = Field(0.95, gt=0, le=1, description="discount γ")
    epsilon: float = Field(0.1, ge=0, le=1, description="ε of the ε-greedy behaviour")
    near_optimal_factor: float = Field(1.2, ge=1, description="'near-optimal' = averaged steps ≤ this × the "
                                                               "ε-greedy optimal policy's expected steps")

    presets: ClassVar = {"quick": {"runs": 3, "episodes": 15}, "full": {"runs": 100}}


@register("model_based.dyna_q", week=15, config=DynaConfig, headline="n50.episodes_to_near_optimal")
def dyna_q(ctx, cfg: DynaConfig) -> None:
    """Simple model-based RL: tabular Dyna-Q with n = 0, 5, 50 planning steps on the Dyna Maze.

    Reproduces the shape of Sutton & Barto's Figure 8.2 (α = 0.1, ε = 0.1, γ = 0.95, Q₀ = 0, random
    tie-breaking): steps per episode averaged over runs. Two readings of "episodes to the 14-step path":
    the first episode at which the averaged curve comes within `near_optimal_factor` of the level an
    ε-greedy optimal policy achieves (computed exactly, ≈ 17 steps for ε = 0.1 — exploration keeps every
    curve above 14), and per run the episode after which the *greedy* policy follows a 14-step path for
    good. The first episode is a pure random walk for every n; its exact expected length is in the summary.
    """
    import matplotlib.pyplot as plt

    env = mazes.dyna_maze()
    world = dyna.MazeWorld.from_env(env)
    floor = epsilon_greedy_floor(env, cfg.epsilon)
    near = cfg.near_optimal_factor * floor
    curves_by_n: dict[int, np.ndarray] = {}
    summary: dict[str, Any] = {"shortest_path": mazes.DYNA_MAZE_SHORTEST, "epsilon_greedy_floor": floor,
                               "near_optimal_steps": near,
                               "first_episode_expected": random_walk_first_episode(env)}
    with ctx.progress(total=len(cfg.planning_steps) * cfg.runs, description="Dyna-Q runs") as bar:
        for n in cfg.planning_steps:
            lengths, settle = [], []
            for run in range(cfg.runs):
                agent = dyna.DynaQ(world.n_cells, world.n_actions, n, alpha=cfg.alpha, gamma=cfg.gamma,
                                   epsilon=cfg.epsilon, seed=ctx.seed * 1000 + run)
                steps, greedy = dyna.run_episodes(world, agent, cfg.episodes)
                lengths.append(steps)
                settle.append(dyna.episodes_to_optimal(greedy, mazes.DYNA_MAZE_SHORTEST))
                bar.advance(1)
            avg = np.mean(lengths, axis=0)
            curves_by_n[n] = avg
            for ep, v in enumerate(avg, start=1):
                ctx.log({f"dyna_maze/n{n}/steps_per_episode": float(v)}, step=ep)
            hit = np.flatnonzero(avg[1:] <= near)  # from episode 2 on (the first is a random walk)
            summary[f"n{n}"] = {
                "episodes_to_near_optimal": int(hit[0]) + 2 if len(hit) else None,
                "greedy_optimal_after_median": float(np.median(settle)),
                "greedy_optimal_within_run_fraction": float(np.mean(np.array(settle) <= cfg.episodes)),
                "first_episode_steps": float(avg[0]), "second_episode_steps": float(avg[1]),
                "last_10_episodes_steps": float(avg[-10:].mean()),
                "book_episodes_to_optimal": BOOK_FIG_8_2.get(n),
            }
    ctx.summary(**summary)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for n, avg in curves_by_n.items():
        ax.plot(np.arange(2, len(avg) + 1), avg[1:], label=f"{n} planning steps")
    ax.axhline(mazes.DYNA_MAZE_SHORTEST, color="k", lw=0.8, ls=":", label="shortest path (14)")
    ax.axhline(floor, color="grey", lw=0.8, ls="--", label=f"ε-greedy optimal ({floor:.1f})")
    ax.set_ylim(0, 800)
    ax.set_xlabel("episodes")
    ax.set_ylabel("steps per episode")
    ax.set_title(f"Dyna-Q on the Dyna Maze ({cfg.runs} runs; cf. S&B Figure 8.2)")
    ax.legend()
    ax.grid(alpha=0.3)
    ctx.log_figure("dyna_maze_steps_per_episode", fig,
                   caption="Steps per episode from episode 2 (the first is a random walk for every n), averaged "
                           "over runs. Book: n = 0 needs about 25 episodes, n = 5 about 5, n = 50 about 3.")
    ctx.log_table("dyna_q", [{"n": n, **{k: v for k, v in summary[f"n{n}"].items()}} for n in cfg.planning_steps],
                  caption="Episodes to a near-optimal path per planning budget, against the book.")


# ========================================================================= model_based.dyna_q_plus_shortcut


class ChangingMazeConfig(ExperimentConfig):
    runs: int = Field(20, ge=1, description="independent runs averaged")
    alpha: float = Field(1.0, gt=0, le=1, description="step size α (deterministic mazes: 1 is exact)")
    gamma: float = Field(0.95, gt=0, le=1, description="discount γ")
    epsilon: float = Field(0.1, ge=0, le=1, description="ε of the ε-greedy behaviour")
    blocking_planning_steps: int = Field(10, ge=0, description="n on the blocking maze")
    blocking_kappa: float = Field(1e-4, ge=0, description="Dyna-Q+ bonus κ on the blocking maze")
    blocking_change: int = Field(1000, ge=1, description="step at which the blocking maze's gap moves (book: 1000)")
    blocking_steps: int = Field(3000, ge=2, description="total steps on the blocking maze (book: 3000)")
    shortcut_planning_steps: int = Field(50, ge=0, description="n on the shortcut maze")
    shortcut_kappa: float = Field(1e-3, ge=0, description="Dyna-Q+ bonus κ on the shortcut maze")
    shortcut_change: int = Field(3000, ge=1, description="step at which the shortcut opens (book: 3000)")
    shortcut_steps: int = Field(6000, ge=2, description="total steps on the shortcut maze (book: 6000)")

    presets: ClassVar = {"quick": {"runs": 2, "blocking_steps": 1500, "shortcut_change": 600,
                                   "shortcut_steps": 1200, "shortcut_planning_steps": 5},
                         "full": {"runs": 100}}


SHORTCUT_PATH = 10  # start (5, 3) → right along row 4 → up through the new gap at (3, 8): 10 steps


@register("model_based.dyna_q_plus_shortcut", week=15, config=ChangingMazeConfig,
          headline="shortcut.dyna_q_plus.found_shortcut_fraction")
def dyna_q_plus_shortcut(ctx, cfg: ChangingMazeConfig) -> None:
    """Dyna-Q+ on the blocking and shortcut mazes: planning with a wrong model, and an exploration bonus.

    Sutton & Barto's Examples 8.2 and 8.3. In the blocking maze the known path closes: both agents must
    discover the new one, and Dyna-Q+ does so sooner. In the shortcut maze a shorter path opens: Dyna-Q's
    model says the old path is fine and it never looks, while Dyna-Q+'s bonus κ√τ on long-untried actions
    sends it to check and it finds the shortcut. Cumulative reward against time steps, averaged over runs.
    """
    import matplotlib.pyplot as plt

    setups = {
        "blocking": (mazes.blocking_maze(), mazes.blocking_maze(after=True), cfg.blocking_change,
                     cfg.blocking_steps, cfg.blocking_planning_steps, cfg.blocking_kappa),
        "shortcut": (mazes.shortcut_maze(), mazes.shortcut_maze(after=True), cfg.shortcut_change,
                     cfg.shortcut_steps, cfg.shortcut_planning_steps, cfg.shortcut_kappa),
    }
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    summary: dict[str, Any] = {}
    with ctx.progress(total=2 * 2 * cfg.runs, description="Dyna-Q / Dyna-Q+") as bar:
        for ax, (name, (before, after, change, total, n, kappa)) in zip(axes, setups.items(), strict=True):
            worlds = [(0, dyna.MazeWorld.from_env(before)), (change, dyna.MazeWorld.from_env(after))]
            summary[name] = {"change_step": change, "planning_steps": n}
            for label, k in (("dyna_q", 0.0), ("dyna_q_plus", kappa)):
                cums, paths = [], []
                for run in range(cfg.runs):
                    agent = dyna.DynaQ(worlds[0][1].n_cells, 4, n, alpha=cfg.alpha, gamma=cfg.gamma,
                                       epsilon=cfg.epsilon, kappa=k, seed=ctx.seed * 1000 + run)
                    cums.append(dyna.run_changing(worlds, agent, total))
                    paths.append(agent.greedy_path_length(worlds[1][1]))
                    bar.advance(1)
                cum = np.mean(cums, axis=0)
                for t in range(99, total, 100):
                    ctx.log({f"{name}/{label}/cumulative_reward": float(cum[t])}, step=t + 1)
                s = {"cumulative_reward_at_change": float(cum[change - 1]), "cumulative_reward_end": float(cum[-1]),
                     "reward_after_change": float(cum[-1] - cum[change - 1]), "kappa": k,
                     "greedy_path_end_median": float(np.median(paths))}
                if name == "shortcut":
                    s["found_shortcut_fraction"] = float(np.mean(np.array(paths) == SHORTCUT_PATH))
                else:
                    s["found_new_path_fraction"] = float(np.mean(np.array(paths) < 1000))
                summary[name][label] = s
                ax.plot(np.arange(1, total + 1), cum, label=label.replace("_plus", "+").replace("_", "-"))
            ax.axvline(change, color="grey", ls=":", lw=1)
            ax.set_title(f"{name} maze (n = {n}, {cfg.runs} runs)")
            ax.set_xlabel("time steps")
            ax.set_ylabel("cumulative reward")
            ax.legend()
            ax.grid(alpha=0.3)
    ctx.summary(**summary)
    ctx.log_figure("changing_mazes_cumulative_reward", fig,
                   caption="Cumulative reward of Dyna-Q and Dyna-Q+ (cf. S&B Figures 8.4 and 8.5); the dotted "
                           "line marks the change of the maze.")


# ========================================================================== model_based.planning_vs_learning


class PlanningConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="environment (MPC knows its reward and termination)")
    threshold: float = Field(475.0, description="return level to reach (CartPole-v1's 'solved')")
    easy_threshold: float = Field(195.0, description="a lower level also reported (CartPole-v0's 'solved')")
    window: int = Field(5, ge=1, description="episodes averaged when testing the threshold")
    seeds: int = Field(1, ge=1, description="independent runs per method")
    planners: list[str] = Field(default_factory=lambda: ["random_shooting", "cem"], description="MPC planners")
    mpc: MPCConfig = Field(default_factory=lambda: MPCConfig(horizon=50, candidates=150, cem_iterations=2),
                           description="MPC and model-fit settings (50 steps of look-ahead: shorter horizons "
                                       "cannot see the cart drifting off the track in time)")
    cem_candidates: int = Field(75, ge=2, description="sequences per CEM iteration (same scoring budget as "
                                                      "random shooting: iterations × candidates)")
    mpc_max_steps: int = Field(5_000, ge=1, description="env-step cap of an MPC run (stops early once solved)")
    ppo: PPOConfig = Field(default_factory=PPOConfig, description="model-free PPO (week 7's module)")
    ppo_steps: int = Field(100_000, ge=1, description="env steps of a PPO run")
    workers: int = Field(2, ge=1, description="runs trained in parallel processes")

    presets: ClassVar = {
        "quick": {"seeds": 1, "threshold": 30.0, "easy_threshold": 15.0, "window": 2, "mpc_max_steps": 250, "ppo_steps": 512,
                  "mpc": {"horizon": 8, "candidates": 20, "random_steps": 100, "first_fit_epochs": 3,
                          "refit_epochs": 1, "ensemble": 2, "hidden": [16]},
                  "cem_candidates": 20, "workers": 1},
        "full": {"seeds": 5, "ppo_steps": 200_000},
    }


@register("model_based.planning_vs_learning", week=15, config=PlanningConfig, headline="ppo_over_mpc_steps_ratio")
def planning_vs_learning(ctx, cfg: PlanningConfig) -> None:
    """Planning vs learning: MPC on a learned ensemble model against model-free PPO, in env steps to a return.

    The model-based agent collects 200 random steps, fits an ensemble of 5 small MLPs to predict the state
    change, then acts by replanning at every step (random shooting or the cross-entropy method over
    50-step action sequences, scored with CartPole's known reward and termination, averaged over the
    members), refitting after every
    episode. PPO (week 7, zoo settings) learns a policy from the same environment. Reported: the env steps
    at which the mean return of the last `window` episodes reaches `threshold` (and `easy_threshold`), and
    the wall-clock cost —
    the model-based agent spends far fewer samples and far more computation per step.
    """
    seeds = [ctx.seed * 1000 + i for i in range(cfg.seeds)]
    stop = {"stop_return": cfg.threshold, "stop_after": cfg.window}
    jobs = []
    for planner in cfg.planners:
        mcfg = cfg.mpc.model_copy(update={"planner": planner, **({"candidates": cfg.cem_candidates}
                                                                  if planner == "cem" else {})})
        jobs += [Job(("mpc_" + planner, f"s{s}"), train_mpc, cfg.env_id, mcfg, cfg.mpc_max_steps, s, stop)
                 for s in seeds]
    jobs += [Job(("ppo", f"s{s}"), ppo.train, cfg.env_id, cfg.ppo, cfg.ppo_steps, s) for s in seeds]
    # MPC runs are a few hundred steps long: replay them in finer rows than PPO's
    results = run_jobs(ctx, jobs, cfg.workers, "MPC vs PPO", every=lambda job: 256 if "mpc" in job.key[0] else 4096)
    methods = [f"mpc_{p}" for p in cfg.planners] + ["ppo"]
    summary: dict[str, Any] = {"threshold": cfg.threshold, "easy_threshold": cfg.easy_threshold, "window": cfg.window}
    for m in methods:
        rs = [results[(m, f"s{s}")] for s in seeds]
        hits = [curves.steps_to_threshold(r.episode_steps, r.episode_returns, cfg.threshold, cfg.window) for r in rs]
        easy = [curves.steps_to_threshold(r.episode_steps, r.episode_returns, cfg.easy_threshold, cfg.window)
                for r in rs]
        reached, reached_easy = [h for h in hits if h is not None], [h for h in easy if h is not None]
        summary[m] = {"steps_to_threshold": float(np.median(reached)) if reached else None,
                      "reached": f"{len(reached)}/{len(hits)}",
                      "steps_to_easy_threshold": float(np.median(reached_easy)) if reached_easy else None,
                      "reached_easy": f"{len(reached_easy)}/{len(easy)}",
                      "env_steps": float(np.mean([r.env_steps for r in rs])),
                      "wall_time_s": float(np.mean([r.wall_time for r in rs])),
                      "wall_time_per_env_step_ms": float(np.mean([1e3 * r.wall_time / r.env_steps for r in rs])),
                      "best_return": float(max(r.episode_returns.max() if len(r.episode_returns) else 0 for r in rs))}
    for suffix, key in (("", "steps_to_threshold"), ("_easy", "steps_to_easy_threshold")):
        # PPO's steps over the best MPC planner's steps to the same level
        mpc_best = min((summary[f"mpc_{p}"][key] for p in cfg.planners if summary[f"mpc_{p}"][key]), default=None)
        ppo_steps = summary["ppo"][key]
        summary[f"ppo_over_mpc_steps_ratio{suffix}"] = ppo_steps / mpc_best if ppo_steps and mpc_best else None
    ctx.summary(**summary)
    ctx.log_table("planning_vs_learning", [{"method": m, **summary[m]} for m in methods],
                  caption="Env steps to the return threshold and wall time: model-based MPC vs model-free PPO.")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(7.5, 4.4), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, m in enumerate(methods):
        for i, s in enumerate(seeds):
            r = results[(m, f"s{s}")]
            ax.plot(r.episode_steps, curves.smoothed(r.episode_returns, cfg.window), lw=1.2,
                    label=m if i == 0 else None, color=colors[j % len(colors)])
    ax.axhline(cfg.threshold, color="k", ls="--", lw=1, label=f"threshold {cfg.threshold:g}")
    ax.set_xscale("log")
    # 1, 2 and 5 of each decade as plain numbers; the default also labels 3, 4, 6 … when the axis spans
    # about a decade, and those run into each other
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("environment steps (log)")
    ax.set_ylabel(f"return (mean of last {cfg.window} episodes)")
    ax.set_title(f"{cfg.env_id}: planning with a learned model vs learning a policy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ctx.log_figure("planning_vs_learning", fig, caption="Return against env steps (log scale): MPC on a learned "
                                                        "ensemble model reaches the threshold in far fewer steps.")


# ======================================================================== model_based.model_error_vs_horizon


class ModelErrorConfig(ExperimentConfig):
    env_id: str = Field("Pendulum-v1", description="environment (no early termination: long open-loop rollouts)")
    train_sizes: list[int] = Field(default_factory=lambda: [1_000, 5_000, 20_000],
                                   description="random-policy transitions the model is trained on")
    test_episodes: int = Field(10, ge=1, description="held-out random-policy episodes")
    horizons: list[int] = Field(default_factory=lambda: [1, 2, 5, 10, 20, 30, 50], description="rollout lengths")
    starts_per_episode: int = Field(20, ge=1, description="rollout start points per test episode")
    ensemble: int = Field(5, ge=1, description="ensemble members")
    hidden: list[int] = Field(default_factory=lambda: [128, 128], description="hidden widths of each member")
    epochs: int = Field(40, ge=1, description="training epochs")

    presets: ClassVar = {"quick": {"train_sizes": [400], "test_episodes": 2, "horizons": [1, 5, 20],
                                   "starts_per_episode": 5, "ensemble": 2, "hidden": [16], "epochs": 2},
                         "full": {"train_sizes": [1_000, 5_000, 20_000, 100_000], "test_episodes": 50,
                                  "epochs": 100}}


def _random_transitions(env_id: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """n transitions of the uniform random policy, with episode ids (rollouts must not cross episodes)."""
    env = make_env(env_id)
    env.action_space.seed(seed)
    out: dict[str, list] = {"obs": [], "actions": [], "next_obs": [], "episode": []}
    episode = 0
    obs, _ = env.reset(seed=seed)
    while len(out["obs"]) < n:
        a = env.action_space.sample()
        next_obs, _, terminated, truncated, _ = env.step(a)
        for key, value in (("obs", obs), ("actions", a), ("next_obs", next_obs), ("episode", episode)):
            out[key].append(value)
        obs = next_obs
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
    env.close()
    return {k: np.array(v) for k, v in out.items()}


@register("model_based.model_error_vs_horizon", week=15, config=ModelErrorConfig,
          headline="largest.error_at_max_horizon")
def model_error_vs_horizon(ctx, cfg: ModelErrorConfig) -> None:
    """Planning accuracy: the learned model's open-loop prediction error against the planning horizon.

    An ensemble is trained on random-policy transitions (several dataset sizes), then rolled out open-loop
    from held-out states with the actions actually taken: step h feeds its own prediction back in. The error
    is the RMSE in units of each state dimension's standard deviation, for the ensemble mean and for single
    members, against h; one-step error × h is drawn for comparison (errors compound faster than linearly
    once predictions leave the data). The ensemble's spread (std across members) is the model's own
    estimate of its error; the summary reports their rank correlation.
    """
    import matplotlib.pyplot as plt
    from scipy import stats

    probe = make_env(cfg.env_id)
    discrete = hasattr(probe.action_space, "n")
    obs_dim = probe.observation_space.shape[0]
    action_dim = int(probe.action_space.n) if discrete else int(np.prod(probe.action_space.shape))
    probe.close()
    H = max(cfg.horizons)
    test = _random_transitions(cfg.env_id, cfg.test_episodes * 1000, ctx.seed + 777_777)
    scale = torch.as_tensor(test["next_obs"].std(0).clip(1e-6), dtype=torch.float32)
    # rollout starts: index t such that t .. t+H−1 lie in the same episode
    rng = np.random.default_rng(ctx.seed)
    valid = [t for t in range(len(test["obs"]) - H) if test["episode"][t] == test["episode"][t + H - 1]]
    starts = rng.choice(valid, size=min(len(valid), cfg.test_episodes * cfg.starts_per_episode), replace=False)
    idx = starts[:, None] + np.arange(H)[None, :]  # (B, H)
    s0 = torch.as_tensor(test["obs"][starts], dtype=torch.float32)
    acts = torch.as_tensor(test["actions"][idx])
    if not discrete:
        acts = acts.float().reshape(len(starts), H, action_dim)
    truth = torch.as_tensor(test["next_obs"][idx], dtype=torch.float32)  # (B, H, obs_dim)

    summary: dict[str, Any] = {"env_id": cfg.env_id, "rollouts": int(len(starts))}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    with ctx.progress(total=len(cfg.train_sizes), description="fit + roll out") as bar:
        for size in cfg.train_sizes:
            data = _random_transitions(cfg.env_id, size, ctx.seed)
            model = DynamicsEnsemble(obs_dim, action_dim, ensemble=cfg.ensemble, hidden=tuple(cfg.hidden),
                                     discrete=discrete)
            acts_train = data["actions"] if discrete else data["actions"].reshape(size, action_dim)
            with single_thread():
                loss, _ = fit(model, data["obs"], acts_train, data["next_obs"], epochs=cfg.epochs, seed=ctx.seed)
                pred = rollout(model, s0, acts)  # (E, B, H, obs_dim)
            # normalised error e = (ŝ − s) / σ_s per dimension
            err_mean = ((pred.mean(0) - truth) / scale).pow(2).mean(-1).sqrt()  # (B, H) ensemble mean
            err_member = ((pred - truth) / scale).pow(2).mean(-1).sqrt()  # (E, B, H)
            spread = (pred.std(0) / scale).pow(2).mean(-1).sqrt() if cfg.ensemble > 1 else torch.zeros_like(err_mean)
            rmse = err_mean.pow(2).mean(0).sqrt().numpy()  # (H,)
            rmse_member = err_member.pow(2).mean(1).sqrt().mean(0).numpy()  # (H,) averaged over members
            entry: dict[str, Any] = {"fit_loss": loss}
            for h in cfg.horizons:
                entry[f"h{h}"] = {"rmse_ensemble_mean": float(rmse[h - 1]), "rmse_single_member": float(rmse_member[h - 1]),
                                  "growth_vs_linear": float(rmse[h - 1] / (h * rmse[0]))}
                ctx.log({f"size{size}/rmse_ensemble_mean": float(rmse[h - 1])}, step=h)
            if cfg.ensemble > 1:
                rho = stats.spearmanr(spread[:, -1].numpy(), err_mean[:, -1].numpy()).statistic
                entry["spread_error_spearman_at_max_horizon"] = float(rho)
            entry["error_at_max_horizon"] = float(rmse[-1])
            summary[f"n{size}"] = entry
            hs = np.arange(1, H + 1)
            line = axes[0].plot(hs, rmse, label=f"{size} transitions (ensemble mean)")[0]
            axes[0].plot(hs, rmse_member, ls="--", color=line.get_color(), lw=0.9)
            axes[0].plot(hs, rmse[0] * hs, ls=":", color=line.get_color(), lw=0.8)
            if cfg.ensemble > 1:
                axes[1].scatter(spread[:, -1].numpy(), err_mean[:, -1].numpy(), s=8, alpha=0.6, label=f"{size}",
                                color=line.get_color())
            bar.advance(1)
    largest = summary[f"n{max(cfg.train_sizes)}"]
    summary["largest"] = {"train_size": max(cfg.train_sizes), "error_at_max_horizon": largest["error_at_max_horizon"],
                          "one_step_error": largest[f"h{min(cfg.horizons)}"]["rmse_ensemble_mean"]}
    ctx.summary(**summary)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("open-loop horizon h (steps)")
    axes[0].set_ylabel("RMSE (units of state std)")
    axes[0].set_title(f"{cfg.env_id}: compounding model error")
    axes[0].legend(fontsize=7)
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel(f"ensemble spread at h = {H}")
    axes[1].set_ylabel(f"error of the ensemble mean at h = {H}")
    axes[1].set_title("does the ensemble know when it is wrong?")
    axes[1].legend(fontsize=7)
    axes[1].grid(alpha=0.3)
    ctx.log_figure("model_error_vs_horizon", fig,
                   caption="Left: open-loop prediction error against horizon for models trained on more data "
                           "(solid: ensemble mean; dashed: a single member; dotted: h × the one-step error). "
                           "Right: the ensemble spread against the actual error at the longest horizon.")
