"""The runner (`runner.py`): plans a request before anything runs, then runs each study through RunContext into
a run record — completed, failed (its partial summary kept) or interrupted — with several seeds' mean and CI.

The studies are `fake.ok` and `fake.fail` (fake_studies.py, registered by the `fakes` fixture).
"""

from __future__ import annotations

import json

import pytest
from fake_studies import FakeConfig

from studyforge.errors import ForgeError
from studyforge.experiments import registry
from studyforge.runner import RunRequest, execute, plan
from studyforge.tracking.records import latest_completed, list_records


def test_run_records_completed_and_failed(fakes):
    ws = fakes
    req = RunRequest(week=1, preset="quick", wandb="disabled")
    outcomes = execute(ws, req, plan(ws, req))
    by_id = {o.study.id: o.record for o in outcomes}
    ok, failed = by_id["fake.ok"], by_id["fake.fail"]
    assert ok.status == "completed" and failed.status == "failed"
    assert "RuntimeError: boom" in failed.error and "Traceback" in failed.traceback
    # the failed study's partial summary is kept
    assert json.loads((failed.path / "summary.json").read_text()) == {"before_crash": 1}
    run = json.loads((ok.path / "run.json").read_text())
    assert run["status"] == "completed" and run["preset"] == "quick" and run["seeds"] == [0]
    assert run["config"] == {"steps": 2, "gamma": 0.9}
    assert {"python", "torch", "numpy"} <= set(run["versions"]) and run["host"]["cpus"]
    assert run["ended"] and run["duration_s"] >= 0 and run["wandb"]["mode"] == "disabled"
    metrics = [json.loads(line) for line in (ok.path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [0, 1] and metrics[1]["charts/value"] == pytest.approx(0.9)
    assert (ok.path / "figures" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert run["figures"][0]["caption"] == "a line"
    assert (ok.path / "tables" / "numbers.csv").read_text() == "a,b\n1,2.5\n2,\n"
    assert json.loads((ok.path / "summary.json").read_text())["nested"] == {"steps": 2}
    assert set(latest_completed(ws.runs_dir, 1)) == {"fake.ok"}
    assert not list(ok.path.rglob("*.tmp"))


def test_several_seeds_report_mean_and_ci(fakes):
    ws = fakes
    req = RunRequest(week=1, experiments=["fake.ok"], preset="quick", seed=3, seeds=3, wandb="disabled")
    (outcome,) = execute(ws, req, plan(ws, req))
    record = outcome.record
    assert record.seeds == [3, 4, 5]
    assert record.summary()["final"] == pytest.approx(4.9)
    stats = record.stats()["final"]
    assert stats["n"] == 3 and stats["values"] == pytest.approx([3.9, 4.9, 5.9])
    assert stats["ci95"] == pytest.approx(4.302653 / 3**0.5, rel=1e-5)
    names = sorted(p.name for p in (record.path / "figures").iterdir())
    assert names == ["curve.png", "curve.seed4.png", "curve.seed5.png"]


def test_ctrl_c_leaves_record_interrupted(fakes):
    ws = fakes

    def interrupted(ctx, cfg):
        ctx.log({"x": 1}, step=0)
        raise KeyboardInterrupt

    registry._REGISTRY.pop("fake.ok")
    registry.register("fake.ok", week=1, config=FakeConfig)(interrupted)
    req = RunRequest(week=1, experiments=["fake.ok"], preset="quick", wandb="disabled")
    with pytest.raises(KeyboardInterrupt):
        execute(ws, req, plan(ws, req))
    (record,) = list_records(ws.runs_dir, 1)
    assert record.status == "interrupted" and record.ended is not None
    assert record.metrics()[0]["x"] == 1


def test_plan_rejects_bad_requests_before_running(fakes):
    ws = fakes
    with pytest.raises(ForgeError, match="no experiment 'fake.nope'"):
        plan(ws, RunRequest(week=1, experiments=["fake.nope"]))
    with pytest.raises(ForgeError, match="not implemented yet"):
        plan(ws, RunRequest(week=2))
    with pytest.raises(ForgeError, match="no selected experiment has a setting 'nosuchkey'"):
        plan(ws, RunRequest(week=1, overrides={"nosuchkey": "1"}))
    with pytest.raises(ForgeError, match="gamma='abc'"):
        plan(ws, RunRequest(week=1, overrides={"gamma": "abc"}))
    assert not ws.runs_dir.exists()
