"""Agents: a categorical policy π(a|s) = softmax(logits(s)) with optional value heads V(s) and V_C(s).

Orthogonal initialisation as in the PPO implementation details (Huang et al., 2022, "The 37 Implementation
Details of PPO"; Saxe et al., 2013, arXiv 1312.6120): hidden layers with gain √2, the policy's last layer
with gain 0.01 (so the initial policy is near-uniform) and the value's last layer with gain 1.

The categorical distribution is written out (log-softmax, gather, entropy) rather than built as a
`torch.distributions.Categorical` per step: the maths is three lines and the rollout loop stays fast.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights scaled by `std`, constant bias (CleanRL's `layer_init`)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(sizes: list[int], out_std: float, activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """`[4, 64, 64, 2]` -> Linear(4,64) act Linear(64,64) act Linear(64,2), orthogonally initialised."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        layers.append(layer_init(nn.Linear(sizes[i], sizes[i + 1]), std=out_std if last else math.sqrt(2)))
        if not last:
            layers.append(activation())
    return nn.Sequential(*layers)


def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log π(a|s) from logits (B, A) and actions (B,) -> (B,)."""
    return F.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """H[π(·|s)] = −Σ_a π(a|s) log π(a|s), (B, A) -> (B,)."""
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def categorical_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p ‖ q) = Σ_a p(a) (log p(a) − log q(a)) per state, (B, A), (B, A) -> (B,).

    >>> round(float(categorical_kl(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.0]]))[0]), 6)
    0.0
    """
    logp, logq = F.log_softmax(logits_p, dim=-1), F.log_softmax(logits_q, dim=-1)
    return (logp.exp() * (logp - logq)).sum(-1)


def _sample(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a ∼ π(·|s) and log π(a|s), (B, A) -> (B,), (B,)."""
    logp_all = F.log_softmax(logits, dim=-1)
    actions = torch.multinomial(logp_all.exp(), 1)
    return actions.squeeze(-1), logp_all.gather(-1, actions).squeeze(-1)


class Agent(nn.Module):
    """Interface every algorithm uses: `logits(obs)`, `value(obs)`, `cost_value(obs)`, `act(obs)`."""

    has_critic: bool = False
    has_cost_critic: bool = False

    def logits(self, obs: torch.Tensor) -> torch.Tensor:  # (B, *obs) -> (B, A)
        raise NotImplementedError

    def value(self, obs: torch.Tensor) -> torch.Tensor:  # (B, *obs) -> (B,)
        raise NotImplementedError(f"{type(self).__name__} has no value head")

    def cost_value(self, obs: torch.Tensor) -> torch.Tensor:  # (B, *obs) -> (B,)
        raise NotImplementedError(f"{type(self).__name__} has no cost-value head")

    def logits_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads at once (one pass through a shared torso where there is one)."""
        return self.logits(obs), self.value(obs)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(actions (B,), log π(a|s) (B,)): a sample, or the most probable action when deterministic."""
        logits = self.logits(obs)
        if deterministic:
            actions = logits.argmax(-1)
            return actions, log_prob(logits, actions)
        return _sample(logits)

    @torch.no_grad()
    def act_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(sampled actions, their log-probabilities, V(s)): what a rollout step needs."""
        actions, logp = self.act(obs)
        return actions, logp, self.value(obs)

    def policy_parameters(self) -> list[nn.Parameter]:
        """The parameters of π alone (trust-region methods step these and fit the critics separately)."""
        raise NotImplementedError


class MLPAgent(Agent):
    """Separate actor and critic MLPs (no shared torso), tanh activations, as in CleanRL's `ppo.py`.

    `critic=False` gives a bare policy (REINFORCE without a baseline, GRPO); `cost_critic=True` adds
    V_C(s), the expected discounted cost-to-go, for the constrained methods.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64), critic: bool = True,
                 cost_critic: bool = False):
        super().__init__()
        sizes = [obs_dim, *hidden]
        self.actor = mlp([*sizes, n_actions], out_std=0.01)
        self.critic = mlp([*sizes, 1], out_std=1.0) if critic else None
        self.cost_critic = mlp([*sizes, 1], out_std=1.0) if cost_critic else None
        self.has_critic = critic
        self.has_cost_critic = cost_critic

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        if self.critic is None:
            return super().value(obs)
        return self.critic(obs).squeeze(-1)

    def cost_value(self, obs: torch.Tensor) -> torch.Tensor:
        if self.cost_critic is None:
            return super().cost_value(obs)
        return self.cost_critic(obs).squeeze(-1)

    def policy_parameters(self) -> list[nn.Parameter]:
        return list(self.actor.parameters())


class TwinMLPAgent(Agent):
    """`MLPAgent`'s two networks (actor and critic, same widths, no shared weights) evaluated as ONE chain of
    batched matrix products over a leading dimension of 2, so a forward and a backward pass cost half the
    kernel launches. The maths is exactly two separate MLPs; for 64-unit networks the per-call overhead, not
    the arithmetic, is what costs time, and PPO makes ~8,000 gradient steps on CartPole.

    weights[i]: (2, in_i, out_i), index 0 the actor, 1 the critic; the critic's last layer is as wide as the
    actor's and only its column 0 is read (the others get no gradient).

        obs (B, D) -expand-> (2, B, D) -baddbmm, tanh-> (2, B, H) … -baddbmm-> (2, B, A)
            -> logits (B, A) from network 0, V (B,) from column 0 of network 1
    """

    has_critic = True

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        sizes = [obs_dim, *hidden, n_actions]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i in range(len(sizes) - 1):
            last = i == len(sizes) - 2
            w = torch.empty(2, sizes[i], sizes[i + 1])
            for k, gain in enumerate((0.01, 1.0) if last else (math.sqrt(2), math.sqrt(2))):
                # orthogonal init of each network's (out, in) matrix, stored transposed for x @ W
                nn.init.orthogonal_(w[k].T, gain)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(2, 1, sizes[i + 1])))
        # a plain list of the same Parameter objects: iterating a ParameterList costs more than the layer
        # (`.to()` and `load_state_dict` update these objects in place, so the list stays valid)
        self._layers = list(zip(self.weights, self.biases, strict=True))

    def logits_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = obs.unsqueeze(0).expand(2, *obs.shape)  # (2, B, D)
        last = len(self._layers) - 1
        for i, (w, b) in enumerate(self._layers):
            # x ← b + x W, for both networks at once
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.tanh(x)
        return x[0], x[1, :, 0]

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits_and_value(obs)[0]

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits_and_value(obs)[1]

    @torch.no_grad()
    def act_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, value = self.logits_and_value(obs)
        return (*_sample(logits), value)


class MinAtarAgent(Agent):
    """The MinAtar paper's network (Young & Tian, 2019): one 3×3 conv with 16 channels, a 128-unit layer,
    then a policy head and a value head on the shared torso.

    (B, C, 10, 10) -conv-> (B, 16, 8, 8) -flatten-> (B, 1024) -fc-> (B, 128) -> logits (B, A), V (B,)
    """

    has_critic = True

    def __init__(self, in_channels: int, n_actions: int, hidden: int = 128):
        super().__init__()
        self.torso = nn.Sequential(
            layer_init(nn.Conv2d(in_channels, 16, kernel_size=3, stride=1)), nn.ReLU(), nn.Flatten(),
            layer_init(nn.Linear(16 * 8 * 8, hidden)), nn.ReLU(),
        )
        self.policy_head = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.value_head = layer_init(nn.Linear(hidden, 1), std=1.0)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy_head(self.torso(obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value_head(self.torso(obs)).squeeze(-1)

    def logits_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.torso(obs)
        return self.policy_head(h), self.value_head(h).squeeze(-1)

    def policy_parameters(self) -> list[nn.Parameter]:
        return list(self.torso.parameters()) + list(self.policy_head.parameters())


class AtariAgent(MinAtarAgent):
    """Nature-DQN torso (Mnih et al., 2015) for 84×84×4 ALE frames, with policy and value heads."""

    def __init__(self, in_channels: int, n_actions: int, hidden: int = 512):
        nn.Module.__init__(self)
        self.torso = nn.Sequential(
            layer_init(nn.Conv2d(in_channels, 32, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(), nn.Flatten(),
            layer_init(nn.Linear(64 * 7 * 7, hidden)), nn.ReLU(),
        )
        self.policy_head = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.value_head = layer_init(nn.Linear(hidden, 1), std=1.0)


def make_agent(obs_shape: tuple[int, ...], n_actions: int, hidden: tuple[int, ...] = (64, 64),
               critic: bool = True, cost_critic: bool = False, twin: bool = False) -> Agent:
    """An MLP agent for flat observations (`twin`: evaluated as one batched chain, see `TwinMLPAgent`), the
    MinAtar network for (C, 10, 10), Nature-DQN for (4, 84, 84)."""
    if len(obs_shape) == 1 and twin and critic and not cost_critic:
        return TwinMLPAgent(obs_shape[0], n_actions, tuple(hidden))
    if len(obs_shape) == 1:
        return MLPAgent(obs_shape[0], n_actions, tuple(hidden), critic=critic, cost_critic=cost_critic)
    if cost_critic or not critic:
        raise ValueError("image agents always have one value head and no cost head")
    if obs_shape[-2:] == (10, 10):
        return MinAtarAgent(obs_shape[0], n_actions)
    if obs_shape[-2:] == (84, 84):
        return AtariAgent(obs_shape[0], n_actions)
    raise ValueError(f"no agent for observations of shape {obs_shape}")
