"""Ranking models of preference: Bradley–Terry and Plackett–Luce losses, Elo and Bradley–Terry ratings.

All of them say the same thing at different scales: an item i has a latent strength s_i, and the chance
that it beats j depends only on s_i − s_j through the logistic function.

- **Bradley–Terry** (Bradley & Terry 1952, "Rank Analysis of Incomplete Block Designs"):
      P(i ≻ j) = σ(s_i − s_j) = e^{s_i} / (e^{s_i} + e^{s_j}).
  A reward model r(x, y) is trained as a BT model on (chosen, rejected) pairs (Ouyang et al. 2022,
  arXiv:2203.02155, eq. 1): L = −log σ(r_c − r_r). Llama 2's reward model subtracts a margin m that grows
  with how strongly the annotator preferred (Touvron et al. 2023, arXiv:2307.09288, eq. 2):
  L = −log σ(r_c − r_r − m). The rewards are only defined up to a shift, so TRL's `RewardTrainer` adds
  `center_rewards_coefficient`·mean((r_c + r_r)²), pulling the rewards towards mean zero (Eisenstein et al.
  2023, arXiv:2312.09244). With labels flipped at rate ε the "conservative" loss is
  −(1 − ε) log σ(d) − ε log σ(−d) (the same smoothing as DPO's, `preference_optimization/losses.py`).
- **Plackett–Luce** (Luce 1959; Plackett 1975): a ranking y_1 ≻ y_2 ≻ … ≻ y_K is drawn by picking the best
  item with probability softmax(s) over all K, then the next among those left, and so on:
      P(y_1 ≻ … ≻ y_K) = Π_{k=1}^{K−1} e^{s_k} / Σ_{j≥k} e^{s_j}
      −log P = Σ_{k=1}^{K−1} [logsumexp(s_k, …, s_K) − s_k].
  With K = 2 it is Bradley–Terry: logsumexp(s_1, s_2) − s_1 = −log σ(s_1 − s_2). InstructGPT trains on all
  (K choose 2) pairs of a K-way ranking instead; PL uses the ranking as one listwise likelihood (Zhu, Jordan &
  Jiao 2023, arXiv:2301.11270, analyse both).
- **Elo** (Elo 1978): an online update of ratings on a logarithmic scale, with the expected score
      E_a = 1 / (1 + base^((R_b − R_a)/scale)),   R_a += k (S_a − E_a),   R_b += k ((1 − S_a) − (1 − E_a)),
  S_a = 1, ½, 0 for a win, tie, loss. E_a is BT with s = R · ln(base)/scale. The final ratings depend on the
  order of the games (the recent ones weigh more), which suits players who change, not frozen models.
- **Bradley–Terry ratings by maximum likelihood** (what Chatbot Arena reports since Dec 2023: Chiang et al.
  2024, arXiv:2403.04132, §5): fit s to all battles at once — the same logistic model as Elo, without the
  order. As in LMSYS's notebook a tie counts as half a win for each side, and ratings are reported as
  R = initial + scale · s / ln(base). Percentile bootstrap over battles gives the confidence intervals.

Battles use Chatbot Arena's format, so its public logs load as they are: `(model_a, model_b, winner)` tuples
or mappings with those keys, winner one of "model_a", "model_b", "tie" or "tie (bothbad)".

>>> import torch
>>> round(float(bradley_terry_loss(torch.tensor([1.0]), torch.tensor([1.0]))), 6)  # −log σ(0) = log 2
0.693147
>>> round(float(plackett_luce_loss(torch.tensor([[2.0, 0.0]]))), 6)  # K = 2: −log σ(2)
0.126928
>>> elo_ratings([("a", "b", "model_a")], k=32)
{'a': 1016.0, 'b': 984.0}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

WINNERS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
"""Chatbot Arena's winner strings and the score S_a each one gives model_a."""


# -- losses (tensors in, mean loss out) ----------------------------------------------------------------------


def bradley_terry_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor,
                       margin: float | torch.Tensor | None = None, center_coef: float | None = None,
                       label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean Bradley–Terry loss of a reward model on (B,) chosen and rejected rewards.

    −(1 − ε) log σ(d) − ε log σ(−d) with d = r_c − r_r − margin (ε = `label_smoothing`, 0 by default),
    plus `center_coef` · mean((r_c + r_r)²) when given. `margin` is a float or a (B,) tensor.
    `F.logsigmoid` keeps it finite and its gradient exact for rewards of ±1e4.

    >>> rc, rr = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.5])
    >>> round(float(bradley_terry_loss(rc, rr)), 4)  # (−log σ(1) − log σ(−0.5)) / 2 = (0.3133 + 0.9741) / 2
    0.6437
    >>> round(float(bradley_terry_loss(rc, rr, center_coef=0.01)), 4)  # + 0.01 · (1² + 0.5²) / 2
    0.6499
    """
    # d = r_c − r_r − m: (B,)
    d = chosen_rewards - rejected_rewards
    if margin is not None:
        d = d - margin
    # −(1 − ε) log σ(d) − ε log σ(−d)
    losses = -(1.0 - label_smoothing) * F.logsigmoid(d)
    if label_smoothing:
        losses = losses - label_smoothing * F.logsigmoid(-d)
    loss = losses.mean()
    if center_coef is not None:
        # + c · mean((r_c + r_r)²): the rewards' shift is free, this term fixes it near zero
        loss = loss + center_coef * ((chosen_rewards + rejected_rewards) ** 2).mean()
    return loss


def plackett_luce_loss(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean Plackett–Luce negative log-likelihood of (B, K) scores, each row ordered best first.

    Row loss Σ_{k=1}^{K−1} [logsumexp(s_k, …, s_K) − s_k]; the suffix log-sum-exps are one reversed
    `logcumsumexp`. `mask` (B, K) bool marks the items present in rows with fewer than K (the others drop
    out of every sum, and the order of the present ones is kept); a row with under two items adds 0 to the
    batch mean.

    >>> round(float(plackett_luce_loss(torch.tensor([[2.0, 1.0, 0.0]]))), 4)  # (log(e²+e+1) − 2) + (log(e+1) − 1)
    0.7209
    """
    if scores.dim() != 2:
        raise ValueError(f"plackett_luce_loss wants scores of shape (B, K), got {tuple(scores.shape)}")
    if mask is not None:
        # an absent item gets the most negative finite score: e^{s} = 0 in every sum, gradients stay finite
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    # suffix[:, k] = logsumexp(s_k, …, s_K): (B, K)
    suffix = torch.logcumsumexp(scores.flip(-1), dim=-1).flip(-1)
    # the k = K term is logsumexp(s_K) − s_K = 0, so only k < K count: (B, K − 1)
    terms = suffix[:, :-1] - scores[:, :-1]
    if mask is not None:
        terms = torch.where(mask[:, :-1], terms, torch.zeros_like(terms))
    return terms.sum(-1).mean()


# -- ratings from battles ------------------------------------------------------------------------------------


def predicted_win_probability(r_a, r_b, scale: float = 400.0, base: float = 10.0):
    """P(a beats b) = 1 / (1 + base^((R_b − R_a)/scale)) for ratings on the Elo scale (floats, arrays or
    tensors). 400 points at base 10 is odds of 10 : 1.

    >>> predicted_win_probability(1400.0, 1000.0)
    0.9090909090909091
    """
    return 1.0 / (1.0 + base ** ((r_b - r_a) / scale))


def _battle(battle) -> tuple[str, str, float]:
    """(model_a, model_b, S_a) from a tuple or an Arena record; an unknown winner is a ValueError."""
    if isinstance(battle, Mapping):
        model_a, model_b, winner = battle["model_a"], battle["model_b"], battle["winner"]
    else:
        model_a, model_b, winner = battle
    if winner not in WINNERS:
        raise ValueError(f"unknown battle winner {winner!r} ({model_a} vs {model_b}); "
                         f"expected one of {', '.join(map(repr, WINNERS))}")
    return str(model_a), str(model_b), WINNERS[winner]


def elo_ratings(battles: Iterable, k: float = 4.0, scale: float = 400.0, base: float = 10.0,
                initial: float = 1000.0) -> dict[str, float]:
    """Online Elo ratings after playing `battles` in the order given; every model starts at `initial`.

    k = 4 is Chatbot Arena's choice (small, so late battles do not swing the ratings much); chess uses 16–32.

    >>> elo_ratings([("a", "b", "model_a"), ("a", "b", "tie")], k=32)  # a 1016 → 1016 + 32 (½ − 0.5459)
    {'a': 1014.5304984710245, 'b': 985.4695015289755}
    """
    ratings: dict[str, float] = {}
    for battle in battles:
        a, b, s_a = _battle(battle)
        r_a, r_b = ratings.setdefault(a, initial), ratings.setdefault(b, initial)
        # E_a = 1 / (1 + base^((R_b − R_a)/scale)); E_b = 1 − E_a
        e_a = predicted_win_probability(r_a, r_b, scale, base)
        # R_a += k (S_a − E_a),  R_b += k ((1 − S_a) − (1 − E_a))
        ratings[a] = r_a + k * (s_a - e_a)
        ratings[b] = r_b + k * ((1.0 - s_a) - (1.0 - e_a))
    return ratings


@dataclass(frozen=True)
class Ratings:
    """Bradley–Terry ratings on the Elo scale, with percentile-bootstrap intervals when asked for.

    `lower`/`upper` are None without bootstrap. `n_battles` counts the battles fitted (self-battles, which
    carry no information, excluded).
    """

    ratings: dict[str, float]
    lower: dict[str, float] | None
    upper: dict[str, float] | None
    n_battles: int
    bootstrap: int = 0
    scale: float = 400.0
    base: float = 10.0

    def ranked(self) -> list[str]:
        """Model names, best first."""
        return sorted(self.ratings, key=self.ratings.__getitem__, reverse=True)

    def win_probability(self, model_a: str, model_b: str) -> float:
        """P(model_a beats model_b) under the fitted model."""
        return predicted_win_probability(self.ratings[model_a], self.ratings[model_b], self.scale, self.base)


def _aggregate(battles: Iterable) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Battles as (models, outcomes, counts): each distinct (i, j, S_a) once — i, j indices of model_a and
    model_b — with how often it occurred; self-battles dropped.

    >>> models, outcomes, counts = _aggregate([("x", "y", "model_a"), ("x", "y", "model_a"), ("y", "x", "tie")])
    >>> models, outcomes.tolist(), counts.tolist()
    (['x', 'y'], [[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]], [2.0, 1.0])
    """
    index: dict[str, int] = {}
    counts: dict[tuple[int, int, float], int] = {}
    for battle in battles:
        a, b, s_a = _battle(battle)
        if a == b:
            continue
        key = (index.setdefault(a, len(index)), index.setdefault(b, len(index)), s_a)
        counts[key] = counts.get(key, 0) + 1
    outcomes = np.asarray(list(counts), dtype=np.float64).reshape(-1, 3)  # (U, 3): i, j, S_a
    return list(index), outcomes, np.asarray(list(counts.values()), dtype=np.float64)


def _win_matrix(n_models: int, outcomes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """W[a, b] = (weighted) wins of a over b, a tie giving ½ to each side: (M, M)."""
    i, j, s = outcomes[:, 0].astype(np.int64), outcomes[:, 1].astype(np.int64), outcomes[:, 2]
    wins = np.zeros((n_models, n_models))
    np.add.at(wins, (i, j), weights * s)
    np.add.at(wins, (j, i), weights * (1.0 - s))
    return wins


def _fit_strengths(wins: np.ndarray, l2: float, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Maximum-likelihood BT strengths θ (natural-log units, mean 0) from a win matrix, by Newton's method.

    Maximises ℓ(θ) = Σ_{a,b} W_ab log σ(θ_a − θ_b) − (λ/2)‖θ‖² (a concave function). With
    n_ab = W_ab + W_ba and p_ab = σ(θ_a − θ_b):
        ∇ℓ_a  = Σ_b (W_ab − n_ab p_ab) − λ θ_a
        −∇²ℓ  = L + λ I,  L the graph Laplacian with edge weights n_ab p_ab (1 − p_ab)
    The likelihood alone is unchanged by adding a constant to every θ; the penalty λ picks the mean-zero
    solution (Σ_a ∇ℓ_a = −λ Σ_a θ_a at the optimum) and keeps a model that never lost at a finite rating.
    """
    n_models = wins.shape[0]
    games = wins + wins.T

    def objective(theta: np.ndarray) -> float:
        diff = theta[:, None] - theta[None, :]
        # log σ(x) = −log(1 + e^{−x}), stable for large |x|
        return float((wins * -np.logaddexp(0.0, -diff)).sum() - 0.5 * l2 * theta @ theta)

    theta = np.zeros(n_models)
    value = objective(theta)
    for _ in range(max_iter):
        diff = theta[:, None] - theta[None, :]
        p = 0.5 * (1.0 + np.tanh(0.5 * diff))  # σ(θ_a − θ_b), without overflow
        # ∇ℓ_a = Σ_b (W_ab − n_ab p_ab) − λ θ_a: (M,)
        grad = (wins - games * p).sum(axis=1) - l2 * theta
        # −∇²ℓ = L + λ I, edge weights n_ab p_ab (1 − p_ab): (M, M)
        weight = games * p * (1.0 - p)
        hessian = np.diag(weight.sum(axis=1)) - weight + l2 * np.eye(n_models)
        # Newton step; least squares gives the minimum-norm step when λ = 0 leaves the shift free (−∇²ℓ · 1 = 0)
        step = np.linalg.lstsq(hessian, grad, rcond=None)[0]
        # backtracking: take the Newton step, halve it until ℓ does not decrease
        t = 1.0
        while t > 1e-12:
            candidate = theta + t * step
            candidate_value = objective(candidate)
            if candidate_value >= value - 1e-12 * abs(value):
                break
            t *= 0.5
        theta, value = candidate, candidate_value
        if np.max(np.abs(t * step)) < tol:
            break
    return theta - theta.mean()


def bradley_terry_ratings(battles: Iterable, scale: float = 400.0, base: float = 10.0, initial: float = 1000.0,
                          bootstrap: int = 0, seed: int = 0, anchor: tuple[str, float] | None = None,
                          l2: float = 1e-6, confidence: float = 0.95) -> Ratings:
    """Maximum-likelihood Bradley–Terry ratings of the models in `battles`, on the Elo scale.

    The model is Elo's — P(a ≻ b) = 1 / (1 + base^((R_b − R_a)/scale)) — fitted to all battles at once, so the
    order of the battles does not matter. Like LMSYS's `compute_mle_elo` (logistic regression on rows with
    +ln(base) for model_a and −ln(base) for model_b), a tie counts as half a win for each side.

    Gauge: the likelihood fixes only differences, so the ratings are reported with mean `initial` (the
    solution LMSYS's unpenalised regression converges to from zero), or shifted so that `anchor` =
    (model, rating) holds (Arena pinned mixtral-8x7b-instruct-v0.1 at 1114). The tiny ridge `l2` (λ/2 ‖θ‖² in
    natural-log strength units, added to the negative log-likelihood *summed* over battles) keeps the fit
    finite when the data separate (a model that never lost) and settles models in disconnected groups
    around the same mean; with any real overlap it moves ratings by far less than a point.

    `bootstrap=N` refits on N resamples of the battles (with replacement, as many as there are, seeded) and
    reports per-model percentile intervals at `confidence`; the point ratings are always the fit to all data.
    (A model that a resample happens to leave without battles sits at the mean there, as the ridge puts it.)

    >>> r = bradley_terry_ratings([("a", "b", "model_a")] * 3 + [("a", "b", "model_b")])
    >>> round(r.ratings["a"] - r.ratings["b"], 2)  # σ(Δ) = 3/4 → Δ = 400 log₁₀ 3
    190.85
    """
    models, outcomes, counts = _aggregate(battles)
    if not models:
        raise ValueError("bradley_terry_ratings needs at least one battle between two different models")
    to_rating = scale / math.log(base)  # R = initial + scale · θ / ln(base)

    def fit(weights: np.ndarray) -> np.ndarray:
        ratings = initial + to_rating * _fit_strengths(_win_matrix(len(models), outcomes, weights), l2)
        if anchor is not None:
            name, value = anchor
            if name not in models:
                raise ValueError(f"anchor model {name!r} is in no battle")
            ratings = ratings + (value - ratings[models.index(name)])
        return ratings

    n_battles = int(counts.sum())
    point = fit(counts)
    lower = upper = None
    if bootstrap:
        # n battles drawn with replacement = multinomial counts over the distinct outcomes, p = count / n
        rng = np.random.default_rng(seed)
        samples = np.stack([fit(rng.multinomial(n_battles, counts / n_battles).astype(np.float64))
                            for _ in range(bootstrap)])  # (N, M)
        alpha = (1.0 - confidence) / 2.0
        lo, hi = np.quantile(samples, [alpha, 1.0 - alpha], axis=0)
        lower = dict(zip(models, lo.tolist(), strict=True))
        upper = dict(zip(models, hi.tolist(), strict=True))
    return Ratings(dict(zip(models, point.tolist(), strict=True)), lower, upper, n_battles=n_battles,
                   bootstrap=bootstrap, scale=scale, base=base)
