"""The actor–learner of `impala.py` with real actor processes (`ImpalaConfig(actors="processes")`).

Each actor process owns `num_envs / num_actor_processes` environments and a local copy of the policy.
Before every unroll it copies the parameters the learner last published (with their version number),
acts for `unroll_length` steps, and sends the rollout to the learner through a queue; it never waits for
the learner to finish an update. The learner takes one rollout at a time, updates, and publishes its new
parameters into shared memory. The policy lag of a rollout is the learner's version when it consumes the
rollout minus the version the actor acted with — set by the machine (how fast actors step versus how fast
the learner learns), so it is measured (`vtrace/policy_lag`), not chosen.
"""

from __future__ import annotations

import queue
import time

import torch
import torch.multiprocessing as mp

from studyforge.experiments.policy_gradient.impala import ImpalaConfig, learner_loss
from studyforge.experiments.policy_gradient.networks import make_agent
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.training import LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


class _EpisodeSink(Recorder):
    """An actor's recorder: keeps the episodes finished since the last rollout was sent."""

    def drain(self) -> list[tuple[float, int, float]]:
        out = list(zip(self.episode_returns, self.episode_lengths, self.episode_costs, strict=True))
        self.episode_returns, self.episode_lengths, self.episode_costs, self.episode_steps = [], [], [], []
        return out


def _actor(rank: int, env_id: str, cfg: ImpalaConfig, num_envs: int, seed: int, env_kwargs: dict,
           shared, version, out: mp.Queue, stop) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(seed + rank)
    obs_shape, n_actions = env_spec(env_id, **env_kwargs)
    local = make_agent(obs_shape, n_actions, tuple(cfg.hidden))
    envs = make_vector_env(env_id, num_envs, **env_kwargs)
    sink = _EpisodeSink()
    collector = RolloutCollector(envs, local, cfg.unroll_length, cfg.gamma, seed + 1000 * rank, sink)
    while not stop.is_set():
        with version.get_lock():
            local.load_state_dict(shared.state_dict())
            acted_with = version.value
        rollout = collector.collect()
        item = (acted_with, rollout, sink.drain())
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
    # A rollout still buffered for the pipe when the learner stops is of no use to anyone: exit without
    # waiting to flush it (otherwise an actor can hang at exit on a queue nobody reads any more).
    out.cancel_join_thread()
    envs.close()


def train_with_processes(env_id: str, cfg: ImpalaConfig, *, total_steps: int, seed: int,
                         log: LogFn | None = None, prefix: str = "",
                         env_kwargs: dict | None = None) -> TrainResult:
    """IMPALA with `cfg.num_actor_processes` actor processes and one learner (this process)."""
    started = time.perf_counter()
    seed_everything(seed)
    env_kwargs = dict(env_kwargs or {})
    obs_shape, n_actions = env_spec(env_id, **env_kwargs)
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden))
    shared = make_agent(obs_shape, n_actions, tuple(cfg.hidden))
    shared.load_state_dict(agent.state_dict())
    shared.share_memory()
    params = list(agent.parameters())
    optimizer = torch.optim.RMSprop(params, lr=cfg.learning_rate, alpha=cfg.rms_alpha, eps=cfg.eps)
    rec = Recorder(log, prefix)

    ctx = mp.get_context("spawn")
    version, stop = ctx.Value("i", 0), ctx.Event()
    rollouts: mp.Queue = ctx.Queue(maxsize=2 * cfg.num_actor_processes)
    per_actor = max(1, cfg.num_envs // cfg.num_actor_processes)
    actors = [ctx.Process(target=_actor, daemon=True, args=(rank, env_id, cfg, per_actor, seed, env_kwargs,
                                                            shared, version, rollouts, stop))
              for rank in range(cfg.num_actor_processes)]
    for p in actors:
        p.start()
    steps = 0
    try:
        while steps < total_steps:
            acted_with, ro, episodes = rollouts.get(timeout=120)
            steps += ro.num_steps * ro.num_envs
            for ret, length, cost in episodes:
                rec.episode(steps, ret, length, cost)
            loss, metrics = learner_loss(agent, ro, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            with version.get_lock():
                lag = version.value - acted_with
                with torch.no_grad():
                    for dst, src in zip(shared.parameters(), agent.parameters(), strict=True):
                        dst.copy_(src)
                version.value += 1
            rec.update(steps, **metrics, **{"vtrace/policy_lag": float(lag)})
    finally:
        # Actors put with a timeout and check `stop` between tries, so they never block on a full queue.
        # Rollouts left in the queue are not read: their tensors travel as file descriptors that only the
        # (possibly already finished) actor that sent them can hand over.
        stop.set()
        for p in actors:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        rollouts.cancel_join_thread()
        rollouts.close()
    rec.flush(steps)
    name = f"{cfg.objective}_{cfg.correction}_processes"
    return TrainResult.from_recorder(name, env_id, seed, agent, steps, started, rec)
