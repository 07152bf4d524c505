"""`forge runs` (`cli/runs_cmd.py`): an unreadable run record is one error row, located relative to the workspace;
it blocks nothing else and is never touched."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from workspaces import NEW, NOT_A_RECORD, OLD, TRUNCATED, bad_record, drafting_workspace, forge, write_record

from studyforge.cli.main import app
from studyforge.console import out
from studyforge.tracking.records import list_records
from studyforge.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The drafting plan with week 1's notes, and no run yet."""
    return drafting_workspace(tmp_path, run=False)


def test_an_unreadable_run_record_is_an_error_row(fakes):
    (fakes.runs_dir / "week01" / "fake.ok" / "broken").mkdir(parents=True)
    (fakes.runs_dir / "week01" / "fake.ok" / "broken" / "run.json").write_text("{not json")
    result = runner.invoke(app, ["runs"])  # one bad record blocks nothing (the next test has the rest)
    assert result.exit_code == 0 and "not valid JSON" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("text, message", [(TRUNCATED, "not valid JSON"), (NOT_A_RECORD, "not a valid run record")])
def test_forge_runs_lists_an_unreadable_record_as_an_error_row(ws, text, message, monkeypatch):
    write_record(ws)
    write_record(ws, "later.study", week=2, run_id="20261207-100000-s0-cafe")
    bad = bad_record(ws, NEW, text)
    monkeypatch.setattr(out.console, "width", 250)
    for args in (["runs"], ["runs", "1"]):
        result = forge(ws, *args)
        assert result.exit_code == 0, result.output
        assert OLD in result.output and message in result.output and NEW in result.output
    assert "20261207-100000-s0-cafe" in forge(ws, "runs").output  # the other week still lists
    listing = forge(ws, "runs", "--json")
    assert listing.exit_code == 0, listing.output
    rows = json.loads(listing.stdout)
    good = [r for r in rows if r["status"] != "unreadable"]
    (error,) = [r for r in rows if r["status"] == "unreadable"]
    assert [r["run_id"] for r in good] == [OLD, "20261207-100000-s0-cafe"]
    assert error["path"] == "runs/week01/ppo.cartpole/" + NEW and message in error["error"]
    assert (error["week"], error["experiment"], error["run_id"]) == (1, "ppo.cartpole", NEW)
    assert str(ws.root) not in error["error"]  # located relative to the workspace
    assert [r.run_id for r in list_records(ws.runs_dir)] == [OLD, "20261207-100000-s0-cafe"]
    assert bad.exists()  # listed, never touched


def test_forge_runs_says_which_runs_w_and_b_did_not_fully_receive(ws, monkeypatch):
    """A W&B failure never kills a study (the record says `wandb.synced: false`); `forge runs` says so."""
    write_record(ws)
    broken = write_record(ws, "later.study", run_id="20261201-100000-s0-beef")
    broken.wandb.mode, broken.wandb.synced, broken.wandb.error = "offline", False, "Table: TypeError: bad row"
    broken.save(broken.path)
    monkeypatch.setattr(out.console, "width", 250)
    result = forge(ws, "runs")
    assert result.exit_code == 0, result.output
    assert "20261201-100000-s0-beef (later.study): its W&B run lacks part of the record" in result.output
    assert "Table: TypeError: bad row" in result.output and OLD + " (" not in result.output
