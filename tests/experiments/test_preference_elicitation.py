"""Active preference elicitation: the loop's ledger, the acquisition rules' formulas, random acquisition's
uniformity, and — on a planted task where few pool pairs carry information — disagreement beating random."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from scipy import stats

from studyforge.experiments.preference import elicitation
from studyforge.experiments.preference.elicitation import (
    ElicitationConfig,
    HeadConfig,
    Oracle,
    PairPool,
    acquire,
    acquisition_scores,
    area_under_curve,
    compare_rules,
    fit_heads,
    run_elicitation,
)


def planted_pool(n: int, informative: int, d: int, seed: int) -> tuple[PairPool, PairPool]:
    """A pool where only `informative` of n pairs say anything beyond one direction, and a held-out set.

    The gold reward is linear, u(φ) = w · φ with w a random unit vector. A pair is φ± = base ± δ/2, so its gold
    margin is w · δ. Informative pairs (and all held-out pairs) have δ ~ N(0, I_d); the other n − informative
    ("redundant") pairs vary along the first axis only, δ = (z, 0, …, 0), so their labels teach sign(w₁) and
    nothing else. Random acquisition spends most of its budget on those; a committee whose members agree on
    the first axis and disagree elsewhere asks for the informative ones."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g)
    w /= w.norm()

    def pairs(m: int, k_inf: int) -> PairPool:
        delta = torch.randn(m, d, generator=g)
        delta[k_inf:, 1:] = 0.0
        base = torch.randn(m, d, generator=g)
        gold = delta @ w
        return PairPool(base + delta / 2, base - delta / 2, gold > 0, gold)

    pool = pairs(n, informative)
    perm = torch.randperm(n, generator=g)  # informative pairs scattered through the pool
    return pool.subset(perm), pairs(400, 400)


def test_docstring_examples_hold():
    assert doctest.testmod(elicitation).failed == 0


def test_acquisition_scores_equal_their_formulas_by_hand():
    p = torch.tensor([[0.2, 0.7], [0.6, 0.7], [0.7, 0.7]])  # 3 members, 2 pairs

    def h(q):
        return -(q * math.log(q) + (1 - q) * math.log(1 - q))

    mean0 = (0.2 + 0.6 + 0.7) / 3
    std0 = math.sqrt(((0.2 - mean0) ** 2 + (0.6 - mean0) ** 2 + (0.7 - mean0) ** 2) / 3)
    torch.testing.assert_close(acquisition_scores("disagreement", p), torch.tensor([std0, 0.0]))
    torch.testing.assert_close(acquisition_scores("uncertainty", p), torch.tensor([h(mean0), h(0.7)]))
    bald0 = h(mean0) - (h(0.2) + h(0.6) + h(0.7)) / 3
    torch.testing.assert_close(acquisition_scores("bald", p), torch.tensor([bald0, 0.0]), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="unknown acquisition rule"):
        acquisition_scores("entropy", p)


def test_acquire_takes_the_top_scores_among_the_unlabelled_only():
    probs = torch.tensor([[0.1, 0.5, 0.9, 0.5, 0.2], [0.9, 0.5, 0.1, 0.5, 0.3]])  # disagreement: 0.4 0 0.4 0 0.05
    unlabelled = torch.tensor([False, True, True, True, True])
    idx = acquire("disagreement", probs, unlabelled, 2, torch.Generator().manual_seed(0))
    assert sorted(idx.tolist()) == [2, 4]  # pair 0 disagrees as much as pair 2 but is labelled already


def test_random_acquisition_is_uniform_over_the_unlabelled():
    """6,000 batches of 3 from 8 unlabelled pairs of 10: each unlabelled pair picked 2,250 times in expectation
    (chi-square goodness of fit), a labelled one never, and no batch repeats a pair."""
    unlabelled = torch.ones(10, dtype=torch.bool)
    unlabelled[[2, 7]] = False
    g = torch.Generator().manual_seed(1)
    counts = torch.zeros(10)
    for _ in range(6000):
        idx = acquire("random", None, unlabelled, 3, g)
        assert len(set(idx.tolist())) == 3
        counts[idx] += 1
    assert counts[2] == 0 and counts[7] == 0
    observed = counts[unlabelled]
    assert stats.chisquare(observed.numpy()).pvalue > 1e-3
    assert float(observed.min()) > 2000 and float(observed.max()) < 2500


def test_oracle_refuses_repeats_and_overspending():
    oracle = Oracle(torch.tensor([True, False, True, False]), budget=3)
    assert oracle.query(torch.tensor([0, 1])).tolist() == [True, False]
    with pytest.raises(ValueError, match="twice"):
        oracle.query(torch.tensor([1]))
    with pytest.raises(ValueError, match="twice"):
        oracle.query(torch.tensor([3, 3]))
    with pytest.raises(ValueError, match="budget"):
        oracle.query(torch.tensor([2, 3]))
    assert oracle.query(torch.tensor([3])).tolist() == [False] and oracle.spent == 3


@pytest.mark.parametrize("rule", elicitation.RULES)
def test_the_loop_spends_exactly_the_budget_and_never_asks_twice(rule):
    pool, heldout = planted_pool(60, 60, 4, seed=0)
    cfg = ElicitationConfig(seed_size=5, batch_size=8, budget=37, heads=HeadConfig(members=3, steps=5))
    run = run_elicitation(pool, heldout, rule, cfg, seed=3)
    assert len(run.queried) == 37 and len(set(run.queried)) == 37
    assert [r["labels"] for r in run.curve] == [5, 13, 21, 29, 37]  # the last round is cut to the budget
    # a budget above the pool is the whole pool, each pair once
    run = run_elicitation(pool.subset(torch.arange(20)), heldout, rule, cfg, seed=3)
    assert sorted(run.queried) == list(range(20))


def test_every_rule_starts_from_the_same_seed_set():
    pool, heldout = planted_pool(80, 80, 4, seed=0)
    cfg = ElicitationConfig(seed_size=6, batch_size=4, budget=14, heads=HeadConfig(members=3, steps=5))
    seeds = {rule: run_elicitation(pool, heldout, rule, cfg, seed=11).queried[:6] for rule in elicitation.RULES}
    assert len({tuple(s) for s in seeds.values()}) == 1


def test_heads_learn_a_linear_gold_reward():
    """Noiseless labels of 200 informative pairs: the linear heads rank held-out pairs by the gold reward."""
    pool, heldout = planted_pool(200, 200, 6, seed=2)
    heads = fit_heads(pool, pool.first_wins, HeadConfig(), torch.Generator().manual_seed(0))
    assert elicitation.evaluate_heads(heads, heldout)["gold_accuracy"] > 0.95
    hidden = fit_heads(pool, pool.first_wins, HeadConfig(hidden=16), torch.Generator().manual_seed(0))
    assert elicitation.evaluate_heads(hidden, heldout)["gold_accuracy"] > 0.9


def test_disagreement_beats_random_when_few_pairs_are_informative():
    """Pool of 600 with 30 informative pairs, budget 40: disagreement finds the informative pairs and ends far
    more accurate than random acquisition, on every one of 3 seeds (paired: same seed set and draws)."""
    pool, heldout = planted_pool(600, 30, 8, seed=5)
    cfg = ElicitationConfig(seed_size=8, batch_size=8, budget=40, heads=HeadConfig(members=5, steps=60, lr=0.1))
    out = compare_rules(pool, heldout, ["random", "disagreement"], cfg, seeds=[0, 1, 2])
    rnd, dis = out["random"], out["disagreement"]
    assert rnd["labels"] == dis["labels"] == [8, 16, 24, 32, 40]
    finals = [(d[-1], r[-1]) for d, r in zip(dis["per_seed"], rnd["per_seed"], strict=True)]
    assert all(d > r + 0.05 for d, r in finals), finals
    assert dis["mean"][-1] > 0.85 and dis["mean"][-1] - rnd["mean"][-1] > 0.15, (dis["mean"], rnd["mean"])
    assert area_under_curve(dis["labels"], dis["mean"]) > area_under_curve(rnd["labels"], rnd["mean"])
    assert all(c is not None and c >= 0 for c in dis["ci95"])  # 3 seeds: a t-interval at every budget
