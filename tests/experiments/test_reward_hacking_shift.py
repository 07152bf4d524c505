"""Week 12's distributional-shift study (issue 16, item 4): its measurements against known answers — per-pair
correctness whose mean is week 9's `truth_accuracy`, Spearman's ρ against scipy, bootstrap intervals, the
style–fluency conflict breakdown and the length preference on hand-built pairs and on planted predictors, the
least-squares slope — its figures read cleanly, and a quick run of `reward_hacking.distributional_shift`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from studyforge.experiments.preference.data import truth_accuracy
from studyforge.experiments.reward_hacking import plots
from studyforge.experiments.reward_hacking.studies import distributional_shift as ds
from studyforge.tracking.context import RunContext
from tests.figure_checks import text_problems

NAMES = ["style", "fluency"]
EQUAL = {"style": 1.0, "fluency": 1.0}


def test_pair_correct_is_one_half_zero_on_decided_pairs_and_its_mean_is_truth_accuracy():
    margin = torch.tensor([2.0, -1.0, 0.0, 3.0, -0.5, 1.0])
    gold = torch.tensor([0.1, 0.4, -0.2, 0.0, -0.3, -0.1])
    # pair 4 (gold 0) is undecided and dropped: right, wrong, tie, right, wrong
    assert ds.pair_correct(margin, gold).tolist() == [1.0, 0.0, 0.5, 1.0, 0.0]
    g = torch.Generator().manual_seed(0)
    m = torch.randint(-2, 3, (500,), generator=g).float()  # ties at 0 happen
    u = torch.randint(-2, 3, (500,), generator=g).float()
    assert float(ds.pair_correct(m, u).mean()) == pytest.approx(truth_accuracy(m, u))


def test_spearman_rows_matches_scipy_with_ties_and_is_nan_without_spread():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(6, 40)).astype(float)  # many ties
    y = x + rng.normal(0, 2, size=x.shape)
    got = ds.spearman_rows(x, y)
    want = [stats.spearmanr(a, b).statistic for a, b in zip(x, y, strict=True)]
    assert got == pytest.approx(want, abs=1e-12)
    assert math.isnan(ds.spearman_rows(np.ones((1, 5)), np.arange(5.0)[None])[0])


def test_spearman_ci_brackets_rho_resamples_prompts_and_is_exact_for_a_monotone_map():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))  # 200 prompts, two responses each
    y = x + rng.normal(0, 1, size=x.shape)
    rho, lo, hi = ds.spearman_ci(x, y, n_boot=500, seed=0)
    assert rho == pytest.approx(stats.spearmanr(x.ravel(), y.ravel()).statistic)
    # the normal-theory interval of Spearman's ρ (Bonett & Wright 2000): tanh(atanh ρ ± 1.96·√((1 + ρ²/2)/(n − 3)))
    half = 1.96 * math.sqrt((1 + rho**2 / 2) / (x.size - 3))
    assert (lo, hi) == pytest.approx((math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)), abs=0.02)
    # a strictly increasing function of x: ρ = 1 in every resample
    assert ds.spearman_ci(x, np.exp(x), n_boot=200) == pytest.approx((1.0, 1.0, 1.0))


def test_mean_ci_covers_the_mean_with_the_binomial_width():
    rng = np.random.default_rng(2)
    v = (rng.random(2000) < 0.7).astype(float)
    mean, lo, hi = ds.mean_ci(v, n_boot=2000)
    assert mean == pytest.approx(v.mean())
    assert lo < mean < hi
    # the 95% interval of a proportion: ± 1.96·√(p(1 − p)/n) = ± 0.0201
    assert hi - lo == pytest.approx(2 * 1.96 * math.sqrt(0.7 * 0.3 / 2000), rel=0.15)
    assert ds.mean_ci(np.full(10, 0.5), n_boot=100) == (0.5, 0.5, 0.5)
    assert all(math.isnan(x) for x in ds.mean_ci([], n_boot=100))


def test_conflict_breakdown_on_hand_built_pairs():
    # (style, fluency) of the first and second response of each pair; utility = style + fluency
    g1 = torch.tensor([[0.6, 0.6],   # aligned, both better: u diff +0.2
                       [0.6, 0.6],   # aligned, same, proxy wrong
                       [0.9, 0.2],   # conflict, style wins (Δs +0.5, Δf −0.2, Δu +0.3)
                       [0.9, 0.2],   # conflict, style wins, proxy wrong
                       [0.7, 0.1],   # conflict, fluency wins (Δs +0.2, Δf −0.5, Δu −0.3)
                       [0.5, 0.5]])  # a gold tie (Δs +0.25, Δf −0.25): undecided
    g2 = torch.tensor([[0.5, 0.5], [0.5, 0.5], [0.4, 0.4], [0.4, 0.4], [0.5, 0.6], [0.25, 0.75]])
    margin = torch.tensor([1.0, -1.0, 2.0, -2.0, 0.5, 3.0])
    out = ds.conflict_breakdown(margin, g1, g2, NAMES, EQUAL)
    assert out["pairs"] == 6
    assert out["share_aligned"] == pytest.approx(2 / 6) and out["share_conflict"] == pytest.approx(3 / 6)
    assert out["accuracy_aligned"] == 0.5
    assert out["accuracy_conflict"] == pytest.approx(1 / 3)  # right only on pair 3
    assert out["accuracy_style_wins"] == 0.5 and out["accuracy_fluency_wins"] == 0.0
    # the proxy prefers the vowel-rich first response in pairs 3 and 5, gold in pairs 3 and 4
    assert out["proxy_prefers_style"] == pytest.approx(2 / 3)
    assert out["gold_prefers_style"] == pytest.approx(2 / 3)
    empty = ds.conflict_breakdown(torch.tensor([1.0]), g1[:1], g2[:1], NAMES, EQUAL)
    assert math.isnan(empty["accuracy_conflict"]) and math.isnan(empty["proxy_prefers_style"])


def test_conflict_breakdown_finds_a_planted_style_only_predictor():
    """Planted truth: a predictor that reads only the style difference is right on every conflict gold settles
    for style, wrong on every one gold settles for fluency, and prefers the vowel-rich side every time; the
    gold margin itself is right everywhere."""
    g = torch.Generator().manual_seed(3)
    g1, g2 = torch.rand(400, 2, generator=g), torch.rand(400, 2, generator=g)
    style_only = g1[:, 0] - g2[:, 0]
    out = ds.conflict_breakdown(style_only, g1, g2, NAMES, EQUAL)
    assert out["accuracy_style_wins"] == 1.0 and out["accuracy_fluency_wins"] == 0.0
    assert out["proxy_prefers_style"] == 1.0
    assert out["accuracy_aligned"] == 1.0  # on aligned pairs style points the right way too
    assert 0.3 < out["gold_prefers_style"] < 0.7  # uniform gold: either side wins about half the conflicts
    perfect = ds.conflict_breakdown((g1 - g2) @ torch.ones(2), g1, g2, NAMES, EQUAL)
    assert perfect["accuracy_conflict"] == 1.0 and perfect["accuracy_aligned"] == 1.0
    assert perfect["proxy_prefers_style"] == pytest.approx(perfect["gold_prefers_style"])


def test_longer_preference_on_hand_values():
    out = ds.longer_preference(torch.tensor([1.0, -1.0, 0.0, 5.0, -2.0]), torch.tensor([0.2, 0.3, -0.1, 1.0, 0.0]),
                               torch.tensor([10, 3, 8, 6, 9]), torch.tensor([4, 7, 2, 6, 1]))
    # differing pairs 0, 1, 2, 4 (longer first, second, first, first): proxy towards longer 1, 1, ½, 0
    # gold (decided among them: 0, 1, 2) towards longer: yes, no, no
    assert out == {"proxy_prefers_longer": pytest.approx(2.5 / 4), "gold_prefers_longer": pytest.approx(1 / 3),
                   "pairs_differing": 4}


def test_least_squares_slope_recovers_a_planted_line():
    x = np.linspace(0, 30, 13)
    y = 0.68 - 0.005 * x + np.random.default_rng(4).normal(0, 1e-4, len(x))
    assert ds.least_squares_slope(x, y) == pytest.approx(-0.005, abs=1e-4)
    assert ds.least_squares_slope([1.0, float("nan"), 3.0], [1.0, 5.0, 2.0]) == pytest.approx(0.5)
    assert math.isnan(ds.least_squares_slope([2.0, 2.0], [1.0, 3.0]))


def test_a_nested_set_keeps_the_studys_small_beta():
    cfg = ds.DistributionalShiftConfig.from_preset("default", {"rlhf.lr": "0.001"})
    assert cfg.rlhf.kl_coef == 0.01 and cfg.rlhf.lr == 0.001
    assert ds.DistributionalShiftConfig.from_preset("quick").rlhf.kl_coef == 0.01


def _points(n: int = 6) -> list[dict]:
    rows = []
    for i in range(n):
        acc = 0.66 - 0.02 * i
        rows.append({"kl": 4.0 * i, "gold_accuracy": acc, "gold_accuracy_lo": acc - 0.06, "gold_accuracy_hi": acc + 0.06,
                     "accuracy_clear": acc + 0.05, "accuracy_clear_lo": acc - 0.03, "accuracy_clear_hi": acc + 0.12,
                     "spearman": 0.35 - 0.05 * i, "spearman_lo": 0.25 - 0.05 * i, "spearman_hi": 0.45 - 0.05 * i,
                     "ece": 0.1 + 0.02 * i, "accuracy_aligned": acc + 0.1,
                     "accuracy_style_wins": math.nan if i == 0 else 0.6, "accuracy_fluency_wins": 0.4,
                     "proxy_prefers_style": 0.5 + 0.05 * i, "gold_prefers_style": 0.3,
                     "proxy_prefers_longer": 0.7, "gold_prefers_longer": 0.6})
    return rows


def test_figures_read_cleanly():
    rng = np.random.default_rng(5)
    stages = {"reference": {"proxy": rng.normal(0, 1, 64).tolist(), "gold": rng.random(64).tolist()},
              "final": {"proxy": rng.normal(4, 1, 64).tolist(), "gold": (1 + rng.random(64)).tolist()}}
    for fig in (plots.shift_accuracy_vs_kl(_points(), 0.64, 0.25), plots.shift_score_distributions(stages),
                plots.shift_where_wrong(_points())):
        assert text_problems(fig) == []


def test_quick_run(tmp_path):
    """The quick preset on the offline corpus: every examination is there, the first is the reference itself
    (KL exactly 0: the policy is an untouched copy), intervals bracket their estimates, the drops are the
    differences of the two ends, and the tables and figures are written."""
    cfg = ds.DistributionalShiftConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ds.distributional_shift(ctx, cfg)
    s = ctx.summary_values
    assert s["points"] == 1 + math.ceil(cfg.rl_updates / cfg.eval_every) and s["final_update"] == cfg.rl_updates
    ref, fin = s["at_reference"], s["at_final"]
    assert ref["kl"] == 0.0 and fin["kl"] != 0.0
    for end in (ref, fin):
        assert 0.0 <= end["gold_accuracy_lo"] <= end["gold_accuracy"] <= end["gold_accuracy_hi"] <= 1.0
        assert -1.0 <= end["spearman_lo"] <= end["spearman"] <= end["spearman_hi"] <= 1.0
        assert 0.0 <= end["ece"] <= 1.0 and 0.0 <= end["share_conflict"] <= 1.0
    assert s["accuracy_drop"] == pytest.approx(ref["gold_accuracy"] - fin["gold_accuracy"])
    assert s["spearman_drop"] == pytest.approx(ref["spearman"] - fin["spearman"])
    assert 0.0 <= s["proxy_heldout_accuracy"] <= 1.0 and s["beta"] == 0.01
    run = tmp_path / "run"
    assert {p.name for p in (run / "figures").iterdir()} >= {"accuracy_vs_kl.png", "score_distributions.png",
                                                              "where_it_goes_wrong.png"}
    assert {p.name for p in (run / "tables").iterdir()} >= {"examinations.csv", "samples.csv",
                                                             "confident_mistakes.csv"}
    samples = (run / "tables" / "samples.csv").read_text().splitlines()
    assert len(samples) >= 1 + 2 * cfg.samples  # header + reference and final rows (texts may hold newlines)
