"""Complete episodes: a list of plain environments, each run for exactly one episode by one policy.

`run_episodes` (REINFORCE, GRPO, evaluation of any agent) batches the policy's forward pass over the
environments still running, so no step is wasted on an episode that will be thrown away. The policy is
anything with `act(obs, deterministic=…) -> (actions, log-probabilities)`: a policy-gradient `Agent`, or a
Q-network acting greedily (its log-probabilities are zeros).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch


class Policy(Protocol):
    def act(self, obs: torch.Tensor, deterministic: bool = ...) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions (B,) and their log-probabilities (B,) for observations (B, *obs_shape)."""
        ...


@dataclass
class Episode:
    """One complete episode: (L, …) tensors, how it ended, and the observation it ended on."""

    obs: torch.Tensor  # (L, *obs_shape)
    actions: torch.Tensor  # (L,)
    logprobs: torch.Tensor  # (L,)
    rewards: torch.Tensor  # (L,)
    costs: torch.Tensor  # (L,)
    terminated: bool
    truncated: bool
    final_obs: torch.Tensor  # (*obs_shape)

    @property
    def ret(self) -> float:
        return float(self.rewards.sum())

    @property
    def cost(self) -> float:
        return float(self.costs.sum())

    def __len__(self) -> int:
        return int(self.rewards.shape[0])


@torch.no_grad()
def run_episodes(envs: list[gym.Env], policy: Policy, seeds: list[int | None], deterministic: bool = False,
                 device: torch.device | str = "cpu") -> list[Episode]:
    """Run each env in `envs` for one episode (env i reset with `seeds[i]`); returns them in order.

    Giving several envs the same seed starts them from the same state — GRPO's groups.
    """
    device = torch.device(device)
    n = len(envs)
    first = [env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)]
    current = [np.asarray(o, dtype=np.float32) for o in first]
    trajectories: list[dict[str, list]] = [{"obs": [], "actions": [], "logprobs": [], "rewards": [],
                                            "costs": []} for _ in range(n)]
    endings: list[tuple[bool, bool, np.ndarray] | None] = [None] * n
    active = list(range(n))
    while active:
        batch = torch.as_tensor(np.stack([current[i] for i in active]), device=device)
        actions, logps = policy.act(batch, deterministic=deterministic)
        still = []
        for j, i in enumerate(active):
            a = int(actions[j])
            obs, reward, terminated, truncated, info = envs[i].step(a)
            tr = trajectories[i]
            tr["obs"].append(current[i])
            tr["actions"].append(a)
            tr["logprobs"].append(float(logps[j]))
            tr["rewards"].append(float(reward))
            tr["costs"].append(float(info.get("cost", 0.0)))
            current[i] = np.asarray(obs, dtype=np.float32)
            if terminated or truncated:
                endings[i] = (bool(terminated), bool(truncated), current[i])
            else:
                still.append(i)
        active = still
    episodes = []
    for tr, ending in zip(trajectories, endings, strict=True):
        assert ending is not None
        episodes.append(Episode(
            obs=torch.as_tensor(np.stack(tr["obs"]), device=device),
            actions=torch.as_tensor(tr["actions"], dtype=torch.long, device=device),
            logprobs=torch.as_tensor(tr["logprobs"], dtype=torch.float32, device=device),
            rewards=torch.as_tensor(tr["rewards"], dtype=torch.float32, device=device),
            costs=torch.as_tensor(tr["costs"], dtype=torch.float32, device=device),
            terminated=ending[0], truncated=ending[1],
            final_obs=torch.as_tensor(ending[2], device=device)))
    return episodes
