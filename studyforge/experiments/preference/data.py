"""Preference data with a known truth: K completions per prompt from a week-8 model, gold rewards, annotators.

The pipeline every week-9 study draws from (and weeks 10–12 after it):

1. `sample_comparisons(model, tokenizer, prompts, k, ...)`: the model (week 8's transformer, usually the
   SFT/reference model) writes k completions per prompt (week 4's `sample_completions`); each is scored by
   every gold reward (`gold.GoldRewards`) → a `Comparisons` of prompts (N, P), completions (N, K, C) and gold
   (N, K, M).
2. An `Annotator` turns them into labels. Its utility is u = Σ_m w_m · gold_m. Two noise models, as in the
   literature:
   - pairwise (Bradley–Terry): P(y₁ ≻ y₂) = σ(s · (u₁ − u₂)); `scale` s = ∞ is a noiseless annotator. On top,
     `flip_rate` ρ flips each label with probability ρ — "injected" noise whose rate we know exactly (the
     dataset-quality toolkit must recover it; the robustness study trains through it).
   - listwise (Plackett–Luce): an ordering best-first drawn with probability
     Π_k exp(s·u_(k)) / Σ_{j ≥ k} exp(s·u_(j)) — sampled exactly by the Gumbel-max trick: sort s·u + Gumbel
     noise in descending order (Yellott 1977). With K = 2 it is the Bradley–Terry annotator.
3. `PairData` / `RankingData`: token tensors plus the gold of every completion and which labels were flipped,
   so accuracy "against the labels" and "against the truth" are both one line.

A tie in gold utility (both completions equally good) counts as neither right nor wrong: truth accuracies
are over decided pairs only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

import torch

from studyforge.experiments.preference.gold import GoldRewards, weights_vector
from studyforge.experiments.preference_optimization.pairs import bradley_terry_choice, sample_completions


@dataclass
class Comparisons:
    """K sampled completions per prompt and their gold rewards (nothing labelled yet)."""

    prompts: torch.Tensor  # (N, P) long
    completions: torch.Tensor  # (N, K, C) long
    gold: torch.Tensor  # (N, K, M) float: gold[i, k, m] = objective m of completion k of prompt i
    objectives: list[str]
    texts: list[list[str]] = field(default_factory=list)  # decoded completions, (N, K)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def k(self) -> int:
        return self.completions.shape[1]

    def subset(self, idx: torch.Tensor | slice) -> Comparisons:
        rows = range(len(self))[idx] if isinstance(idx, slice) else idx.tolist()
        return Comparisons(self.prompts[idx], self.completions[idx], self.gold[idx], self.objectives,
                           [self.texts[i] for i in rows] if self.texts else [])


@torch.no_grad()
def sample_comparisons(model, tokenizer, prompts: torch.Tensor, k: int, completion_len: int, gold: GoldRewards,
                       generator: torch.Generator, batch_size: int = 256, temperature: float = 1.0) -> Comparisons:
    """k completions per prompt from `model` (temperature sampling), each scored by every gold reward."""
    ys = sample_completions(model, prompts, k, completion_len, generator, batch_size, temperature).cpu()
    texts = [[tokenizer.decode(y.tolist()) for y in row] for row in ys]
    scores = gold.score(t for row in texts for t in row).reshape(len(ys), k, len(gold.names))
    return Comparisons(prompts.cpu(), ys, scores, gold.names, texts)


@dataclass
class PairData:
    """Labelled pairs: chosen / rejected completions (N, C) of prompts (N, P), the gold of each (N, M),
    `flipped` (N,) — the labels the annotator's injected noise turned around (known here, never in real data) —
    and `chosen_first` (N,): whether the chosen completion was the first one shown. Storage puts the chosen
    first; a model that reads the pair by position (`separate` towers) must see the order the annotator saw,
    or "the first one wins" would be a perfect — and worthless — rule."""

    prompts: torch.Tensor
    chosen: torch.Tensor
    rejected: torch.Tensor
    gold_chosen: torch.Tensor
    gold_rejected: torch.Tensor
    objectives: list[str]
    flipped: torch.Tensor
    chosen_first: torch.Tensor

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, idx: torch.Tensor) -> PairData:
        return PairData(self.prompts[idx], self.chosen[idx], self.rejected[idx], self.gold_chosen[idx],
                        self.gold_rejected[idx], self.objectives, self.flipped[idx], self.chosen_first[idx])

    def presented(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(first, second): the two completions in the order they were shown."""
        cf = self.chosen_first[:, None]
        return torch.where(cf, self.chosen, self.rejected), torch.where(cf, self.rejected, self.chosen)

    @classmethod
    def concat(cls, parts: list[PairData]) -> PairData:
        tensors = {f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(cls)
                   if f.name != "objectives"}
        return cls(objectives=parts[0].objectives, **tensors)

    def gold_margin(self, weights: dict[str, float] | None = None) -> torch.Tensor:
        """u(chosen) − u(rejected) under `weights` (default: each objective alone summed — pass the annotator's)."""
        w = weights_vector(self.objectives, weights or {n: 1.0 for n in self.objectives})
        return (self.gold_chosen - self.gold_rejected) @ w

    def label_accuracy(self, weights: dict[str, float] | None = None) -> float:
        """Share of labels that pick the completion with the higher gold utility (decided pairs only)."""
        return truth_accuracy(torch.ones(len(self)), self.gold_margin(weights))


def truth_accuracy(predicted_margin: torch.Tensor, gold_margin: torch.Tensor) -> float:
    """Share of decided pairs (gold margin ≠ 0) where the predicted margin has the gold margin's sign; a
    predicted margin of exactly 0 counts half. NaN when no pair is decided.

    >>> truth_accuracy(torch.tensor([1.0, -2.0, 0.0, 5.0]), torch.tensor([0.3, 0.1, 0.2, 0.0]))
    0.5
    """
    decided = gold_margin != 0
    if not bool(decided.any()):
        return float("nan")
    agree = predicted_margin[decided] * gold_margin[decided].sign()
    return float(((agree > 0).float() + 0.5 * (agree == 0).float()).mean())


@dataclass
class RankingData:
    """K completions per prompt ordered best first by a listwise annotator: completions (N, K, C), gold (N, K, M)."""

    prompts: torch.Tensor
    completions: torch.Tensor
    gold: torch.Tensor
    objectives: list[str]

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, idx: torch.Tensor) -> RankingData:
        return RankingData(self.prompts[idx], self.completions[idx], self.gold[idx], self.objectives)

    def to_pairs(self) -> PairData:
        """Every one of the K(K−1)/2 pairs a ranking implies, the higher-ranked one chosen (InstructGPT's use of
        K-way rankings: all pairs of a prompt together). Row order: prompt-major."""
        k = self.completions.shape[1]
        i, j = torch.triu_indices(k, k, offset=1)
        n = len(self)
        rows = torch.arange(n).repeat_interleave(len(i))
        ii, jj = i.repeat(n), j.repeat(n)
        # shown in alternating order, so position carries no information about the label
        return PairData(self.prompts[rows], self.completions[rows, ii], self.completions[rows, jj],
                        self.gold[rows, ii], self.gold[rows, jj], self.objectives,
                        torch.zeros(len(rows), dtype=torch.bool), torch.arange(len(rows)) % 2 == 0)


@dataclass
class Annotator:
    """A simulated labeller: utility Σ_m w_m·gold_m, Bradley–Terry / Plackett–Luce noise of scale `scale`
    (∞: noiseless), and `flip_rate` of labels flipped uniformly at random (pairs only)."""

    weights: dict[str, float] = field(default_factory=lambda: {"style": 1.0})
    scale: float = float("inf")
    flip_rate: float = 0.0

    def utility(self, gold: torch.Tensor, objectives: list[str]) -> torch.Tensor:
        return gold @ weights_vector(objectives, self.weights)

    def label_pairs(self, comps: Comparisons, generator: torch.Generator, first: int = 0,
                    second: int = 1) -> PairData:
        """Label completion `first` against `second` of each prompt."""
        u = self.utility(comps.gold, comps.objectives)  # (N, K)
        first_wins = bradley_terry_choice(u[:, first], u[:, second], self.scale, generator)
        flipped = torch.rand(len(comps), generator=generator) < self.flip_rate
        first_wins = first_wins ^ flipped
        pick = first_wins[:, None]
        y1, y2 = comps.completions[:, first], comps.completions[:, second]
        g1, g2 = comps.gold[:, first], comps.gold[:, second]
        return PairData(comps.prompts, torch.where(pick, y1, y2), torch.where(pick, y2, y1),
                        torch.where(pick, g1, g2), torch.where(pick, g2, g1), comps.objectives, flipped, first_wins)

    def rank(self, comps: Comparisons, generator: torch.Generator) -> RankingData:
        """A Plackett–Luce ordering of each prompt's K completions, best first (Gumbel-max sampling)."""
        u = self.utility(comps.gold, comps.objectives)
        if self.scale == float("inf"):
            keys = u
        else:
            gumbel = -torch.log(-torch.log(torch.rand(u.shape, generator=generator).clamp_min(1e-12)))
            keys = self.scale * u + gumbel
        order = keys.argsort(dim=1, descending=True, stable=True)  # (N, K)
        rows = torch.arange(len(comps))[:, None]
        return RankingData(comps.prompts, comps.completions[rows, order], comps.gold[rows, order], comps.objectives)


def pairs_to_texts(pairs: PairData, decode: Callable[[list[int]], str]) -> list[dict[str, str]]:
    """The pairs as text (TRL's prompt / chosen / rejected columns), for files the dataset toolkit reads."""
    return [{"prompt": decode(p.tolist()), "chosen": decode(c.tolist()), "rejected": decode(r.tolist())}
            for p, c, r in zip(pairs.prompts, pairs.chosen, pairs.rejected, strict=True)]
