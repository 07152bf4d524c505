"""Week 12's over-optimisation study against known answers: Gao et al.'s functional forms fitted to synthetic
curves of known α, β (and beside scipy's curve_fit), their peaks by hand and on a grid, best-of-n curves against
brute force over every n-subset, the proxy on the gold's scale for a perfect Bradley–Terry proxy, the text
statistics on hand values — and one quick run of the study."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from studyforge.errors import ForgeError
from studyforge.experiments.preference_optimization.pairs import vowel_share
from studyforge.experiments.reward_hacking import plots
from studyforge.experiments.reward_hacking.overoptimization import (
    bon_grid,
    fit_overoptimization,
    longest_vowel_run,
    peak_bon,
    peak_rl,
    proxy_in_gold_units,
    r_bon,
    r_rl,
    repeated_ngram_share,
    text_stats,
    units_per_gold,
    within_prompt_sd,
)
from studyforge.experiments.rlhf.best_of_n import best_of_n_curve, expected_best_of_n
from studyforge.tracking.context import RunContext
from tests.figure_checks import text_problems

# -- the functional forms and their fits ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "form", "alpha", "beta"), [("bon", r_bon, 0.8, 0.15), ("rl", r_rl, 0.5, 0.2)])
def test_fit_recovers_known_coefficients_from_noisy_curves(method, form, alpha, beta):
    """Points of R(d) with α, β planted, plus Gaussian noise of sd 0.01: least squares finds α and β within a
    few hundredths, R² near 1, and the peak near the planted one."""
    rng = np.random.default_rng(0)
    d = np.linspace(0.0, 4.0, 60)
    g = form(d, alpha, beta) + rng.normal(0.0, 0.01, d.shape)
    fit = fit_overoptimization(d, g, method)
    assert fit.alpha == pytest.approx(alpha, abs=0.02)
    assert fit.beta == pytest.approx(beta, abs=0.02)
    assert 0.99 < fit.r2 <= 1.0
    true_peak = (peak_bon if method == "bon" else peak_rl)(alpha, beta)
    assert fit.d_peak == pytest.approx(true_peak[0], rel=0.1)
    assert fit.points == 60
    # noiseless points: recovered exactly, R² = 1
    exact = fit_overoptimization(d, form(d, alpha, beta), method)
    assert (exact.alpha, exact.beta, exact.r2) == pytest.approx((alpha, beta, 1.0), abs=1e-9)


@pytest.mark.parametrize("method", ["bon", "rl"])
def test_fit_agrees_with_scipy_curve_fit(method):
    """The linear solve and scipy's nonlinear least squares on the same noisy, non-conforming data (a saturating
    curve) find the same (α, β); R² is 1 − SS_res/SS_tot, computed here from the residuals."""
    from scipy.optimize import curve_fit

    form = r_bon if method == "bon" else r_rl
    d = np.array([0.0, 0.3, 0.6, 1.0, 1.4, 1.9, 2.5, 3.1])
    g = np.tanh(d) - 0.05 * d**1.5 + np.array([0, 0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.005])
    fit = fit_overoptimization(d, g, method)
    (a, b), _ = curve_fit(lambda x, a, b: form(x, a, b), d, g, p0=(0.1, 0.1))
    assert (fit.alpha, fit.beta) == pytest.approx((a, b), abs=1e-6)
    residual = g - form(d, a, b)
    assert fit.r2 == pytest.approx(1 - (residual**2).sum() / ((g - g.mean()) ** 2).sum(), abs=1e-9)
    assert fit.predict(d) == pytest.approx(form(d, a, b), abs=1e-6)


def test_peaks_by_hand_and_on_a_grid():
    # BoN: d* = α/(2β) = 0.6/0.3 = 2, R(d*) = α²/(4β) = 0.36/0.6 = 0.6
    assert peak_bon(0.6, 0.15) == pytest.approx((2.0, 0.6))
    # RL: d* = exp(α/β − 1) = exp(1) with α = 0.4, β = 0.2; R(d*) = β d* = 0.2 e
    assert peak_rl(0.4, 0.2) == pytest.approx((math.e, 0.2 * math.e))
    grid = np.linspace(1e-6, 10, 2_000_001)
    for form, peak, a, b in ((r_bon, peak_bon, 0.6, 0.15), (r_rl, peak_rl, 0.4, 0.2), (r_rl, peak_rl, 0.3, 0.25)):
        values = form(grid, a, b)
        d_star, r_star = peak(a, b)
        assert grid[values.argmax()] == pytest.approx(d_star, abs=1e-4)
        assert values.max() == pytest.approx(r_star, abs=1e-9)
    assert peak_bon(0.5, 0.0) is None and peak_rl(0.5, -0.1) is None  # no downturn: no peak
    assert peak_bon(-0.2, 0.1) == (0.0, 0.0)  # falling from the start: the best is the reference
    assert peak_rl(1.0, 0.01) is None  # d* = e^99: beyond any measurable distance


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError):
        fit_overoptimization([0.0], [0.0], "bon")
    with pytest.raises(ValueError):
        fit_overoptimization([0.0, -1.0], [0.0, 0.1], "rl")
    assert math.isnan(fit_overoptimization([0.0, 1.0, 2.0], [0.0, 0.0, 0.0], "bon").r2)


# -- best-of-n curves ----------------------------------------------------------------------------------------------


def test_bon_grid_is_log_spaced_and_ends_at_n():
    assert bon_grid(256) == [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]
    assert bon_grid(20) == [1, 2, 3, 4, 6, 8, 12, 16, 20] and bon_grid(2) == [1, 2]


def test_bon_curve_equals_brute_force_over_every_subset():
    """For each n, the mean over prompts of the gold (and proxy) of the proxy's pick, averaged over every
    n-subset of the N samples — enumerated here with itertools — and d = √(log n − (n − 1)/n)."""
    g = torch.Generator().manual_seed(0)
    proxy, gold = torch.randn(3, 7, generator=g), torch.rand(3, 7, generator=g)
    rows = best_of_n_curve(proxy, gold, [1, 2, 3, 7])
    for row in rows:
        n = row["n"]
        picks_gold, picks_proxy = [], []
        for b in range(3):
            for subset in itertools.combinations(range(7), n):
                best = max(subset, key=lambda i: proxy[b, i])
                picks_gold.append(float(gold[b, best]))
                picks_proxy.append(float(proxy[b, best]))
        assert row["gold"] == pytest.approx(np.mean(picks_gold), abs=1e-6)
        assert row["proxy"] == pytest.approx(np.mean(picks_proxy), abs=1e-6)
        assert row["d"] == pytest.approx(math.sqrt(math.log(n) - (n - 1) / n))
    assert rows[0]["gold"] == pytest.approx(float(gold.mean()))  # n = 1 is the reference
    assert rows[-1]["gold"] == pytest.approx(float(gold.gather(1, proxy.argmax(1, keepdim=True)).mean()))


def test_a_perfect_proxy_believes_exactly_the_gold_gain():
    """r = a·u + c(x) — any scale a, any per-prompt constant c(x) (what Bradley–Terry training converges to with
    a = the annotator's scale): k = a, and on the gold's scale (r − r_ref)/k of best-of-n equals its gold gain at
    every n — no gap without a proxy error."""
    g = torch.Generator().manual_seed(1)
    utility = torch.rand(4, 64, generator=g, dtype=torch.float64)
    offsets = 5 * torch.randn(4, 1, generator=g, dtype=torch.float64)  # per-prompt constants c(x)
    proxy = 20.0 * utility + offsets
    k = units_per_gold(proxy, utility)
    assert k == pytest.approx(20.0)
    rows = best_of_n_curve(proxy, utility, bon_grid(64))
    ref_proxy, ref_gold = float(proxy.mean()), float(utility.mean())
    for row in rows:
        assert proxy_in_gold_units(row["proxy"], ref_proxy, k) == pytest.approx(row["gold"] - ref_gold, rel=1e-6)
    assert rows[-1]["gold"] > rows[0]["gold"]


def test_a_noisy_proxy_believes_one_over_rho_times_what_it_delivers():
    """Regressional Goodhart with a planted correlation: gold u ~ N(0, 1), proxy r = 3u + 3ε with ε ~ N(0, 1)
    independent, so ρ(r, u) = 1/√2. Selecting on r, E[Δu] = ρ·σ_u·E[Δr]/σ_r: the gold gain of best-of-n is ρ
    times the proxy's belief (r − r_ref)/k, k = σ_r/σ_u = 3√2 — within sampling error on 400 × 128 draws."""
    g = torch.Generator().manual_seed(2)
    u = torch.randn(400, 128, generator=g, dtype=torch.float64)
    r = 3 * u + 3 * torch.randn(400, 128, generator=g, dtype=torch.float64)
    k = units_per_gold(r, u)
    assert k == pytest.approx(3 * math.sqrt(2), rel=0.02)
    for row in best_of_n_curve(r, u, [4, 16, 64]):
        belief = proxy_in_gold_units(row["proxy"], float(r.mean()), k)
        assert row["gold"] - float(u.mean()) == pytest.approx(belief / math.sqrt(2), rel=0.05)
        assert row["gold_se"] == pytest.approx(float(expected_best_of_n(r, u, row["n"]).std()) / 20, rel=1e-6)


def test_within_prompt_spread_ignores_differences_between_prompts():
    x = torch.tensor([[1.0, 3.0, 5.0], [101.0, 103.0, 105.0]])  # each prompt: variance 4
    assert within_prompt_sd(x) == pytest.approx(2.0)
    assert within_prompt_sd(torch.tensor([[0.0, 2.0], [0.0, 4.0]])) == pytest.approx(math.sqrt((2 + 8) / 2))


# -- the text of an exploit -------------------------------------------------------------------------------------------


def test_text_statistics_on_hand_values():
    assert repeated_ngram_share("abcabc", 3) == pytest.approx(1 / 4)  # abc bca cab abc
    assert repeated_ngram_share("eaeaea", 2) == pytest.approx(3 / 5)  # ea ae ea ae ea
    assert repeated_ngram_share("abcdef", 3) == 0.0 and repeated_ngram_share("ab", 3) == 0.0
    assert repeated_ngram_share([5, 5, 5], 1) == pytest.approx(2 / 3)  # token sequences too
    assert longest_vowel_run("a rhythm, oooh, queueing") == 5  # "ueuei"
    assert longest_vowel_run("") == 0
    assert vowel_share("The cat!") == pytest.approx(2 / 6) and vowel_share("...") == 0.0
    stats = text_stats(["the cat\n", "eaeaea", "iou ou\n"], stop="\n")
    assert stats["no_stop_share"] == pytest.approx(1 / 3)
    assert stats["mean_chars"] == pytest.approx((8 + 6 + 7) / 3)
    assert stats["vowel_share"] == pytest.approx((2 / 6 + 1 + 1) / 3)
    assert stats["longest_vowel_run"] == pytest.approx((1 + 6 + 3) / 3)
    assert stats["repeated_3gram_share"] == pytest.approx((0 + 2 / 4 + 0) / 3)  # eae aea eae aea
    assert text_stats(["abc"], stop=None)["no_stop_share"] == 1.0
    with pytest.raises(ValueError):
        text_stats([], stop="\n")


# -- the figures and the study --------------------------------------------------------------------------------------


def _curves():
    out = {}
    for i, (label, a) in enumerate((("128 pairs (acc 0.55)", 0.3), ("512 pairs (acc 0.61)", 0.5),
                                    ("2048 pairs (acc 0.68)", 0.7))):
        d_bon = np.sqrt([math.log(n) - (n - 1) / n for n in bon_grid(256)])
        d_rl = np.linspace(0, 4, 11)
        out[label] = {m: {"d": list(d), "gold": list(form(d, a, 0.2) + 0.01 * i), "proxy": list(a * d),
                          "fit": fit_overoptimization(d, form(d, a, 0.2), m)}
                      for m, d, form in (("bon", d_bon, r_bon), ("rl", d_rl, r_rl))}
    return out


def test_figures_read_cleanly():
    by_size = {"pairs": [128, 512, 2048], "heldout_gold_accuracy": [0.55, 0.61, 0.68],
               **{m: {"end_gap": [0.3, 0.2, 0.1], "measured_peak_gold": [0.1, 0.2, 0.25]} for m in ("bon", "rl")}}
    for fig in (plots.overoptimization(_curves()), plots.overoptimization_by_size(by_size)):
        assert text_problems(fig) == []


def test_a_loaded_reward_model_is_refused():
    from studyforge.experiments.reward_hacking.studies import overoptimization as study

    cfg = study.OveroptimizationConfig.from_preset("quick", {"reward_model": "some/run"})
    with pytest.raises(ForgeError, match="trains its own proxies"):
        study.overoptimization(_NoContext(), cfg)


class _NoContext:
    """A context the study must not touch before it refuses its configuration."""

    def __getattr__(self, name):
        raise AssertionError(f"the study used ctx.{name} before validating its configuration")


def test_quick_run(tmp_path):
    """The quick preset on the offline corpus: three proxies, best-of-n to N = 32, RL evaluated from the
    reference on; every part of the summary is there with values in range."""
    from studyforge.experiments.reward_hacking.studies import overoptimization as study
    from studyforge.experiments.rlhf.best_of_n import best_of_n_kl

    cfg = study.OveroptimizationConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    study.overoptimization(ctx, cfg)
    s = ctx.summary_values
    assert set(s["proxies"]) == {"pairs16", "pairs32", "pairs64"}
    assert s["by_size"]["pairs"] == [16, 32, 64]
    for entry in s["proxies"].values():
        assert 0.0 <= entry["heldout_gold_accuracy"] <= 1.0 and entry["units_per_gold"] > 0
        for method in ("bon", "rl"):
            fit = entry[method]["fit"]
            assert set(fit) == {"alpha", "beta", "r2", "d_peak", "gold_peak", "points"}
            assert math.isnan(fit["r2"]) or fit["r2"] <= 1.0
            assert entry[method]["gold_drop"] >= 0.0
            end = entry[method]["end"]
            assert end["gap"] == pytest.approx(end["proxy_gain"] - end["gold_gain"])
        assert entry["bon"]["end"]["d"] == pytest.approx(math.sqrt(best_of_n_kl(32)))
    assert s["gold_drop"] == s["proxies"]["pairs16"]["rl"]["gold_drop"]
    assert s["bon"]["d_max"] == pytest.approx(math.sqrt(best_of_n_kl(32)))
    assert s["exploit"]["pairs"] in (16, 32, 64)
    assert 0.0 <= s["exploit"]["policy"]["no_stop_share"] <= 1.0
    assert 0.0 <= s["reference"]["gold"] <= 2.0
    # the curves start at the reference: best-of-1 is the pool's mean, and the RL policy before its first
    # update is a copy of the reference, so its KL is exactly 0
    import csv

    bon = list(csv.DictReader(open(tmp_path / "run" / "tables" / "best_of_n.csv")))
    assert all(abs(float(r["gold_gain"])) < 1e-6 for r in bon if r["n"] == "1")
    rl = list(csv.DictReader(open(tmp_path / "run" / "tables" / "rl.csv")))
    assert [r["update"] for r in rl if r["pairs"] == "16"] == ["0", "2", "4"]
    assert all(float(r["kl"]) == 0.0 for r in rl if r["update"] == "0")
    assert {p.name for p in (tmp_path / "run" / "figures").iterdir()} == {"overoptimization.png",
                                                                         "overoptimization_by_size.png"}
