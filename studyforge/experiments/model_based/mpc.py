"""Model-predictive control with a learned model: random shooting and the cross-entropy method.

Nagabandi, Kahn, Fearing & Levine, 2017, arXiv 1708.02596 (MPC by random shooting on a learned model);
Chua, Calandra, McAllister & Levine, 2018, "PETS", arXiv 1805.12114 (CEM planning over an ensemble);
Rubinstein, 1999, "The Cross-Entropy Method for Combinatorial and Continuous Optimization" (no arXiv id).

At every real step the agent *plans*: it imagines K action sequences a_{t:t+H} of length H, rolls each
through the learned dynamics (`dynamics.py`), scores it by the predicted return, executes only the first
action of the best one, and replans at the next step from the real state (closing the loop corrects for
the model's errors). The reward and termination functions are the task's and are given to the planner,
as in the papers above: only the dynamics are learned.

    random shooting:  K sequences uniform at random; take the best.
    CEM:              keep a distribution over sequences (here: independent categorical distributions
                      π_h(a) per step h, for discrete actions); repeat I times: sample K sequences, keep
                      the top ρK ("elites"), refit π_h to the elites' action frequencies,
                          π_h ← α π_h + (1 − α) freq_elite,h ;
                      act with the first action of the best sequence seen. The fitted distribution is
                      shifted by one step and reused at the next real step (warm start), blended half-way
                      back to uniform — PETS likewise shifts its Gaussian's mean but resets its variance,
                      so the search keeps its spread instead of committing to yesterday's plan.

A sequence is scored by each ensemble member and the scores averaged, so a plan only looks good if every
member agrees it is good.

`train_mpc` is the whole model-based loop: random-policy data, then repeatedly (re)fit the ensemble on
everything seen so far and run one episode with the MPC controller, adding its transitions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.model_based.dynamics import DynamicsEnsemble, fit
from studyforge.experiments.rl.envs import make_env
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything

# CartPole-v1 ends an episode when |x| > 2.4 or |θ| > 12° (gymnasium's cartpole.py)
CARTPOLE_X_LIMIT = 2.4
CARTPOLE_THETA_LIMIT = 12 * 2 * np.pi / 360

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def cartpole_reward(obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """CartPole-v1's reward and termination: +1 for every step taken, done once |x| > 2.4 or |θ| > 12°.

    >>> r, done = cartpole_reward(torch.zeros(2, 4), torch.zeros(2), torch.tensor([[0., 0, 0.1, 0], [2.5, 0, 0, 0]]))
    >>> r.tolist(), done.tolist()
    ([1.0, 1.0], [False, True])
    """
    x, theta = next_obs[..., 0], next_obs[..., 2]
    done = (x.abs() > CARTPOLE_X_LIMIT) | (theta.abs() > CARTPOLE_THETA_LIMIT)
    return torch.ones_like(x), done


REWARD_FNS: dict[str, RewardFn] = {"CartPole-v1": cartpole_reward}


@torch.no_grad()
def score_sequences(model: DynamicsEnsemble, reward_fn: RewardFn, obs: np.ndarray, sequences: torch.Tensor,
                    gamma: float = 1.0) -> torch.Tensor:
    """Predicted return of each action sequence (K, H) from `obs`, averaged over the ensemble -> (K,).

    A member's imagined episode stops earning at its first predicted termination:
        G = Σ_h γ^h r_h Π_{k<h} (1 − done_k)
    """
    E, (K, H) = model.ensemble, sequences.shape
    s = torch.as_tensor(obs, dtype=torch.float32).expand(E, K, -1)  # (E, K, obs_dim)
    alive = torch.ones(E, K)
    ret = torch.zeros(E, K)
    for h in range(H):
        a = sequences[:, h].expand(E, K)  # (E, K)
        s2 = model(s, a)
        r, done = reward_fn(s, a, s2)
        # G += γ^h r_h · [still alive]
        ret += (gamma ** h) * r * alive
        alive = alive * (~done).float()
        s = s2
    return ret.mean(0)


class RandomShooting:
    """Best of K uniformly random action sequences of length H."""

    def __init__(self, n_actions: int, horizon: int, candidates: int, rng: torch.Generator):
        self.n_actions, self.horizon, self.candidates, self.rng = n_actions, horizon, candidates, rng

    def reset(self) -> None:
        pass

    def plan(self, score: Callable[[torch.Tensor], torch.Tensor]) -> int:
        seqs = torch.randint(self.n_actions, (self.candidates, self.horizon), generator=self.rng)
        return int(seqs[score(seqs).argmax(), 0])


class CEM:
    """Cross-entropy method over per-step categorical distributions (module docstring), warm-started."""

    def __init__(self, n_actions: int, horizon: int, candidates: int, rng: torch.Generator, iterations: int = 3,
                 elite_frac: float = 0.1, smoothing: float = 0.1):
        self.n_actions, self.horizon, self.candidates, self.rng = n_actions, horizon, candidates, rng
        self.iterations, self.n_elite, self.smoothing = iterations, max(1, int(elite_frac * candidates)), smoothing
        self.reset()

    def reset(self) -> None:
        self.probs = torch.full((self.horizon, self.n_actions), 1.0 / self.n_actions)  # π_h(a), (H, A)

    def plan(self, score: Callable[[torch.Tensor], torch.Tensor]) -> int:
        best_seq, best = None, -float("inf")
        for _ in range(self.iterations):
            # K sequences, a_h ~ π_h independently                                    (K, H)
            seqs = torch.multinomial(self.probs, self.candidates, replacement=True, generator=self.rng).T
            scores = score(seqs)
            elite = seqs[scores.topk(self.n_elite).indices]  # (ρK, H)
            if float(scores.max()) > best:
                best, best_seq = float(scores.max()), seqs[scores.argmax()]
            # freq_h(a) = fraction of elites taking a at step h                     (H, A)
            freq = torch.nn.functional.one_hot(elite, self.n_actions).float().mean(0)
            # π_h ← α π_h + (1 − α) freq_h
            self.probs = self.smoothing * self.probs + (1 - self.smoothing) * freq
        # warm start: drop step 0, append a uniform last step, restore half of the spread:
        # π_h ← ½ π_{h+1} + ½ uniform
        uniform = torch.full((1, self.n_actions), 1.0 / self.n_actions)
        self.probs = 0.5 * torch.cat([self.probs[1:], uniform]) + 0.5 * uniform
        return int(best_seq[0])


class MPCConfig(AlgoConfig):
    planner: Literal["random_shooting", "cem"] = Field("cem", description="how each step's plan is searched")
    horizon: int = Field(25, ge=1, description="planning horizon H (steps imagined ahead)")
    candidates: int = Field(200, ge=2, description="sequences K scored per planning iteration")
    cem_iterations: int = Field(3, ge=1, description="CEM refits per step")
    cem_elite_frac: float = Field(0.1, gt=0, le=1, description="fraction ρ of sequences kept as elites")
    cem_smoothing: float = Field(0.1, ge=0, lt=1, description="α: weight of the old distribution in a refit")
    ensemble: int = Field(5, ge=1, description="ensemble members E")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden widths of each member")
    random_steps: int = Field(200, ge=1, description="random-policy env steps before the first fit")
    first_fit_epochs: int = Field(60, ge=1, description="epochs of the first fit")
    refit_epochs: int = Field(15, ge=1, description="epochs of each later fit (continuing the same weights)")
    batch_size: int = Field(256, ge=1, description="fit minibatch size")
    learning_rate: float = Field(1e-3, gt=0, description="Adam step size of the fit")
    gamma: float = Field(1.0, ge=0, le=1, description="discount of the planner's imagined return")


def train_mpc(env_id: str, cfg: MPCConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
              prefix: str = "", stop_return: float | None = None, stop_after: int = 3) -> TrainResult:
    """Model-based RL with MPC (module docstring) for `total_steps` env steps; `extras["fit_losses"]`.

    With `stop_return`, training ends early once `stop_after` consecutive episodes reach it (the study
    only needs the steps to the threshold; planning at every step is expensive).
    """
    started = time.perf_counter()
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    reward_fn = REWARD_FNS.get(env_id)
    if reward_fn is None:
        raise ValueError(f"no reward/termination function for {env_id!r}; known: {', '.join(REWARD_FNS)}")
    env = make_env(env_id)
    n_actions = int(env.action_space.n)
    model = DynamicsEnsemble(env.observation_space.shape[0], n_actions, ensemble=cfg.ensemble,
                             hidden=tuple(cfg.hidden), discrete=True)
    planner_cls = RandomShooting if cfg.planner == "random_shooting" else CEM
    kwargs = {} if cfg.planner == "random_shooting" else {
        "iterations": cfg.cem_iterations, "elite_frac": cfg.cem_elite_frac, "smoothing": cfg.cem_smoothing}
    planner = planner_cls(n_actions, cfg.horizon, cfg.candidates, gen, **kwargs)
    rec = Recorder(log, prefix, log_every=1)
    data: dict[str, list] = {"obs": [], "actions": [], "next_obs": []}
    fit_losses: list[float] = []
    optimizer = None
    step, episode, streak = 0, 0, 0

    def run_episode(policy: Callable[[np.ndarray], int], limit: int) -> None:
        nonlocal step, episode
        obs, _ = env.reset(seed=seed * 10_007 + episode)
        episode += 1
        ret, length, done = 0.0, 0, False
        while not done and length < limit:
            a = policy(obs)
            next_obs, r, terminated, truncated, _ = env.step(a)
            data["obs"].append(obs)
            data["actions"].append(a)
            data["next_obs"].append(next_obs)
            obs, ret, length, step = next_obs, ret + r, length + 1, step + 1
            done = terminated or truncated
        if done:
            rec.episode(step, ret, length)

    # 1. random-policy data
    while step < cfg.random_steps:
        run_episode(lambda _o: int(rng.integers(n_actions)), cfg.random_steps - step)
    # 2. fit the model, act by MPC for one episode, repeat
    while step < total_steps:
        epochs = cfg.first_fit_epochs if optimizer is None else cfg.refit_epochs
        loss, optimizer = fit(model, np.array(data["obs"]), np.array(data["actions"]), np.array(data["next_obs"]),
                              epochs=epochs, batch_size=cfg.batch_size, lr=cfg.learning_rate, seed=seed + step,
                              optimizer=optimizer)
        fit_losses.append(loss)
        planner.reset()

        def mpc_policy(obs: np.ndarray) -> int:
            return planner.plan(lambda seqs: score_sequences(model, reward_fn, obs, seqs, cfg.gamma))

        before = len(rec.episode_returns)
        run_episode(mpc_policy, total_steps - step)
        rec.update(step, **{"losses/model_fit": loss})
        if stop_return is not None and len(rec.episode_returns) > before:
            streak = streak + 1 if rec.episode_returns[-1] >= stop_return else 0
            if streak >= stop_after:
                break
    rec.flush(step)
    env.close()
    return TrainResult.from_recorder(f"mpc_{cfg.planner}", env_id, seed, model, step, started, rec,
                                     fit_losses=fit_losses)
