"""`forge validate`: curriculum.yaml, the notes' front matter and the templates, each problem at file:line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from studyforge.errors import ForgeError
from studyforge.workspace import Workspace


@dataclass
class Problem:
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def validate_workspace(ws: Workspace) -> tuple[list[str], list[Problem]]:
    """(what was checked, problems found)."""
    checked, problems = [], []
    try:
        curriculum = ws.curriculum
        checked.append(f"{ws.relative(ws.curriculum_path)}: {len(curriculum.weeks)} weeks, "
                       f"{curriculum.post_count()} post slots")
    except ForgeError as exc:
        problems.append(Problem(*_split(exc.message)))
        curriculum = None
    notes = sorted(ws.notes_dir.glob("*.md")) if ws.notes_dir.is_dir() else []
    for path in notes:
        problem = check_note(path)
        if problem:
            problems.append(problem)
    checked.append(f"{len(notes)} notes file(s)")
    templates = sorted(p for p in ws.templates_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in templates:
        problem = check_template(path)
        if problem:
            problems.append(problem)
    checked.append(f"{len(templates)} template(s)")
    return checked, problems


_NOTE_NAME = re.compile(r"^week(\d{2})")


def check_note(path: Path) -> Problem | None:
    """A notes file must have parseable front matter; a `week:` in it must agree with the file name."""
    import frontmatter

    try:
        post = frontmatter.load(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1  # python-frontmatter hands YAML the text from the opening "---"
        return Problem(f"{path}:{line}", f"broken front matter: {getattr(exc, 'problem', exc)} "
                       "(fix the YAML between the two '---' lines)")
    except (UnicodeDecodeError, ValueError) as exc:
        return Problem(f"{path}:1", f"cannot read the notes file: {exc}")
    match = _NOTE_NAME.match(path.name)
    week = post.metadata.get("week")
    digits = re.sub(r"\D", "", str(week)) if week is not None else ""
    if match and digits and int(digits) != int(match.group(1)):
        return Problem(f"{path}:1", f"front matter says week {week!r} but the file name says week {int(match.group(1))}")
    return None


def check_template(path: Path) -> Problem | None:
    import jinja2

    try:
        jinja2.Environment().parse(path.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as exc:
        return Problem(f"{path}:{exc.lineno}", f"template syntax error: {exc.message}")
    except UnicodeDecodeError as exc:
        return Problem(f"{path}:1", f"not UTF-8 text: {exc}")
    return None


def _split(message: str) -> tuple[str, str]:
    where, _, rest = message.partition(": ")
    return (where, rest) if rest and ":" in where else ("curriculum.yaml", message)
