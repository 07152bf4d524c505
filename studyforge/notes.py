"""The learner's notes: `notes/weekNN.md`, scaffolded from `templates/notes.md.j2`, read by status and drafting.

    notes/week04.md          front matter (week, title, status, started) + markdown
    notes/week04-extra.md    more files for the same week are allowed (`weekNN*.md`)

The front matter's known keys are checked (`front_matter_problems`): `week` a week number (the file
name's, when it names one), `status` one of NOTE_STATUSES, `started` a date; other keys are the
learner's own and are kept as they are.

`forge notes WEEK` writes the skeleton — one section per study topic, core paper, experiment and post,
each with the plan's prompts as HTML comments — and never overwrites a file that exists. The prompts
are comments so that they do not render and do not count: `word_count` counts only what the learner
wrote (prose, lists and code; not headings, not comments, not the front matter).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studyforge.curriculum import Problem, describe_yaml_error
from studyforge.errors import ForgeError
from studyforge.tracking.io import write_text_atomic
from studyforge.workspace import Workspace

TEMPLATE = "notes.md.j2"
NOTE_STATUSES = ("in progress", "done")  # the skeleton starts "in progress"; the learner sets "done"


@dataclass
class Notes:
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    body: str = ""

    @property
    def words(self) -> int:
        return word_count(self.body)


def notes_path(notes_dir: Path, week: int) -> Path:
    """`notes_path(Path("notes"), 4)` -> `notes/week04.md`."""
    return notes_dir / f"week{week:02d}.md"


def notes_paths(notes_dir: Path, week: int) -> list[Path]:
    """Every notes file of `week`: `week04.md`, `week04-ppo.md`, ... (sorted; the main file first)."""
    if not notes_dir.is_dir():
        return []
    return sorted(notes_dir.glob(f"week{week:02d}*.md"), key=lambda p: (p.name != f"week{week:02d}.md", p.name))


def read_notes(path: Path) -> Notes:
    """Parse a notes file; a problem (broken front matter, a wrong value) is a ForgeError located to `file:line`."""
    notes, problems = parse_notes(path)
    if problems:
        raise ForgeError("\n  ".join(str(p) for p in problems), hint="fix the front matter between the two '---' lines")
    assert notes is not None
    return notes


def parse_notes(path: Path) -> tuple[Notes | None, list[Problem]]:
    """(the notes, or None when the front matter does not parse; every problem, each at its line)."""
    import frontmatter

    try:
        text = Path(path).read_text(encoding="utf-8")
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        # python-frontmatter hands YAML the text from the end of the opening '---' line: its line 1 is that line.
        line, message = describe_yaml_error(exc, _front_matter_text(text))
        return None, [Problem(f"{path}:{line}", f"broken front matter: {message}")]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, [Problem(f"{path}:1", f"cannot read the notes file: {exc}")]
    if not isinstance(post.metadata, dict):
        return None, [Problem(f"{path}:2", "the front matter is not a mapping of keys (write `key: value` lines)")]
    notes = Notes(path, dict(post.metadata), post.content)
    return notes, front_matter_problems(path, notes.meta, text)


def _front_matter_text(text: str) -> str:
    """The front matter as python-frontmatter hands it to YAML: from the end of the opening '---' line."""
    lines = text.split("\n")
    end = next((i for i, line in enumerate(lines[1:], start=1) if re.fullmatch(r"-{3,}\s*", line)), len(lines))
    return "\n".join(["", *lines[1:end]])


_NOTE_NAME = re.compile(r"^week(\d{2})")


def front_matter_problems(path: Path, meta: dict[str, Any], text: str) -> list[Problem]:
    """The notes file's known front-matter keys with a wrong value, each at its line of `path`.

    `week: 4` in `week05.md` -> `notes/week05.md:2: week: the front matter says week 4 but the file name says week 5`.
    """
    problems = []

    def add(key: str, message: str) -> None:
        problems.append(Problem(f"{path}:{_key_line(text, key)}", f"{key}: {message}"))

    week = meta.get("week")
    named = _NOTE_NAME.match(path.name)
    if week is not None:
        if isinstance(week, bool) or not isinstance(week, int) or not 1 <= week <= 52:
            add("week", f"{week!r} is not a week number (write e.g. `week: 4`)")
        elif named and week != int(named.group(1)):
            add("week", f"the front matter says week {week} but the file name says week {int(named.group(1))}")
    status = meta.get("status")
    if status is not None and str(status).strip().lower() not in NOTE_STATUSES:
        add("status", f"{status!r} is not one of {', '.join(map(repr, NOTE_STATUSES))}")
    started = meta.get("started")
    if started is not None and not isinstance(started, dt.date) and not _iso_date(started):
        add("started", f"{started!r} is not a date (write YYYY-MM-DD)")
    title = meta.get("title")
    if isinstance(title, (dict, list)):
        add("title", "should be one line of text")
    return problems


def _iso_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _key_line(text: str, key: str) -> int:
    """The line of `key:` in the front matter of `text` (1 when it cannot be found)."""
    pattern = re.compile(rf"^{re.escape(key)}\s*:")
    for number, line in enumerate(text.splitlines()[1:], start=2):
        if re.fullmatch(r"-{3,}\s*", line):
            break
        if pattern.match(line):
            return number
    return 1


_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s.*)?$", re.MULTILINE)


def word_count(body: str) -> int:
    """Words the learner wrote: headings and HTML comments (the skeleton's prompts) do not count.

    >>> word_count("## Bellman\\n<!-- In your own words -->\\nV(s) is the expected return, 0.9 discounted.")
    7
    """
    text = _HEADING.sub(" ", _COMMENT.sub(" ", body))
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


# ---------------------------------------------------------------------------------------------
# `forge notes WEEK`: the skeleton.


def render_notes(ws: Workspace, week: int, today: dt.date) -> str:
    """The skeleton's text for `week`, from the workspace's (or the packaged) `notes.md.j2`."""
    import jinja2

    plan = ws.curriculum
    w = plan.week(week)
    start = plan.schedule.start_date + dt.timedelta(weeks=week - 1)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ws.templates_dir), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
    )
    env.filters["yaml"] = json.dumps  # a JSON string is a valid YAML scalar, quoted and escaped
    env.filters["comment"] = lambda text: str(text).replace("--", "–")  # `-->` would end the comment
    path = ws.templates_dir / TEMPLATE
    try:
        template = env.get_template(TEMPLATE)
        text = template.render(week=w, phase=plan.phase_of(w), schedule=plan.schedule, started=today.isoformat(),
                               start=start.isoformat(), end=(start + dt.timedelta(days=6)).isoformat())
    except jinja2.TemplateNotFound:
        raise ForgeError(f"no notes template at {path}",
                         hint="restore templates/notes.md.j2 (or delete templates/ to use the packaged one)") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ForgeError(f"{exc.filename or path}:{exc.lineno}: template syntax error: {exc.message}",
                         hint="fix the template") from None
    except jinja2.UndefinedError as exc:
        raise ForgeError(f"{path}: {exc.message}", hint="the notes template can use: week, phase, schedule, "
                         "started, start, end") from None
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def create_notes(ws: Workspace, week: int, today: dt.date | None = None) -> tuple[Path, bool]:
    """Write `notes/weekNN.md` from the template unless it exists; returns (path, created)."""
    import frontmatter

    path = notes_path(ws.notes_dir, week)
    if path.exists():
        return path, False
    text = render_notes(ws, week, today or dt.date.today())
    try:
        meta = frontmatter.loads(text).metadata
    except yaml.YAMLError as exc:
        raise ForgeError(f"{ws.templates_dir / TEMPLATE}: renders broken front matter ({exc})",
                         hint="fix the YAML between the '---' lines of the template") from None
    if meta.get("week") != week:
        raise ForgeError(f"{ws.templates_dir / TEMPLATE}: the rendered front matter has no `week: {week}`",
                         hint="keep `week: {{ week.week }}` in the template's front matter")
    if path.exists():  # created while we rendered: still never overwrite
        return path, False
    write_text_atomic(path, text)
    return path, True


def open_in_editor(path: Path) -> None:
    """Open `path` in `$VISUAL` or `$EDITOR` (which may carry arguments, e.g. `code --wait`) and wait."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise ForgeError("no editor: $EDITOR is not set", hint=f"set it (e.g. `export EDITOR=nano`) or open {path}")
    try:
        result = subprocess.run([*shlex.split(editor), str(path)], check=False)
    except (OSError, ValueError) as exc:
        raise ForgeError(f"cannot start the editor {editor!r}: {exc}", hint="check $EDITOR") from None
    if result.returncode != 0:
        raise ForgeError(f"the editor {editor!r} exited with code {result.returncode}",
                         hint=f"your notes are at {path}", exit_code=1)
