"""`forge run` (`cli/run_cmd.py`): runs the selected studies and lists them, exits 1 when a study fails, and turns
bad input into one line and exit code 2 with nothing recorded. The studies are the `fakes` fixture's."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.tracking.records import list_records

runner = CliRunner()


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
