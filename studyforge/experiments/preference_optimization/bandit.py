"""The known answers: DPO's and IPO's optimal policies on a one-prompt, K-response bandit.

With Bradley–Terry preferences P(i ≻ j) = σ(r_i − r_j) and pairs drawn from μ × μ, the expected losses
over all (pair, label) outcomes are minimised by closed-form policies:

- DPO (Rafailov et al. 2023, §4): π*(y) ∝ π_ref(y) · exp(r(y) / β) — the KL-regularised RLHF optimum,
  reached without ever fitting a reward model. Each pair's loss P_ij·softplus(−βh) + P_ji·softplus(βh) is
  smallest at βh = logit P_ij = r_i − r_j, and log-ratios of that form are consistent across all pairs.
- IPO (Azar et al. 2023, §5.2): π*(y) ∝ π_ref(y) · exp((p(y ≻ μ) − ½) / τ), with p(y ≻ μ) = Σ_j μ_j P(y ≻ j):
  setting the gradient of Σ_ij μ_i μ_j P_ij (g_i − g_j − 1/(2τ))² in g = log π − log π_ref to zero gives
  g_k − E_μ[g] = Σ_j μ_j (2 P_kj − 1) / (2τ). It depends on the preference *probabilities*, bounded in
  [0, 1], where DPO's depends on the unbounded reward — IPO's whole point.

`fit_tabular` minimises those expected losses directly (softmax logits, L-BFGS, float64), so a test — and
the study's summary — can check that each loss function, as written in `losses.py`, lands on its formula.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from studyforge.experiments.preference_optimization.losses import dpo_loss, ipo_loss


def bradley_terry(rewards: torch.Tensor) -> torch.Tensor:
    """P[i, j] = σ(r_i − r_j): the probability that response i is preferred to response j."""
    return torch.sigmoid(rewards[:, None] - rewards[None, :])


def dpo_optimum(ref: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """π*(y) ∝ π_ref(y) exp(r(y)/β)."""
    return torch.softmax(ref.log() + rewards / beta, dim=0)


def ipo_optimum(ref: torch.Tensor, prefs: torch.Tensor, mu: torch.Tensor, tau: float) -> torch.Tensor:
    """π*(y) ∝ π_ref(y) exp((p(y ≻ μ) − ½)/τ), p(y ≻ μ) = Σ_j μ_j P(y ≻ j)."""
    return torch.softmax(ref.log() + (prefs @ mu - 0.5) / tau, dim=0)


def expected_loss(loss_fn: Callable, logp: torch.Tensor, ref: torch.Tensor, prefs: torch.Tensor,
                  mu: torch.Tensor) -> torch.Tensor:
    """E over i, j ~ μ and the label ~ P of `loss_fn(chosen, rejected, ref_chosen, ref_rejected)`: every
    ordered pair (i, j) enters as "i chosen over j" with weight μ_i μ_j P_ij."""
    k = len(ref)
    i, j = torch.meshgrid(torch.arange(k), torch.arange(k), indexing="ij")
    i, j = i.flatten(), j.flatten()
    weight = (mu[i] * mu[j] * prefs[i, j])
    per_pair = torch.stack([loss_fn(logp[a:a + 1], logp[b:b + 1], ref.log()[a:a + 1], ref.log()[b:b + 1]).loss
                            for a, b in zip(i.tolist(), j.tolist(), strict=True)])
    return (weight * per_pair).sum()


def fit_tabular(loss_fn: Callable, ref: torch.Tensor, prefs: torch.Tensor, mu: torch.Tensor,
                iterations: int = 200) -> torch.Tensor:
    """The policy (softmax of free logits, started at π_ref) minimising `expected_loss`."""
    logits = ref.log().clone().double().requires_grad_()
    opt = torch.optim.LBFGS([logits], lr=1.0, max_iter=iterations, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = expected_loss(loss_fn, torch.log_softmax(logits, 0), ref.double(), prefs.double(), mu.double())
        loss.backward()
        return loss

    opt.step(closure)
    return torch.softmax(logits.detach(), 0)


def check_closed_forms(k: int = 6, beta: float = 0.5, tau: float = 0.5, seed: int = 0) -> dict[str, float]:
    """Max |π_fitted − π*| for DPO and IPO on a random K-response bandit (both should be ~1e-8)."""
    g = torch.Generator().manual_seed(seed)
    ref = torch.softmax(torch.randn(k, generator=g, dtype=torch.float64), 0)
    rewards = torch.randn(k, generator=g, dtype=torch.float64)
    mu = torch.softmax(torch.randn(k, generator=g, dtype=torch.float64), 0)  # pairs need not come from π_ref
    prefs = bradley_terry(rewards)
    dpo = fit_tabular(lambda *a: dpo_loss(*a, beta=beta), ref, prefs, mu)
    ipo = fit_tabular(lambda *a: ipo_loss(*a, tau=tau), ref, prefs, mu)
    return {"dpo_max_abs_error": float((dpo - dpo_optimum(ref, rewards, beta)).abs().max()),
            "ipo_max_abs_error": float((ipo - ipo_optimum(ref, prefs, mu, tau)).abs().max()),
            "dpo_vs_ipo_max_abs_difference": float((dpo - ipo).abs().max())}
