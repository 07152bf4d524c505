"""Active preference elicitation: which pairs to send to the annotator next.

Labels cost money; unlabelled pairs are cheap (the model writes them). Pool-based active learning (Settles
2009, "Active Learning Literature Survey", §2–3) spends a labelling budget B in rounds:

    seed:   label `seed_size` pairs of the pool, chosen at random
    repeat: train an ensemble of E reward models on the labelled pairs
            score every unlabelled pair of the pool with the ensemble
            ask the annotator for the `batch_size` pairs an acquisition rule ranks highest
    until B labels have been spent

and after every round measures the ensemble's gold accuracy on held-out pairs (`data.truth_accuracy` of
its mean margin against the gold utility margin), so the result is a curve: gold accuracy against labels
spent, one per rule. Acquisition rules, with p_e = P_e(first ≻ second) = σ(r_e(first) − r_e(second)) the
e-th member's prediction and p̄ their mean:

- `random`        — a uniform sample of the unlabelled pairs (the baseline every rule must beat).
- `disagreement`  — the standard deviation of p_e over members (query by committee, Seung, Opper &
                    Sompolinsky 1992; with ensembles of reward models, Gleave & Irving 2022,
                    arXiv:2203.07472).
- `uncertainty`   — the entropy of the mean prediction H(p̄), H(p) = −p log p − (1 − p) log(1 − p), i.e. the
                    pairs with |p̄ − ½| smallest (uncertainty sampling, Lewis & Gale 1994). It cannot tell
                    "the members agree the pair is a coin flip" (noise no label will remove) from "the
                    members disagree" (ignorance a label removes).
- `bald`          — the mutual information between the label and the model, H(p̄) − mean_e H(p_e)
                    (Houlsby et al. 2011, arXiv:1112.5745, "Bayesian Active Learning by Disagreement"):
                    high when each member is confident but they disagree.

A batch is the top `batch_size` pairs by the rule's score (greedy; ties broken at random), never a pair
already labelled — the `Oracle` that holds the annotator's labels refuses a repeat or a label past the
budget, so the tests can check the loop by its ledger.

**Frozen backbone, small heads** (a documented shortcut, and the realistic one at scale: Gleave & Irving
train ensembles of heads on one shared pretrained model for the same reason). Each completion's features
are computed once by the reference language model, φ(x, y) = mean over the completion's positions t of
h_t(x ⊕ y), the final hidden states `Transformer.features` gives the LM head (mean pooling rather than the
last position that `reward_model.RewardModel` reads: the gold `style` reward is an average over the
completion's characters, which a mean of per-position states carries more directly to a linear head). The
ensemble's members are small heads r_e(φ) — linear, w_e · φ, or one hidden layer w_e · tanh(W_e φ + b_e) —
each trained from its own random initialisation on its own bootstrap resample of the labelled pairs with
the Bradley–Terry loss (`ranking.bradley_terry_loss`). Retraining E heads on a few hundred pairs takes
milliseconds, where fine-tuning E backbones every round (`reward_model.fit_reward_model`) would take
minutes; what is lost is the backbone adapting to the labels. Features are standardised with the pool's
mean and standard deviation (no labels involved), so one learning rate suits every backbone.

Results over several seeds (each seed: its own seed set, initialisations and bootstrap draws, shared by
every rule so the rules are compared on paired runs) are averaged with 95% Student-t intervals
(`tracking.stats.mean_ci`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from pydantic import BaseModel, Field
from torch import nn

from studyforge.experiments.preference.data import PairData, truth_accuracy
from studyforge.experiments.preference.gold import weights_vector
from studyforge.experiments.preference.ranking import bradley_terry_loss
from studyforge.experiments.rl.jobs import single_thread

RULES = ("random", "disagreement", "uncertainty", "bald")


# -------------------------------------------------------------------------------------------------
# Features: one pass of the frozen backbone per completion.


@torch.no_grad()
def pooled_features(model, prompts: torch.Tensor, completions: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """φ(x, y): the mean over the completion's positions of the backbone's final hidden states.

    prompts (N, P), completions (N, C) long -> (N, d) float32 on the CPU. `model` is a week-8 `Transformer`
    (its `features`); each row goes through it once."""
    device = next(model.parameters()).device
    p = prompts.shape[1]
    out = []
    for lo in range(0, len(prompts), batch_size):
        x = torch.cat([prompts[lo:lo + batch_size], completions[lo:lo + batch_size]], dim=1).to(device)
        h, _ = model.features(x)  # (B, P + C, d)
        out.append(h[:, p:].float().mean(1).cpu())  # (B, d): mean over the completion's C positions
    return torch.cat(out) if out else torch.zeros(0, model.config.d_model)


@dataclass
class PairPool:
    """Pairs as features, in the order the annotator saw them: `first`, `second` (N, d); `first_wins` (N,) the
    annotator's label (in a pool: hidden behind an `Oracle` until bought); `gold_margin` (N,) the gold utility
    u(first) − u(second), for evaluation only."""

    first: torch.Tensor
    second: torch.Tensor
    first_wins: torch.Tensor
    gold_margin: torch.Tensor

    def __len__(self) -> int:
        return len(self.first)

    def subset(self, idx: torch.Tensor) -> PairPool:
        return PairPool(self.first[idx], self.second[idx], self.first_wins[idx], self.gold_margin[idx])

    @classmethod
    def from_pairs(cls, pairs: PairData, model, weights: dict[str, float], batch_size: int = 256) -> PairPool:
        """Features of labelled `pairs` by the frozen `model` (`pooled_features`); the gold margin under the
        annotator's `weights`."""
        first, second = pairs.presented()
        w = weights_vector(pairs.objectives, weights)
        sign = torch.where(pairs.chosen_first, 1.0, -1.0)
        # u(first) − u(second) = ±(u(chosen) − u(rejected))
        gold = sign * ((pairs.gold_chosen - pairs.gold_rejected) @ w)
        return cls(pooled_features(model, pairs.prompts, first, batch_size),
                   pooled_features(model, pairs.prompts, second, batch_size), pairs.chosen_first.clone(), gold)

    def standardised(self, mean: torch.Tensor, std: torch.Tensor) -> PairPool:
        """(φ − mean) / std on both sides (`mean`, `std` (d,), usually the pool's own: `feature_stats`)."""
        return PairPool((self.first - mean) / std, (self.second - mean) / std, self.first_wins, self.gold_margin)

    def feature_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation (d,) of every completion's features, both sides (a std of 0 becomes 1)."""
        both = torch.cat([self.first, self.second])
        std = both.std(0)
        return both.mean(0), torch.where(std > 0, std, torch.ones_like(std))


class Oracle:
    """The annotator behind a pool: `query(idx)` reveals those labels, at most `budget` in all and each pair
    once (a repeat or an overspend is a bug in the loop and raises). `queried` is the ledger, in order."""

    def __init__(self, labels: torch.Tensor, budget: int):
        self._labels = labels
        self.budget = budget
        self.queried: list[int] = []
        self._seen: set[int] = set()

    @property
    def spent(self) -> int:
        return len(self.queried)

    def query(self, idx: torch.Tensor) -> torch.Tensor:
        asked = [int(i) for i in idx]
        if len(set(asked)) != len(asked) or self._seen.intersection(asked):
            raise ValueError("a pair was queried twice")
        if self.spent + len(asked) > self.budget:
            raise ValueError(f"{self.spent} + {len(asked)} labels exceed the budget of {self.budget}")
        self.queried.extend(asked)
        self._seen.update(asked)
        return self._labels[idx]


# -------------------------------------------------------------------------------------------------
# The ensemble: E small heads trained together (batched weights, one optimiser).


class HeadConfig(BaseModel):
    """The ensemble of reward heads on frozen features, and how each round trains it."""

    members: int = Field(5, ge=2, description="heads in the ensemble (disagreement needs two or more)")
    hidden: int = Field(0, ge=0, description="0: linear heads w·φ; > 0: one tanh hidden layer of this width")
    steps: int = Field(150, ge=1, description="full-batch Adam steps per round (from a fresh initialisation)")
    lr: float = Field(0.05, gt=0, description="Adam learning rate")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay")
    bootstrap: bool = Field(True, description="each head trains on its own resample (with replacement)")


class HeadEnsemble(nn.Module):
    """E reward heads r_e: (N, d) features -> (E, N) rewards. Weights are stacked (E, …) so every member trains
    in one batched matrix product; each member's initialisation is its own draw from `generator`."""

    def __init__(self, d: int, members: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.hidden = hidden

        def draw(*shape: int, fan_in: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape, generator=generator) / math.sqrt(fan_in))

        if hidden:
            self.w1 = draw(members, d, hidden, fan_in=d)  # (E, d, h)
            self.b1 = nn.Parameter(torch.zeros(members, 1, hidden))
            self.w2 = draw(members, hidden, 1, fan_in=hidden)  # (E, h, 1)
        else:
            self.w = draw(members, d, 1, fan_in=d)  # (E, d, 1)

    def rewards(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, d) -> (E, N), every member on the same rows; or x (E, n, d) -> (E, n), member e on its own rows
        x[e]. (No bias: a reward's offset cancels in every comparison.)"""
        if self.hidden:
            # r_e = w2_e · tanh(W1_e φ + b1_e): (E, N, h) -> (E, N, 1)
            return (torch.tanh(x @ self.w1 + self.b1) @ self.w2).squeeze(-1)
        return (x @ self.w).squeeze(-1)  # (E, N, 1) -> (E, N)

    def margins(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """r_e(first) − r_e(second): (E, N)."""
        return self.rewards(first) - self.rewards(second)

    def probs(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """P_e(first ≻ second) = σ(r_e(first) − r_e(second)): (E, N)."""
        return torch.sigmoid(self.margins(first, second))


def fit_heads(pool: PairPool, labels: torch.Tensor, cfg: HeadConfig, generator: torch.Generator) -> HeadEnsemble:
    """A fresh `HeadEnsemble` trained on `pool` (its rows all labelled) with `labels` (N,) = first wins.

    Member e minimises the Bradley–Terry loss −log σ(r_e(chosen) − r_e(rejected)) on its bootstrap resample
    (`cfg.bootstrap`) of the n pairs; all E losses are one mean over (E, n), so each member's gradient is its
    own loss's (÷ E, which Adam's normalisation removes)."""
    # one torch thread: the heads' tensors are tiny (E × n × d of a few thousand numbers), and on a busy 2-core
    # machine the waiting threads made a round 24× slower in CPU time (1.23 s against 0.05 s, measured)
    with single_thread():
        return _fit_heads(pool, labels, cfg, generator)


def _fit_heads(pool: PairPool, labels: torch.Tensor, cfg: HeadConfig, generator: torch.Generator) -> HeadEnsemble:
    n, d = pool.first.shape
    heads = HeadEnsemble(d, cfg.members, cfg.hidden, generator)
    if cfg.bootstrap:
        rows = torch.randint(0, n, (cfg.members, n), generator=generator)  # (E, n) each member's resample
    else:
        rows = torch.arange(n).expand(cfg.members, n)
    first, second = pool.first[rows], pool.second[rows]  # (E, n, d)
    wins = labels[rows]  # (E, n)
    opt = torch.optim.AdamW(heads.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.steps):
        # batched over members: (E, n, d) @ (E, d, ·)
        r1, r2 = heads.rewards(first), heads.rewards(second)  # (E, n): member e scores its own rows
        chosen, rejected = torch.where(wins, r1, r2), torch.where(wins, r2, r1)
        loss = bradley_terry_loss(chosen.flatten(), rejected.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return heads.requires_grad_(False)


# -------------------------------------------------------------------------------------------------
# Acquisition.


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """H(p) = −p log p − (1 − p) log(1 − p) in nats, 0 at p ∈ {0, 1}.

    >>> [round(v, 4) for v in binary_entropy(torch.tensor([0.5, 0.0, 0.9])).tolist()]
    [0.6931, 0.0, 0.3251]
    """
    q = 1.0 - p
    return -(torch.xlogy(p, p) + torch.xlogy(q, q)) + 0.0  # + 0.0: −0.0 at the ends becomes 0.0


def acquisition_scores(rule: str, probs: torch.Tensor) -> torch.Tensor:
    """How much each pair is worth labelling under `rule`, higher first: probs (E, N) -> (N,).

    >>> probs = torch.tensor([[0.5, 0.9, 0.1], [0.5, 0.9, 0.9]])  # agree on ½; agree on 0.9; disagree
    >>> [round(v, 3) for v in acquisition_scores("disagreement", probs).tolist()]
    [0.0, 0.0, 0.4]
    >>> [round(v, 3) for v in acquisition_scores("uncertainty", probs).tolist()]
    [0.693, 0.325, 0.693]
    >>> [round(v, 3) for v in acquisition_scores("bald", probs).tolist()]
    [0.0, 0.0, 0.368]
    """
    if rule == "disagreement":
        return probs.std(0, correction=0)  # std_e p_e
    if rule == "uncertainty":
        return binary_entropy(probs.mean(0))  # H(p̄)
    if rule == "bald":
        return binary_entropy(probs.mean(0)) - binary_entropy(probs).mean(0)  # H(p̄) − mean_e H(p_e)
    if rule == "random":
        return torch.zeros(probs.shape[-1])
    raise ValueError(f"unknown acquisition rule {rule!r}; choose from {', '.join(RULES)}")


def acquire(rule: str, probs: torch.Tensor | None, unlabelled: torch.Tensor, k: int,
            generator: torch.Generator) -> torch.Tensor:
    """The indices (k,) of the next batch: the k unlabelled pairs with the highest `acquisition_scores`,
    ties (and `random`, where all scores tie) broken by a uniform shuffle. `unlabelled` (N,) bool."""
    candidates = unlabelled.nonzero().squeeze(1)
    shuffled = candidates[torch.randperm(len(candidates), generator=generator)]
    if rule == "random":
        return shuffled[:k]
    scores = acquisition_scores(rule, probs[:, shuffled])
    return shuffled[scores.argsort(descending=True, stable=True)[:k]]


# -------------------------------------------------------------------------------------------------
# The loop.


class ElicitationConfig(BaseModel):
    """One elicitation run: the labelling budget and how it is spent."""

    seed_size: int = Field(16, ge=2, description="pairs labelled at random before the first round")
    batch_size: int = Field(16, ge=1, description="pairs acquired per round")
    budget: int = Field(128, ge=2, description="labels in all, the seed set included")
    heads: HeadConfig = Field(default_factory=HeadConfig)


@dataclass
class ElicitationRun:
    """One rule, one seed: `curve` rows {labels, gold_accuracy, label_accuracy} after each round's training,
    the oracle's ledger `queried` (in order)."""

    rule: str
    curve: list[dict[str, float]] = field(default_factory=list)
    queried: list[int] = field(default_factory=list)


def evaluate_heads(heads: HeadEnsemble, heldout: PairPool) -> dict[str, float]:
    """Gold and label accuracy on held-out pairs of the ensemble's mean margin r̄(first) − r̄(second)."""
    margin = heads.margins(heldout.first, heldout.second).mean(0)
    label_sign = torch.where(heldout.first_wins, 1.0, -1.0)
    return {"gold_accuracy": truth_accuracy(margin, heldout.gold_margin),
            "label_accuracy": truth_accuracy(margin, label_sign)}


def run_elicitation(pool: PairPool, heldout: PairPool, rule: str, cfg: ElicitationConfig, seed: int,
                    on_round: Callable[[dict[str, float]], None] | None = None) -> ElicitationRun:
    """Spend `cfg.budget` labels on `pool` by `rule` (see the module docstring); evaluate on `heldout` after
    every round. Given the same `seed`, every rule gets the same seed set and the same initialisations and
    bootstrap draws round by round, so rules differ only in what they ask for."""
    if rule not in RULES:
        raise ValueError(f"unknown acquisition rule {rule!r}; choose from {', '.join(RULES)}")
    budget = min(cfg.budget, len(pool))
    oracle = Oracle(pool.first_wins, budget)
    labels = torch.zeros(len(pool), dtype=torch.bool)
    labelled = torch.zeros(len(pool), dtype=torch.bool)
    seed_idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:min(cfg.seed_size, budget)]
    labels[seed_idx] = oracle.query(seed_idx)
    labelled[seed_idx] = True
    picker = torch.Generator().manual_seed(seed + 1)
    run = ElicitationRun(rule)
    for round_ in range(len(pool) + 1):
        train = labelled.nonzero().squeeze(1)
        heads = fit_heads(pool.subset(train), labels[train], cfg.heads,
                          torch.Generator().manual_seed(seed * 7919 + round_))
        row = {"labels": float(oracle.spent), **evaluate_heads(heads, heldout)}
        run.curve.append(row)
        if on_round is not None:
            on_round(row)
        k = min(cfg.batch_size, budget - oracle.spent, int((~labelled).sum()))
        if k <= 0:
            break
        probs = None if rule == "random" else heads.probs(pool.first, pool.second)
        idx = acquire(rule, probs, ~labelled, k, picker)
        labels[idx] = oracle.query(idx)
        labelled[idx] = True
    run.queried = list(oracle.queried)
    return run


def compare_rules(pool: PairPool, heldout: PairPool, rules: Sequence[str], cfg: ElicitationConfig,
                  seeds: Sequence[int], on_round: Callable[[str, int, dict[str, float]], None] | None = None
                  ) -> dict[str, dict]:
    """Every rule on every seed: {rule: {"labels": [n₀, n₁, …], "mean": […], "ci95": […], "per_seed": [[…]]}},
    gold accuracy per budget averaged over seeds with Student-t 95% half-widths (None with one seed)."""
    from studyforge.tracking.stats import mean_ci

    out = {}
    for rule in rules:
        runs = []
        for s in seeds:
            def report(row, rule=rule, s=s):
                if on_round is not None:
                    on_round(rule, s, row)
            runs.append(run_elicitation(pool, heldout, rule, cfg, s, report))
        labels = [r["labels"] for r in runs[0].curve]
        per_seed = [[r["gold_accuracy"] for r in run.curve] for run in runs]
        stats = [mean_ci([acc[i] for acc in per_seed]) for i in range(len(labels))]
        out[rule] = {"labels": [int(n) for n in labels], "mean": [st["mean"] for st in stats],
                     "ci95": [st["ci95"] for st in stats], "per_seed": per_seed}
    return out


def area_under_curve(labels: Sequence[float], accuracy: Sequence[float]) -> float:
    """The mean accuracy over the budget (trapezoid area ÷ budget span): one number per curve.

    >>> area_under_curve([0, 10, 20], [0.5, 0.7, 0.9])
    0.7
    """
    if len(labels) < 2:
        return float(accuracy[0]) if accuracy else math.nan
    area = sum((labels[i + 1] - labels[i]) * (accuracy[i] + accuracy[i + 1]) / 2 for i in range(len(labels) - 1))
    return round(area / (labels[-1] - labels[0]), 12)
