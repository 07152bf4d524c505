"""The learner's notes: `notes/weekNN.md`, scaffolded from `templates/notes.md.j2`, read by status and drafting.

    notes/week04.md          front matter (week, title, status, started) + markdown
    notes/week04-extra.md    more files for the same week are allowed (`weekNN*.md`)

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

from studyforge.errors import ForgeError
from studyforge.tracking.io import write_text_atomic
from studyforge.workspace import Workspace

TEMPLATE = "notes.md.j2"


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
    """Parse a notes file; broken front matter is a ForgeError located to `file:line`."""
    import frontmatter

    try:
        post = frontmatter.load(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # python-frontmatter hands YAML the text from the end of the opening '---' line: its line 0 is that line.
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ForgeError(f"{where}: broken front matter ({getattr(exc, 'problem', None) or exc})",
                         hint="fix the YAML between the two '---' lines") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ForgeError(f"cannot read {path}: {exc}", hint="check the file") from None
    if not isinstance(post.metadata, dict):
        raise ForgeError(f"{path}:2: the front matter is not a mapping of keys",
                         hint="write it as `key: value` lines between the two '---' lines")
    return Notes(path, dict(post.metadata), post.content)


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
