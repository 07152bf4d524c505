"""Q-networks: one module that becomes DQN's, the dueling, the noisy or the distributional network (or all).

    obs (B, *obs) -torso-> features (B, F) -stream(s)-> Q (B, A)          scalar head
                                                    -> logits (B, A, N) distributional head, N atoms

- torso: for vector observations the first hidden layer (Linear + ReLU); for MinAtar's (C, 10, 10) grids
  the MinAtar paper's 3×3 convolution with 16 channels (Young & Tian, 2019, arXiv 1903.03176).
- stream: the remaining hidden layers and the output layer, built from `nn.Linear` or, with noisy nets,
  from `NoisyLinear` (`noisy.py`). A dueling network has two streams, V and A (`dueling.py`), combined per
  atom.

With `hidden = (256, 256)` and everything off, this is exactly the MLP stable-baselines3 builds for
rl-baselines3-zoo's CartPole DQN: Linear(4, 256) ReLU Linear(256, 256) ReLU Linear(256, 2).

The network also answers `act(obs, deterministic)` like the policy-gradient agents, so
`rl.evaluation.evaluate` runs it unchanged (greedy actions; noise off in `eval()` mode).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studyforge.experiments.value_based.distributional import support
from studyforge.experiments.value_based.dueling import dueling_combine
from studyforge.experiments.value_based.noisy import NoisyLinear


def stream(sizes: list[int], noisy: bool, sigma0: float) -> nn.Sequential:
    """`[256, 256, 2]` -> Linear(256, 256) ReLU Linear(256, 2) (NoisyLinear layers when `noisy`)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(NoisyLinear(sizes[i], sizes[i + 1], sigma0) if noisy else nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """Q(s, ·) for discrete actions, with optional dueling streams, noisy layers and a C51 head."""

    def __init__(self, obs_shape: tuple[int, ...], n_actions: int, hidden: tuple[int, ...] = (256, 256), *,
                 dueling: bool = False, noisy: bool = False, n_atoms: int = 1, v_min: float = 0.0,
                 v_max: float = 1.0, sigma0: float = 0.5):
        super().__init__()
        self.n_actions, self.n_atoms = n_actions, n_atoms
        self.dueling, self.noisy = dueling, noisy
        if len(obs_shape) == 1:
            self.torso = nn.Sequential(nn.Linear(obs_shape[0], hidden[0]), nn.ReLU())
            features, rest = hidden[0], list(hidden[1:])
        elif len(obs_shape) == 3:
            c, h, w = obs_shape
            # (B, C, 10, 10) -conv 3×3-> (B, 16, 8, 8) -flatten-> (B, 1024)
            self.torso = nn.Sequential(nn.Conv2d(c, 16, kernel_size=3), nn.ReLU(), nn.Flatten())
            features, rest = 16 * (h - 2) * (w - 2), list(hidden)
        else:
            raise ValueError(f"no Q-network for observations of shape {obs_shape}")
        self.advantage = stream([features, *rest, n_actions * n_atoms], noisy, sigma0)
        self.value = stream([features, *rest, n_atoms], noisy, sigma0) if dueling else None
        self.register_buffer("atoms", support(v_min, v_max, n_atoms) if n_atoms > 1 else torch.zeros(1))

    @property
    def distributional(self) -> bool:
        return self.n_atoms > 1

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values (B, A), or per-atom logits (B, A, N) for a distributional network."""
        h = self.torso(obs)  # (B, F)
        adv = self.advantage(h).view(-1, self.n_actions, self.n_atoms)  # (B, A, N)
        if self.value is not None:
            # Q = V + A − mean_a A   (per atom)
            out = dueling_combine(self.value(h).view(-1, 1, self.n_atoms), adv)
        else:
            out = adv
        return out if self.distributional else out.squeeze(-1)

    def log_probs(self, obs: torch.Tensor) -> torch.Tensor:
        """log p_j(s, a): (B, A, N), normalised over the atoms."""
        return F.log_softmax(self(obs), dim=-1)

    def q_values(self, obs: torch.Tensor) -> torch.Tensor:
        """Q(s, a) (B, A); for a distributional network the mean Σ_j z_j p_j(s, a)."""
        if not self.distributional:
            return self(obs)
        return (F.softmax(self(obs), dim=-1) * self.atoms).sum(-1)

    def reset_noise(self) -> None:
        for module in self.modules():
            if isinstance(module, NoisyLinear):
                module.reset_noise()

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(greedy actions (B,), zeros (B,)): the interface `rl.evaluation.evaluate` calls."""
        actions = self.q_values(obs).argmax(-1)
        return actions, torch.zeros(actions.shape, device=actions.device)
