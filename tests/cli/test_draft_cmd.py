"""`forge draft` (`cli/draft_cmd.py`): offline without a key (and says so), --show-prompt and --dry-run send
nothing, bad input is one line and exit code 2 with nothing written, --allow-missing-results drafts without
numbers. The workspace is the drafting plan with one completed run (workspaces.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner
from workspaces import drafting_workspace

from studyforge.cli.main import app
from studyforge.drafting.drafts import read_draft
from studyforge.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """A workspace with the mini plan, week 1's notes and one completed run of ppo.cartpole."""
    return drafting_workspace(tmp_path)


def test_cli_auto_without_key_drafts_offline_and_says_so(ws):
    result = runner.invoke(app, ["-C", str(ws.root), "draft", "week1", "--post", "1"])
    assert result.exit_code == 0, result.output
    assert "No ANTHROPIC_API_KEY set, so drafting offline" in result.output
    assert sorted(p.name for p in (ws.drafts_dir / "week01").glob("*.md")) == [
        "ppo-explained.manager.md", "ppo-explained.scientist.md"]


def test_cli_show_prompt_sends_nothing(ws):
    result = runner.invoke(app, ["-C", str(ws.root), "draft", "1", "-p", "2", "--edition", "manager", "--show-prompt"])
    assert result.exit_code == 0, result.output
    assert "system block 1: the week's context (cached)" in result.output
    assert "w01.ppo.cartpole.final_return = 487.3 ± 9.1 (3 seeds)" in result.output
    assert "Manager edition" in result.output and not ws.drafts_dir.exists()


def test_cli_dry_run_without_key_estimates_locally(ws):
    result = runner.invoke(app, ["-C", str(ws.root), "draft", "1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "local estimate" in result.output and "input tokens" in result.output and "$" in result.output
    assert not ws.drafts_dir.exists()


def _break_template(ws: Workspace, name: str, old: str, new: str) -> None:
    from studyforge.workspace import DEFAULTS

    (ws.root / "templates").mkdir(exist_ok=True)
    source = (DEFAULTS / "templates" / name).read_text()
    assert old in source
    (ws.root / "templates" / name).write_text(source.replace(old, new, 1))


@pytest.mark.parametrize("args, setup, message", [
    (["draft", "week99"], None, "week 99 is not in the curriculum"),
    (["draft", "1", "--post", "7"], None, "week 1 has no post '7'"),
    (["draft", "1", "--post", "nope"], None, "use --post with a number or slug: 1 = ppo-explained"),
    (["draft", "1", "--edition", "poet"], None, "no edition 'poet'"),
    (["draft", "1", "--backend", "gpt"], None, "--backend 'gpt' is not a backend"),
    (["draft", "1", "--backend", "anthropic"], None, "needs an API key, and ANTHROPIC_API_KEY is not set"),
    (["draft", "1", "--batch"], None, "--batch needs the anthropic backend"),
    (["draft", "2"], None, "week 2 has no completed runs"),
    (["draft", "1"], "syntax", "scientist.md.j2:"),
    (["draft", "1"], "undefined", "'no_such_variable' is undefined"),
    (["draft", "1"], "notes", "notes/week01.md:3: broken front matter: unclosed '['"),  # where the list opens
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(ws, args, setup, message):
    if setup == "syntax":
        _break_template(ws, "scientist.md.j2", "{% endif %}", "{% endfor %}")
    elif setup == "undefined":
        _break_template(ws, "system.md.j2", "{{ curriculum.title }}", "{{ no_such_variable }}")
    elif setup == "notes":
        (ws.notes_dir / "week01.md").write_text("---\nweek: 1\ntitle: [unclosed\n---\n\nText.\n")
    result = runner.invoke(app, ["-C", str(ws.root), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and not ws.drafts_dir.exists()
    if setup == "syntax":
        assert "template syntax error" in result.output
    if setup == "undefined":
        assert "system.md.j2:" in result.output


def test_allow_missing_results_drafts_without_numbers(ws):
    result = runner.invoke(app, ["-C", str(ws.root), "draft", "2", "--allow-missing-results", "--backend", "offline"])
    assert result.exit_code == 0, result.output
    body = read_draft(ws.drafts_dir / "week02" / "later-post.scientist.md").body
    assert "No completed runs yet (later.study)" in body
    assert "*PPO Explained* (week 1)" in body and "](../week01/" not in body  # week 1 not drafted: no link
