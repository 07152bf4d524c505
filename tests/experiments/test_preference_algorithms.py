"""Week 9's `preference.preference_learning_algorithms`: tabular BT/PL fits recover planted strengths, the arena's
judge wins at the Bradley–Terry rate and its ratings recover planted gaps, rank correlation of known orders, the
figures read cleanly, and a quick run (with week-8 checkpoints given) fills its summary."""

from __future__ import annotations

import math

import pytest
import torch

from studyforge.errors import ForgeError
from studyforge.experiments.preference import arena, plots, tabular
from studyforge.experiments.preference.data import Annotator
from studyforge.experiments.preference.ranking import bradley_terry_ratings
from studyforge.experiments.preference.studies import preference_learning_algorithms as ex
from studyforge.tracking.context import RunContext
from tests.figure_checks import text_problems

torch.set_num_threads(1)


# -- tabular ranking models --------------------------------------------------------------------------------


def test_bt_fit_of_pair_counts_is_the_closed_form_log_odds():
    """Two items, a beats b 30 times and loses 10: the BT MLE gap is ln(30/10) (nearly no ridge)."""
    pairs = torch.tensor([[0, 1]] * 30 + [[1, 0]] * 10)
    theta = tabular.fit_item_strengths(pairs, 2, l2=1e-8)
    assert float(theta[0] - theta[1]) == pytest.approx(math.log(3), abs=1e-4)
    assert float(theta.sum()) == pytest.approx(0.0, abs=1e-6)


def test_plackett_luce_fit_recovers_planted_strengths():
    """4,000 Plackett–Luce rankings of 4 of 12 items (drawn by the annotator's Gumbel-max): the fitted scores
    match the planted ones to within 0.2 each, on their true scale."""
    g = torch.Generator().manual_seed(0)
    strengths = torch.linspace(-1.5, 1.5, 12)
    ranking = Annotator(weights={"strength": 1.0}, scale=1.0).rank(tabular.item_queries(strengths, 4000, 4, g), g)
    theta = tabular.fit_item_strengths(ranking.completions[..., 0], 12, l2=1e-6)
    assert (theta - (strengths - strengths.mean())).abs().max() < 0.2
    fit = tabular.recovery(theta, strengths, torch.tensor([[i, j] for i in range(12) for j in range(i)]))
    assert fit["spearman"] > 0.98 and fit["slope"] == pytest.approx(1.0, abs=0.08)
    assert fit["heldout_accuracy"] > 0.97


def test_recovery_measures_known_fits():
    u = torch.tensor([0.0, 1.0, 2.0, 3.0])
    pairs = torch.tensor([[0, 1], [3, 2], [1, 3]])
    assert tabular.recovery(-u, u, pairs) == {"spearman": -1.0, "slope": -1.0, "heldout_accuracy": 0.0}
    assert tabular.recovery(torch.tensor([0.0, 0.0, 1.0, 1.0]), u, pairs)["heldout_accuracy"] == pytest.approx(2 / 3)  # ½ + ½ + 1


def test_designs_spend_the_budget_as_documented():
    g = torch.Generator().manual_seed(1)
    strengths = torch.randn(20, generator=g)
    shapes = {d: tuple(tabular.design_orderings(d, strengths, 10, 4, 1.0, g).shape) for d in tabular.DESIGNS}
    assert shapes == {"pl_rankings": (10, 4), "bt_all_pairs": (60, 2), "bt_one_pair": (10, 2),
                      "bt_pairs_k-1": (30, 2)}
    rows = tabular.mean_by(tabular.compare_designs(60, [150], 4, [0, 1], heldout_pairs=2000), ("design",),
                           ("heldout_accuracy",))
    acc = {r["design"]: r["heldout_accuracy"] for r in rows}
    assert acc["pl_rankings"] > acc["bt_one_pair"] + 0.05  # a ranking says more than one pair of it


# -- the arena -----------------------------------------------------------------------------------------------


def test_rank_correlation_of_known_orders():
    truth = {"a": 0.1, "b": 0.5, "c": 0.9, "d": 0.7}
    assert arena.rank_correlation({"a": 1, "b": 2, "c": 4, "d": 3}, truth) == {"spearman": 1.0, "kendall": 1.0}
    assert arena.rank_correlation({"a": 4, "b": 3, "c": 1, "d": 2}, truth)["spearman"] == -1.0
    # one swap of neighbours in 4: ρ = 1 − 6·2/(4·15) = 0.8
    assert arena.rank_correlation({"a": 1, "b": 2, "c": 3, "d": 4}, truth)["spearman"] == pytest.approx(0.8)
    with pytest.raises(ValueError):
        arena.rank_correlation({"a": 1.0}, truth)


def test_judge_wins_at_the_bradley_terry_rate_and_ties_on_equal_gold():
    n, s = 3000, 20.0
    utility = {"x": torch.full((n,), 0.55), "y": torch.full((n,), 0.50), "z": torch.full((n,), 0.50)}
    battles = arena.judge_battles(utility, s, torch.Generator().manual_seed(0))
    assert len(battles) == 3 * n
    x_vs_y = [b for b in battles if {b[0], b[1]} == {"x", "y"}]
    x_wins = sum((b[2] == "model_a") == (b[0] == "x") for b in x_vs_y) / len(x_vs_y)
    expected = 1 / (1 + math.exp(-s * 0.05))  # σ(1) = 0.731
    assert x_wins == pytest.approx(expected, abs=3 * math.sqrt(expected * (1 - expected) / n))
    assert all(b[2] == "tie" for b in battles if {b[0], b[1]} == {"y", "z"})
    assert 0.45 < sum(b[0] == "x" for b in x_vs_y) / n < 0.55  # sides drawn at random


def test_bt_ratings_of_judged_battles_recover_the_planted_gaps():
    """Constant utilities 0, 0.05, 0.10 judged at s = 20: each gap is a log-odds of 1, i.e. 400/ln 10 ≈ 173.7
    rating points; Elo stays order-dependent, BT-MLE does not."""
    n = 2000
    utility = {f"m{i}": torch.full((n,), 0.05 * i) for i in range(3)}
    battles = arena.judge_battles(utility, 20.0, torch.Generator().manual_seed(3))
    bt = bradley_terry_ratings(battles)
    gap = 400 / math.log(10)
    assert bt.ratings["m1"] - bt.ratings["m0"] == pytest.approx(gap, abs=20)
    assert bt.ratings["m2"] - bt.ratings["m1"] == pytest.approx(gap, abs=20)
    assert bradley_terry_ratings(list(reversed(battles))).ratings == pytest.approx(bt.ratings)
    spread = arena.elo_order_spread(battles, 5, seed=0, k=16.0)
    assert all(v["std"] > 0 for v in spread.values())
    assert arena.rank_correlation({m: v["mean"] for m, v in spread.items()}, bt.ratings)["spearman"] == 1.0


# -- figures and a quick run ---------------------------------------------------------------------------------


def test_figures_read_cleanly():
    net = [{"design": d, "seed": s, "gold_accuracy": 0.6 + 0.05 * i + 0.01 * s}
           for i, d in enumerate(ex.DESIGNS) for s in range(2)]
    tab = tabular.mean_by(tabular.compare_designs(20, [20, 80], 4, [0, 1], heldout_pairs=200),
                          ("budget", "design"), ("spearman", "slope", "heldout_accuracy"))
    ratings = [{"model": f"step{k}", "gold_fluency": 0.1 + 0.002 * k, "bt": 900 + k, "bt_low": 880 + k,
                "bt_high": 930 + k, "elo": 990 + k / 10, "elo_order_min": 985 + k / 10, "elo_order_max": 995 + k / 10}
               for k in (5, 20, 60, 150, 300)]
    matrix = {r: {c: 0.5 + 0.1 * (r == c) for c in ex.WEIGHTINGS} for r in ex.WEIGHTINGS}
    for fig in (plots.listwise_vs_pairwise(net, tab), plots.arena_ratings(ratings, "fluency"),
                plots.objective_matrix(matrix)):
        assert text_problems(fig) == []


def test_quick_run_with_given_checkpoints(tmp_path):
    """Week-8 checkpoints given with `checkpoints=`: no ladder is trained, they battle under their file names,
    and every part of the summary is there with values in range."""
    from studyforge.experiments.language_modeling.checkpoint import export
    from studyforge.experiments.language_modeling.data import load_data
    from studyforge.experiments.transformer.config import TransformerConfig
    from studyforge.experiments.transformer.model import Transformer

    data = load_data("no/such/corpus.txt", max_chars=40_000)  # the offline corpus the study will read
    paths = []
    for i in range(3):
        torch.manual_seed(i)
        lm = Transformer(TransformerConfig(vocab_size=data.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=16))
        paths.append(str(tmp_path / f"lm{i}.pt"))
        torch.save(export(lm, data.tokenizer), paths[-1])
    cfg = ex.PreferenceLearningAlgorithmsConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt",
                                                                      "checkpoints": paths})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ex.preference_learning_algorithms(ctx, cfg)
    s = ctx.summary_values
    lw = s["listwise"]
    assert set(ex.DESIGNS) <= set(lw) and all(0.0 <= lw[d]["mean"] <= 1.0 for d in ex.DESIGNS)
    assert lw["pl_minus_bt_one_pair"] == pytest.approx(lw["pl_rankings"]["mean"] - lw["bt_one_pair"]["mean"])
    assert set(s["arena"]["models"]) == {"lm0", "lm1", "lm2"} and s["arena"]["battles"] == 3 * cfg.battle_prompts
    assert -1.0 <= s["arena"]["bt_spearman"] <= 1.0
    r = s["arena"]["ratings"]["lm0"]
    assert r["bt_low"] <= r["bt"] <= r["bt_high"]
    assert set(s["objectives"]["matrix"]) == set(ex.WEIGHTINGS)
    assert all(set(row) == set(ex.WEIGHTINGS) for row in s["objectives"]["matrix"].values())
    assert -1.0 <= s["objectives"]["gold_conflict"]["pearson"] <= 1.0
    assert set(s["tabular"]) == {f"{d}@{b}" for d in tabular.DESIGNS for b in cfg.tabular_budgets}
    assert {p.name for p in (tmp_path / "run" / "figures").iterdir()} >= {
        "listwise_vs_pairwise.png", "arena_ratings.png", "objective_matrix.png"}
    with pytest.raises(ForgeError, match="another tokenizer"):
        other = load_data("no/such/corpus.txt", max_chars=5_000)
        lm = Transformer(TransformerConfig(vocab_size=other.vocab_size, d_model=16, n_layers=1, n_heads=2,
                                           max_len=16))
        torch.save(export(lm, other.tokenizer), tmp_path / "other.pt")
        bad = cfg.model_copy(update={"checkpoints": [paths[0], str(tmp_path / "other.pt")]})
        ex.preference_learning_algorithms(RunContext(out_dir=tmp_path / "run2", config=bad, seed=0), bad)
