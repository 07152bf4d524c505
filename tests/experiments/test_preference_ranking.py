"""Week 9's ranking models and calibration: each loss against hand-computed values, Plackett–Luce against
Bradley–Terry and against its own definition, Elo's textbook update, Bradley–Terry ratings recovering planted
strengths, and calibration errors of predictors whose calibration is known."""

from __future__ import annotations

import doctest
import itertools
import math
import random

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.stats import spearmanr

from studyforge.experiments.preference import calibration, ranking
from studyforge.experiments.preference.calibration import (
    brier_score,
    expected_calibration_error,
    log_loss,
    reliability_bins,
)
from studyforge.experiments.preference.ranking import (
    bradley_terry_loss,
    bradley_terry_ratings,
    elo_ratings,
    plackett_luce_loss,
    predicted_win_probability,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("module", [ranking, calibration])
def test_docstring_examples_hold(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# -- Bradley–Terry loss, number by number --------------------------------------------------------------------


RC, RR = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 0.5], dtype=torch.float64)


def test_bradley_terry_loss_by_hand():
    # −log σ(1) = 0.3132617, −log σ(−0.5) = 0.9740770 → mean 0.6436693
    assert bradley_terry_loss(RC, RR).item() == pytest.approx(0.6436693358, abs=1e-9)
    # margin 0.5: −log σ(0.5) = 0.4740770, −log σ(−1.0) = 1.3132617 → mean 0.8936693
    assert bradley_terry_loss(RC, RR, margin=0.5).item() == pytest.approx(0.8936693358, abs=1e-9)
    # per-pair margins (0.5, 0.25): −log σ(0.5) = 0.4740770, −log σ(−0.75) = 1.1368710 → 0.8054740
    per_pair = torch.tensor([0.5, 0.25], dtype=torch.float64)
    assert bradley_terry_loss(RC, RR, margin=per_pair).item() == pytest.approx(0.8054739951, abs=1e-9)
    # ε = 0.1: −0.9 log σ(d) − 0.1 log σ(−d) = −log σ(d) + 0.1 d → 0.6436693 + 0.1 · (1 − 0.5)/2 = 0.6686693
    assert bradley_terry_loss(RC, RR, label_smoothing=0.1).item() == pytest.approx(0.6686693358, abs=1e-9)


def test_center_term_by_hand():
    # TRL's center_rewards_coefficient term: c · mean((r_c + r_r)²) = 0.01 · (1² + 0.5²) / 2 = 0.00625
    plain = bradley_terry_loss(RC, RR).item()
    assert bradley_terry_loss(RC, RR, center_coef=0.01).item() - plain == pytest.approx(0.00625, abs=1e-12)
    # with a margin the two terms simply add: 0.8936693 + 0.00625
    both = bradley_terry_loss(RC, RR, margin=0.5, center_coef=0.01).item()
    assert both == pytest.approx(0.8999193358, abs=1e-9)
    # shifting both rewards by 1 leaves the BT term alone; r_c + r_r becomes (3, 2.5): 0.01 · (9 + 6.25) / 2
    shifted = bradley_terry_loss(RC + 1.0, RR + 1.0, center_coef=0.01).item()
    assert shifted - plain == pytest.approx(0.07625, abs=1e-12)


def test_bradley_terry_gradient_is_the_wrong_way_probability():
    """∂L/∂r_c = −σ(−d)/B and ∂L/∂r_r = +σ(−d)/B: a pair pushes as hard as the model thinks it is wrong."""
    rc, rr = RC.clone().requires_grad_(), RR.clone().requires_grad_()
    bradley_terry_loss(rc, rr).backward()
    d = (RC - RR)
    torch.testing.assert_close(rc.grad, -torch.sigmoid(-d) / 2)
    torch.testing.assert_close(rr.grad, torch.sigmoid(-d) / 2)


# -- Plackett–Luce ----------------------------------------------------------------------------------------


def test_plackett_luce_by_hand():
    # [2, 1, 0]: (log(e² + e + 1) − 2) + (log(e + 1) − 1) = 0.4076060 + 0.3132617 = 0.7208677
    assert plackett_luce_loss(torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)).item() == pytest.approx(
        0.7208676520, abs=1e-9)
    # [0.5, −1, 1] (the ranking disagrees with the scores): (log(e^.5 + e^−1 + e) − 0.5) + (log(e^−1 + e) + 1)
    #   = 1.0767483 + 2.1051366 = 3.1818849; batch mean with the first row: (0.7208677 + 3.1818849) / 2
    batch = torch.tensor([[2.0, 1.0, 0.0], [0.5, -1.0, 1.0]], dtype=torch.float64)
    assert plackett_luce_loss(batch).item() == pytest.approx((0.7208676520 + 3.1818849307) / 2, abs=1e-9)


def test_plackett_luce_with_two_items_is_bradley_terry():
    g = torch.Generator().manual_seed(0)
    rc, rr = torch.randn(64, generator=g) * 3, torch.randn(64, generator=g) * 3
    torch.testing.assert_close(plackett_luce_loss(torch.stack([rc, rr], dim=-1)), bradley_terry_loss(rc, rr))


def test_plackett_luce_is_a_chain_of_softmax_choices_and_a_distribution_over_rankings():
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(8, 5, generator=g, dtype=torch.float64)
    # the definition, one choice at a time: −Σ_k log softmax(s_k..s_K)[first]
    naive = torch.stack([sum(-torch.log_softmax(row[k:], dim=0)[0] for k in range(4)) for row in scores]).mean()
    torch.testing.assert_close(plackett_luce_loss(scores), naive)
    # P(ranking) over all 4! orderings of four items sums to 1
    s = scores[0, :4]
    total = sum(math.exp(-plackett_luce_loss(s[list(order)].unsqueeze(0)).item())
                for order in itertools.permutations(range(4)))
    assert total == pytest.approx(1.0, abs=1e-12)


def test_plackett_luce_mask_drops_absent_items():
    full = torch.tensor([[2.0, 1.0, 0.0, 0.0], [0.5, 7.0, -1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, True, False], [True, False, True, True]])
    loss = plackett_luce_loss(full, mask)
    # row 1 is [2, 1, 0], row 2 is [0.5, −1, 1] once the absent item is gone: the two hand values above
    assert loss.item() == pytest.approx((0.7208676520 + 3.1818849307) / 2, abs=1e-9)
    loss.backward()
    assert torch.isfinite(full.grad).all() and full.grad[~mask].abs().max().item() == 0.0
    # a row with a single item has nothing to rank and adds 0 to the mean
    lone = plackett_luce_loss(torch.tensor([[2.0, 1.0, 0.0], [5.0, 1.0, 2.0]], dtype=torch.float64),
                              torch.tensor([[True, True, True], [True, False, False]]))
    assert lone.item() == pytest.approx(0.7208676520 / 2, abs=1e-9)


def test_gradients_finite_for_extreme_rewards():
    rc = torch.tensor([1e4, -1e4, 1e4], requires_grad=True)
    rr = torch.tensor([-1e4, 1e4, 1e4], requires_grad=True)
    loss = bradley_terry_loss(rc, rr, margin=1.0, center_coef=0.01, label_smoothing=0.05)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(rc.grad).all() and torch.isfinite(rr.grad).all()
    # without margin, smoothing or centering d = (2e4, −2e4, 0): −log σ(d) = (0, 2e4, log 2)
    plain = bradley_terry_loss(rc.detach(), rr.detach())
    assert plain.item() == pytest.approx((0.0 + 2e4 + math.log(2)) / 3, rel=1e-6)
    scores = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    pl = plackett_luce_loss(scores)
    pl.backward()
    # row 1: ≈ 0 + (0 − (−1e4)) = 1e4; row 2: (1e4 − (−1e4)) + ≈ 0 = 2e4 → mean 1.5e4
    assert pl.item() == pytest.approx(1.5e4, rel=1e-6) and torch.isfinite(scores.grad).all()


# -- Elo ---------------------------------------------------------------------------------------------------


def test_elo_single_update_is_the_textbook_one():
    assert elo_ratings([("A", "B", "model_a")], k=32) == {"A": 1016.0, "B": 984.0}
    assert elo_ratings([("A", "B", "model_b")], k=32) == {"A": 984.0, "B": 1016.0}
    # Arena's dict records load as they are
    assert elo_ratings([{"model_a": "A", "model_b": "B", "winner": "model_a"}], k=32) == {"A": 1016.0, "B": 984.0}
    # 1400 vs 1000 at scale 400, base 10 is odds of 10 : 1
    assert predicted_win_probability(1400.0, 1000.0) == pytest.approx(10 / 11)


def test_elo_ties():
    # equal ratings and a tie: E = ½ = S, nothing moves (either tie string)
    assert elo_ratings([("A", "B", "tie")], k=32) == {"A": 1000.0, "B": 1000.0}
    assert elo_ratings([("A", "B", "tie (bothbad)")], k=32) == {"A": 1000.0, "B": 1000.0}
    # 1016 vs 984 then a tie: E_A = 1/(1 + 10^(−32/400)) = 0.5459219, A loses 32 · 0.0459219 = 1.4695 points
    ratings = elo_ratings([("A", "B", "model_a"), ("B", "A", "tie")], k=32)
    assert ratings["A"] == pytest.approx(1014.5304985, abs=1e-6)
    assert ratings["B"] == pytest.approx(985.4695015, abs=1e-6)


def test_unknown_winner_is_named():
    with pytest.raises(ValueError, match="'model_c'"):
        elo_ratings([("A", "B", "model_a"), ("A", "B", "model_c")])
    with pytest.raises(ValueError, match="'A wins'"):
        bradley_terry_ratings([("A", "B", "A wins")])


# -- Bradley–Terry ratings -----------------------------------------------------------------------------------


def test_bradley_terry_ratings_by_hand_with_ties():
    """Counts that match BT exactly with θ = (ln 2, 0, −ln 2): A beats B 2 : 1, B beats C 2 : 1, A beats C
    4 : 1 (σ(2 ln 2) = 4/5). The MLE is then those strengths: R = 1000 ± 400 log₁₀ 2 = 1000 ± 120.412.
    Ties are half a win each way, and battles are written in both orientations."""
    battles = ([("A", "B", "model_a")] * 3 + [("A", "B", "tie")] * 2 + [("B", "A", "model_a")]  # A 4, B 2
               + [("B", "C", "model_a")] * 2 + [("C", "B", "model_b")] * 2  # B 4,
               + [("B", "C", "model_b")] * 2  # C 2
               + [("C", "A", "model_b")] * 8 + [("A", "C", "model_b")] * 2)  # A 8, C 2
    fit = bradley_terry_ratings(battles)
    assert fit.ratings == pytest.approx({"A": 1120.412, "B": 1000.0, "C": 879.588}, abs=1e-3)
    assert fit.n_battles == len(battles) and fit.lower is None and fit.ranked() == ["A", "B", "C"]
    assert fit.win_probability("A", "C") == pytest.approx(0.8, abs=1e-6)
    # the gauge: an anchor shifts every rating by the same amount
    anchored = bradley_terry_ratings(battles, anchor=("C", 1114.0))
    assert anchored.ratings == pytest.approx({"A": 1354.824, "B": 1234.412, "C": 1114.0}, abs=1e-3)


def test_bradley_terry_ratings_equal_lmsys_logistic_regression():
    """The aggregated Newton fit against the per-battle logistic regression LMSYS writes (rows +ln 10 for
    model_a, −ln 10 for model_b; a tie as one row of each label at weight ½), minimised by scipy's BFGS."""
    rng = np.random.default_rng(3)
    names, winners = ["w", "x", "y", "z"], ["model_a", "model_b", "tie"]
    battles = []
    for _ in range(300):
        a, b = rng.choice(4, size=2, replace=False)
        battles.append((names[a], names[b], winners[rng.choice(3, p=[0.5, 0.3, 0.2])]))
    fit = bradley_terry_ratings(battles, l2=0.0)
    index = {n: i for i, n in enumerate(fit.ratings)}

    # one design row per battle: +ln 10 in model_a's column, −ln 10 in model_b's; S_a = 1, 0 or ½
    design = np.zeros((len(battles), 4))
    for row, (a, b, _) in enumerate(battles):
        design[row, index[a]], design[row, index[b]] = math.log(10), -math.log(10)
    s = np.array([{"model_a": 1.0, "model_b": 0.0, "tie": 0.5}[w] for _, _, w in battles])

    def neg_log_likelihood(beta):
        z = design @ beta
        # −[S log σ(z) + (1 − S) log σ(−z)]
        return float(np.sum(s * np.logaddexp(0, -z) + (1 - s) * np.logaddexp(0, z)))

    beta = minimize(neg_log_likelihood, np.zeros(4), method="BFGS", options={"gtol": 1e-8}).x
    reference = 1000 + 400 * (beta - beta.mean())
    np.testing.assert_allclose([fit.ratings[n] for n in index], reference, atol=1e-2)


def _simulated_battles(n: int = 20_000, seed: int = 0):
    """Five models 100 points apart (mean 1000), random pairs, winners drawn from the BT probability."""
    truth = {f"m{i}": 800.0 + 100.0 * i for i in range(5)}
    names = list(truth)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n)
    b = (a + rng.integers(1, 5, n)) % 5
    r = np.array(list(truth.values()))
    a_wins = rng.random(n) < predicted_win_probability(r[a], r[b])
    winners = np.where(a_wins, "model_a", "model_b")
    return truth, [(names[i], names[j], str(w)) for i, j, w in zip(a, b, winners, strict=True)]


def test_bradley_terry_ratings_recover_planted_strengths_whatever_the_order():
    truth, battles = _simulated_battles()
    fit = bradley_terry_ratings(battles, bootstrap=100, seed=1)
    names = list(truth)
    # same gauge as the truth (mean 1000): recovered within 25 points, and in the right order
    assert max(abs(fit.ratings[m] - truth[m]) for m in names) < 25
    assert spearmanr([fit.ratings[m] for m in names], [truth[m] for m in names]).statistic == pytest.approx(1.0)
    # 95% bootstrap intervals bracket the estimate and contain the truth for most models
    assert all(fit.lower[m] <= fit.ratings[m] <= fit.upper[m] for m in names)
    assert sum(fit.lower[m] <= truth[m] <= fit.upper[m] for m in names) >= 4
    assert all(0 < fit.upper[m] - fit.lower[m] < 50 for m in names)
    # the order of the battles: BT-MLE does not care, Elo (k = 4) does
    shuffled = battles[:]
    random.Random(7).shuffle(shuffled)
    refit = bradley_terry_ratings(shuffled)
    assert max(abs(refit.ratings[m] - fit.ratings[m]) for m in names) < 1e-6
    elo, elo_shuffled = elo_ratings(battles), elo_ratings(shuffled)
    assert max(abs(elo[m] - elo_shuffled[m]) for m in names) > 5.0


def test_bradley_terry_ratings_stay_finite_when_one_model_never_loses():
    fit = bradley_terry_ratings([("A", "B", "model_a")] * 10, bootstrap=20)
    assert all(math.isfinite(v) for v in fit.ratings.values())
    assert fit.ratings["A"] > fit.ratings["B"] + 1000 and sum(fit.ratings.values()) == pytest.approx(2000.0)


# -- calibration -------------------------------------------------------------------------------------------


def test_expected_calibration_error_by_hand():
    probs, outcomes = [0.1, 0.2, 0.8, 0.9], [0, 1, 1, 1]
    # bins [0, ½): conf 0.15, acc 0.5; [½, 1]: conf 0.85, acc 1 → ½ · 0.35 + ½ · 0.15 = 0.25
    assert expected_calibration_error(probs, outcomes, bins=2) == pytest.approx(0.25)
    # symmetric: add (0.9, 1), (0.8, 0), (0.2, 0), (0.1, 0); bin [0, ½): p (0.1, 0.2, 0.2, 0.1), y (0, 1, 0, 0)
    #   → |0.25 − 0.15| = 0.1; bin [½, 1] mirrors it → ECE = 0.1 (≤ 0.25, the one-way value)
    assert expected_calibration_error(probs, outcomes, bins=2, symmetric=True) == pytest.approx(0.1)
    assert brier_score(probs, outcomes) == pytest.approx((0.01 + 0.64 + 0.04 + 0.01) / 4)
    assert log_loss(probs, outcomes) == pytest.approx(
        -(math.log(0.9) + math.log(0.2) + math.log(0.8) + math.log(0.9)) / 4)


def test_calibrated_predictor_has_ece_near_zero_and_an_overconfident_one_does_not():
    rng = np.random.default_rng(0)
    p = rng.random(100_000)
    y = (rng.random(p.size) < p).astype(float)  # y ~ Bernoulli(p): p is calibrated by construction
    assert expected_calibration_error(p, y) < 0.02
    assert expected_calibration_error(p, y, symmetric=True) < 0.02
    # sharpened: logit × 3 — says 0.9 where the truth is 0.68
    overconfident = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))
    assert expected_calibration_error(overconfident, y) > 0.1
    assert brier_score(overconfident, y) > brier_score(p, y)
    # tensors work as arrays do
    assert expected_calibration_error(torch.tensor(p), torch.tensor(y)) == pytest.approx(
        expected_calibration_error(p, y))


def test_reliability_bins_cover_every_case_and_keep_empty_bins():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.random(997) * 0.5, [1.0, 0.5, 0.0]])  # nothing in (½, 1) but the edges
    y = (rng.random(p.size) < p).astype(float)
    rows = reliability_bins(p, y, bins=10)
    assert len(rows) == 10 and sum(r["count"] for r in rows) == 1000
    assert [r["lo"] for r in rows] == pytest.approx([b / 10 for b in range(10)])
    assert rows[5]["count"] == 1 and rows[9]["count"] == 1  # 0.5 opens bin 5; 1.0 closes the last bin
    assert rows[7] == {"lo": 0.7, "hi": 0.8, "count": 0, "mean_prob": None, "frequency": None}
    sym = reliability_bins(p, y, bins=10, symmetric=True)
    assert sum(r["count"] for r in sym) == 2000
    # symmetric: bin b mirrors bin 9 − b (counts equal, frequencies f ↔ 1 − f), except that p = ½ and its
    # mirror both open bin 5
    for b in range(4):
        assert sym[b]["count"] == sym[9 - b]["count"]
        assert sym[b]["frequency"] == pytest.approx(1 - sym[9 - b]["frequency"])
    assert sym[5]["count"] == sym[4]["count"] + 2


def test_symmetric_ece_does_not_depend_on_pair_orientation():
    rng = np.random.default_rng(2)
    p = rng.random(5000)
    y = (rng.random(p.size) < p ** 2).astype(float)  # miscalibrated, so there is something to measure
    flip = rng.random(p.size) < 0.5  # write half the pairs the other way round
    p2, y2 = np.where(flip, 1 - p, p), np.where(flip, 1 - y, y)
    assert expected_calibration_error(p2, y2, symmetric=True) == pytest.approx(
        expected_calibration_error(p, y, symmetric=True), abs=1e-12)
    assert abs(expected_calibration_error(p2, y2) - expected_calibration_error(p, y)) > 0.01
    assert brier_score(p2, y2) == pytest.approx(brier_score(p, y))


def test_calibration_inputs_are_checked():
    with pytest.raises(ValueError, match="shape"):
        expected_calibration_error([0.5, 0.5], [1])
    with pytest.raises(ValueError, match="probs must lie in"):
        expected_calibration_error([1.5], [1])
    with pytest.raises(ValueError, match="outcomes must lie in"):
        brier_score([0.5], [float("nan")])
