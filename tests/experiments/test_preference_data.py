"""Week 9's known truths and simulated annotators: gold rewards, Bradley–Terry / Plackett–Luce labels, flips."""

from __future__ import annotations

import doctest
import itertools
import math

import pytest
import torch

from studyforge.experiments.preference import data, gold
from studyforge.experiments.preference.data import Annotator, Comparisons, truth_accuracy


def comparisons(utilities: list[list[float]], objectives=("style",)) -> Comparisons:
    """Hand-made comparisons: completion k of prompt i is the token row [i, k] and has gold utilities[i][k]."""
    u = torch.tensor(utilities, dtype=torch.float32)
    n, k = u.shape
    completions = torch.stack([torch.stack([torch.tensor([i, j]) for j in range(k)]) for i in range(n)])
    return Comparisons(torch.zeros(n, 3, dtype=torch.long), completions, u[..., None].expand(n, k, len(objectives)),
                       list(objectives))


def test_docstring_examples_hold():
    for module in (gold, data):
        assert doctest.testmod(module).failed == 0


def test_fluency_counts_whole_words_of_the_lexicon_only():
    valid = gold.WordValidity.from_text("the cat sat on the mat the cat", min_count=2)
    assert valid.lexicon == frozenset({"the", "cat"})
    assert valid(" the cat sat ") == pytest.approx(2 / 3)  # 'sat' was seen once: not in the lexicon
    assert valid("he cat") == 0.0  # 'he' touches the start (a fragment), 'cat' the end: no whole word
    assert valid("zzz") == 0.0


def test_unknown_weights_are_refused():
    with pytest.raises(ValueError, match="unknown gold reward"):
        gold.weights_vector(["style"], {"helpfulness": 1.0})


def test_noiseless_annotator_always_picks_the_better_completion():
    comps = comparisons([[0.1, 0.9], [0.8, 0.2], [0.5, 0.4]])
    pairs = Annotator().label_pairs(comps, torch.Generator().manual_seed(0))
    assert pairs.gold_margin().tolist() == pytest.approx([0.8, 0.6, 0.1])
    assert pairs.chosen_first.tolist() == [False, True, True]
    assert pairs.label_accuracy() == 1.0


def test_bradley_terry_annotator_matches_its_probability():
    # utility gap 0.1 at scale 10: P(first wins) = σ(1) ≈ 0.731
    n = 40_000
    comps = comparisons([[0.6, 0.5]] * n)
    pairs = Annotator(scale=10.0).label_pairs(comps, torch.Generator().manual_seed(1))
    assert pairs.label_accuracy() == pytest.approx(1 / (1 + math.exp(-1.0)), abs=0.01)


def test_flip_rate_is_injected_exactly_and_recorded():
    n = 20_000
    comps = comparisons([[1.0, 0.0]] * n)
    pairs = Annotator(flip_rate=0.2).label_pairs(comps, torch.Generator().manual_seed(2))
    assert pairs.flipped.float().mean().item() == pytest.approx(0.2, abs=0.01)
    # a noiseless annotator is wrong exactly where a flip was injected
    assert torch.equal(pairs.gold_margin() < 0, pairs.flipped)


def test_plackett_luce_annotator_samples_orderings_with_their_probability():
    u = [0.0, 1.0, 2.0]
    scale = 1.0
    n = 60_000
    ranked = Annotator(scale=scale).rank(comparisons([u] * n), torch.Generator().manual_seed(3))
    orders = [tuple(row[:, 1].tolist()) for row in ranked.completions]  # completion k is row [i, k]
    for order in itertools.permutations(range(3)):
        p, rest = 1.0, list(order)
        for item in order:  # Π_k exp(s u_k) / Σ_{j ≥ k} exp(s u_j)
            p *= math.exp(scale * u[item]) / sum(math.exp(scale * u[j]) for j in rest)
            rest.remove(item)
        assert orders.count(order) / n == pytest.approx(p, abs=0.01), order
    # the gold travels with its completion
    assert torch.equal(ranked.gold[..., 0], torch.tensor(u)[ranked.completions[..., 1]])


def test_rankings_imply_every_pair_shown_in_alternating_order():
    ranked = Annotator().rank(comparisons([[0.3, 0.9, 0.1, 0.5]]), torch.Generator())
    pairs = ranked.to_pairs()
    assert len(pairs) == 6  # K(K−1)/2
    assert pairs.label_accuracy() == 1.0
    assert pairs.chosen_first.tolist() == [True, False] * 3
    first, second = pairs.presented()
    assert torch.equal(first[1], pairs.rejected[1]) and torch.equal(second[1], pairs.chosen[1])


def test_truth_accuracy_skips_ties_and_counts_zero_margins_half():
    assert truth_accuracy(torch.tensor([1.0, 0.0]), torch.tensor([0.5, -0.5])) == 0.75
    assert math.isnan(truth_accuracy(torch.tensor([1.0]), torch.tensor([0.0])))


def test_two_objective_annotator_weighs_them():
    comps = Comparisons(torch.zeros(1, 2, dtype=torch.long), torch.tensor([[[1], [2]]]),
                        torch.tensor([[[0.9, 0.0], [0.1, 1.0]]]), ["style", "fluency"])
    g = torch.Generator()
    assert Annotator({"style": 1.0}).label_pairs(comps, g).chosen.item() == 1
    assert Annotator({"fluency": 1.0}).label_pairs(comps, g).chosen.item() == 2
    assert Annotator({"style": 0.5, "fluency": 0.5}).label_pairs(comps, g).chosen.item() == 2  # 0.55 > 0.45
