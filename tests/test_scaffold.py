"""`forge init` (`scaffold.py`): a workspace with the plan (its start date moved to a Monday, comments kept), the
templates and a .gitignore; never over an existing plan."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os

from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.scaffold import monday_of, next_monday
from studyforge.workspace import DEFAULTS

runner = CliRunner()


def test_init_scaffolds_a_workspace_and_aligns_the_start_date(tmp_path):
    target = tmp_path / "my-plan"
    result = runner.invoke(app, ["init", str(target), "--start-date", "2027-01-06"])
    assert result.exit_code == 0, result.output
    assert "2027-01-06 is a Wednesday" in result.output and "2027-01-04" in result.output
    default = (DEFAULTS / "curriculum.yaml").read_text().splitlines()
    mine = (target / "curriculum.yaml").read_text().splitlines()
    changed = [line for line in difflib.unified_diff(default, mine, lineterm="", n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-  start_date: 2026-11-30", "+  start_date: 2027-01-04"]  # comments and all kept
    assert (target / "templates" / "notes.md.j2").read_text() == (DEFAULTS / "templates" / "notes.md.j2").read_text()
    assert (target / "notes").is_dir() and (target / "drafts").is_dir()
    assert {"runs/", "wandb/", ".forge/"} <= set((target / ".gitignore").read_text().split())
    data = json.loads(runner.invoke(app, ["-C", str(target), "status", "--json", "--today", "2027-01-07"]).stdout)
    assert data["plan"]["start_date"] == "2027-01-04" and data["calendar"]["week"] == 1
    assert runner.invoke(app, ["-C", str(target), "notes", "1"]).exit_code == 0
    assert (target / "notes" / "week01.md").exists()


def test_init_refuses_to_overwrite_and_bad_dates(tmp_path):
    target = tmp_path / "plan"
    target.mkdir()
    (target / "curriculum.yaml").write_text("mine\n")
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 2 and "already has curriculum.yaml" in result.output
    assert (target / "curriculum.yaml").read_text() == "mine\n" and sorted(os.listdir(target)) == ["curriculum.yaml"]
    result = runner.invoke(app, ["init", str(tmp_path / "other"), "--start-date", "next monday"])
    assert result.exit_code == 2 and "--start-date 'next monday' is not a date" in result.output
    assert not (tmp_path / "other").exists()


def test_init_keeps_an_existing_gitignore(tmp_path):
    target = tmp_path / "repo"
    target.mkdir()
    (target / ".gitignore").write_text("node_modules/\nruns\n")
    assert runner.invoke(app, ["init", str(target), "--start-date", "2027-01-04"]).exit_code == 0
    lines = (target / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "runs"] and lines[-2:] == ["wandb/", ".forge/"]
    assert "runs/" not in lines  # already ignored as `runs`


def test_mondays():
    thursday = dt.date(2026, 12, 3)
    assert monday_of(thursday) == dt.date(2026, 11, 30) and next_monday(thursday) == dt.date(2026, 12, 7)
    assert monday_of(dt.date(2026, 11, 30)) == next_monday(dt.date(2026, 11, 30)) == dt.date(2026, 11, 30)
    assert next_monday(dt.date(2026, 12, 6)) == dt.date(2026, 12, 7)  # a Sunday
