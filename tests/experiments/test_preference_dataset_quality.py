"""The `preference.dataset_quality` study: its pieces against known answers, and one small run end to end."""

from __future__ import annotations

import json

import pytest
import torch

from studyforge.errors import ForgeError
from studyforge.experiments.preference.data import Comparisons
from studyforge.experiments.preference.formats import PreferencePair, write_jsonl
from studyforge.experiments.preference.studies import dataset_quality as ex
from studyforge.tracking.context import RunContext


def test_each_variant_trains_with_its_own_loss():
    cfg = ex.DatasetQualityConfig(smoothing=0.15, margin=2.0)
    plain = ex.variant_config("plain", 0.2, cfg)
    assert plain.label_smoothing == 0.0 and plain.margin is None
    assert ex.variant_config("smoothing_rate", 0.2, cfg).label_smoothing == 0.2
    assert ex.variant_config("smoothing_rate", 0.6, cfg).label_smoothing == 0.49  # ε must stay below ½
    assert ex.variant_config("smoothing_fixed", 0.3, cfg).label_smoothing == 0.15
    assert ex.variant_config("margin", 0.3, cfg).margin == 2.0


def test_quality_rows_report_the_injected_flips_that_were_written(tmp_path):
    """Hand-made comparisons whose gold is known: the rows carry the realised flip share, the labels' error
    against the gold, and the toolkit's counts of what was written (here: no duplicates, no identical pair)."""
    from studyforge.experiments.preference.data import Annotator

    n = 200
    g = torch.Generator().manual_seed(0)
    completions = torch.randint(0, 50, (n, 2, 6), generator=g)
    gold = torch.rand(n, 2, 1, generator=g)
    comps = Comparisons(torch.randint(0, 50, (n, 4), generator=g), completions, gold, ["style"])
    pairs = {rate: Annotator({"style": 1.0}, flip_rate=rate).label_pairs(comps, g) for rate in (0.0, 0.25)}

    def decode(ids):
        return " ".join(f"w{i}" for i in ids)

    cfg = ex.DatasetQualityConfig()
    rows = ex.quality_vs_injected(pairs, decode, cfg, seed=0, folder=tmp_path)
    assert [r["injected"] for r in rows] == [0.0, 0.25]
    assert rows[0]["flipped_share"] == 0.0 and rows[0]["label_error_vs_gold"] == 0.0
    assert rows[1]["flipped_share"] == pytest.approx(float(pairs[0.25].flipped.float().mean()))
    assert rows[1]["label_error_vs_gold"] == pytest.approx(rows[1]["flipped_share"], abs=1e-6)  # no gold ties here
    assert all(r["records"] == n and r["exact_duplicates"] == 0 and r["identical_pairs"] == 0 for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic_flip0.25.jsonl", "synthetic_flip0.jsonl"]
    first = json.loads((tmp_path / "synthetic_flip0.jsonl").read_text().splitlines()[0])
    assert set(first) == {"chosen", "rejected"} and first["chosen"].startswith("\n\nHuman:")  # HH-RLHF layout


def test_inspect_file_finds_planted_duplicates_and_length_bias(tmp_path):
    """The study's (d) path on a user file: 40 pairs, 10 of them exact repeats, the chosen longer in 30 of the
    30 distinct ones."""
    distinct = [PreferencePair(f"question {i}?", f"a long and careful answer number {i}", f"no {i}")
                for i in range(30)]
    path = tmp_path / "user.jsonl"
    write_jsonl(distinct + distinct[:10], path, "trl")
    report = ex.inspect_file(path)
    assert report.records == 40 and report.duplicates.exact == 10
    assert report.length_bias.chosen_longer == 1.0 and report.length_bias.classifier_accuracy == 1.0
    row = ex.report_row(report)
    assert row["exact_duplicates"] == 10 and row["chosen_longer"] == 1.0


def test_a_missing_data_file_fails_before_any_training(tmp_path):
    cfg = ex.DatasetQualityConfig.from_preset("quick", {"data": str(tmp_path / "missing.jsonl")})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    with pytest.raises(ForgeError, match="no such file"):
        ex.dataset_quality(ctx, cfg)
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_the_quick_study_runs_and_summarises(tmp_path, shared_data):
    """A quick run on Tiny Shakespeare with a user file (d): the noise estimate at ρ = 0 and 0.3 lies near the
    injected rate, every summary key a draft cites is there, and the three figures and tables are written."""
    user = tmp_path / "user.jsonl"
    write_jsonl([PreferencePair(f"q{i}", f"a fine long answer {i}", f"bad {i}") for i in range(50)], user, "hh")
    cfg = ex.DatasetQualityConfig.from_preset("quick", {"corpus_path": str(shared_data / "tinyshakespeare.txt"),
                                                        "data": str(user)})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ex.dataset_quality(ctx, cfg)
    s = ctx.summary_values
    by_rate = s["noise_estimate"]["by_rate"]
    assert set(by_rate) == {"rate0", "rate0_3"}
    assert 0.0 <= s["noise_estimate"]["max_abs_error"] < 0.15, by_rate
    assert by_rate["rate0_3"]["noise_estimate"] > by_rate["rate0"]["noise_estimate"] + 0.1
    assert 0.2 < by_rate["rate0_3"]["flipped_share"] < 0.4
    assert set(s["robustness"]) == set(cfg.variants)
    assert all(0.0 <= cell["mean"] <= 1.0 for v in s["robustness"].values() for cell in v.values())
    el = s["elicitation"]
    assert set(el["final_gold_accuracy"]) == set(cfg.rules) and el["budget"] == cfg.budget
    assert all(c["labels"] == [8, 16, 24, 32] for c in el["curves"].values())
    assert s["data_report"]["records"] == 50 and s["data_report"]["length_bias"]["chosen_longer"] == 1.0
    assert {a.name for a in ctx.figures} == {"noise_estimate", "noise_robustness", "elicitation"}
    assert {a.name for a in ctx.tables} == {"data_report", "noise_estimate", "robustness", "elicitation"}
