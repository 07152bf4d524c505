"""Experience collection: fixed-length (T, N) rollouts over a vector env, and complete episodes.

`RolloutCollector` (PPO, A2C, NPG, TRPO, CPO, PCPO, IMPALA) steps N environments T steps at a time, keeping
the environments' state between calls, as CleanRL's loop does. Each `collect()` returns a `Rollout`.

Time limits. An episode cut by a time limit did not end: its last state has a value. Treating it as
terminal teaches the critic that states near the limit are worth nothing and biases every advantage
around them (Pardo, Tavakoli, Levdik & Kormushev, 2018, "Time Limits in Reinforcement Learning",
arXiv 1712.00378). So on a truncated (not terminated) step the collector folds the bootstrap into the
reward, r_t ← r_t + γ V(s_final), using the true final observation that same-step autoreset provides,
and marks the boundary. Downstream, `gae` treats every boundary as terminal and gets

    δ_t = r_t + γ V(s_final) − V(s_t)

exactly — the same trick as stable-baselines3's `OnPolicyAlgorithm`. The episodic returns recorded for
the learning curves are the raw rewards, never the bootstrapped ones.

Complete episodes (REINFORCE, GRPO, evaluation) are the RL core's `studyforge.experiments.rl.episodes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from studyforge.experiments.policy_gradient.networks import Agent
from studyforge.experiments.rl.envs import final_values
from studyforge.experiments.rl.training import Recorder


@dataclass
class Rollout:
    """T steps of N environments, time-major. `dones[t]`: obs t is the first of a new episode."""

    obs: torch.Tensor  # (T, N, *obs_shape)
    actions: torch.Tensor  # (T, N)
    logprobs: torch.Tensor  # (T, N) log μ(a_t|s_t) of the policy that acted
    rewards: torch.Tensor  # (T, N) with γ V(s_final) folded in on truncated steps
    dones: torch.Tensor  # (T, N)
    values: torch.Tensor  # (T, N) V(s_t) (zeros for an agent without a critic)
    costs: torch.Tensor  # (T, N) with γ V_C(s_final) folded in on truncated steps (zeros if untracked)
    cost_values: torch.Tensor  # (T, N)
    terminals: torch.Tensor  # (T, N) 1 where the episode terminated after step t (not truncated)
    next_obs: torch.Tensor  # (N, *obs_shape)
    next_done: torch.Tensor  # (N,)
    next_value: torch.Tensor  # (N,)
    next_cost_value: torch.Tensor  # (N,)

    @property
    def num_steps(self) -> int:
        return self.rewards.shape[0]

    @property
    def num_envs(self) -> int:
        return self.rewards.shape[1]


class RolloutCollector:
    """Steps a vector env with an agent, T steps per `collect()`, recording finished episodes.

    `collect(policy=...)` acts with another agent (the lagging actor copy of IMPALA) while truncations are
    still bootstrapped with the collector's own agent's critic.
    """

    def __init__(self, envs: gym.vector.VectorEnv, agent: Agent, num_steps: int, gamma: float, seed: int,
                 recorder: Recorder, device: torch.device | str = "cpu", track_cost: bool = True,
                 cost_gamma: float | None = None, bootstrap_truncated: bool = True):
        self.envs, self.agent, self.num_steps, self.gamma = envs, agent, num_steps, gamma
        self.cost_gamma = gamma if cost_gamma is None else cost_gamma
        self.recorder, self.device, self.track_cost = recorder, torch.device(device), track_cost
        self.bootstrap_truncated = bootstrap_truncated
        self.num_envs = envs.num_envs
        obs, _ = envs.reset(seed=seed)
        envs.action_space.seed(seed)
        # copies, here and after every step: with copy=False the vector env reuses its observation buffer
        self.obs = torch.tensor(obs, dtype=torch.float32, device=self.device)
        self.done = torch.zeros(self.num_envs, device=self.device)
        self.global_step = 0
        self._ep_return = np.zeros(self.num_envs)
        self._ep_length = np.zeros(self.num_envs, dtype=np.int64)
        self._ep_cost = np.zeros(self.num_envs)

    @torch.no_grad()
    def _values(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = obs.shape[0]
        v = self.agent.value(obs) if self.agent.has_critic else torch.zeros(n, device=self.device)
        vc = self.agent.cost_value(obs) if self.agent.has_cost_critic else torch.zeros(n, device=self.device)
        return v, vc

    @torch.no_grad()
    def collect(self, policy: Agent | None = None) -> Rollout:
        policy = policy or self.agent
        T, N = self.num_steps, self.num_envs
        zeros = torch.zeros(N, device=self.device)
        # per-step tensors are listed and stacked once at the end: (N, …) × T -> (T, N, …)
        obs_l, done_l, act_l, logp_l, value_l, cost_value_l = [], [], [], [], [], []
        # environment outputs stay in numpy until the rollout is complete
        rewards, costs, terminals = (np.zeros((T, N), dtype=np.float32) for _ in range(3))
        for t in range(T):
            obs_l.append(self.obs)
            done_l.append(self.done)
            if policy is self.agent and self.agent.has_critic:
                action, logp, value = policy.act_and_value(self.obs)
                cost_value = self.agent.cost_value(self.obs) if self.agent.has_cost_critic else zeros
            else:
                value, cost_value = self._values(self.obs)
                action, logp = policy.act(self.obs)
            act_l.append(action)
            logp_l.append(logp)
            value_l.append(value)
            cost_value_l.append(cost_value)
            next_obs, reward, terminated, truncated, infos = self.envs.step(action.cpu().numpy())
            done = terminated | truncated
            self.global_step += N
            self._ep_return += reward
            self._ep_length += 1
            rewards[t] = reward
            terminals[t] = terminated
            if self.track_cost and ("cost" in infos or "final_info" in infos):
                cost = final_values(infos, "cost", done)
                self._ep_cost += cost
                costs[t] = cost
            cut = truncated & ~terminated
            if cut.any() and self.bootstrap_truncated and self.agent.has_critic:
                idx = np.flatnonzero(cut)
                final = torch.as_tensor(np.stack(infos["final_obs"][idx]), dtype=torch.float32,
                                        device=self.device)
                v_final, vc_final = self._values(final)
                # r_t ← r_t + γ V(s_final): the truncated episode is bootstrapped, not terminal
                rewards[t, idx] += self.gamma * v_final.cpu().numpy()
                costs[t, idx] += self.cost_gamma * vc_final.cpu().numpy()
            if done.any():
                for i in np.flatnonzero(done):
                    self.recorder.episode(self.global_step, self._ep_return[i], self._ep_length[i],
                                          self._ep_cost[i])
                    self._ep_return[i], self._ep_length[i], self._ep_cost[i] = 0.0, 0, 0.0
            self.obs = torch.tensor(next_obs, dtype=torch.float32, device=self.device)
            self.done = torch.as_tensor(done, dtype=torch.float32, device=self.device)
        next_value, next_cost_value = self._values(self.obs)
        as_t = lambda a: torch.as_tensor(a, device=self.device)  # noqa: E731
        return Rollout(torch.stack(obs_l), torch.stack(act_l), torch.stack(logp_l), as_t(rewards),
                       torch.stack(done_l), torch.stack(value_l), as_t(costs), torch.stack(cost_value_l),
                       as_t(terminals), self.obs, self.done, next_value, next_cost_value)
