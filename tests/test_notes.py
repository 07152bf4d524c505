"""`forge notes` (`notes.py`): the week's scaffold with every section, never overwritten; `--edit` opens $EDITOR;
the word count that skips headings' marks and the scaffold's prompts."""

from __future__ import annotations

import datetime as dt
import re
import stat

import frontmatter
from typer.testing import CliRunner

from studyforge import status as status_mod
from studyforge.cli.main import app
from studyforge.notes import word_count
from studyforge.validate import check_note
from studyforge.workspace import Workspace

runner = CliRunner()


def test_notes_scaffold_has_every_section_and_is_never_overwritten(mini_workspace):
    result = runner.invoke(app, ["notes", "week1"])
    assert result.exit_code == 0, result.output
    path = mini_workspace / "notes" / "week01.md"
    assert str(path) in result.output
    post = frontmatter.load(path)
    assert post.metadata["week"] == 1 and post.metadata["title"] == "Toy week"
    assert post.metadata["status"] == "in progress" and isinstance(post.metadata["started"], dt.date)
    headings = re.findall(r"^(#+) (.+)$", post.content, re.MULTILINE)
    assert headings == [("#", "Week 1: Toy week"), ("##", "Study topics"), ("###", "Counting"),
                        ("###", "Nested"), ("####", "a"), ("####", "b"), ("##", "Core papers"),
                        ("###", "A paper"), ("##", "Experiments"), ("###", "OK"), ("###", "Fails"),
                        ("##", "Posts"), ("###", "Toy Post")]
    assert "`fake.fail`" in post.content and "raises" in post.content and "Be brief." in post.content
    assert word_count(post.content) == 0  # the prompts are comments: nothing written yet
    assert check_note(path) is None  # `forge validate` accepts it

    path.write_text(path.read_text() + "\nMy own words.\n")
    before = path.read_bytes()
    again = runner.invoke(app, ["notes", "1"])
    assert again.exit_code == 0 and "exists already" in again.output
    assert path.read_bytes() == before


def test_notes_edit_opens_the_editor(mini_workspace, monkeypatch):
    editor = mini_workspace / "fake-editor.sh"
    editor.write_text('#!/bin/sh\necho "Value iteration converged in three sweeps." >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(editor))
    result = runner.invoke(app, ["notes", "2", "--edit"])
    assert result.exit_code == 0, result.output
    data = status_mod.build_status(Workspace(mini_workspace), dt.date(2026, 12, 8))
    assert {"present": True, "words": 6, "files": ["notes/week02.md"]}.items() <= data["weeks"][1]["notes"].items()

    monkeypatch.delenv("EDITOR")
    result = runner.invoke(app, ["notes", "2", "--edit"])
    assert result.exit_code == 2 and "$EDITOR is not set" in result.output


def test_notes_bad_week_is_one_line(mini_workspace):
    result = runner.invoke(app, ["notes", "week9"])
    assert result.exit_code == 2 and "week 9 is not in the curriculum" in result.output
    assert not (mini_workspace / "notes").exists()


def test_word_count_known_answers():
    assert word_count("") == 0
    assert word_count("# Title\n<!-- many\nwords -->\n- one two\n\n`x = 1` — three") == 5
    assert word_count("##NotAHeading words") == 2
