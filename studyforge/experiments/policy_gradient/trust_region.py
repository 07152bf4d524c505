"""The second-order toolkit of NPG, TRPO, CPO and PCPO: Fisher-vector products, CG, line search.

The natural gradient preconditions the policy gradient g with the inverse Fisher information matrix
F = E_s E_{a∼π}[∇ log π(a|s) ∇ log π(a|s)ᵀ] (Kakade, 2001, "A Natural Policy Gradient"; Amari, 1998). F is
the Hessian of the mean KL divergence between the old and the new policy at θ_old, which gives two things:

- F never has to be built: F v = ∇_θ ((∇_θ KL(θ))ᵀ v), two backward passes (Pearlmutter's trick);
- a step x with ½ xᵀ F x = δ moves the policy by about KL = δ, which is how TRPO sizes its step:
  x = √(2δ / (gᵀ F⁻¹ g)) F⁻¹ g.

F⁻¹ g is solved approximately by conjugate gradient, which needs only products F v (Schulman et al., 2015,
"Trust Region Policy Optimization", arXiv 1502.05477, Appendix C).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


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
