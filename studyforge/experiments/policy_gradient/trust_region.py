"""The second-order toolkit of NPG, TRPO, CPO and PCPO: Fisher-vector products, CG, line search.

The natural gradient preconditions the policy gradient g with the inverse Fisher information matrix
F = E_s E_{a∼π}[∇ log π(a|s) ∇ log π(a|s)ᵀ] (Kakade, 2001, "A Natural Policy Gradient"; Amari, 1998). F is
the Hessian of the mean KL divergence between the old and the new policy at θ_old, which gives two things:

- F never has to be built: F v = ∇_θ ((∇_θ KL(θ))ᵀ v), two backward passes (Pearlmutter's trick);
- a step x with ½ xᵀ F x = δ moves the policy by about KL = δ, which is how TRPO sizes its step:
  x = √(2δ / (gᵀ F⁻¹ g)) F⁻¹ g.

F⁻¹ g is solved approximately by conjugate gradient, which needs only products F v (Schulman et al., 2015,
"Trust Region Policy Optimization", arXiv 1502.05477, Appendix C).

NPG and TRPO also share their hyperparameters (`TrustRegionConfig`) and their training loop
(`train_trust_region`): collect a batch, GAE, one policy step by the method's own rule, refit the critic.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from pydantic import Field
from torch import nn

from studyforge.experiments.policy_gradient.advantages import gae, normalize
from studyforge.experiments.policy_gradient.networks import Agent, make_agent
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.rl.envs import env_spec, make_vector_env
from studyforge.experiments.rl.training import AlgoConfig, LogFn, Recorder, TrainResult
from studyforge.tracking.context import seed_everything


def flat_params(params: list[nn.Parameter]) -> torch.Tensor:
    """All parameters as one vector (a copy)."""
    return torch.cat([p.data.reshape(-1) for p in params])


def set_flat_params(params: list[nn.Parameter], flat: torch.Tensor) -> None:
    """Write the vector `flat` back into `params` (the inverse of `flat_params`)."""
    i = 0
    for p in params:
        n = p.numel()
        p.data.copy_(flat[i:i + n].view_as(p))
        i += n


def flat_grad(output: torch.Tensor, params: list[nn.Parameter], create_graph: bool = False,
              retain_graph: bool | None = None) -> torch.Tensor:
    """∇_θ output as one vector (zeros for parameters the output does not depend on)."""
    grads = torch.autograd.grad(output, params, create_graph=create_graph, retain_graph=retain_graph,
                                allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params,
                                                                                              strict=True)])


def fisher_vector_product(kl_fn: Callable[[], torch.Tensor], params: list[nn.Parameter],
                          damping: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ (F + damping·I) v, with F the Hessian of `kl_fn()` (the mean KL to the old policy) at θ.

    The damping keeps conjugate gradient stable where F is nearly singular.
    """
    kl = kl_fn()
    grad_kl = flat_grad(kl, params, create_graph=True)

    def fvp(v: torch.Tensor) -> torch.Tensor:
        # F v = ∇_θ ((∇_θ KL)ᵀ v)
        hv = flat_grad(grad_kl @ v, params, retain_graph=True)
        return hv + damping * v

    return fvp


def conjugate_gradient(avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int = 10,
                       residual_tol: float = 1e-10) -> torch.Tensor:
    """Solve A x = b for a symmetric positive-definite A given only v ↦ A v (Nocedal & Wright, Alg. 5.2).

    Exact in at most dim(b) iterations; a handful suffice for TRPO. For A = [[4, 1], [1, 3]], b = [1, 2]:

    >>> A = torch.tensor([[4., 1.], [1., 3.]])
    >>> [round(v, 4) for v in conjugate_gradient(lambda v: A @ v, torch.tensor([1., 2.])).tolist()]
    [0.0909, 0.6364]
    """
    x = torch.zeros_like(b)
    r = b.clone()  # residual b − A x
    p = b.clone()  # search direction
    rr = r @ r
    for _ in range(iters):
        if rr < residual_tol:
            break
        Ap = avp(p)
        # α = rᵀr / pᵀAp
        alpha = rr / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = r @ r
        # p ← r + (r_newᵀ r_new / rᵀ r) p
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def backtracking_line_search(params: list[nn.Parameter], start: torch.Tensor, full_step: torch.Tensor,
                             accept: Callable[[], bool], max_backtracks: int = 10,
                             backtrack_coef: float = 0.5) -> tuple[bool, int]:
    """Try θ = start + coefᵏ · full_step for k = 0, 1, …; keep the first θ that `accept()`s.

    Returns (accepted, k). When no step is accepted the parameters are restored to `start`.
    """
    for k in range(max_backtracks):
        set_flat_params(params, start + backtrack_coef ** k * full_step)
        if accept():
            return True, k
    set_flat_params(params, start)
    return False, max_backtracks


def fit_value(value_fn: Callable[[torch.Tensor], torch.Tensor], optimizer: torch.optim.Optimizer,
              obs: torch.Tensor, targets: torch.Tensor, epochs: int, minibatch_size: int) -> float:
    """Regress value_fn(obs) on targets with `epochs` passes of minibatch SGD; returns the last mean loss.

    The critic of the second-order methods is fitted separately from the policy step (TRPO's paper fits it
    by its own trust region; plain regression with Adam is the common practice since).
    """
    n = obs.shape[0]
    loss = torch.zeros(())
    for _ in range(epochs):
        perm = torch.randperm(n, device=obs.device)
        for start in range(0, n, minibatch_size):
            mb = perm[start:start + minibatch_size]
            # L^V = ½ E[(V(s) − R)²]
            loss = 0.5 * ((value_fn(obs[mb]) - targets[mb]) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return loss.item()


class TrustRegionConfig(AlgoConfig):
    """Hyperparameters every second-order method here shares (NPG, TRPO, and through TRPO, CPO and PCPO)."""

    num_envs: int = Field(8, ge=1, description="parallel environments")
    num_steps: int = Field(128, ge=1, description="steps per environment per batch")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ")
    delta: float = Field(0.01, gt=0, description="trust-region radius δ on the mean KL")
    cg_iters: int = Field(10, ge=1, description="conjugate-gradient iterations")
    cg_damping: float = Field(0.01, ge=0, description="damping added to the Fisher matrix (Baselines' 1e-2)")
    vf_lr: float = Field(1e-3, gt=0, description="critic Adam step size")
    vf_epochs: int = Field(5, ge=1, description="critic regression passes per batch")
    vf_minibatch_size: int = Field(256, ge=1, description="critic minibatch size")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")


# (agent, observations (B, *obs), actions (B,), normalised advantages (B,)) -> diagnostics of the step
PolicyStep = Callable[[Agent, torch.Tensor, torch.Tensor, torch.Tensor], dict[str, float]]


def train_trust_region(name: str, policy_step: PolicyStep, env_id: str, cfg: TrustRegionConfig, *,
                       total_steps: int, seed: int, log: LogFn | None = None, prefix: str = "",
                       device: str = "cpu", env_kwargs: dict | None = None) -> TrainResult:
    """The loop of NPG and TRPO: per batch, GAE advantages, one `policy_step` (which must report the exact
    KL it caused as "kl"), then `vf_epochs` of critic regression on the GAE returns. Diagnostics are logged
    as `<name>/<key>`."""
    started = time.perf_counter()
    seed_everything(seed)
    obs_shape, n_actions = env_spec(env_id, **(env_kwargs or {}))
    envs = make_vector_env(env_id, cfg.num_envs, **(env_kwargs or {}))
    agent = make_agent(obs_shape, n_actions, tuple(cfg.hidden)).to(device)
    vf_optimizer = torch.optim.Adam(agent.critic.parameters(), lr=cfg.vf_lr)
    rec = Recorder(log, prefix)
    collector = RolloutCollector(envs, agent, cfg.num_steps, cfg.gamma, seed, rec, device)
    batch_size = cfg.num_envs * cfg.num_steps

    for _update in range(-(-total_steps // batch_size)):
        ro = collector.collect()
        advantages, returns = gae(ro.rewards, ro.values, ro.dones, ro.next_value, ro.next_done,
                                  cfg.gamma, cfg.gae_lambda)
        b_obs = ro.obs.reshape(batch_size, *obs_shape)
        info = policy_step(agent, b_obs, ro.actions.reshape(-1), normalize(advantages.reshape(-1)))
        v_loss = fit_value(agent.value, vf_optimizer, b_obs, returns.reshape(-1), cfg.vf_epochs,
                           cfg.vf_minibatch_size)
        rec.update(collector.global_step, **{f"{name}/{k}": v for k, v in info.items()},
                   **{"losses/value_loss": v_loss, "losses/kl_moved": info["kl"], "charts/delta": cfg.delta})
    rec.flush(collector.global_step)
    envs.close()
    return TrainResult.from_recorder(name, env_id, seed, agent, collector.global_step, started, rec)
