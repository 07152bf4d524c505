"""`rlhf.algorithm_comparison` against known answers: distinct-n, the curve at a KL, best-of-n's expected maximum
of n ranks, what an update and a best-of-n response cost (by the trainer's own counters), and one quick run."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from studyforge.errors import ForgeError
from studyforge.experiments.rlhf.best_of_n import best_of_n_curve, best_of_n_kl
from studyforge.experiments.rlhf.ppo import RLHFTrainer
from studyforge.experiments.rlhf.studies import algorithm_comparison as ac
from studyforge.experiments.rlhf.studies.common import value_at_kl
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer
from studyforge.tracking.context import RunContext


def test_distinct_n_on_hand_values():
    assert ac.distinct_n([1, 2, 1, 2, 1], 2) == 0.5  # 12 21 12 21
    assert ac.distinct_n([4, 4, 4, 4, 4, 4], 2) == pytest.approx(1 / 5)  # one bigram, five times
    assert ac.distinct_n([1, 2, 3, 1, 2, 3], 3) == pytest.approx(3 / 4)  # 123 231 312 123
    assert ac.distinct_n([1, 2, 3, 4], 2) == 1.0
    assert ac.distinct_n([9], 2) == 1.0 and ac.distinct_n([], 2) == 1.0  # no bigram: nothing repeats


def test_degeneracy_counts_stops_and_repeats():
    # stop id 0: two of three responses end with it; distinct-2 = (1 + 1/3 + 1) / 3
    d = ac.degeneracy([[5, 6, 0], [7, 7, 7, 7], [0]], stop_id=0)
    assert d["stop_rate"] == pytest.approx(2 / 3)
    assert d["distinct_2"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert ac.degeneracy([[5, 6, 0]], stop_id=None)["stop_rate"] == 0.0


def test_value_at_kl_interpolates_at_the_first_crossing():
    kl, gold = [0.0, 1.0, 3.0, 2.0, 5.0], [0.5, 1.0, 2.0, 4.0, 6.0]
    assert value_at_kl(kl, gold, 2.0) == pytest.approx(1.5)  # between (1, 1.0) and (3, 2.0), not the later 2.0
    assert value_at_kl(kl, gold, 0.0) == 0.5
    assert value_at_kl(kl, gold, 4.0) == pytest.approx(4.0 + (4.0 - 2.0) / 3.0 * 2.0)  # 2 → 5 after the dip
    assert value_at_kl(kl, gold, 5.0) == 6.0  # the last point exactly
    assert value_at_kl(kl, gold, 5.5) is None  # never reached
    assert value_at_kl([0.0, -0.1, 0.4], [1.0, 2.0, 3.0], 0.2) == pytest.approx(2.6)  # k1 noise below zero
    # the RL run at a KL: gold, proxy, update and the tokens its rollouts generated to get there
    curve = [{"kl": 0.0, "gold": 0.5, "gold_se": 0.1, "proxy": -1.0, "proxy_se": 0.2, "update": 0, "rollouts": 0},
             {"kl": 2.0, "gold": 0.7, "gold_se": 0.3, "proxy": 1.0, "proxy_se": 0.2, "update": 5, "rollouts": 7}]
    m = ac.matched(curve, 1.0, tokens_per_rollout=100)
    assert m == pytest.approx({"gold": 0.6, "gold_se": 0.2, "proxy": 0.0, "proxy_se": 0.2, "update": 2.5,
                               "tokens_generated": 350.0})
    assert ac.matched(curve, 3.0, 100) is None


def test_doubling():
    assert ac.doubling(1) == [1]
    assert ac.doubling(8) == [1, 2, 4, 8]
    assert ac.doubling(12) == [1, 2, 4, 8, 12]


def test_best_of_n_curve_on_ranks_has_the_expected_maximum():
    """With gold = proxy = a random permutation of 1…N per prompt, the best of a random n-subset is the maximum of
    n ranks drawn without replacement: E = n(N + 1)/(n + 1). With gold = −proxy it is minus that."""
    big_n, b = 8, 5
    g = torch.Generator().manual_seed(0)
    ranks = torch.stack([torch.randperm(big_n, generator=g) + 1 for _ in range(b)]).float()
    rows = best_of_n_curve(ranks, ranks, ac.doubling(big_n))
    for r in rows:
        n = r["n"]
        assert r["kl"] == pytest.approx(math.log(n) - (n - 1) / n) and r["kl"] == best_of_n_kl(n)
        assert r["proxy"] == pytest.approx(n * (big_n + 1) / (n + 1))
        assert r["gold"] == pytest.approx(r["proxy"])
        assert r["gold_se"] == pytest.approx(0.0, abs=1e-9)  # every prompt has the same ranks: no spread
    inverse = best_of_n_curve(ranks, -ranks, [1, 4, 8])
    assert [r["gold"] for r in inverse] == pytest.approx([-4.5, -4 * 9 / 5, -8.0])
    # gold independent of the proxy's order within a prompt: selection buys nothing, at every n
    flat = best_of_n_curve(ranks, torch.full((b, big_n), 0.25), [1, 2, 8])
    assert [r["gold"] for r in flat] == pytest.approx([0.25] * 3)


VOCAB = 12


def tiny_reference() -> Transformer:
    torch.manual_seed(0)
    return Transformer(TransformerConfig.preset("llama", vocab_size=VOCAB, max_len=24, d_model=16, n_layers=1,
                                                n_heads=2, ffn_multiple_of=16))


def test_ppo_and_grpo_runs_generate_the_same_tokens_and_the_cost_per_update_is_the_trainers():
    """The study's runs: GRPO's batch is prompts × G, so both generate batch × T tokens per update. Per rollout
    of B responses with E epochs: B·T tokens, B policy passes for the rollout plus E·B in the epochs, E·B
    backward passes, B reference and B reward passes — PPO's warm-up rollouts counted like any other."""
    cfg = ac.AlgorithmComparisonConfig.from_preset("quick")
    b, t, e = cfg.rlhf.batch_size, cfg.rlhf.max_new_tokens, cfg.rlhf.update_epochs
    settings = ac.runs(cfg)
    assert set(settings) == {"ppo", "grpo", "ppo_no_kl", "ppo_tiny_kl", "ppo_no_warmup"}
    assert settings["ppo_no_kl"].kl_coef == 0.0 and settings["ppo_tiny_kl"].kl_coef == cfg.tiny_kl_coef
    assert settings["ppo_no_warmup"].value_warmup == 0 and settings["ppo"].value_warmup == cfg.rlhf.value_warmup
    assert settings["grpo"].kl_coef == settings["ppo"].kl_coef > 0

    def reward(prompts, responses, lengths):
        return (responses == 3).float().mean(1)

    per = {}
    for name in ("ppo", "grpo"):
        rc = settings[name].model_copy(update={"stop": None})
        tr = RLHFTrainer(tiny_reference(), reward, rc, seed=0, stop_id=None)
        n_prompts = b // (rc.group_size if rc.algo == "grpo" else 1)
        steps = 2
        for _ in range(steps):
            tr.step(torch.randint(0, VOCAB, (n_prompts, 4), generator=torch.Generator().manual_seed(1)))
        per[name] = ac.cost_per_update(tr.cost, tr.timing, steps)
    for name in ("ppo", "grpo"):
        c = per[name]
        assert c["tokens_generated"] == b * t
        assert c["policy_forward"] == b + e * b and c["policy_backward"] == e * b
        assert c["reference_forward"] == b and c["reward_forward"] == b
        assert c["generate_s"] > 0 and c["optimise_s"] > 0


def test_best_of_n_cost_per_response():
    c = ac.best_of_n_cost(16, 24, {"generate_s": 0.001, "score_s": 0.0005, "optimise_s": 0.0})
    assert c["tokens_generated"] == 16 * 24 and c["reward_forward"] == 16 and c["policy_backward"] == 0
    assert c["generate_s"] == pytest.approx(0.016) and c["score_s"] == pytest.approx(0.008)


def test_config_wants_groups_that_fill_the_batch():
    """A bad `--set` fails before anything runs, saying why."""
    with pytest.raises(ForgeError, match="multiple of rlhf.group_size"):
        ac.AlgorithmComparisonConfig.from_preset("quick", {"rlhf": {"batch_size": 18, "group_size": 4}})


def test_quick_run(tmp_path):
    """The quick preset on the offline corpus: every part of the summary, with values that must hold."""
    cfg = ac.AlgorithmComparisonConfig.from_preset("quick", {"corpus_path": "no/such/corpus.txt"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ac.algorithm_comparison(ctx, cfg)
    s = ctx.summary_values
    ns = ac.doubling(cfg.bon_samples)
    assert list(s["best_of_n"]) == [f"n{n}" for n in ns]
    bon = [s["best_of_n"][f"n{n}"] for n in ns]
    assert [r["kl"] for r in bon] == pytest.approx([best_of_n_kl(n) for n in ns])
    proxies = [r["proxy"] for r in bon]
    assert proxies == sorted(proxies) and proxies[-1] > proxies[0]  # E[max of n] grows with n
    assert s["reference"]["kl"] == pytest.approx(0.0, abs=1e-5)  # the reference against itself
    runs = s["runs"]
    assert set(runs) == set(ac.runs(cfg))
    assert runs["ppo_no_kl"]["beta"] == 0.0 and runs["grpo"]["algo"] == "grpo"
    for r in runs.values():
        f = r["final"]
        assert 0.0 <= f["stop_rate"] <= 1.0 and 0.0 < f["distinct_2"] <= 1.0 and f["entropy"] > 0
        assert 1 <= f["length"] <= cfg.rlhf.max_new_tokens
    m = s["matched_kl"]
    assert m["kl"] == pytest.approx(best_of_n_kl(m["n"])) and f"n{m['n']}" in s["best_of_n"]
    assert m["gold"]["best_of_n"] == s["best_of_n"][f"n{m['n']}"]["gold"]
    assert set(m["gold"]) == {"ppo", "grpo", "best_of_n"}
    tokens = cfg.rlhf.batch_size * cfg.rlhf.max_new_tokens
    cost = s["cost"]["per_update"]
    assert cost["ppo"]["tokens_generated"] == cost["grpo"]["tokens_generated"] == tokens
    assert cost["grpo"]["policy_backward"] == cost["ppo"]["policy_backward"]
    assert s["cost"]["best_of_n_per_response"][f"n{cfg.bon_samples}"]["reward_forward"] == cfg.bon_samples
    assert set(s["warm_start"]["value_loss_early"]) == {"with", "without"}
    out = tmp_path / "run"
    # evaluations after update 1 (early_evals) and the last (3, also eval_every); the peak is one of them
    with open(out / "tables" / "curves.csv") as fh:
        curves = list(csv.DictReader(fh))
    for name, r in runs.items():
        mine = [c for c in curves if c["run"] == name]
        assert [int(c["update"]) for c in mine] == [0, 1, 3]
        assert r["gold_peak"] == pytest.approx(max(float(c["gold"]) for c in mine))
        assert float(mine[-1]["kl"]) == pytest.approx(r["final"]["kl"])
    assert {p.name for p in (out / "figures").iterdir()} == {"frontier.png", "failure_modes.png",
                                                              "update_cost.png"}
    samples = (out / "tables" / "samples.csv").read_text().splitlines()
    assert samples[0] == "setting,sample,proxy,gold"
    assert len(samples) == 1 + cfg.samples * (2 + len(runs))  # reference, best-of-N and every run
