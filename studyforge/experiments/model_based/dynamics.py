"""A learned dynamics model: an ensemble of small MLPs predicting the change of state, s' − s.

Nagabandi, Kahn, Fearing & Levine, 2017, "Neural Network Dynamics for Model-Based Deep Reinforcement
Learning with Model-Free Fine-Tuning", arXiv 1708.02596 (an MLP predicting Δs, normalised inputs and
targets, MPC by random shooting); Kurutach, Clavera, Duan, Tamar & Abbeel, 2018, "Model-Ensemble
Trust-Region Policy Optimization", arXiv 1802.10592, and Chua, Calandra, McAllister & Levine, 2018, "Deep
Reinforcement Learning in a Handful of Trials using Probabilistic Dynamics Models" (PETS),
arXiv 1805.12114 (ensembles: the spread between members measures what the data do not pin down).

Each member f_θe maps a normalised (state, action) to a normalised state change and is trained by
regression on its own bootstrap resample of the transitions,

    ŝ' = s + σ_Δ · f_θe((s − μ_s)/σ_s, a) + μ_Δ,        L_e = E_{(s,a,s')~D_e} ‖f_θe(·) − (s' − s − μ_Δ)/σ_Δ‖²,

so the members agree where data are dense and disagree off-distribution. (PETS's members are
probabilistic, predicting a Gaussian; ours are deterministic, as in ME-TRPO — the ensemble spread is the
only uncertainty.) Discrete actions enter one-hot, continuous ones as they are.

All members run as one batched computation: an `EnsembleLinear` holds (E, in, out) weights and applies
them with one `torch.baddbmm` to inputs of shape (E, B, in).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """E independent linear layers applied at once: (E, B, in) -> (E, B, out)."""

    def __init__(self, ensemble: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(ensemble, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(ensemble, 1, out_features))
        bound = 1 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # y_e = x_e W_e + b_e for every member e, one batched matmul         (E, B, out)
        return torch.baddbmm(self.bias, x, self.weight)


class DynamicsEnsemble(nn.Module):
    """E MLPs (obs, action) -> Δobs with input/target normalisation fitted to the data."""

    def __init__(self, obs_dim: int, action_dim: int, *, ensemble: int = 5, hidden: tuple[int, ...] = (64, 64),
                 discrete: bool = True):
        super().__init__()
        self.obs_dim, self.action_dim, self.ensemble, self.discrete = obs_dim, action_dim, ensemble, discrete
        sizes = [obs_dim + action_dim, *hidden, obs_dim]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(EnsembleLinear(ensemble, sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.SiLU())
        self.net = nn.Sequential(*layers)
        for name, size in (("obs_mean", obs_dim), ("delta_mean", obs_dim), ("act_mean", action_dim)):
            self.register_buffer(name, torch.zeros(size))
        for name, size in (("obs_std", obs_dim), ("delta_std", obs_dim), ("act_std", action_dim)):
            self.register_buffer(name, torch.ones(size))

    def encode_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """(…,) ints -> (…, A) one-hot for discrete actions; (…, d) floats unchanged for continuous ones."""
        if self.discrete:
            return torch.nn.functional.one_hot(actions.long(), self.action_dim).float()
        return actions.float()

    def set_normalizers(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor) -> None:
        """μ, σ of states, actions and state changes over the data (σ floored at 1e-6)."""
        delta = next_obs - obs
        a = self.encode_actions(actions)
        for name, x in (("obs", obs), ("delta", delta), ("act", a)):
            getattr(self, f"{name}_mean").copy_(x.mean(0))
            getattr(self, f"{name}_std").copy_(x.std(0).clamp_min(1e-6))
        if self.discrete:  # a one-hot action is already on a good scale
            self.act_mean.zero_()
            self.act_std.fill_(1.0)

    def normalized_delta(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """f_θe on normalised inputs: obs (E, B, obs_dim), encoded actions (E, B, A) -> (E, B, obs_dim)."""
        x = torch.cat([(obs - self.obs_mean) / self.obs_std, (actions - self.act_mean) / self.act_std], dim=-1)
        return self.net(x)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Each member's next state: obs (E, B, obs_dim), raw actions (E, B[, d]) -> (E, B, obs_dim)."""
        # ŝ' = s + σ_Δ f_θe(ŝ, a) + μ_Δ
        return obs + self.normalized_delta(obs, self.encode_actions(actions)) * self.delta_std + self.delta_mean


def fit(model: DynamicsEnsemble, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray, *, epochs: int,
        batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-5, seed: int = 0,
        optimizer: torch.optim.Optimizer | None = None) -> tuple[float, torch.optim.Optimizer]:
    """Train every member for `epochs` passes over its own bootstrap resample; returns (last mean loss,
    optimizer) so that later calls can continue training with the same Adam state."""
    rng = np.random.default_rng(seed)
    o = torch.as_tensor(obs, dtype=torch.float32)
    a = torch.as_tensor(actions)
    o2 = torch.as_tensor(next_obs, dtype=torch.float32)
    model.set_normalizers(o, a, o2)
    # normalised regression targets (s' − s − μ_Δ)/σ_Δ                          (N, obs_dim)
    target = (o2 - o - model.delta_mean) / model.delta_std
    enc = model.encode_actions(a)
    n, E = len(o), model.ensemble
    # each member's bootstrap resample of the N transitions                       (E, N)
    boot = torch.as_tensor(rng.integers(0, n, size=(E, n)))
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    last = float("nan")
    for _ in range(epochs):
        # a fresh shuffle of each member's resample                                (E, N)
        perm = torch.gather(boot, 1, torch.as_tensor(np.argsort(rng.random((E, n)), axis=1)))
        total, batches = 0.0, 0
        for start in range(0, n, batch_size):
            idx = perm[:, start:start + batch_size]  # (E, b)
            pred = model.normalized_delta(o[idx], enc[idx])  # (E, b, obs_dim)
            # L = mean over members, samples, dimensions of (f_θe − target)²
            loss = ((pred - target[idx]) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, batches = total + float(loss.detach()), batches + 1
        last = total / max(batches, 1)
    return last, optimizer


@torch.no_grad()
def rollout(model: DynamicsEnsemble, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Open-loop predictions of every member: obs (B, obs_dim), actions (B, H[, d]) -> (E, B, H, obs_dim).

    Step h feeds the member's own prediction of step h − 1 back in, so errors compound with the horizon.
    """
    E = model.ensemble
    s = obs.unsqueeze(0).expand(E, *obs.shape).contiguous()  # (E, B, obs_dim)
    out = []
    for h in range(actions.shape[1]):
        a = actions[:, h].unsqueeze(0).expand(E, *actions[:, h].shape)
        s = model(s, a)
        out.append(s)
    return torch.stack(out, dim=2)
