"""`forge validate`: curriculum.yaml, the notes' front matter and the templates: every problem, each at file:line.

Only here (and in `forge run`) are the curriculum's experiment ids checked against the registered studies:
that check imports every study (torch among them), which `forge status` and the other reading commands
must not pay for.
"""

from __future__ import annotations

from pathlib import Path

from studyforge.curriculum import Problem, curriculum_problems
from studyforge.errors import ForgeError
from studyforge.workspace import Workspace

__all__ = ["Problem", "validate_workspace", "check_note", "note_problems", "check_template"]


def validate_workspace(ws: Workspace) -> tuple[list[str], list[Problem]]:
    """(what was checked, problems found)."""
    checked, problems = [], []
    problems += _curriculum(ws, checked)
    notes = sorted(ws.notes_dir.glob("*.md")) if ws.notes_dir.is_dir() else []
    for path in notes:
        problems += note_problems(path)
    checked.append(f"{len(notes)} notes file(s)")
    templates = sorted(p for p in ws.templates_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in templates:
        problem = check_template(path)
        if problem:
            problems.append(problem)
    checked.append(f"{len(templates)} template(s)")
    return checked, [_relative(ws, p) for p in problems]


def _curriculum(ws: Workspace, checked: list[str]) -> list[Problem]:
    from studyforge.experiments.registry import all_studies

    path = ws.curriculum_path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(f"{path}:1", f"cannot read the curriculum: {exc}")]
    try:
        studies = {s.id: s.week for s in all_studies()}
    except ForgeError as exc:
        return [Problem(str(path), f"cannot load the registered studies: {exc}")]
    plan, problems = curriculum_problems(text, str(path), studies)
    if plan is not None:
        checked.append(f"{ws.relative(path)}: {len(plan.weeks)} weeks, {plan.post_count()} post slots, "
                       f"experiment ids against {len(studies)} registered studies")
    return problems


def note_problems(path: Path) -> list[Problem]:
    """A notes file's front matter must parse, and its known keys (week, status, started) hold valid values."""
    from studyforge.notes import parse_notes

    return parse_notes(path)[1]


def check_note(path: Path) -> Problem | None:
    """The first problem of a notes file, or None."""
    problems = note_problems(path)
    return problems[0] if problems else None


def check_template(path: Path) -> Problem | None:
    import jinja2

    try:
        jinja2.Environment().parse(path.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as exc:
        return Problem(f"{path}:{exc.lineno}", f"template syntax error: {exc.message}")
    except UnicodeDecodeError as exc:
        return Problem(f"{path}:1", f"not UTF-8 text: {exc}")
    return None


def _relative(ws: Workspace, problem: Problem) -> Problem:
    """`/home/me/plan/notes/week01.md:4` -> `notes/week01.md:4` inside the workspace."""
    path, sep, line = problem.where.rpartition(":")
    if not sep or not line.isdigit():
        path, line = problem.where, ""
    where = ws.relative(Path(path))
    return Problem(f"{where}:{line}" if line else where, problem.message)
