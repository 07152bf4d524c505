"""The W&B sink (`tracking/wandb_sink.py`): which mode `--wandb` resolves to, an offline run W&B can sync later,
and a sink that cannot kill a study: whatever W&B raises, the study runs on, its local record is complete and
marked not synced, and the user reads one warning line per run."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from studyforge.errors import ForgeError
from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.registry import Study
from studyforge.runner import Planned, RunRequest, execute, plan
from studyforge.tracking.wandb_sink import resolve_mode
from studyforge.workspace import Workspace


class TinyConfig(ExperimentConfig):
    steps: int = 3
    presets: ClassVar = {"quick": {}}


def tiny(ctx, cfg: TinyConfig) -> None:
    """Logs every kind of thing a study logs: metrics, a figure, a table (one type per column), a summary."""
    import matplotlib.pyplot as plt

    for step in range(cfg.steps):
        ctx.log({"charts/value": step * 0.5}, step=step)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ctx.log_figure("curve", fig, caption="a line")
    ctx.log_table("numbers", [{"a": 1, "b": 2.5}, {"a": 2, "b": None}])
    ctx.summary(final=cfg.steps * 0.5)


STUDY = Study("fake.tiny", 1, tiny, TinyConfig, "A tiny study", "final")


def run_offline(tmp_path, monkeypatch, seeds: int = 2):
    monkeypatch.delenv("WANDB_MODE")  # the user's default: --wandb auto without a key -> offline
    ws = Workspace(tmp_path)
    req = RunRequest(week=1, experiments=[STUDY.id], preset="quick", seeds=seeds, wandb="auto", device="cpu")
    (outcome,) = execute(ws, req, [Planned(STUDY, TinyConfig.from_preset("quick"))])
    return ws, outcome.record


def assert_local_record_complete(record, seeds: int = 2) -> None:
    assert record.status == "completed", record.traceback
    metrics = [json.loads(line) for line in (record.path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [0, 1, 2] * seeds
    assert len(record.figures) == len(record.tables) == seeds
    for artifact in record.figures + record.tables:
        assert (record.path / artifact.path).is_file()
    assert (record.path / "tables" / "numbers.csv").read_text() == "a,b\n1,2.5\n2,\n"
    assert json.loads((record.path / "summary.json").read_text()) == {"final": 1.5}
    saved = json.loads((record.path / "run.json").read_text())
    assert saved["status"] == "completed" and saved["wandb"]["synced"] is False


def warnings_in(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def test_a_clean_offline_run_is_synced(tmp_path, monkeypatch, capsys):
    ws, record = run_offline(tmp_path, monkeypatch)
    assert record.status == "completed" and record.wandb.synced and record.wandb.error is None
    assert len(record.wandb.dirs) == 2 and all((ws.root / d).is_dir() for d in record.wandb.dirs)
    assert warnings_in(capsys) == []


def test_a_table_wandb_refuses_costs_the_table_not_the_study(tmp_path, monkeypatch, capsys):
    import wandb

    class Refused(wandb.Table):  # still a class: wandb.Image checks isinstance(…, wandb.Table)
        def __init__(self, *args, **kwargs):
            raise TypeError("Data row contained incompatible types")

    monkeypatch.setattr(wandb, "Table", Refused)
    ws, record = run_offline(tmp_path, monkeypatch)
    assert_local_record_complete(record)
    assert record.wandb.error == "table 'numbers': TypeError: Data row contained incompatible types"
    assert len(record.wandb.dirs) == 2 and all((ws.root / d).is_dir() for d in record.wandb.dirs)
    (line,) = warnings_in(capsys)  # one line for the run, though both seeds failed
    assert "fake.tiny" in line and "table 'numbers'" in line and "synced false" in line


@pytest.mark.parametrize("broken", ["log", "finish"])
def test_a_failing_wandb_run_method_leaves_a_complete_local_record(tmp_path, monkeypatch, capsys, broken):
    import wandb

    def fail(self, *args, **kwargs):
        raise RuntimeError(f"wandb {broken} failed")

    monkeypatch.setattr(wandb.Run, broken, fail)
    _, record = run_offline(tmp_path, monkeypatch)
    assert_local_record_complete(record)
    assert f"RuntimeError: wandb {broken} failed" in record.wandb.error
    assert len(warnings_in(capsys)) == 1


def test_a_failing_wandb_init_leaves_a_complete_local_record(tmp_path, monkeypatch, capsys):
    import wandb

    def fail(*args, **kwargs):
        raise wandb.errors.UsageError("no wandb for you")

    monkeypatch.setattr(wandb, "init", fail)
    _, record = run_offline(tmp_path, monkeypatch)
    assert_local_record_complete(record)
    assert record.wandb.error == "wandb.init: UsageError: no wandb for you" and record.wandb.dirs == []
    assert len(warnings_in(capsys)) == 1


# -- modes --------------------------------------------------------------------------------------------

def test_wandb_modes_resolve_as_documented(monkeypatch):
    """`auto` is offline without a key and online with one; an explicit WANDB_MODE wins over `auto` (never over
    an explicit --wandb); `online` without a key and an unknown mode are refused before anything runs."""
    monkeypatch.delenv("WANDB_MODE")  # the fixture's `disabled` aside: the user's default environment
    assert resolve_mode("auto") == "offline"  # no WANDB_API_KEY, and HOME is a tmp dir without ~/.netrc
    with pytest.raises(ForgeError, match="needs a W&B API key"):
        resolve_mode("online")
    monkeypatch.setenv("WANDB_API_KEY", "0" * 40)
    assert resolve_mode("auto") == "online" and resolve_mode("online") == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode("auto") == "disabled"
    assert resolve_mode("offline") == "offline" and resolve_mode("online") == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode("auto") == "offline"
    with pytest.raises(ForgeError, match="unknown --wandb mode 'cloud'"):
        resolve_mode("cloud")


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
