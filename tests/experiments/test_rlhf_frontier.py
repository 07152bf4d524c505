"""`rlhf.kl_reward_tradeoff` (issue 16, item 3's frontier): the frontier, its gold peak and the adaptive
controller's tracking against hand-computed answers and brute force; the held-out KL the frontier is plotted
against matches the exact KL of a small policy, enumerated over every response; and a quick run of the study."""

from __future__ import annotations

import csv
import itertools
import math

import pytest
import torch

from studyforge.experiments.language_modeling.data import CharTokenizer
from studyforge.experiments.preference.gold import gold_rewards
from studyforge.experiments.rlhf.reward import GoldScore
from studyforge.experiments.rlhf.rollout import reference_logprobs
from studyforge.experiments.rlhf.studies import kl_reward_tradeoff as ex
from studyforge.experiments.rlhf.studies.common import World
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer
from studyforge.tracking.context import RunContext

torch.set_num_threads(1)


def test_mean_and_standard_error_on_hand_values():
    # mean 2.5; sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3; SE = √(5/3 / 4)
    assert ex.mean_se([1.0, 2.0, 3.0, 4.0]) == pytest.approx((2.5, math.sqrt(5 / 12)))
    assert ex.mean_se([7.0]) == (7.0, 0.0)


def test_pareto_frontier_on_hand_points_and_against_brute_force():
    pts = [{"kl": 0.0, "gold": 1.0}, {"kl": 2.0, "gold": 3.0}, {"kl": 1.0, "gold": 0.5}, {"kl": 3.0, "gold": 2.0},
           {"kl": 4.0, "gold": 3.5}, {"kl": 2.0, "gold": 3.2}]
    assert [(p["kl"], p["gold"]) for p in ex.pareto_frontier(pts)] == [(0.0, 1.0), (2.0, 3.2), (4.0, 3.5)]
    # the frontier as a step function is the best gold within every KL budget
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        xs, ys = torch.rand(15, generator=g).tolist(), torch.randn(15, generator=g).tolist()
        pts = [{"kl": x, "gold": y} for x, y in zip(xs, ys, strict=True)]
        front = ex.pareto_frontier(pts)
        assert all(a["kl"] < b["kl"] and a["gold"] < b["gold"] for a, b in itertools.pairwise(front))
        for budget in xs:
            best = max(p["gold"] for p in pts if p["kl"] <= budget)
            assert max(p["gold"] for p in front if p["kl"] <= budget) == best


def test_gold_peak_says_rising_flat_or_falling():
    rising = [{"kl": 0.0, "gold": 0.5, "gold_se": 0.02}, {"kl": 5.0, "gold": 0.8, "gold_se": 0.02},
              {"kl": 3.0, "gold": 0.6, "gold_se": 0.02}]
    peak = ex.gold_peak(rising)
    assert peak["verdict"] == "still rising at the largest KL measured"
    assert (peak["kl"], peak["sqrt_kl"], peak["drop"]) == (5.0, math.sqrt(5.0), 0.0)
    # the largest-KL point 0.2 below the peak, SE of the difference √(0.03² + 0.04²) = 0.05: 4 SE -> falls
    falls = [{"kl": 0.0, "gold": 0.5, "gold_se": 0.01}, {"kl": 4.0, "gold": 0.9, "gold_se": 0.03, "setting": "b"},
             {"kl": 9.0, "gold": 0.7, "gold_se": 0.04}]
    peak = ex.gold_peak(falls)
    assert peak["verdict"] == "falls past the peak" and peak["setting"] == "b"
    assert peak["drop"] == pytest.approx(0.2) and peak["drop_se"] == pytest.approx(0.05)
    assert peak["largest_kl"] == 9.0 and peak["gold_at_largest_kl"] == 0.7
    # within 2 SE of the peak: itself only (0.4 below at KL 0 is 13 SE; the last point is 4 SE)
    assert peak["near_peak_kl"] == [4.0, 4.0]
    # 0.05 below with the same SE: 1 SE -> flat
    flat = [*falls[:2], {"kl": 9.0, "gold": 0.85, "gold_se": 0.04}]
    assert ex.gold_peak(flat)["verdict"] == "flat past the peak"
    assert ex.gold_peak(flat)["near_peak_kl"] == [4.0, 9.0]


def test_kl_tracking_on_hand_values():
    t = ex.kl_tracking([0.0, 2.0, 9.0, 12.0, 4.0, 8.0, 6.0, 7.0, 5.0], [0.1, 0.08, 0.07, 0.09, 0.1, 0.09, 0.1, 0.1,
                                                                        0.11], target=6.0)
    # the last third: 3 updates, KL 6, 7, 5 -> mean 6, errors 0, 1/6, 1/6
    assert t["tail_updates"] == 3 and t["tail_kl"] == pytest.approx(6.0) and t["tail_kl_over_target"] == 1.0
    assert t["tail_rel_error"] == pytest.approx(1 / 9)
    assert (t["beta_start"], t["beta_final"], t["beta_min"], t["beta_max"]) == (0.1, 0.11, 0.07, 0.11)


# -- the KL axis: the held-out estimate against the exact KL ------------------------------------------------

ALPHABET = "ab i\n"  # 5 tokens: two letters, a vowel, a space, the stop
TOK = CharTokenizer(list(ALPHABET))


def tiny(seed: int, sharpness: float = 1.0) -> Transformer:
    """A random model; `sharpness` scales its output weights (a freshly initialised model is near uniform)."""
    torch.manual_seed(seed)
    model = Transformer(TransformerConfig(vocab_size=len(ALPHABET), d_model=16, n_layers=1, n_heads=2, max_len=8))
    with torch.no_grad():
        model.head.weight.mul_(sharpness)
    return model


def exact_kl(policy: Transformer, reference: Transformer, prompt: torch.Tensor, t: int) -> tuple[float, float]:
    """KL(π ‖ π_ref) over every response of t tokens, and the standard deviation of the per-response log-ratio."""
    ys = torch.tensor(list(itertools.product(range(len(ALPHABET)), repeat=t)))  # (V^t, t)
    x = prompt[None].expand(len(ys), -1)
    logp = reference_logprobs(policy, x, ys).sum(1).double()
    logq = reference_logprobs(reference, x, ys).sum(1).double()
    p = logp.exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-6)
    kl = float((p * (logp - logq)).sum())
    var = float((p * (logp - logq - kl) ** 2).sum())
    return kl, math.sqrt(var)


def test_heldout_kl_is_the_exact_kl_of_the_policy_within_its_standard_error():
    """A policy and a reference that differ (two random tiny models): the frontier's KL, the mean of
    Σ_t log π − log π_ref over sampled responses, lands on the exact KL summed over all 125 responses of 3
    tokens, and its reported standard error is the exact spread / √n."""
    reference, policy = tiny(0).eval(), tiny(1, sharpness=20.0).eval()
    gold = GoldScore(gold_rewards("a ab i ba ab a i", min_count=1), {"style": 1.0, "fluency": 1.0}, TOK.decode)

    def proxy(prompts, responses, lengths):  # a planted reward: the number of "a"s
        return (responses == TOK.stoi["a"]).sum(1).float()

    world = World(reference, TOK, gold, proxy, stop_id=None, device=torch.device("cpu"), prep=None, rm_metrics={})
    prompt = torch.tensor(TOK.encode("ab "))
    n, t = 4000, 3
    ev = world.evaluate(policy, prompt[None].expand(n, -1), t, torch.Generator().manual_seed(0))
    point = ex.heldout_point(ev)
    kl, sd = exact_kl(policy, reference, prompt, t)
    assert kl > 0.3  # the two models really differ
    assert point["kl"] == pytest.approx(kl, abs=4 * sd / math.sqrt(n))
    assert point["kl_se"] == pytest.approx(sd / math.sqrt(n), rel=0.1)
    assert point["sqrt_kl"] == pytest.approx(math.sqrt(point["kl"]))
    # proxy and gold with their SEs from the per-response scores
    assert (point["proxy"], point["proxy_se"]) == pytest.approx(ex.mean_se(ev["proxy_scores"]))
    assert (point["gold"], point["gold_se"]) == pytest.approx(ex.mean_se(ev["utility"]))
    # the reference against itself: exactly no KL
    assert world.evaluate(reference, prompt[None].expand(64, -1), t, torch.Generator().manual_seed(0))["kl"] == 0.0


# -- the study -----------------------------------------------------------------------------------------------


def test_quick_run_reports_the_frontier_its_peak_and_the_adaptive_run(tmp_path):
    cfg = ex.KLRewardTradeoffConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ex.kl_reward_tradeoff(ctx, cfg)
    s = ctx.summary_values
    names = [ex.setting_name(b) for b in cfg.betas] + ["adaptive"]
    assert set(s["runs"]) == set(names)
    assert s["reference"]["kl"] == 0.0
    with open(tmp_path / "run" / "tables" / "frontier_points.csv") as f:
        rows = list(csv.DictReader(f))
    evals = math.ceil(cfg.rl_updates / cfg.eval_every)
    assert len(rows) == 1 + len(names) * evals  # the reference, then one point per (run, evaluation)
    assert [int(r["step"]) for r in rows if r["setting"] == "adaptive"] == [cfg.eval_every * (i + 1)
                                                                             for i in range(evals)]
    # the summary's peak is the table's highest gold; the frontier climbs in both KL and gold and ends there
    best = max(rows, key=lambda r: float(r["gold"]))
    assert s["gold_optimal_kl"] == pytest.approx(float(best["kl"]), abs=1e-4)
    front = s["frontier"]
    assert all(a["kl"] < b["kl"] and a["gold"] < b["gold"] for a, b in itertools.pairwise(front))
    assert front[-1]["gold"] == s["gold_peak"]["gold"] and s["gold_peak"]["verdict"] in (
        "still rising at the largest KL measured", "flat past the peak", "falls past the peak")
    for name in names:
        final = s["runs"][name]["final"]
        assert final["step"] == cfg.rl_updates and final["kl"] >= -3 * final["kl_se"] - 1e-6
        assert 0.0 <= final["gold"] <= 2.0 and final["gold_se"] > 0
    # the adaptive run: its β moved (KL under the target lowers it) and is reported against the target
    t = s["adaptive_tracking"]
    assert t["target"] == cfg.kl_target and t["beta_final"] != t["beta_start"]
    assert {p.name for p in (tmp_path / "run" / "figures").iterdir()} >= {"kl_reward_frontier.png", "adaptive_kl.png"}
    with open(tmp_path / "run" / "tables" / "samples.csv") as f:
        assert {r["setting"] for r in csv.DictReader(f)} == {"reference", *names}
