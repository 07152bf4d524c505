"""A small Chatbot Arena: language models battle on shared prompts, a judge with a known gold reward decides.

Chatbot Arena (Chiang et al. 2024, arXiv:2403.04132) shows a user two anonymous models' answers to the same
prompt and records `(model_a, model_b, winner)`; ratings come from all battles — Elo online in battle order
(`ranking.elo_ratings`), or Bradley–Terry by maximum likelihood (`ranking.bradley_terry_ratings`). Here the
contestants are week-8 checkpoints whose quality we know, so a rating can be checked against the truth:

1. `sample_entries`: each model writes one completion per prompt (the same prompts for all).
2. `judge_battles`: every pair of models meets on every prompt; the judge prefers model a's completion with
   probability σ(s · (u_a − u_b)), u a gold reward of the completion (`gold.GoldRewards`) — a Bradley–Terry
   judge like week 9's annotators; equal gold is a "tie". Sides (which model is `model_a`) and the order of
   the battles are shuffled, as battles arrive on the Arena.
3. `elo_order_spread`: Elo depends on the battle order (recent games weigh more); replaying the same battles in
   shuffled orders shows by how much. BT-MLE is order-free by construction.
4. `rank_correlation`: Spearman's ρ (and Kendall's τ) between ratings and each model's mean gold reward.
"""

from __future__ import annotations

import itertools
import statistics

import torch
from scipy import stats

from studyforge.experiments.preference.ranking import elo_ratings
from studyforge.experiments.preference_optimization.pairs import bradley_terry_choice, sample_completions


@torch.no_grad()
def sample_entries(models: dict[str, torch.nn.Module], prompts: torch.Tensor, completion_len: int,
                   generator: torch.Generator, temperature: float = 1.0) -> dict[str, torch.Tensor]:
    """One completion per prompt from each model: {name: (N, C)} (week 4's `sample_completions`, k = 1)."""
    return {name: sample_completions(model, prompts, 1, completion_len, generator, temperature=temperature)[:, 0].cpu()
            for name, model in models.items()}


def judge_battles(utility: dict[str, torch.Tensor], scale: float, generator: torch.Generator) -> list[tuple[str, str, str]]:
    """Round-robin battles on every prompt, judged by gold utility: `utility` {model: (N,)} (the gold reward of
    each model's completion of prompt i) -> battles `(model_a, model_b, winner)` in a shuffled order.

    For each prompt and each pair of models the sides are drawn at random; the winner is `model_a` with
    probability σ(scale · (u_a − u_b)) (scale = inf: always the higher utility), `tie` when u_a = u_b.

    >>> g = torch.Generator().manual_seed(0)
    >>> sorted(judge_battles({"x": torch.tensor([0.9, 0.5]), "y": torch.tensor([0.1, 0.5])}, float("inf"), g))  # x better, then equal
    [('x', 'y', 'tie'), ('y', 'x', 'model_b')]
    """
    names = list(utility)
    n = len(next(iter(utility.values())))
    a_idx, b_idx, prompt_idx = [], [], []
    for i, j in itertools.combinations(range(len(names)), 2):
        a_idx += [i] * n
        b_idx += [j] * n
        prompt_idx += list(range(n))
    a_idx, b_idx, prompt_idx = torch.tensor(a_idx), torch.tensor(b_idx), torch.tensor(prompt_idx)
    swap = torch.rand(len(a_idx), generator=generator) < 0.5  # which model sits on side a
    a_idx, b_idx = torch.where(swap, b_idx, a_idx), torch.where(swap, a_idx, b_idx)
    u = torch.stack([utility[name].float().cpu() for name in names])  # (M, N)
    u_a, u_b = u[a_idx, prompt_idx], u[b_idx, prompt_idx]
    # P(a wins) = σ(s (u_a − u_b))
    a_wins = bradley_terry_choice(u_a, u_b, scale, generator)
    winner = ["tie" if tie else ("model_a" if win else "model_b")
              for tie, win in zip((u_a == u_b).tolist(), a_wins.tolist(), strict=True)]
    order = torch.randperm(len(winner), generator=generator).tolist()
    return [(names[int(a_idx[k])], names[int(b_idx[k])], winner[k]) for k in order]


def elo_order_spread(battles: list, n_orders: int, seed: int, **elo_kw) -> dict[str, dict[str, float]]:
    """Elo of the same battles replayed in `n_orders` random orders: per model the mean, standard deviation,
    min and max rating, and the share of orders in which the model has its modal rank.

    >>> spread = elo_order_spread([("a", "b", "model_a")] * 5, 3, seed=0)  # one kind of battle: order-free
    >>> round(spread["a"]["std"], 9), spread["a"]["min"] == spread["a"]["max"]
    (0.0, True)
    """
    g = torch.Generator().manual_seed(seed)
    runs = []
    for _ in range(n_orders):
        order = torch.randperm(len(battles), generator=g).tolist()
        runs.append(elo_ratings([battles[i] for i in order], **elo_kw))
    models = sorted(runs[0])
    ranks = [{m: r for r, m in enumerate(sorted(models, key=run.__getitem__, reverse=True))} for run in runs]
    out = {}
    for m in models:
        values = [run[m] for run in runs]
        modal = statistics.mode(rank[m] for rank in ranks)
        out[m] = {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "min": min(values),
                  "max": max(values), "modal_rank_share": sum(rank[m] == modal for rank in ranks) / n_orders}
    return out


def rank_correlation(ratings: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    """Spearman's ρ and Kendall's τ between two scores of the same models (their common keys).

    >>> rank_correlation({"a": 1200.0, "b": 1000.0, "c": 900.0}, {"a": 0.9, "b": 0.5, "c": 0.1})
    {'spearman': 1.0, 'kendall': 1.0}
    """
    names = sorted(set(ratings) & set(truth))
    if len(names) < 2:
        raise ValueError("a rank correlation needs at least two models scored both ways")
    x, y = [ratings[n] for n in names], [truth[n] for n in names]
    return {"spearman": float(stats.spearmanr(x, y).statistic), "kendall": float(stats.kendalltau(x, y).statistic)}
