"""Week 12's mitigations of over-optimisation: the intervals, the verdict, the early-stopping rule and the
equal-KL interpolation on known answers; the arms' settings; runs that do not depend on the worker count; and a
quick run of the study."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from studyforge.experiments.language_modeling.data import CharTokenizer
from studyforge.experiments.preference.gold import gold_rewards
from studyforge.experiments.preference.reward_model import RewardEnsemble, RewardModel
from studyforge.experiments.reward_hacking import plots
from studyforge.experiments.reward_hacking.studies import mitigations as m
from studyforge.experiments.rlhf.reward import GoldScore, ProxyReward
from studyforge.experiments.rlhf.studies.common import World
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer
from studyforge.tracking.context import RunContext
from tests.figure_checks import text_problems

# -- the measurements on known answers ----------------------------------------------------------------------------


def test_t_interval_on_hand_values_and_against_scipy():
    t = m.t_interval([1.0, 2.0, 3.0])
    # s = 1, t_{0.975, 2} = 4.302653: half-width 4.302653 / √3 = 2.484138
    assert float(t["mean"]) == 2.0 and float(t["half"]) == pytest.approx(2.484138, abs=1e-6)
    assert (float(t["lo"]), float(t["hi"])) == pytest.approx((-0.484138, 4.484138), abs=1e-6)
    # columns with a missing value each: the interval of the finite values, as scipy computes it
    x = np.random.default_rng(0).normal(size=(6, 3))
    x[2, 1] = x[4, 2] = np.nan
    t = m.t_interval(x)
    for j in range(3):
        col = x[:, j][np.isfinite(x[:, j])]
        lo, hi = stats.t.interval(0.95, len(col) - 1, loc=col.mean(), scale=stats.sem(col))
        assert (t["lo"][j], t["hi"][j], t["n"][j]) == pytest.approx((lo, hi, len(col)))
    one = m.t_interval([0.7])  # one seed: a mean, no interval
    assert float(one["mean"]) == 0.7 and math.isnan(one["lo"]) and math.isnan(one["hi"])
    entry = m.ci_entry([0.5, float("nan"), 0.7])
    assert entry["n"] == 2 and entry["mean"] == pytest.approx(0.6) and entry["values"] == [0.5, None, 0.7]
    assert m.ci_entry([0.3])["lo"] is None


def test_verdict_against_the_baseline_interval_and_paired():
    base = [1.0, 2.0, 3.0]  # mean 2, interval 2 ± 2.484
    assert m.verdict([5.0, 5.1, 5.2], base)["beyond_baseline_ci"] == "above"
    assert m.verdict([-1.0, -1.1, -0.9], base)["beyond_baseline_ci"] == "below"
    # a consistent gain of about 0.1 on every seed: inside the wide unpaired interval, but the paired
    # differences [0.1, 0.12, 0.08] have mean 0.1 ± 4.302653·0.02/√3 = ± 0.0497 — it excludes 0
    v = m.verdict([1.1, 2.12, 3.08], base)
    assert v["beyond_baseline_ci"] == "within" and v["paired_significant"]
    assert (v["paired_gain"]["lo"], v["paired_gain"]["hi"]) == pytest.approx((0.1 - 0.049684, 0.1 + 0.049684),
                                                                              abs=1e-5)
    noisy = m.verdict([1.3, 1.9, 3.1], base)  # differences [0.3, −0.1, 0.1]: the interval holds 0
    assert not noisy["paired_significant"]
    assert m.verdict([3.0], [1.0])["beyond_baseline_ci"] == "no_ci"


def test_early_stopping_rule_on_a_hand_made_curve():
    checks = [0.50, 0.62, 0.58, 0.55, 0.71, 0.60, 0.40]
    assert m.stop_index(checks) == 4  # the best check of the run
    assert m.stop_index(checks, patience=2) == 1  # 0.58, 0.55 do not beat 0.62: stop, keep update 1's policy
    assert m.stop_index(checks, patience=3) == 4  # one more check finds the later peak
    assert m.stop_index([0.3, 0.5, 0.5, 0.2]) == 1  # a tie keeps the earlier (cheaper, closer) policy
    assert m.stop_index([0.9, 0.1, 0.2]) == 0  # the reference itself may be best
    # checks paid for: all without patience; up to the stop + patience with it, or to the end
    assert m.checks_read(7, 4, None) == 7 and m.checks_read(7, 1, 2) == 4 and m.checks_read(7, 4, 3) == 7


def test_gold_at_kl_interpolates_on_the_first_crossing():
    kls, golds = [0.0, 2.0, 4.0, 8.0], [0.5, 1.0, 0.5, 0.3]
    assert m.gold_at_kl(kls, golds, 1.0) == pytest.approx(0.75)
    assert m.gold_at_kl(kls, golds, 6.0) == pytest.approx(0.4)
    assert m.gold_at_kl(kls, golds, 2.0) == pytest.approx(1.0)  # on a point
    assert math.isnan(m.gold_at_kl(kls, golds, 9.0))  # never reached
    # a KL that falls back: the first segment that reaches the level counts, not a later one
    assert m.gold_at_kl([0.0, 3.0, 1.0, 5.0], [0.0, 0.6, 0.9, 0.2], 2.0) == pytest.approx(0.4)
    # a noisy k1 estimate just below 0 at the start still counts as reaching level 0
    assert m.gold_at_kl([-0.01, 1.0], [0.4, 0.6], 0.0) == pytest.approx(0.4 + 0.01 / 1.01 * 0.2)


def test_curve_stats_peak_and_final():
    evals = [{"update": u, "kl": k, "gold": g, "proxy": p, "length": 10.0}
             for u, k, g, p in [(0, 0.0, 0.5, 0.0), (3, 2.0, 0.9, 1.0), (6, 5.0, 0.7, 2.0)]]
    s = m.curve_stats(evals)
    assert (s["peak_gold"], s["peak_update"], s["kl_at_peak"]) == (0.9, 3.0, 2.0)
    assert (s["final_gold"], s["final_kl"], s["final_proxy"]) == (0.7, 5.0, 2.0)
    assert s["peak_minus_final"] == pytest.approx(0.2)


# -- the arms on a tiny world -----------------------------------------------------------------------------------

TEXT = "the cat sat on a mat and the dog ate\n" * 20


def tiny_world() -> World:
    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    ref = Transformer(TransformerConfig.preset("llama", vocab_size=tok.vocab_size, max_len=20, d_model=16,
                                               n_layers=1, n_heads=2, ffn_multiple_of=16))
    members = []
    for seed in range(3):  # three members with their own random heads: they disagree
        torch.manual_seed(seed)
        members.append(RewardModel.from_language_model(ref))
    gold = GoldScore(gold_rewards(TEXT, min_count=1), {"style": 1.0, "fluency": 1.0}, tok.decode)
    return World(ref.eval(), tok, gold, ProxyReward(RewardEnsemble(members)), tok.encode("\n")[0],
                 torch.device("cpu"), None, {})


def tiny_jobs(world: World, arms=("baseline", "ensemble_min"), updates: int = 3) -> list[m.ArmJob]:
    cfg = m.MitigationsConfig.from_preset("quick", {"rl_updates": updates, "eval_every": 2})
    g = torch.Generator().manual_seed(0)
    n = (cfg.rlhf.value_warmup + updates) * cfg.rlhf.batch_size
    stream = torch.randint(0, world.tokenizer.vocab_size, (n, 6), generator=g)
    held = torch.randint(0, world.tokenizer.vocab_size, (12, 6), generator=g)
    jobs = []
    for arm in arms:
        proxy, rcfg = m.arm_setting(arm, cfg, world)
        jobs.append(m.ArmJob(arm, 5, world, proxy, rcfg.model_copy(update={"max_new_tokens": 8}), updates,
                             cfg.eval_every, stream, held[:8], held[8:] if arm == "baseline" else None, 2))
    return jobs


def test_arm_settings_optimise_what_they_say():
    world = tiny_world()
    cfg = m.MitigationsConfig.from_preset("quick")
    prompts = torch.randint(0, world.tokenizer.vocab_size, (5, 6))
    responses = torch.randint(0, world.tokenizer.vocab_size, (5, 7))
    lengths = torch.tensor([7, 3, 5, 1, 6])
    r = world.proxy.model.rewards(prompts, responses)  # (E, B)
    expected = {"baseline": (r.mean(0), cfg.rlhf.kl_coef), "large_beta": (r.mean(0), cfg.large_beta),
                "ensemble_min": (r.min(0).values, cfg.rlhf.kl_coef),
                "ensemble_mean_minus_std": (r.mean(0) - cfg.ensemble_k * r.std(0), cfg.rlhf.kl_coef),
                "length_penalty": (r.mean(0) - cfg.length_penalty * lengths, cfg.rlhf.kl_coef)}
    assert r.std(0).min() > 0  # the members disagree, so min and mean − std differ from the mean
    for arm, (score, beta) in expected.items():
        proxy, rcfg = m.arm_setting(arm, cfg, world)
        assert torch.allclose(proxy(prompts, responses, lengths), score, atol=1e-6), arm
        assert rcfg.kl_coef == beta and rcfg.batch_size == cfg.rlhf.batch_size, arm


def test_runs_share_their_start_and_do_not_depend_on_the_worker_count():
    world = tiny_world()
    jobs = tiny_jobs(world)

    class Bar:
        def advance(self, n=1, **live):
            self.n = getattr(self, "n", 0) + n

    bar = Bar()
    one = m.run_arms(jobs, 1, bar)
    assert bar.n == 2 * (1 + 3)  # one unit per update (warm-up included) of each run
    base, other = one["baseline", 5], one["ensemble_min", 5]
    # evaluations at update 0, every eval_every updates and at the end; the check beside each (baseline only)
    assert [e["update"] for e in base.evals] == [0, 2, 3] and len(base.checks) == 3 and other.checks == []
    assert len(base.rows) == 1 + 3
    # update 0 is the reference evaluated with the same generator in every arm: the same responses
    assert base.evals[0]["texts"] == other.evals[0]["texts"] and base.evals[0]["gold"] == other.evals[0]["gold"]
    two = m.run_arms(jobs, 2, Bar())  # two spawned worker processes
    for key in one:
        assert [r["gold"] for r in two[key].rows] == [r["gold"] for r in one[key].rows]
        assert [e["kl"] for e in two[key].evals] == [e["kl"] for e in one[key].evals]
        assert two[key].checks == one[key].checks


def test_figures_read_cleanly():
    rng = np.random.default_rng(0)
    bands = {}
    for arm in m.ARMS:
        band = {"update": [0.0, 3.0, 6.0]}
        for key in ("gold", "proxy", "kl"):
            mean = np.cumsum(rng.random(3))
            band[key] = {"mean": mean.tolist(), "lo": (mean - 0.1).tolist(), "hi": (mean + 0.1).tolist()}
        band["runs"] = [[(float(k), float(g)) for k, g in zip(np.cumsum(rng.random(3)), rng.random(3), strict=True)]
                        for _ in range(3)]
        bands[arm] = band
    stops = [{"stop_update": 3.0, "stop_kl": 1.0, "eval_gold": 0.5}]
    peaks = {a: {"peak_gold": {"mean": 0.6, "lo": 0.5, "hi": 0.7}, "final_gold": {"mean": 0.4, "lo": None,
                                                                                   "hi": None}} for a in m.ARMS}
    for fig in (plots.mitigation_curves(bands, stops), plots.mitigation_gold_vs_kl(bands, stops),
                plots.mitigation_peaks(peaks)):
        assert text_problems(fig) == []


# -- the study ------------------------------------------------------------------------------------------------------


def test_quick_run(tmp_path):
    """The quick preset on the offline corpus: every arm summarised over both seeds, early stopping read off the
    baseline's checks, every RL run reaching the common KL, the logs holding what the summary says."""
    cfg = m.MitigationsConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt", "seeds": 2})  # intervals
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    m.mitigations(ctx, cfg)
    s = ctx.summary_values
    assert set(s["arms"]) == set(m.ARMS)
    for arm, e in s["arms"].items():
        assert e["peak_gold"]["n"] == cfg.seeds and e["peak_gold"]["lo"] <= e["peak_gold"]["mean"] <= e["peak_gold"]["hi"]
        assert 0.0 <= e["final_gold"]["mean"] <= 2.0 and e["peak_gold"]["mean"] >= e["final_gold"]["mean"]
        if arm != "baseline":
            assert e["peak_vs_baseline"]["beyond_baseline_ci"] in ("above", "below", "within")
    assert set(s["moves_peak"]) <= set(m.RL_ARMS) and s["best_arm"] in m.RL_ARMS
    assert s["best_peak_gain"] == max(s["arms"][a]["peak_vs_baseline"]["paired_gain"]["mean"]
                                      for a in m.RL_ARMS if a != "baseline")
    # every RL run reaches the common KL; early stopping's runs are the baseline's, cut short
    common = s["equal_kl"]["common"]["arms"]
    assert all(common[a]["n"] == cfg.seeds for a in m.RL_ARMS)

    # the metrics log: the baseline's evaluations and checks per seed, against which the stop is checked
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    n_checks = cfg.rl_updates // cfg.eval_every + 1
    for stop in s["early_stop"]["per_seed"]:
        prefix = f"baseline/s{stop['seed']}/"
        evals = [(r[f"{prefix}update"], r[f"{prefix}eval/gold"], r[f"{prefix}eval/gold_check"])
                 for r in rows if f"{prefix}eval/gold" in r]
        assert [u for u, _, _ in evals] == list(range(0, cfg.rl_updates + 1, cfg.eval_every))
        checks = [c for _, _, c in evals]
        i = m.stop_index(checks)
        assert stop["stop_update"] == evals[i][0] and stop["check_gold"] == pytest.approx(max(checks))
        assert stop["eval_gold"] == pytest.approx(evals[i][1])  # the gold of the evaluation, not of the check
        assert stop["gold_labels"] == n_checks * cfg.check_prompts
    assert {p.name for p in (tmp_path / "run" / "figures").iterdir()} == {
        "mitigation_curves.png", "mitigation_gold_vs_kl.png", "mitigation_peaks.png"}
    assert {p.stem for p in (tmp_path / "run" / "tables").iterdir()} >= {"arms", "curves", "equal_kl", "samples",
                                                                           "early_stop"}
