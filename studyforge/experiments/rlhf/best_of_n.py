"""Best-of-n sampling: the optimisation-free baseline every RLHF method is compared with.

Draw n completions from the reference policy, keep the one the reward model scores highest. Its output
distribution π_BoN is a new policy whose KL from the reference is known in closed form (Stiennon et al. 2020,
arXiv 2009.01325, App. G.3; Gao, Schulman & Hilton 2022, arXiv 2210.10760, §2):

    KL(π_BoN ‖ π_ref) = log n − (n − 1) / n

The derivation treats the reward as continuous (no ties): the selected sample's reward quantile u has
density n·u^{n−1}, so π_BoN(y) = n·F(y)^{n−1}·π_ref(y) and KL = E[log(n u^{n−1})] = log n − (n − 1)/n.
With ties, or few distinct outcomes, it is an upper bound (Beirami et al. 2024, arXiv 2401.01879);
`best_of_n_distribution` gives the exact distribution of a categorical policy, so the bound can be checked.

Gao et al. plot everything against d = √KL; n = 256 is d ≈ 2.18.

>>> round(best_of_n_kl(1), 6), round(best_of_n_kl(4), 4)
(0.0, 0.6363)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def best_of_n_kl(n: int) -> float:
    """KL(π_BoN ‖ π_ref) = log n − (n − 1)/n nats."""
    if n < 1:
        raise ValueError("n must be ≥ 1")
    return math.log(n) - (n - 1) / n


def best_of_n_distribution(probs: torch.Tensor, rewards: torch.Tensor, n: int) -> torch.Tensor:
    """The exact distribution of best-of-n over a categorical policy with distinct `rewards`: (K,) -> (K,).

    Sorted by reward, outcome i is chosen when all n draws are ≤ i and not all are < i:
    P_BoN(i) = F(i)^n − F(i−1)^n, with F the policy's CDF in reward order."""
    order = torch.argsort(rewards)
    cdf = probs[order].double().cumsum(0)
    below = torch.cat([cdf.new_zeros(1), cdf[:-1]])
    out = torch.empty_like(cdf)
    out[order] = cdf.clamp(max=1.0) ** n - below ** n
    return out.to(probs.dtype)


def best_of_n_select(scores: torch.Tensor) -> torch.Tensor:
    """Index of the best-scoring of each row's n samples: scores (B, n) -> (B,)."""
    return scores.argmax(dim=-1)


def expected_best_of_n(proxy: torch.Tensor, gold: torch.Tensor, n: int) -> torch.Tensor:
    """Unbiased estimate, per prompt, of the gold reward of best-of-n by proxy, from N ≥ n samples.

    Gao et al.'s estimator: sort a prompt's N samples by proxy score; the i-th lowest (1-based) is the best of a
    uniformly drawn n-subset with probability C(i−1, n−1) / C(N, n). So
    E[gold of BoN] = Σ_i C(i−1, n−1)/C(N, n) · gold_(i) — every n-subset at once, no resampling noise.
    proxy, gold: (B, N) -> (B,).

    Three samples, n = 2: the subsets {1,2}, {1,3}, {2,3} pick golds 20, 30, 30 -> 26.67.

    >>> round(float(expected_best_of_n(torch.tensor([[1., 2., 3.]]), torch.tensor([[10., 20., 30.]]), 2)), 2)
    26.67
    """
    b, big_n = proxy.shape
    if not 1 <= n <= big_n:
        raise ValueError(f"n must be in 1…{big_n}")
    order = torch.argsort(proxy, dim=1, stable=True)
    gold_sorted = torch.gather(gold, 1, order).double()
    i = torch.arange(1, big_n + 1, dtype=torch.float64)
    # log C(i−1, n−1) − log C(N, n) via lgamma (C(a, b) = 0 when a < b)
    log_w = (torch.lgamma(i) - math.lgamma(n) - torch.lgamma((i - n + 1).clamp(min=1))
             - (math.lgamma(big_n + 1) - math.lgamma(n + 1) - math.lgamma(big_n - n + 1)))
    w = torch.where(i >= n, log_w.exp(), torch.zeros_like(log_w))
    return (gold_sorted * w).sum(1).to(gold.dtype)


def best_of_n_curve(proxy: torch.Tensor, gold: torch.Tensor, ns: Sequence[int]) -> list[dict[str, float]]:
    """Best-of-n by `proxy` at each n, from N samples per prompt (proxy, gold: (B, N)): the analytic KL and
    d = √KL, and the expected proxy and gold of the selected response (`expected_best_of_n`: every n-subset at
    once, no resampling noise) — their means over the B prompts and standard errors (NaN for one prompt)."""
    rows = []
    b = proxy.shape[0]
    for n in ns:
        kl = best_of_n_kl(n)
        p = expected_best_of_n(proxy, proxy, n).double()  # the best proxy of n: E[max of n]
        g = expected_best_of_n(proxy, gold, n).double()
        rows.append({"n": n, "kl": kl, "d": math.sqrt(kl), "proxy": float(p.mean()), "gold": float(g.mean()),
                     "proxy_se": float(p.std() / math.sqrt(b)) if b > 1 else math.nan,
                     "gold_se": float(g.std() / math.sqrt(b)) if b > 1 else math.nan})
    return rows
