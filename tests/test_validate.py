"""`forge validate` and the loader: every problem of curriculum.yaml and the notes, each at its own file:line.

The mini curriculum (conftest.MINI_CURRICULUM) is edited line by line; its week 1 title is on line 13, week 2's
`- week: 2` on line 23 and its `phase: 1` on line 24.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from studyforge import curriculum
from studyforge.cli.main import app
from studyforge.errors import ForgeError
from studyforge.workspace import DEFAULTS

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _edit(ws: Path, *replacements: tuple[str, str]) -> Path:
    path = ws / "curriculum.yaml"
    text = path.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text)
    return path


def _lines(output: str) -> list[str]:
    return [" ".join(line.split()) for line in output.splitlines()]


def _errors(ws: Path) -> list[str]:
    """`forge validate`'s problem lines (exit 2)."""
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return [line.removeprefix("error: ") for line in _lines(result.output) if line.startswith("error: ")]


def test_a_key_typo_is_named_with_the_closest_key(mini_workspace):
    _edit(mini_workspace, ("    title: Toy week\n", "    tittle: Toy week\n"))
    (problem,) = _errors(mini_workspace)
    assert problem.startswith("curriculum.yaml:13: weeks[0].tittle: unknown key 'tittle' (did you mean 'title'?")
    assert "(and 1 more)" not in problem


def test_unknown_key_without_a_close_match_lists_the_valid_ones(mini_workspace):
    _edit(mini_workspace, ("    title: Toy week\n", "    title: Toy week\n    colour: red\n"))
    (problem,) = _errors(mini_workspace)
    assert problem.startswith("curriculum.yaml:14: weeks[0].colour: unknown key 'colour'")
    assert "core_papers" in problem and "experiments" in problem  # what it could have been


def test_every_problem_is_reported_at_its_own_line(mini_workspace):
    _edit(mini_workspace,
          ("    title: Toy week\n", "    tittle: Toy week\n"),
          ("kind: primary, notes_for_agent: Be brief.", "kind: primery, notes_for_agent: Be brief."),
          ("  - week: 2\n    phase: 1\n", "  - week: 2\n    phase: 7\n"),
          ("builds_on: [1]", "builds_on: [3]"))
    problems = _errors(mini_workspace)
    assert len(problems) == 4, problems
    assert problems[0].startswith("curriculum.yaml:13: weeks[0].tittle: unknown key 'tittle'")
    assert problems[1].startswith("curriculum.yaml:22: weeks[0].posts[0].kind: Input should be 'primary' or")
    assert problems[2].startswith("curriculum.yaml:24: weeks[1].phase: phase 7 is not one of the phases (1)")
    assert problems[3].startswith("curriculum.yaml:31: weeks[1].posts[0].builds_on[0]: 3 is not an earlier week")


def test_duplicate_week_and_duplicate_ids_are_located_at_the_entry(mini_workspace):
    _edit(mini_workspace, ("  - week: 2\n", "  - week: 1\n"), ("{id: fake.planned,", "{id: fake.ok,"),
          ("builds_on: [1]", "builds_on: []"))
    assert _errors(mini_workspace) == [
        "curriculum.yaml:23: weeks[1].week: week 1 appears twice (first at line 11)",
        "curriculum.yaml:28: weeks[1].experiments[0].id: experiment id 'fake.ok' appears twice (first at line 18); "
        "ids are unique across the plan",
    ]


def test_weeks_out_of_order_are_located_at_the_first_one(mini_workspace):
    _edit(mini_workspace, ("  - week: 2\n", "  - week: 3\n"), ("builds_on: [1]", "builds_on: []"))
    assert _errors(mini_workspace) == [
        "curriculum.yaml:23: weeks[1].week: weeks are numbered 1, 2, 3… in order: expected week 2 here, found week 3"]


def test_an_unclosed_quote_is_reported_where_it_opens(mini_workspace):
    _edit(mini_workspace, ("    title: Toy week\n", '    title: "Toy week\n'))
    (problem,) = _errors(mini_workspace)
    assert problem.startswith("curriculum.yaml:13: YAML syntax error"), problem
    assert "quote" in problem


def test_an_unclosed_bracket_is_reported_where_it_opens(mini_workspace):
    _edit(mini_workspace, ("    topics: [Nothing]\n", "    topics: [Nothing\n"))
    (problem,) = _errors(mini_workspace)
    assert problem.startswith("curriculum.yaml:26: YAML syntax error"), problem


def test_other_commands_raise_one_error_listing_every_problem(mini_workspace):
    path = _edit(mini_workspace, ("    title: Toy week\n", "    tittle: Toy week\n"),
                 ("  - week: 2\n    phase: 1\n", "  - week: 2\n    phase: 7\n"))
    with pytest.raises(curriculum.CurriculumError) as caught:
        curriculum.load_curriculum(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:13: weeks[0].tittle: unknown key 'tittle' (did you mean 'title'? it is required)",
        f"{path}:24: weeks[1].phase: phase 7 is not one of the phases (1)",
    ]
    assert isinstance(caught.value, ForgeError)
    result = runner.invoke(app, ["notes", "week1"])
    assert result.exit_code == 2
    assert "curriculum.yaml:13: weeks[0].tittle" in result.output and "curriculum.yaml:24: weeks[1].phase" in result.output
    assert "Traceback" not in result.output


def test_many_problems_show_the_first_few_and_a_count(mini_workspace):
    path = mini_workspace / "curriculum.yaml"
    path.write_text(path.read_text().replace("tracks: x}", "tracks: x, colour: red}"))
    with pytest.raises(curriculum.CurriculumError) as caught:
        curriculum.load_curriculum(path)
    assert len(caught.value.problems) == 3
    path.write_text(path.read_text() + "".join(f"extra_{i}: {i}\n" for i in range(10)))
    with pytest.raises(curriculum.CurriculumError) as caught:
        curriculum.load_curriculum(path)
    message = caught.value.message
    assert len(caught.value.problems) == 13
    assert "and 8 more" in message and message.count("curriculum.yaml:") == 5


# -- the registry cross-check ---------------------------------------------------------------------------


@pytest.fixture
def real_workspace(tmp_path) -> Path:
    (tmp_path / "curriculum.yaml").write_text((REPO / "curriculum.yaml").read_text())
    return tmp_path


def _registered() -> dict[str, int]:
    from studyforge.experiments.registry import all_studies

    return {s.id: s.week for s in all_studies()}


def test_the_shipped_curriculum_validates_against_the_registry():
    assert (DEFAULTS / "curriculum.yaml").resolve().read_text() == (REPO / "curriculum.yaml").read_text()
    registered = _registered()
    for path in (REPO / "curriculum.yaml", DEFAULTS / "curriculum.yaml"):
        plan, problems = curriculum.curriculum_problems(path.read_text(), str(path), registered)
        assert problems == [] and plan is not None
        assert any(e.id.split(".")[0] not in {i.split(".")[0] for i in registered}
                   for w in plan.weeks for e in w.experiments)  # planned topics (weeks 9–13, 16) are fine


def test_a_study_id_typo_in_an_implemented_week_is_an_error(real_workspace):
    path = real_workspace / "curriculum.yaml"
    text = path.read_text()
    line = text[: text.index("id: mdp.gridworld_solver")].count("\n") + 1
    path.write_text(text.replace("id: mdp.gridworld_solver", "id: mdp.gridworld_solverr"))
    (problem,) = _errors(real_workspace)
    assert problem.startswith(f"curriculum.yaml:{line}: weeks[0].experiments[")
    assert "no registered study 'mdp.gridworld_solverr'" in problem and "did you mean 'mdp.gridworld_solver'?" in problem
    result = runner.invoke(app, ["run", "week1", "--preset", "quick", "--wandb", "disabled"])
    assert result.exit_code == 2 and "mdp.gridworld_solverr" in result.output, result.output
    assert not (real_workspace / "runs").exists()  # refused before running 1 of 2 studies


def test_a_registered_study_listed_in_another_week_is_an_error(mini_workspace):
    text = (mini_workspace / "curriculum.yaml").read_text()
    registered = {"fake.ok": 1, "fake.fail": 1, "fake.planned": 3}
    _, problems = curriculum.curriculum_problems(text, "curriculum.yaml", registered)
    assert [str(p) for p in problems] == [
        "curriculum.yaml:28: weeks[1].experiments[0].id: 'fake.planned' is registered for week 3, so "
        "`forge run week2` would never run it (list it under week 3)"]
    registered = {"fake.ok": 1, "fake.fail": 1, "fake.planed": 2}  # week 2's topic is implemented
    _, problems = curriculum.curriculum_problems(text, "curriculum.yaml", registered)
    assert [str(p) for p in problems] == [
        "curriculum.yaml:28: weeks[1].experiments[0].id: no registered study 'fake.planned' "
        "(did you mean 'fake.planed'?)"]
    _, problems = curriculum.curriculum_problems(text, "curriculum.yaml", {"fake.ok": 1, "fake.fail": 1, "other.x": 2})
    assert problems == []  # week 2 implements another topic: fake.planned is planned, not a typo


# -- notes ----------------------------------------------------------------------------------------------


def test_notes_front_matter_values_are_checked(mini_workspace):
    notes = mini_workspace / "notes"
    notes.mkdir()
    (notes / "week01.md").write_text("---\nweek: 1\ntitle: Toy\nstatus: banana\nstarted: 2026-11-30\n---\nText.\n")
    (notes / "week02.md").write_text("---\nweek: 2\nstatus: done\nstarted: someday\n---\nText.\n")
    assert _errors(mini_workspace) == [
        "notes/week01.md:4: status: 'banana' is not one of 'in progress', 'done'",
        "notes/week02.md:4: started: 'someday' is not a date (write YYYY-MM-DD)",
    ]


# -- start-up stays light -------------------------------------------------------------------------------


def test_status_and_help_do_not_import_the_studies(mini_workspace):
    """The registry cross-check is for `forge validate` and `forge run`: the registry imports every study."""
    light = {"studyforge.experiments", "studyforge.experiments.config"}  # presets and overrides: pydantic only
    code = ("import sys; from typer.testing import CliRunner; from studyforge.cli.main import app; "
            "r = [CliRunner().invoke(app, a).exit_code for a in (['--help'], ['status'], ['curriculum', '--help'])]; "
            f"print(r, sorted(m for m in sys.modules if m == 'torch' or m.startswith('studyforge.experiments') "
            f"and m not in {light!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=mini_workspace, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[0, 0, 0] []"
