"""Where forge may write: inside a workspace (a folder with a curriculum.yaml, or one below it) and nowhere else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.workspace import Workspace

runner = CliRunner()


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != "home")


# Every command that writes, as a learner would type it outside a workspace.
WRITING = [
    ["notes", "week1"],
    ["run", "week1", "--preset", "quick", "--wandb", "disabled"],
    ["draft", "week1", "--backend", "offline"],
    ["draft", "week1", "--dry-run"],
    ["review", "week1", "--approve"],
    ["publish", "week1", "--format", "hugo", "--out", "site"],
    ["pull", "week1", "--wandb", "me/project"],
]


@pytest.mark.parametrize("args", WRITING, ids=lambda args: " ".join(args[:2]))
def test_writing_commands_refuse_outside_a_workspace(tmp_path, args):
    bare = tmp_path / "bare"
    bare.mkdir()
    result = runner.invoke(app, ["-C", str(bare), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not a forge workspace" in lines[0] and "forge init" in lines[0], result.output
    assert files_under(bare) == []


def test_notes_in_a_bare_current_folder_writes_nothing(tmp_path):
    # The first example: `cd /tmp && forge notes week1` created /tmp/notes/week01.md.
    result = runner.invoke(app, ["notes", "week1"])
    assert result.exit_code == 2 and "forge init" in result.output
    assert not (tmp_path / "notes").exists()


def test_a_missing_workspace_folder_is_an_error(tmp_path):
    missing = tmp_path / "nonexistent"
    for args in (["notes", "week1"], ["status"], ["curriculum"]):
        result = runner.invoke(app, ["-C", str(missing), *args])
        assert result.exit_code == 2, result.output
        assert f"workspace folder {missing} does not exist" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not missing.exists()
    (tmp_path / "a-file").write_text("x")
    result = runner.invoke(app, ["-C", str(tmp_path / "a-file"), "status"])
    assert result.exit_code == 2 and "is not a folder" in result.output


def test_forge_workspace_variable_to_a_missing_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGE_WORKSPACE", str(tmp_path / "gone"))
    result = runner.invoke(app, ["notes", "1"])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize("args", [["status", "--today", "2026-12-03"], ["curriculum"], ["curriculum", "week1"],
                                  ["runs"], ["log"], ["validate"]])
def test_read_only_commands_outside_a_workspace_say_they_show_the_embedded_plan(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    notices = [line for line in result.output.splitlines() if "embedded plan" in line]
    assert len(notices) == 1 and "no curriculum.yaml" in notices[0]


def test_the_notice_never_spoils_json_on_stdout():
    result = runner.invoke(app, ["curriculum", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"]
    assert "embedded plan" in result.stderr


def test_inside_a_workspace_nothing_is_said_and_subfolders_find_the_root(mini_workspace, monkeypatch):
    result = runner.invoke(app, ["status", "--today", "2026-12-03"])
    assert result.exit_code == 0 and "embedded plan" not in result.output
    (mini_workspace / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(mini_workspace / "deep" / "er")
    result = runner.invoke(app, ["notes", "week1"])
    assert result.exit_code == 0, result.output
    assert (mini_workspace / "notes" / "week01.md").is_file()
    assert Workspace.find().root == mini_workspace.resolve()


def test_init_then_write(tmp_path):
    assert runner.invoke(app, ["init", "mine", "--start-date", "2027-01-04"]).exit_code == 0
    result = runner.invoke(app, ["-C", "mine", "notes", "week1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mine" / "notes" / "week01.md").is_file()
