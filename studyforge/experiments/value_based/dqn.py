"""Deep Q-Networks, and the six improvements Rainbow combines, each behind one switch.

Mnih, Kavukcuoglu, Silver, Graves, Antonoglou, Wierstra & Riedmiller, 2013, "Playing Atari with Deep
Reinforcement Learning", arXiv 1312.5602 (the Nature version, 2015, added the target network);
Hessel, Modayil, van Hasselt, Schaul, Ostrovski, Dabney, Horgan, Piot, Azar & Silver, 2017, "Rainbow:
Combining Improvements in Deep Reinforcement Learning", arXiv 1710.02298.

DQN is Q-learning (`tabular.py`) with a network Q(s, a; θ) in place of the table, made stable by two
devices: **experience replay** (`replay.py`: train on random minibatches of old transitions) and a
**target network** θ⁻, a periodically refreshed copy of θ that supplies the bootstrap so the target does
not move with every gradient step:

    L(θ) = E_{(s,a,R,s')~D} [ ℓ( R + γ^n (1 − done) max_a' Q(s', a'; θ⁻) − Q(s, a; θ) ) ]      ℓ = Huber

The switches, one file each, each an independent paper that Rainbow found to be complementary:

    double         `double.py`         select a' with θ, evaluate it with θ⁻ (arXiv 1509.06461)
    dueling        `dueling.py`        Q = V + A − mean A (arXiv 1511.06581)
    prioritized    `prioritized.py`    replay in proportion to |δ|^α, sum tree, IS weights (arXiv 1511.05952)
    n_step         `nstep.py`          n-step returns (Sutton 1988; Rainbow uses n = 3)
    noisy          `noisy.py`          learned parameter noise replaces ε-greedy (arXiv 1706.10295)
    distributional `distributional.py` C51: a categorical return distribution (arXiv 1707.06887)

With all six on this is the Rainbow agent; `RAINBOW` lists its switches, and `rainbow_ablation` builds the
"Rainbow without X" configs of the paper's Figure 3. The defaults are rl-baselines3-zoo's tuned CartPole-v1
settings for stable-baselines3's DQN (the benchmark compares against it), with sb3's semantics: train every
`train_freq` env steps with `gradient_steps` minibatches once `learning_starts` steps are stored, copy θ
into θ⁻ every `target_update_interval` env steps, ε annealed linearly over `exploration_fraction` of the run.

The loop reads top to bottom (CleanRL's `dqn.py` shape): act, store, learn, refresh the target, evaluate.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.evaluation import evaluate
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.experiments.value_based import distributional as c51
from studyforge.experiments.value_based.double import next_actions, q_target
from studyforge.experiments.value_based.networks import QNetwork
from studyforge.experiments.value_based.nstep import NStepAccumulator
from studyforge.experiments.value_based.prioritized import PrioritizedReplayBuffer
from studyforge.experiments.value_based.replay import Batch, ReplayBuffer
from studyforge.tracking.context import seed_everything

COMPONENTS = ("double", "dueling", "prioritized", "n_step", "noisy", "distributional")


class DQNConfig(AlgoConfig):
    # -- DQN ---------------------------------------------------------------------------------------------
    num_envs: int = Field(1, ge=1, description="parallel environments (sb3's zoo CartPole setting: 1)")
    buffer_size: int = Field(100_000, ge=1, description="replay capacity in transitions")
    learning_rate: float = Field(2.3e-3, gt=0, description="Adam step size")
    adam_eps: float = Field(1e-8, gt=0, description="Adam's ε (Rainbow: 1.5e-4 on Atari)")
    batch_size: int = Field(64, ge=1, description="transitions per gradient step")
    learning_starts: int = Field(1000, ge=0, description="env steps before the first update")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    train_freq: int = Field(256, ge=1, description="env steps between training phases")
    gradient_steps: int = Field(128, ge=1, description="gradient steps per training phase")
    target_update_interval: int = Field(10, ge=1, description="env steps between target-network updates")
    tau: float = Field(1.0, gt=0, le=1, description="θ⁻ ← τ θ + (1 − τ) θ⁻ (1: a hard copy)")
    exploration_initial_eps: float = Field(1.0, ge=0, le=1, description="ε at the start")
    exploration_final_eps: float = Field(0.04, ge=0, le=1, description="ε after the annealing")
    exploration_fraction: float = Field(0.16, ge=0, le=1, description="fraction of the run over which ε anneals")
    hidden: list[int] = Field(default_factory=lambda: [256, 256], description="hidden layer widths")
    max_grad_norm: float = Field(10.0, gt=0, description="global gradient-norm clip")
    # -- the Rainbow components -----------------------------------------------------------------------------
    double: bool = Field(False, description="Double DQN targets")
    dueling: bool = Field(False, description="dueling value/advantage streams")
    prioritized: bool = Field(False, description="proportional prioritised replay")
    n_step: int = Field(1, ge=1, description="n of the n-step return (1: one-step Q-learning)")
    noisy: bool = Field(False, description="noisy linear layers instead of ε-greedy exploration")
    distributional: bool = Field(False, description="C51 categorical return distribution")
    per_alpha: float = Field(0.5, ge=0, description="prioritisation exponent α (Rainbow: 0.5)")
    per_beta0: float = Field(0.4, ge=0, le=1, description="importance-sampling exponent β at the start (→ 1)")
    per_eps: float = Field(1e-6, gt=0, description="ε added to |δ| so no priority is zero")
    noisy_sigma0: float = Field(0.5, gt=0, description="σ_0 of the factorised noisy layers")
    n_atoms: int = Field(51, ge=2, description="C51 atoms N")
    v_min: float = Field(0.0, description="C51 support lower end")
    v_max: float = Field(100.0, description="C51 support upper end (CartPole: Σ γ^t ≤ 1/(1 − γ) = 100)")

    def components(self) -> dict[str, bool]:
        """Which Rainbow components are on: `{"double": True, "n_step": False, …}`."""
        return {name: (self.n_step > 1 if name == "n_step" else bool(getattr(self, name))) for name in COMPONENTS}


# Rainbow's settings of the six switches (n = 3 as in the paper)
RAINBOW = {"double": True, "dueling": True, "prioritized": True, "n_step": 3, "noisy": True,
           "distributional": True}


def with_components(base: DQNConfig, **switches) -> DQNConfig:
    """A copy of `base` with some components switched: `with_components(cfg, double=True, n_step=3)`."""
    return base.model_copy(update=switches)


def rainbow_ablation(base: DQNConfig) -> dict[str, DQNConfig]:
    """{"rainbow": all on, "no_double": …, …, "no_distributional": …, "dqn": all off} (Rainbow Figure 3)."""
    full = with_components(base, **RAINBOW)
    arms = {"rainbow": full}
    for name in COMPONENTS:
        arms[f"no_{name}"] = with_components(full, **{name: 1 if name == "n_step" else False})
    arms["dqn"] = with_components(base, **{k: (1 if k == "n_step" else False) for k in COMPONENTS})
    return arms


def epsilon_at(step: int, total_steps: int, cfg: DQNConfig) -> float:
    """Linear ε schedule: ε_0 → ε_final over the first `exploration_fraction` of the run, then flat.

    ε 1 → 0.04 over 16% of 50,000 steps: step 4,000 (half-way) -> 0.52
    """
    span = max(cfg.exploration_fraction * total_steps, 1.0)
    frac = min(step / span, 1.0)
    return cfg.exploration_initial_eps + frac * (cfg.exploration_final_eps - cfg.exploration_initial_eps)


def make_network(obs_shape: tuple[int, ...], n_actions: int, cfg: DQNConfig) -> QNetwork:
    return QNetwork(obs_shape, n_actions, tuple(cfg.hidden), dueling=cfg.dueling, noisy=cfg.noisy,
                    n_atoms=cfg.n_atoms if cfg.distributional else 1, v_min=cfg.v_min, v_max=cfg.v_max,
                    sigma0=cfg.noisy_sigma0)


def td_loss(online: QNetwork, target: QNetwork, batch: Batch, double: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample losses (B,) and new priorities (B,) for a scalar or a distributional network.

    Scalar: Huber(Q(s, a; θ) − y) with y from `double.q_target`; priority |δ|.
    Distributional: cross-entropy between Φ T Z(s', a*) and p(s, a; θ); priority = that cross-entropy
    (Rainbow's choice).
    """
    rows = torch.arange(len(batch.actions), device=batch.actions.device)
    if online.distributional:
        with torch.no_grad():
            next_probs_target = target.log_probs(batch.next_obs).exp()  # (B, A, N)
            q_next_target = (next_probs_target * target.atoms).sum(-1)  # (B, A)
            q_next_online = online.q_values(batch.next_obs) if double else q_next_target
            a_star = next_actions(q_next_online, q_next_target, double)  # (B,)
            # m = Φ T Z(s', a*)                                                         (B, N)
            m = c51.project(next_probs_target[rows, a_star], batch.rewards, batch.dones, batch.discounts,
                            target.atoms)
        log_p = online.log_probs(batch.obs)[rows, batch.actions]  # (B, N)
        losses = c51.cross_entropy(m, log_p)
        return losses, losses.detach()
    with torch.no_grad():
        q_next_target = target(batch.next_obs)  # (B, A)
        q_next_online = online(batch.next_obs) if double else q_next_target
        y = q_target(q_next_online, q_next_target, batch.rewards, batch.dones, batch.discounts, double)
    q = online(batch.obs)[rows, batch.actions]  # (B,)
    # δ = y − Q(s, a; θ)
    losses = F.smooth_l1_loss(q, y, reduction="none")
    return losses, (y - q).detach().abs()


def train(env_id: str, cfg: DQNConfig, *, total_steps: int, seed: int, log: LogFn | None = None,
          prefix: str = "", device: str = "cpu", env_kwargs: dict | None = None, eval_every: int = 0,
          eval_episodes: int = 20, solve_threshold: float | None = None) -> TrainResult:
    """Train a DQN/Rainbow agent on `env_id` for `total_steps` environment steps.

    Every `eval_every` steps (and at the end, when `eval_every` > 0) the greedy policy plays
    `eval_episodes` fresh episodes; `extras["evals"]` holds (step, mean, std) and `extras["solved_at"]` the
    first step whose evaluation mean reached `solve_threshold` (None if never), `extras["eval_time"]` the
    seconds the evaluations took.
    """
    started = time.perf_counter()
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    dev = torch.device(device)

    online = make_network(obs_shape, n_actions, cfg).to(dev)
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    # fused Adam: one kernel for all parameters instead of a loop of small ops (~15% per step on a CPU)
    optimizer = torch.optim.Adam(online.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps,
                                 fused=dev.type in ("cpu", "cuda"))
    if cfg.prioritized:
        buffer: ReplayBuffer = PrioritizedReplayBuffer(cfg.buffer_size, obs_shape, cfg.per_alpha, cfg.per_eps, dev)
    else:
        buffer = ReplayBuffer(cfg.buffer_size, obs_shape, dev)
    nstep = NStepAccumulator(cfg.n_step, cfg.gamma, cfg.num_envs)
    rec = Recorder(log, prefix)
    evals: list[tuple[int, float, float]] = []
    solved_at: int | None = None
    eval_time = 0.0  # seconds spent evaluating (excluded from the training throughput)

    obs, _ = envs.reset(seed=seed)
    obs = np.array(obs, dtype=np.float32)
    ep_return = np.zeros(cfg.num_envs)
    ep_length = np.zeros(cfg.num_envs, dtype=np.int64)
    step = 0
    next_eval = eval_every if eval_every else None
    while step < total_steps:
        # -- act: ε-greedy on Q(s, ·; θ), or greedy on a freshly perturbed noisy network ----------------
        eps = 0.0 if cfg.noisy else epsilon_at(step, total_steps, cfg)
        if rng.random() < eps:
            actions = rng.integers(n_actions, size=cfg.num_envs)
        else:
            if cfg.noisy:
                online.reset_noise()
            with torch.no_grad():
                q = online.q_values(torch.as_tensor(obs, dtype=torch.float32, device=dev))
            actions = q.argmax(-1).cpu().numpy()
        next_obs, rewards, terminated, truncated, infos = envs.step(actions)
        step += cfg.num_envs

        # -- store: the true last observation of a finished episode is in infos["final_obs"] -------------
        for i in range(cfg.num_envs):
            done = bool(terminated[i] or truncated[i])
            real_next = infos["final_obs"][i] if done else next_obs[i]
            for tr in nstep.push(i, obs[i], int(actions[i]), float(rewards[i]), np.array(real_next, dtype=np.float32),
                                 bool(terminated[i]), bool(truncated[i])):
                buffer.add(*tr)
            ep_return[i] += rewards[i]
            ep_length[i] += 1
            if done:
                rec.episode(step, ep_return[i], ep_length[i])
                ep_return[i], ep_length[i] = 0.0, 0
        # (the vector env reuses its observation array between steps: keep a copy)
        obs = np.array(next_obs, dtype=np.float32)

        # -- learn ---------------------------------------------------------------------------------------
        if step > cfg.learning_starts and step % cfg.train_freq < cfg.num_envs:
            # β: β_0 → 1 linearly over the run
            beta = cfg.per_beta0 + (1.0 - cfg.per_beta0) * min(step / total_steps, 1.0)
            loss_sum = prio_sum = torch.zeros((), device=dev)  # summed as tensors: no device sync per step
            for _ in range(cfg.gradient_steps):
                batch = buffer.sample(cfg.batch_size, rng, beta)
                if cfg.noisy:
                    online.reset_noise()
                    target.reset_noise()
                losses, priorities = td_loss(online, target, batch, cfg.double)
                # importance-sampling weights (ones for uniform replay) correct the prioritised sampling
                loss = (batch.weights * losses).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(online.parameters(), cfg.max_grad_norm)
                optimizer.step()
                if cfg.prioritized:
                    buffer.update_priorities(batch.indices, priorities.cpu().numpy())
                loss_sum = loss_sum + loss.detach()
                prio_sum = prio_sum + priorities.mean()
            rec.update(step, **{"losses/td_loss": float(loss_sum) / cfg.gradient_steps,
                                "losses/abs_td_error": float(prio_sum) / cfg.gradient_steps,
                                "charts/epsilon": eps, "charts/per_beta": beta})

        # -- refresh the target network: θ⁻ ← τ θ + (1 − τ) θ⁻ -------------------------------------------
        if step % cfg.target_update_interval < cfg.num_envs:
            with torch.no_grad():
                for p_t, p in zip(target.parameters(), online.parameters(), strict=True):
                    p_t.lerp_(p, cfg.tau)

        # -- evaluate the greedy policy ---------------------------------------------------------------------
        if next_eval is not None and (step >= next_eval or step >= total_steps):
            eval_start = time.perf_counter()
            online.eval()
            result = evaluate(online, env_id, episodes=eval_episodes, deterministic=True, seed=seed,
                              device=dev, env_kwargs=env_kwargs)
            online.train()
            eval_time += time.perf_counter() - eval_start
            evals.append((step, result.mean, result.std))
            if log is not None:
                log({f"{prefix}eval/mean_return": result.mean, f"{prefix}eval/std_return": result.std}, step=step)
            if solved_at is None and solve_threshold is not None and result.mean >= solve_threshold:
                solved_at = step
            next_eval += eval_every
    rec.flush(step)
    envs.close()
    return TrainResult.from_recorder("dqn", env_id, seed, online, step, started, rec, evals=evals,
                                     solved_at=solved_at, components=cfg.components(),
                                     eval_time=eval_time)
