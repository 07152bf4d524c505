"""The conventions every `forge` command keeps: help that reads cleanly, short options with one meaning,
quiet ends in pipes, values checked before anything runs."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.workspace import DEFAULTS

runner = CliRunner()


def commands():
    """(name, click command) for every sub-command, and ("", the group) for `forge` itself."""
    from typer import _click

    group = typer.main.get_command(app)
    ctx = _click.Context(group)
    found = [("", group, ctx)]
    for name in group.list_commands(ctx):
        found.append((name, group.get_command(ctx, name), _click.Context(group.get_command(ctx, name), parent=ctx)))
    return found


def options():
    for name, command, ctx in commands():
        for param in command.get_params(ctx):
            if param.param_type_name == "option":
                yield name, param


def help_of(*args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def workspace(tmp_path) -> Path:
    shutil.copy(DEFAULTS / "curriculum.yaml", tmp_path / "curriculum.yaml")
    return tmp_path


# -- help --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [name for name, _, _ in commands()])
def test_flags_show_no_bool_metavar_and_arguments_read_in_capitals(name):
    text = help_of(*([name] if name else []))
    assert "<bool>" not in text
    assert not re.search(r"\{[a-z_]+\}", text), "an argument shown as {name}: give it a metavar"
    if "week" in text.split("Usage:")[1].splitlines()[0].lower():
        assert re.search(r"Usage: forge \w+ \[OPTIONS\] \[?WEEK\]?", text), text.splitlines()[:3]


def test_every_short_option_means_one_thing():
    meaning: dict[str, set[str]] = {}
    for _, param in options():
        longs = [o for o in param.opts if o.startswith("--")]
        for short in (o for o in param.opts if not o.startswith("--")):
            meaning.setdefault(short, set()).update(longs)
    clashes = {short: sorted(longs) for short, longs in meaning.items() if len(longs) > 1}
    assert clashes == {}
    assert meaning["-e"] == {"--experiment"} and meaning["-C"] == {"--workspace"}


def test_choices_are_listed_one_way():
    # One form everywhere: `a | b | c`, never "a, b or c".
    helps = {f"{name} {param.opts[0]}": param.help or "" for name, param in options()}
    prose_lists = {where: text for where, text in helps.items() if re.search(r"\b[\w-]+, [\w-]+(, [\w-]+)* or [\w-]+", text)}
    assert prose_lists == {}
    assert helps["run --device"].startswith("auto | cpu | cuda")
    assert helps["run --wandb"].startswith("auto | online | offline | disabled")
    assert helps["run --preset"].startswith("quick | default | full")
    assert helps["publish --format"].startswith("hugo | jekyll | quarto | markdown")
    assert helps["draft --backend"].startswith("auto | anthropic | offline")


def test_forge_alone_prints_help_and_exits_0():
    result = runner.invoke(app, [])
    assert result.exit_code == 0, result.output
    assert "Usage: forge" in result.output and "run" in result.output and "status" in result.output


# -- pipes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["curriculum"], ["curriculum", "--json"], ["status", "--today", "2026-12-03"],
                                  ["--help"], ["run", "--help"]])
def test_output_into_a_closed_pipe_ends_quietly_with_exit_0(workspace, args):
    # `forge curriculum | head -1`: head exits early. A pipe whose reader is gone before forge writes makes
    # every write fail with EPIPE, deterministically.
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # this checkout
    try:
        proc = subprocess.run([sys.executable, "-m", "studyforge.cli", *args], cwd=workspace, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


# -- values checked before anything prints ----------------------------------------------------------------


@pytest.mark.parametrize("option, value, message", [
    ("--device", "gpu", "--device 'gpu' is not one of auto | cpu | cuda"),
    ("--wandb", "onlin", "--wandb 'onlin' is not one of auto | online | offline | disabled"),
])
def test_device_and_wandb_are_checked_before_the_run_header(workspace, option, value, message):
    result = runner.invoke(app, ["run", "week1", "--preset", "quick", option, value])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [f"error: {message}"]
    assert not (workspace / "runs").exists()


def test_wandb_online_without_a_key_is_refused_before_the_header(workspace):
    result = runner.invoke(app, ["run", "week1", "--preset", "quick", "--wandb", "online"])
    assert result.exit_code == 2 and "Week 1" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# -- forge log ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "-50"])
def test_log_refuses_a_negative_limit(workspace, value):
    result = runner.invoke(app, ["log", "-n", value])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--limit" in lines[0] and value in lines[0]


def _promised_columns(help_text: str) -> list[str]:
    match = re.search(r"\(columns: ([^);]*)[);]", " ".join(help_text.split()))
    assert match, "the help names its columns as '(columns: a, b, c; …)'"
    return [c.strip() for c in match.group(1).split(",")]


def _header(table_text: str, first: str) -> str:
    return next(line for line in table_text.splitlines() if line.split()[:1] == [first])


def test_help_texts_promise_only_columns_that_exist(workspace, monkeypatch):
    from studyforge.console import out
    from studyforge.drafting.calllog import CallLog
    from studyforge.tracking.records import RunRecord

    monkeypatch.setattr(out.console, "width", 250)
    CallLog(workspace / ".forge" / "llm-log.db").record(
        week=1, post="mdp-basics", edition="scientist", backend="anthropic", model="claude-x", kind="draft",
        input_tokens=100, output_tokens=50, cost_usd=0.01, duration_s=2.5, request_id="req_1", outcome="ok")
    RunRecord(run_id="20261203-101010-s0-abcd", experiment="mdp.gridworld_solver", week=1, preset="quick",
              seeds=[0], config={}, status="completed", started=dt.datetime(2026, 12, 3, 10, 10)).save(
        workspace / "runs" / "week01" / "mdp.gridworld_solver" / "20261203-101010-s0-abcd")
    for command, first in (("log", "when"), ("runs", "week"), ("status", "week")):
        promised = _promised_columns(help_of(command))
        result = runner.invoke(app, [command] + (["--today", "2026-12-03"] if command == "status" else []))
        assert result.exit_code == 0, result.output
        header = _header(result.output, first)
        missing = [c for c in promised if c not in header]
        assert missing == [], f"forge {command}: the help promises {missing}, the table has {header.split()}"


@pytest.mark.parametrize("args, says", [
    (["run", "week1", "--seeds", "abc"], "forge run: Invalid value for '--seeds'"),
    (["run", "week1", "--bogus"], "forge run: No such option: --bogus"),
    (["run"], "forge run: Missing argument 'WEEK'"),
    (["nope"], "forge: No such command 'nope'"),
])
def test_a_usage_error_is_one_red_line_and_exit_2(args, says):
    """typer's own parse errors, too: one line naming the command and its --help, no box, no traceback."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.output
    assert "--help`" in lines[0]


def test_error_text_is_never_read_as_markup(capsys):
    """A placeholder named in an error (`[result: …]`) is printed as it is, not swallowed as a rich tag."""
    from studyforge.console import out

    out.error("drafts/x.md still holds [TO WRITE: intro] and [result: y]")
    out.warn("[bold]kept[/bold]")
    err = capsys.readouterr().err
    assert "[TO WRITE: intro] and [result: y]" in err and "[bold]kept[/bold]" in err
