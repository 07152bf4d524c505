"""The truths week 9 measures against: gold rewards defined in code, so every accuracy has a right answer.

Real preference data has no ground truth — only labels from people who disagree. Here the "people" are
simulated annotators (`data.Annotator`) who judge completions by rewards we wrote down, so each reward model,
judge and dataset statistic can be scored against the labels *and* against the truth behind them.

Two gold rewards, each a function of the completion's text with values in [0, 1]:

- `style`    `vowel_share`: the share of letters that are vowels — week 4's known reward, a property of style a
             model can change without forgetting how to spell (`preference_optimization.pairs.vowel_share`).
- `fluency`  `WordValidity`: the share of the completion's whole words that are words of the corpus the model
             learned from (its training split's lexicon). It rewards writing real words.

They partly conflict, as helpfulness and harmlessness do: the cheapest way to raise the vowel share is to
write strings like "eau aie oui" that are rarely words, so pushing `style` alone drifts away from `fluency`
(weeks 10–12 use exactly this as their reward-hacking testbed). A multi-objective annotator weighs them:
utility = Σ_m w_m · gold_m (`data.Annotator.weights`).

>>> gold = gold_rewards("the cat sat on the mat", min_count=1)
>>> gold.names
['style', 'fluency']
>>> [[round(v, 3) for v in row] for row in gold.score([" the cat sat ", " eau oui sat "]).tolist()]
[[0.333, 1.0], [0.778, 0.333]]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

from studyforge.experiments.preference_optimization.pairs import vowel_share

WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    """The text's whole words, lower-cased. A completion is cut out of running text, so a letter run touching
    either end may be a fragment of a longer word: those are left out.

    >>> words("ing the cat sa")
    ['the', 'cat']
    >>> words(" the cat.")
    ['the', 'cat']
    """
    lower = text.lower()
    found = [(m.start(), m.end(), m.group()) for m in WORD.finditer(lower)]
    return [w for start, end, w in found if start > 0 and end < len(lower)]


@dataclass
class WordValidity:
    """`fluency`: the share of whole words that belong to `lexicon` (0.0 when there is no whole word)."""

    lexicon: frozenset[str]

    @classmethod
    def from_text(cls, text: str, min_count: int = 2) -> WordValidity:
        """The lexicon of a corpus: the words seen at least `min_count` times (one-off typos and names stay out)."""
        counts: dict[str, int] = {}
        for w in WORD.findall(text.lower()):
            counts[w] = counts.get(w, 0) + 1
        return cls(frozenset(w for w, c in counts.items() if c >= min_count))

    def __call__(self, text: str) -> float:
        ws = words(text)
        return sum(w in self.lexicon for w in ws) / len(ws) if ws else 0.0


@dataclass
class Objective:
    name: str
    fn: Callable[[str], float]
    description: str


@dataclass
class GoldRewards:
    """The gold rewards in a fixed order: `score(texts)` is (N, M), column m the objective `names[m]`."""

    objectives: list[Objective] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def index(self, name: str) -> int:
        if name not in self.names:
            raise ValueError(f"unknown gold reward {name!r}; known: {', '.join(self.names)}")
        return self.names.index(name)

    def score(self, texts: Iterable[str]) -> torch.Tensor:
        return torch.tensor([[o.fn(t) for o in self.objectives] for t in texts], dtype=torch.float32).reshape(
            -1, len(self.objectives))

    def describe(self) -> dict[str, str]:
        return {o.name: o.description for o in self.objectives}


def gold_rewards(corpus_text: str, min_count: int = 2) -> GoldRewards:
    """`style` and `fluency` (its lexicon from `corpus_text`, normally the reference model's training split)."""
    return GoldRewards([
        Objective("style", vowel_share, "share of letters that are vowels (week 4's known reward)"),
        Objective("fluency", WordValidity.from_text(corpus_text, min_count),
                  f"share of whole words found in the training corpus's lexicon (words seen ≥ {min_count}×)"),
    ])


def weights_vector(names: Sequence[str], weights: dict[str, float]) -> torch.Tensor:
    """An annotator's weights as a vector over `names` (objectives it ignores weigh 0)."""
    unknown = set(weights) - set(names)
    if unknown:
        raise ValueError(f"unknown gold reward(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return torch.tensor([float(weights.get(n, 0.0)) for n in names])
