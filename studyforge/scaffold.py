"""`forge init DIR`: a new workspace for a learner starting their own plan.

    DIR/curriculum.yaml   the packaged plan, comments kept, with `schedule.start_date` set
    DIR/templates/        the packaged templates (prompts, post layouts, the notes skeleton), to edit
    DIR/notes/ DIR/drafts/
    DIR/.gitignore        runs/, wandb/ and .forge/ (records, W&B files and forge's own state stay local);
                          an existing .gitignore keeps its lines and gets the missing entries appended

The start date is `--start-date`, else the coming Monday (today when today is a Monday). The plan's
weeks run Monday to Sunday, so a start date that is not a Monday is aligned — with a warning — to the
Monday of its week (the day before or earlier): the date given still falls inside week 1.

Nothing is overwritten: if curriculum.yaml, templates/, notes/ or drafts/ exists in DIR, init refuses
and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from studyforge.curriculum import parse_curriculum
from studyforge.errors import ForgeError
from studyforge.tracking.io import copy_file_atomic, write_text_atomic
from studyforge.workspace import DEFAULTS

GITIGNORE = """\
# studyforge: run records, W&B's local files and forge's own state stay on this machine.
runs/
wandb/
.forge/
"""

_START_DATE = re.compile(r"^(?P<head>\s*start_date:\s*)(?P<value>[^\s#]+)", re.MULTILINE)


@dataclass
class Scaffold:
    root: Path
    start_date: dt.date
    aligned_from: dt.date | None = None  # the date given, when it was not a Monday
    created: list[Path] = field(default_factory=list)


def monday_of(day: dt.date) -> dt.date:
    """`monday_of(date(2026, 12, 3))` (a Thursday) -> `date(2026, 11, 30)`."""
    return day - dt.timedelta(days=day.weekday())


def next_monday(day: dt.date) -> dt.date:
    """The coming Monday, or `day` itself when it is one: Thursday 2026-12-03 -> 2026-12-07."""
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


def set_start_date(text: str, start: dt.date) -> str:
    """curriculum.yaml's text with `schedule.start_date` replaced in place: comments and layout are kept.

    >>> set_start_date("schedule:\\n  start_date: 2026-11-30   # a Monday\\n", dt.date(2027, 1, 4))
    'schedule:\\n  start_date: 2027-01-04   # a Monday\\n'
    """
    new, count = _START_DATE.subn(lambda m: m["head"] + start.isoformat(), text, count=1)
    if count != 1:
        raise ForgeError("the packaged curriculum.yaml has no `start_date:` line", hint="reinstall studyforge")
    return new


def init_workspace(root: Path, start_date: dt.date | None = None, today: dt.date | None = None) -> Scaffold:
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise ForgeError(f"{root} is a file", hint="give a folder for the new workspace")
    given = start_date
    start = monday_of(given) if given else next_monday(today or dt.date.today())
    result = Scaffold(root, start, aligned_from=given if given and given != start else None)

    templates = DEFAULTS / "templates"
    template_files = sorted(p for p in templates.rglob("*") if p.is_file() and not _hidden(p.relative_to(templates)))
    planned = {root / "curriculum.yaml": None, root / ".gitignore": _gitignore(root / ".gitignore"),
               root / "notes" / ".gitkeep": "", root / "drafts" / ".gitkeep": ""}
    existing = [p for p in (root / "curriculum.yaml", root / "templates", root / "notes", root / "drafts")
                if p.exists()]
    if existing:
        names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in existing)
        raise ForgeError(f"{root} already has {names}: not overwriting",
                         hint="choose an empty folder, or move those away first")

    curriculum = set_start_date((DEFAULTS / "curriculum.yaml").read_text(encoding="utf-8"), start)
    parse_curriculum(curriculum, str(root / "curriculum.yaml"))  # the result must load as it is
    planned[root / "curriculum.yaml"] = curriculum
    for path, text in planned.items():
        if text is None:
            continue  # an existing .gitignore that already lists everything
        write_text_atomic(path, text)
        result.created.append(path)
    for source in template_files:
        dest = root / "templates" / source.relative_to(templates)
        copy_file_atomic(source, dest)
        result.created.append(dest)
    (root / "templates").mkdir(exist_ok=True)
    return result


def _gitignore(path: Path) -> str | None:
    """The .gitignore to write: ours, or an existing one with the missing entries appended (None: complete)."""
    if not path.exists():
        return GITIGNORE
    text = path.read_text(encoding="utf-8")
    have = {line.strip().rstrip("/") for line in text.splitlines()}
    missing = [line for line in GITIGNORE.splitlines()[1:] if line.rstrip("/") not in have]
    if not missing:
        return None
    return text + ("" if text.endswith("\n") or not text else "\n") + "\n".join([GITIGNORE.splitlines()[0], *missing]) + "\n"


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
