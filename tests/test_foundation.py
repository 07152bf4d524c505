"""The spine: registry, configs, RunContext, run records, the runner, W&B modes and the CLI."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import Field
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.errors import ForgeError
from studyforge.experiments import registry
from studyforge.experiments.config import ExperimentConfig, parse_overrides
from studyforge.runner import RunRequest, execute, plan
from studyforge.tracking.records import latest_completed, list_records
from studyforge.tracking.stats import aggregate, mean_ci
from studyforge.workspace import Workspace

runner = CliRunner()


class FakeConfig(ExperimentConfig):
    steps: int = Field(5, description="steps")
    gamma: float = Field(0.9, description="discount")
    presets: ClassVar = {"quick": {"steps": 2}, "full": {"steps": 50}}


def _ok(ctx, cfg):
    """OK study."""
    import matplotlib.pyplot as plt

    with ctx.progress(total=cfg.steps, description="counting") as bar:
        for i in range(cfg.steps):
            ctx.log({"charts/value": i * cfg.gamma}, step=i)
            bar.advance(1)
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    ctx.log_figure("curve", fig, caption="a line")
    ctx.log_table("numbers", [{"a": 1, "b": 2.5}, {"a": 2, "b": None}])
    ctx.summary(final=float(ctx.seed) + cfg.gamma, nested={"steps": cfg.steps}, name="ok")


def _fail(ctx, cfg):
    """Failing study."""
    ctx.summary(before_crash=1)
    raise RuntimeError("boom")


@pytest.fixture
def fakes(mini_workspace):
    registry.discover()
    saved = dict(registry._REGISTRY)
    registry.register("fake.ok", week=1, config=FakeConfig, headline="final")(_ok)
    registry.register("fake.fail", week=1, config=FakeConfig)(_fail)
    yield Workspace(mini_workspace)
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


# -- configs --------------------------------------------------------------------------------------

def test_presets_are_data_and_overrides_are_validated():
    assert FakeConfig.from_preset("quick").steps == 2
    assert FakeConfig.from_preset("default").steps == 5
    assert FakeConfig.from_preset("quick", {"gamma": "0.5"}).gamma == 0.5
    with pytest.raises(ForgeError, match="no setting 'nosuchkey'"):
        FakeConfig.from_preset("default", {"nosuchkey": "1"})
    with pytest.raises(ForgeError, match="gamma='abc'"):
        FakeConfig.from_preset("default", {"gamma": "abc"})
    with pytest.raises(ForgeError, match="unknown preset"):
        FakeConfig.from_preset("huge")
    with pytest.raises(ForgeError, match="not key=value"):
        parse_overrides(["gamma"])


def test_nested_override_keeps_the_presets_other_nested_values():
    class Inner(ExperimentConfig):
        lr: float = 1.0
        batch: int = 32

    class Outer(ExperimentConfig):
        inner: Inner = Field(default_factory=Inner)
        presets: ClassVar = {"quick": {"inner": {"batch": 4}}}

    cfg = Outer.from_preset("quick", {"inner.lr": "0.5"})
    assert (cfg.inner.lr, cfg.inner.batch) == (0.5, 4)
    assert Outer.presets == {"quick": {"inner": {"batch": 4}}}  # the preset itself is untouched


def test_mean_ci_matches_student_t():
    stats = mean_ci([1.0, 2.0, 3.0])
    # t_{0.975, 2} = 4.302653; s = 1; half-width = 4.302653 / sqrt(3)
    assert stats["mean"] == 2.0 and stats["n"] == 3
    assert stats["ci95"] == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    summary, per_key = aggregate([{"a": 1.0, "b": {"c": 2}, "s": "x"}, {"a": 3.0, "b": {"c": 4}, "s": "y"}])
    assert summary == {"a": 2.0, "b": {"c": 3.0}, "s": "x"}
    assert per_key["b.c"]["values"] == [2.0, 4.0]


# -- the runner and records -----------------------------------------------------------------------

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


def test_wandb_offline_writes_a_syncable_run(fakes, monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    ws = fakes
    req = RunRequest(week=1, experiments=["fake.ok"], preset="quick", wandb="auto")  # no key -> offline
    (outcome,) = execute(ws, req, plan(ws, req))
    info = outcome.record.wandb
    assert outcome.record.status == "completed", outcome.record.traceback
    assert info.mode == "offline" and len(info.run_ids) == 1
    run_dir = ws.root / info.dirs[0]
    assert run_dir.name.startswith("offline-run-") and list(run_dir.glob("*.wandb"))


def test_wandb_online_without_a_key_is_refused():
    from studyforge.tracking.wandb_sink import resolve_mode

    with pytest.raises(ForgeError, match="needs a W&B API key"):
        resolve_mode("online")
    assert resolve_mode("disabled") == "disabled"


# -- the CLI --------------------------------------------------------------------------------------

def test_cli_run_and_runs(fakes):
    result = runner.invoke(app, ["run", "week1", "-e", "fake.ok", "--preset", "quick", "--wandb", "disabled"])
    assert result.exit_code == 0, result.output
    assert "fake.ok" in result.output and "0.9" in result.output
    listing = runner.invoke(app, ["runs", "1", "--json"])
    data = json.loads(listing.stdout)
    assert data[0]["experiment"] == "fake.ok" and data[0]["summary"]["final"] == pytest.approx(0.9)


def test_cli_run_exits_non_zero_when_a_study_fails(fakes):
    result = runner.invoke(app, ["run", "1", "--preset", "quick", "--wandb", "disabled"])
    assert result.exit_code == 1
    assert "1 experiment(s) failed: fake.fail" in result.output
    assert {r.status for r in list_records(fakes.runs_dir)} == {"completed", "failed"}


@pytest.mark.parametrize("args, message", [
    (["run", "week17"], "week 17 is not in the curriculum"),
    (["run", "../x"], "'../x' is not a week"),
    (["run", "1", "-e", "nope"], "no experiment 'nope'"),
    (["run", "1", "--set", "nosuchkey=1"], "has a setting 'nosuchkey'"),
    (["run", "1", "--set", "gamma=abc"], "gamma='abc'"),
    (["run", "1", "--preset", "huge"], "unknown preset"),
    (["run", "2"], "not implemented yet"),
    (["runs", "w99"], "week 99 is not in the curriculum"),
])
def test_bad_input_is_one_line_and_exit_2(fakes, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not fakes.runs_dir.exists()  # nothing recorded


def test_broken_curriculum_is_located_to_its_line(mini_workspace):
    path = mini_workspace / "curriculum.yaml"
    path.write_text(path.read_text().replace("kind: primary, notes_for_agent: Be brief.",
                                             "kind: primery, notes_for_agent: Be brief."))
    result = runner.invoke(app, ["run", "1"])
    assert result.exit_code == 2
    assert "curriculum.yaml:22: weeks[0].posts[0].kind: Input should be" in result.output
    path.write_text("title: [unclosed\n")
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2 and "curriculum.yaml:1: YAML syntax error: unclosed '['" in result.output  # where it opens


def test_unknown_key_in_curriculum(mini_workspace):
    path = mini_workspace / "curriculum.yaml"
    path.write_text(path.read_text().replace("    title: Toy week\n", "    title: Toy week\n    colour: red\n"))
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "curriculum.yaml:14: weeks[0].colour: unknown key 'colour'" in result.output


def test_an_unreadable_run_record_is_an_error_row(fakes):
    (fakes.runs_dir / "week01" / "fake.ok" / "broken").mkdir(parents=True)
    (fakes.runs_dir / "week01" / "fake.ok" / "broken" / "run.json").write_text("{not json")
    result = runner.invoke(app, ["runs"])  # one bad record blocks nothing (test_learner_runs has the rest)
    assert result.exit_code == 0 and "not valid JSON" in result.output and "Traceback" not in result.output


def test_week_ids_in_every_form():
    from studyforge.curriculum import parse_week

    assert {parse_week(x) for x in ("week4", "4", "w04", "Week 4", "WEEK04")} == {4}
    for bad in ("../x", "week", "0", "4a", ""):
        with pytest.raises(ForgeError):
            parse_week(bad)


def test_pull_from_a_faked_wandb_api(mini_workspace):
    from studyforge.tracking.pull import pull

    class Run:
        id, name, state, url, job_type = "abc123", "fake.ok-s0", "finished", "https://wandb.ai/e/p/runs/abc123", "fake.ok"
        config = {"experiment": "fake.ok", "seed": 0, "preset": "default", "gamma": 0.9}
        summary = {"final": 0.9, "nested.steps": 5, "_runtime": 3, "figures/curve": {"_type": "image"}}
        created_at = "2026-11-20T10:00:00Z"

        def scan_history(self):
            return [{"step": 0, "charts/value": 0.0}, {"step": 1, "charts/value": 0.9}]

    class Api:
        def __init__(self):
            self.calls = []

        def runs(self, path, filters=None):
            self.calls.append((path, filters))
            return [Run()]

    api = Api()
    ws = Workspace(mini_workspace)
    created, skipped = pull(ws.runs_dir, 1, "e/p", api=api)
    assert api.calls == [("e/p", {"tags": {"$in": ["week01"]}})]
    assert len(created) == 1 and skipped == 0
    (record,) = list_records(ws.runs_dir, 1)
    assert record.source == "wandb" and record.status == "completed" and record.config == {"experiment": "fake.ok", "gamma": 0.9}
    assert record.summary() == {"final": 0.9, "nested": {"steps": 5}}
    assert record.metrics()[1]["charts/value"] == 0.9
    # idempotent: pulling again leaves the record untouched
    before = (record.path / "run.json").read_text()
    assert pull(ws.runs_dir, 1, "e/p", api=api) == ([], 1)
    assert (record.path / "run.json").read_text() == before
    with pytest.raises(ForgeError, match="not ENTITY/PROJECT"):
        pull(ws.runs_dir, 1, "justaproject", api=api)
