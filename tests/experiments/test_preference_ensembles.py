"""Week 9's reward models (issue 15, item 3) and the `preference.reward_model_ensembles` study: a reward model
learns separable pairs, shared towers are antisymmetric and separate towers cannot read the label off the
position, scoring is one pass per completion per member, training is reproducible, checkpoints round-trip; the
study's measurements (AUROC, accuracy by quantile, temperature, position consistency) against known answers;
and a quick run of the study."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from studyforge.experiments.language_modeling.data import CharTokenizer
from studyforge.experiments.preference.data import Annotator, Comparisons, PairData
from studyforge.experiments.preference.reward_model import (
    RewardEnsemble,
    RewardModel,
    RewardTrainConfig,
    evaluate,
    export_reward_model,
    fit_reward_model,
    load_reward_model,
    score_pairs,
    train_ensemble,
)
from studyforge.experiments.preference.studies import reward_model_ensembles as ex
from studyforge.experiments.preference_optimization.pairs import vowel_share
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.tracking.context import RunContext

torch.set_num_threads(1)

ALPHABET = "aeioubcdfghklmnprst "  # 5 vowels among 19 letters, and a space
TOK = CharTokenizer(list(ALPHABET))
P, C = 4, 12  # prompt and completion length (tokens)
STYLE = {"style": 1.0}


def config(d_model: int = 32) -> TransformerConfig:
    return TransformerConfig(vocab_size=len(ALPHABET), d_model=d_model, n_layers=1, n_heads=2, max_len=P + C)


def style_pairs(n: int, seed: int, threshold: float | None = None) -> PairData:
    """n pairs of random strings, labelled by a noiseless annotator on the vowel share; with `threshold`, only
    those whose gold margin is above it (separable with room to spare)."""
    g = torch.Generator().manual_seed(seed)
    completions = torch.randint(0, len(ALPHABET), (n, 2, C), generator=g)
    gold = torch.tensor([[[vowel_share(TOK.decode(y))] for y in row] for row in completions.tolist()])
    comps = Comparisons(torch.randint(0, len(ALPHABET), (n, P), generator=g), completions, gold, ["style"])
    pairs = Annotator(weights=STYLE).label_pairs(comps, g)
    if threshold is None:
        return pairs
    return pairs.subset(torch.nonzero(pairs.gold_margin(STYLE).abs() > threshold).squeeze(1))


def random_label_pairs(n: int, seed: int, chosen_first: bool | None) -> PairData:
    """Pairs whose labels say nothing about their content (gold is a constant): only the position could."""
    g = torch.Generator().manual_seed(seed)
    x, chosen, rejected = (torch.randint(0, len(ALPHABET), (n, length), generator=g) for length in (P, C, C))
    first = torch.ones(n, dtype=torch.bool) if chosen_first else torch.rand(n, generator=g) < 0.5
    return PairData(x, chosen, rejected, torch.ones(n, 1), torch.zeros(n, 1), ["style"],
                    torch.zeros(n, dtype=torch.bool), first)


def fresh(architecture: str = "shared", seed: int = 0, d_model: int = 32) -> RewardModel:
    torch.manual_seed(seed)
    return RewardModel(config(d_model), architecture)


# -- reward_model.py -----------------------------------------------------------------------------------------


def test_a_reward_model_learns_noiseless_separable_pairs():
    """Vowel share margin > 0.15, noiseless labels: a fresh 1-block model of width 16 reaches > 0.9 held-out
    gold accuracy in 60 steps (seeds 0 and 1: 1.0 and 0.99; it starts at chance)."""
    train, heldout = style_pairs(600, seed=1, threshold=0.15), style_pairs(400, seed=2, threshold=0.15)
    model = fresh(d_model=16)
    before = evaluate(model, heldout, STYLE)["gold_accuracy"]
    fit_reward_model(model, train, RewardTrainConfig(steps=60, batch_size=32, lr=3e-3), seed=0)
    after = evaluate(model, heldout, STYLE)
    assert 0.3 < before < 0.7
    assert after["gold_accuracy"] > 0.9 and after["label_accuracy"] == after["gold_accuracy"]  # noiseless labels


def test_shared_tower_is_exactly_antisymmetric_and_separate_towers_are_not():
    pairs = style_pairs(40, seed=3)
    x, a, b = pairs.prompts, pairs.chosen, pairs.rejected
    with torch.no_grad():
        r1, r2 = fresh("shared").pair_scores(x, a, b)
        s1, s2 = fresh("shared").pair_scores(x, b, a)
        # P(a ≻ b) = 1 − P(b ≻ a) up to float rounding (a row's sums depend a little on its place in the batch)
        torch.testing.assert_close(r1 - r2, -(s1 - s2), atol=1e-6, rtol=0)
        q1, q2 = fresh("separate").pair_scores(x, a, b)
        t1, t2 = fresh("separate").pair_scores(x, b, a)
        assert ((q1 - q2) + (t1 - t2)).abs().max() > 1e-3


@pytest.mark.parametrize("architecture", ["shared", "separate"])
def test_score_pairs_sends_each_completion_through_each_member_once(architecture):
    """N = 37 pairs in batches of 16, E = 3 members: 2·N·E forward passes; the margins equal each member's
    r(chosen) − r(rejected) computed one completion at a time (for separate towers, in the shown order)."""
    pairs = style_pairs(37, seed=4)
    ens = RewardEnsemble([fresh(architecture, seed=i) for i in range(3)])
    before = ens.forward_passes
    margins = score_pairs(ens, pairs, batch_size=16)
    assert ens.forward_passes - before == 2 * 37 * 3
    assert margins.shape == (3, 37)
    with torch.no_grad():
        for member, got in zip(ens.members, margins, strict=True):
            for i in (0, 17, 36):
                x, c, r = pairs.prompts[i:i + 1], pairs.chosen[i:i + 1], pairs.rejected[i:i + 1]
                if architecture == "shared":
                    want = member.score(x, c) - member.score(x, r)
                elif pairs.chosen_first[i]:
                    want = member.score(x, c, 0) - member.score(x, r, 1)
                else:
                    want = member.score(x, c, 1) - member.score(x, r, 0)
                torch.testing.assert_close(got[i], want[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["single", "ensemble"])
def test_checkpoint_round_trip(tmp_path, kind):
    """export → ctx.save_checkpoint → load_reward_model(run folder) gives the same scores, tokenizer and meta."""
    pairs = style_pairs(30, seed=5)
    model = fresh("separate") if kind == "single" else RewardEnsemble([fresh("shared", seed=i) for i in range(2)])
    ctx = RunContext(out_dir=tmp_path / "run", config=ex.RewardModelEnsemblesConfig(), seed=0)
    ctx.save_checkpoint("reward_model", export_reward_model(model, TOK, prompt_len=P, completion_len=C,
                                                             gold_names=["style"], metrics={"gold_accuracy": 0.5}))
    loaded, tok, meta = load_reward_model(tmp_path / "run")
    assert type(loaded) is type(model) and tok.chars == TOK.chars
    assert meta == {"prompt_len": P, "completion_len": C, "gold_names": ["style"], "metrics": {"gold_accuracy": 0.5}}
    assert torch.equal(score_pairs(loaded, pairs), score_pairs(model, pairs))


def test_fit_reward_model_is_reproducible_for_a_seed():
    train = style_pairs(100, seed=6)
    cfg = RewardTrainConfig(steps=5, batch_size=8, lr=1e-3, bootstrap=True)
    start = fresh()
    a, b, c = copy.deepcopy(start), copy.deepcopy(start), copy.deepcopy(start)
    ha, hb = fit_reward_model(a, train, cfg, seed=3), fit_reward_model(b, train, cfg, seed=3)
    fit_reward_model(c, train, cfg, seed=4)
    assert ha == hb
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values(), strict=True))
    e1 = train_ensemble(lambda s: fresh(seed=s), train, cfg, n=2, seed=0)
    e2 = train_ensemble(lambda s: fresh(seed=s), train, cfg, n=2, seed=0)
    assert torch.equal(score_pairs(e1, train), score_pairs(e2, train))


def test_separate_towers_cannot_read_the_label_off_the_position():
    """Labels unrelated to content. Trained on pairs whose chosen is always shown first, separate towers learn
    "the first wins" — perfect on pairs shown that way, chance once the same pairs are shown in random order,
    so the metric reads the order shown. Trained with the order random, there is nothing to learn: chance."""
    cfg = RewardTrainConfig(steps=40, batch_size=32, lr=3e-3)
    leaky = fresh("separate")
    fit_reward_model(leaky, random_label_pairs(256, seed=7, chosen_first=True), cfg, seed=0)
    shown_first = random_label_pairs(400, seed=8, chosen_first=True)
    shown_random = random_label_pairs(400, seed=8, chosen_first=None)
    assert torch.equal(shown_first.chosen, shown_random.chosen)  # the same pairs, only the order differs
    assert evaluate(leaky, shown_first, STYLE)["label_accuracy"] > 0.95
    assert 0.4 < evaluate(leaky, shown_random, STYLE)["label_accuracy"] < 0.6
    honest = fresh("separate")
    fit_reward_model(honest, random_label_pairs(256, seed=7, chosen_first=None), cfg, seed=0)
    assert 0.4 < evaluate(honest, shown_random, STYLE)["label_accuracy"] < 0.6


# -- the study's measurements -------------------------------------------------------------------------------


def test_auroc_is_the_mann_whitney_statistic():
    from scipy.stats import mannwhitneyu

    # positives {0.9, 0.4}, negatives {0.4, 0.1}: wins 1 + 1 + ½ + 1 of 4 comparisons
    assert ex.auroc(torch.tensor([0.9, 0.4, 0.4, 0.1]), torch.tensor([True, True, False, False])) == 0.875
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 20, (300,), generator=g).float()  # many ties
    positive = torch.rand(300, generator=g) < 0.3
    u = mannwhitneyu(scores[positive].numpy(), scores[~positive].numpy()).statistic
    assert ex.auroc(scores, positive) == pytest.approx(u / (positive.sum().item() * (~positive).sum().item()))
    assert math.isnan(ex.auroc(scores, torch.zeros(300, dtype=torch.bool)))


def test_accuracy_by_quantile():
    score = torch.tensor([5.0, 1.0, 3.0, 2.0, 4.0, 6.0])  # sorted: idx 1, 3, 2, 4, 0, 5
    margin = torch.tensor([1.0, 1.0, -1.0, 1.0, -1.0, 0.0])
    gold = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    rows = ex.accuracy_by_quantile(score, margin, gold, q=3)
    assert [r["gold_accuracy"] for r in rows] == [1.0, 0.0, 0.75]  # {1, 3}, {2, 4}, {0, 5 (a tie: ½)}
    assert [r["mean_score"] for r in rows] == [1.5, 3.5, 5.5]


def test_fit_temperature_recovers_a_planted_temperature():
    """Labels drawn from P(chosen) = σ(m / 2.5): the fitted T is 2.5 within sampling error, and scaling by it
    brings the ECE against those labels down."""
    g = torch.Generator().manual_seed(0)
    m = 6 * torch.randn(20_000, generator=g)
    agrees = torch.rand(20_000, generator=g) < torch.sigmoid(m / 2.5)
    labelled = torch.where(agrees, m, -m)  # margin of the labelled choice over the other
    t = ex.fit_temperature(labelled)
    assert t == pytest.approx(2.5, rel=0.05)
    assert ex.fit_temperature(torch.tensor([1.0, 2.0, 3.0])) < 0.01  # separable: as sharp as the bound allows


def test_position_consistency_known_answers():
    pairs = style_pairs(50, seed=9)
    shared = ex.position_consistency(fresh("shared"), pairs, "cpu")
    assert abs(shared["position_gap"]) < 1e-6 and shared["position_flip_rate"] == 0.0
    biased = fresh("separate")
    with torch.no_grad():  # r_A ≡ 1, r_B ≡ 0: the first slot always wins by σ(1)
        for head, bias in zip(biased.heads, (1.0, 0.0), strict=True):
            head.weight.zero_()
            head.bias.fill_(bias)
    out = ex.position_consistency(biased, pairs, "cpu")
    assert out["position_gap"] == pytest.approx(2 * torch.sigmoid(torch.tensor(1.0)).item() - 1)
    assert out["position_flip_rate"] == 1.0


# -- the study ------------------------------------------------------------------------------------------------


def test_the_study_runs_and_saves_a_loadable_ensemble(tmp_path):
    cfg = ex.RewardModelEnsemblesConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ex.reward_model_ensembles(ctx, cfg)
    s = ctx.summary_values
    assert 0.0 <= s["ensemble_gold_accuracy"] <= 1.0
    assert set(s["architectures"]) == {"shared", "separate"}
    assert s["architectures"]["separate"]["params"] > s["architectures"]["shared"]["params"]
    assert abs(s["architectures"]["shared"]["position_gap"]) < 1e-6
    for kind in ("seed", "bootstrap"):
        r = s["ensembles"][kind]
        assert len(r["member_gold_accuracy"]) == cfg.ensemble_size and len(r["by_disagreement_quintile"]) == 5
        assert 0.0 <= r["disagreement_auroc"] <= 1.0
    assert s["calibration"]["ensemble_temperature"]["temperature"] > 0
    assert [p["pairs"] for p in s["scaling"]["data"]] == [16, 32, 64]
    assert len(s["scaling"]["backbone"]) == 3
    assert {f.name for f in ctx.figures} == {"reward_model_ensembles", "reward_model_reliability",
                                              "reward_model_scaling"}
    ens, tok, meta = load_reward_model(tmp_path / "run")
    single, _, _ = load_reward_model(tmp_path / "run", name="reward_model_single")
    assert isinstance(ens, RewardEnsemble) and len(ens) == cfg.ensemble_size
    assert all(torch.equal(a, b) for a, b in zip(single.state_dict().values(),
                                                 ens.members[0].state_dict().values(), strict=True))
    assert meta["prompt_len"] == cfg.prompt_len and meta["completion_len"] == cfg.completion_len
    assert meta["gold_names"] == ["style", "fluency"] and meta["annotator"]["weights"] == {"style": 1.0}
    assert meta["metrics"]["gold_accuracy"] == s["ensemble_gold_accuracy"]
