"""The curriculum loader (`curriculum.py`): errors located to curriculum.yaml's line, week ids in every form.

`forge validate`'s full report is tested in test_validate.py; the shipped plan's content in test_curriculum_data.py.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.errors import ForgeError

runner = CliRunner()


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


def test_week_ids_in_every_form():
    from studyforge.curriculum import parse_week

    assert {parse_week(x) for x in ("week4", "4", "w04", "Week 4", "WEEK04")} == {4}
    for bad in ("../x", "week", "0", "4a", ""):
        with pytest.raises(ForgeError):
            parse_week(bad)
