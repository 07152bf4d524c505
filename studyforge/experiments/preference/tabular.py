"""Ranking models without a network: fit one Bradley–Terry / Plackett–Luce score per item, against known strengths.

The tabular version of "pairwise vs listwise": n items with strengths u_i drawn from N(0, 1); an annotator
sees a query of K distinct items and either ranks them (Plackett–Luce, `data.Annotator.rank`, drawn exactly by
Gumbel-max) or picks the better of two (Bradley–Terry, `data.Annotator.label_pairs`) with
P(i ≻ j) = σ(u_i − u_j) — the two noise models agree at K = 2. A score θ_i per item is then fitted by maximum
likelihood (plus a ridge (l2/2)·‖θ‖²: l2 = 1 is the N(0, 1) prior the strengths are drawn from, so the fit is the
MAP estimate and an item that never lost stays finite):

    PL on a ranking (π_1 ≻ … ≻ π_K):  −log P = Σ_{k<K} [logsumexp(θ_{π_k}, …, θ_{π_K}) − θ_{π_k}]
    BT on a pair (c ≻ r):             −log P = −log σ(θ_c − θ_r)

(`ranking.plackett_luce_loss`, `ranking.bradley_terry_loss`: the losses the reward models train with), by
L-BFGS on the whole data set. Because the truth u is known, "how well each recovers the known scores and
predicts held-out preferences" is measured directly (`recovery`): Spearman ρ(θ, u), the slope of θ on u (1
when the fitted scale is the true one) and the accuracy on fresh pairs of items.

The four ways of spending N annotation queries compared by `compare_designs`:

- `pl_rankings`     PL on the N K-way rankings (the listwise likelihood);
- `bt_all_pairs`    BT on the N·K(K−1)/2 pairs the rankings imply (InstructGPT's use of K-way rankings) — the
                    same information, but the pairs of one ranking are treated as independent, which they are
                    not: under PL, P(i above j in a K-way ranking) is not σ(u_i − u_j) (Azari Soufiani,
                    Parkes & Xia 2013, "Generalized Method-of-Moments for Rank Aggregation", NeurIPS: breaking a
                    ranking into all its pairs gives an inconsistent estimator);
- `bt_one_pair`     BT on one judged pair per query (what a pairwise annotator gives for the same N queries);
- `bt_pairs_k-1`    BT on N·(K−1) fresh independent pairs: pairs at the price of the rankings, if a ranking of K
                    costs as much as the K − 1 comparisons that insertion needs at least.

>>> theta = fit_item_strengths(torch.tensor([[0, 1, 2]] * 30 + [[1, 0, 2]] * 10), 3, l2=1e-6)
>>> round(float(theta[0] - theta[1]), 3), round(math.log(3), 3)  # item 0 above 1 three times as often
(1.099, 1.099)
"""

from __future__ import annotations

import math

import torch
from scipy import stats

from studyforge.experiments.preference.data import Annotator, Comparisons
from studyforge.experiments.preference.ranking import bradley_terry_loss, plackett_luce_loss

DESIGNS = ("pl_rankings", "bt_all_pairs", "bt_one_pair", "bt_pairs_k-1")


def item_queries(strengths: torch.Tensor, n_queries: int, k: int, generator: torch.Generator) -> Comparisons:
    """n_queries sets of k distinct items drawn uniformly, as a `Comparisons` whose "completions" are item ids
    (N, k, 1) and whose one gold objective, `strength`, is u of each item (N, k, 1) — so week 9's annotators
    label them unchanged."""
    n_items = len(strengths)
    if not 2 <= k <= n_items:
        raise ValueError(f"a query needs 2 ≤ k ≤ {n_items} distinct items, got k = {k}")
    items = torch.rand(n_queries, n_items, generator=generator).argsort(dim=1)[:, :k]  # (N, k) distinct
    return Comparisons(torch.zeros(n_queries, 1, dtype=torch.long), items[..., None], strengths[items][..., None],
                       ["strength"])


def fit_item_strengths(orderings: torch.Tensor, n_items: int, l2: float = 1.0, max_iter: int = 200) -> torch.Tensor:
    """Maximum-likelihood scores θ (n_items,), mean 0, from orderings (N, K) of item ids, best first.

    K = 2 rows are pairs (chosen, rejected) and use the Bradley–Terry loss, K > 2 the Plackett–Luce loss (equal
    at K = 2; both spelled out so the study shows which is which). Objective: the summed negative
    log-likelihood + (l2/2)·‖θ‖², minimised by L-BFGS in float64."""
    orderings = orderings.long()
    theta = torch.zeros(n_items, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")
    n = len(orderings)

    def closure():
        opt.zero_grad()
        scores = theta[orderings]  # (N, K)
        if orderings.shape[1] == 2:
            # −log σ(θ_c − θ_r), summed
            nll = n * bradley_terry_loss(scores[:, 0], scores[:, 1])
        else:
            # Σ_k [logsumexp(θ_{π_k..π_K}) − θ_{π_k}], summed
            nll = n * plackett_luce_loss(scores)
        loss = nll + 0.5 * l2 * theta.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    theta = theta.detach()
    return (theta - theta.mean()).float()


def recovery(theta: torch.Tensor, strengths: torch.Tensor, heldout: torch.Tensor) -> dict[str, float]:
    """How well fitted scores θ match the true strengths u: Spearman ρ over items, the least-squares slope of
    θ on u (1: the true scale; < 1 shrunk, > 1 overconfident), and the share of held-out item pairs (M, 2)
    whose better item (by u) θ ranks higher (ties in θ count half).

    >>> u = torch.tensor([0.0, 1.0, 2.0])
    >>> recovery(2 * u, u, torch.tensor([[0, 1], [2, 1]]))
    {'spearman': 1.0, 'slope': 2.0, 'heldout_accuracy': 1.0}
    """
    uc, tc = strengths - strengths.mean(), theta - theta.mean()
    d_true = strengths[heldout[:, 0]] - strengths[heldout[:, 1]]
    d_fit = theta[heldout[:, 0]] - theta[heldout[:, 1]]
    agree = (d_fit * d_true.sign())[d_true != 0]
    return {"spearman": float(stats.spearmanr(theta.numpy(), strengths.numpy()).statistic),
            # slope = ⟨θ − θ̄, u − ū⟩ / ‖u − ū‖²
            "slope": float((tc @ uc) / (uc @ uc)),
            "heldout_accuracy": float(((agree > 0).float() + 0.5 * (agree == 0).float()).mean())}


def design_orderings(design: str, strengths: torch.Tensor, n_queries: int, k: int, scale: float,
                     generator: torch.Generator) -> torch.Tensor:
    """The labelled data one design gets from n_queries annotation queries: (rows, K) or (rows, 2) item ids,
    best first."""
    annotator = Annotator(weights={"strength": 1.0}, scale=scale)
    if design in ("pl_rankings", "bt_all_pairs"):
        ranking = annotator.rank(item_queries(strengths, n_queries, k, generator), generator)
        if design == "pl_rankings":
            return ranking.completions[..., 0]  # (N, K)
        pairs = ranking.to_pairs()
        return torch.stack([pairs.chosen[:, 0], pairs.rejected[:, 0]], dim=1)  # (N·K(K−1)/2, 2)
    if design in ("bt_one_pair", "bt_pairs_k-1"):
        n_pairs = n_queries if design == "bt_one_pair" else n_queries * (k - 1)
        pairs = annotator.label_pairs(item_queries(strengths, n_pairs, 2, generator), generator)
        return torch.stack([pairs.chosen[:, 0], pairs.rejected[:, 0]], dim=1)  # (N or N(K−1), 2)
    raise ValueError(f"unknown design {design!r}; choose from {', '.join(DESIGNS)}")


def compare_designs(n_items: int, budgets: list[int], k: int, seeds: list[int], scale: float = 1.0,
                    heldout_pairs: int = 4000, l2: float = 1.0) -> list[dict[str, float]]:
    """For each seed (fresh strengths u ~ N(0, 1)) and budget (annotation queries): every design's `recovery`.
    One row per (seed, budget, design)."""
    rows = []
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        strengths = torch.randn(n_items, generator=g)
        heldout = torch.rand(heldout_pairs, n_items, generator=g).argsort(dim=1)[:, :2]
        for budget in budgets:
            for design in DESIGNS:
                data = design_orderings(design, strengths, budget, k, scale, g)
                theta = fit_item_strengths(data, n_items, l2)
                rows.append({"seed": seed, "budget": budget, "design": design, "labelled_rows": len(data),
                             **recovery(theta, strengths, heldout)})
    return rows


def mean_by(rows: list[dict], keys: tuple[str, ...], metrics: tuple[str, ...]) -> list[dict[str, float]]:
    """Mean and standard error of `metrics` over the rows sharing `keys` (e.g. over seeds).

    >>> mean_by([{"d": "a", "x": 1.0}, {"d": "a", "x": 3.0}], ("d",), ("x",))
    [{'d': 'a', 'x': 2.0, 'x_se': 1.0, 'n': 2}]
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, group in groups.items():
        row: dict = dict(zip(keys, key, strict=True))
        for m in metrics:
            vals = torch.tensor([float(g[m]) for g in group], dtype=torch.float64)
            row[m] = float(vals.mean())
            row[f"{m}_se"] = float(vals.std() / math.sqrt(len(vals))) if len(vals) > 1 else 0.0
        row["n"] = len(group)
        out.append(row)
    return out
