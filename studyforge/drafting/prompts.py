"""Prompts from the templates the user may edit: the week's shared context first, then each post's task.

One request per post and edition, shaped so the expensive part is cached and shared:

    system[0]  context.md.j2   the week: curriculum entry, notes, facts, tables, figures, earlier posts  (cached)
    system[1]  system.md.j2    who writes for whom, and the grounding rules                               (cached)
    user       <edition>.md.j2 this post, this edition: its task, audience and layout (post.md.j2)

Both system blocks are identical for every post and edition of the week, so after the first request
the API reads them from its cache (`cache_control: ephemeral` on each: editing the rules template
still reuses the cached context). The same templates render the offline backend's skeleton.

Templates are Jinja2 with StrictUndefined: a variable a template names but the code does not provide
is a ForgeError naming the template file, the line and the variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studyforge.curriculum import Edition, Post
from studyforge.drafting.context import DraftContext, EarlierPost, Note
from studyforge.drafting.facts import group_lines
from studyforge.errors import ForgeError
from studyforge.workspace import DEFAULTS, Workspace

CONTEXT = "context.md.j2"
RULES = "system.md.j2"
LAYOUT = "post.md.j2"
CACHE = {"type": "ephemeral"}


class Templates:
    """The Jinja environment: the workspace's templates/ first, the packaged ones behind it."""

    def __init__(self, ws: Workspace):
        import jinja2

        self.dirs: list[Path] = []
        for folder in (ws.templates_dir, DEFAULTS / "templates"):
            if folder.is_dir() and folder.resolve() not in {d.resolve() for d in self.dirs}:
                self.dirs.append(folder)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]), undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
        )
        self.env.filters["md"] = lambda text: str(text).replace("*", "\\*").replace("_", "\\_")

    def render(self, name: str, **variables: Any) -> str:
        return self.module(name, **variables)[0]

    def module(self, name: str, **variables: Any) -> tuple[str, Any]:
        """(rendered text, the template's module: its top-level `{% set %}` values as attributes)."""
        try:
            module = self.env.get_template(name).make_module(variables)
            return _tidy(str(module)), module
        except Exception as exc:  # noqa: BLE001 — any error inside a user's template is reported at its line
            raise self._error(name, exc) from None

    def _error(self, name: str, exc: Exception) -> ForgeError:
        import jinja2

        where = ", ".join(str(d) for d in self.dirs)
        if isinstance(exc, jinja2.TemplateNotFound):
            return ForgeError(f"template {exc.name!r} not found in {where}",
                              hint="restore it (the packaged copy is in studyforge/defaults/templates/)")
        if isinstance(exc, jinja2.TemplateSyntaxError):
            return ForgeError(f"{exc.filename or exc.name or name}:{exc.lineno}: template syntax error: {exc.message}",
                              hint="fix the template (see the Jinja2 syntax reference)")
        file, line = name, None
        tb = exc.__traceback__
        while tb is not None:  # the innermost frame inside a template file is where it failed
            filename = tb.tb_frame.f_code.co_filename
            if filename.endswith(".j2"):
                file, line = filename, tb.tb_lineno
            tb = tb.tb_next
        at = f"{file}:{line}" if line else file
        if isinstance(exc, jinja2.UndefinedError):
            return ForgeError(f"{at}: {exc.message} (a variable the template uses is not provided)",
                              hint="the variables each template can use are listed in its header comment")
        return ForgeError(f"{at}: template error: {type(exc).__name__}: {exc}", hint="fix the template")


def _tidy(text: str) -> str:
    """Collapse runs of blank lines a template's control blocks leave behind."""
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass
class Chunk:
    """A piece of the learner's notes: the text under one heading."""

    source: str
    heading: str
    text: str


@dataclass
class Prompt:
    """Everything one draft's request and offline skeleton need."""

    week: int
    post: Post
    edition: Edition
    title: str
    context_text: str
    rules_text: str
    user_text: str
    skeleton: str
    sections: list[dict] = field(default_factory=list)

    @property
    def system(self) -> list[dict[str, Any]]:
        return [{"type": "text", "text": self.context_text, "cache_control": dict(CACHE)},
                {"type": "text", "text": self.rules_text, "cache_control": dict(CACHE)}]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [{"role": "user", "content": self.user_text}]

    def show(self) -> str:
        """The prompt as `--show-prompt` prints it."""
        return (f"──── system block 1: the week's context (cached) ────\n{self.context_text}\n"
                f"──── system block 2: the rules (cached) ────\n{self.rules_text}\n"
                f"──── user message: {self.post.slug}, {self.edition.id} edition ────\n{self.user_text}")


class PromptBuilder:
    """Renders the week's shared blocks once, then each post and edition's task."""

    def __init__(self, ws: Workspace, ctx: DraftContext):
        self.ws = ws
        self.ctx = ctx
        self.templates = Templates(ws)
        plan, w = ctx.curriculum, ctx.week
        self.modules = sorted({f"studyforge/experiments/{e.id.split('.')[0]}/" for e in w.experiments})
        experiments = [{"id": e.id, "title": e.title, "description": e.description,
                        "record": next((r for r in ctx.runs if r.experiment == e.id), None),
                        "facts": group_lines(ctx.facts_of(e.id))} for e in w.experiments]
        self.shared = {"curriculum": plan, "week": w, "phase": plan.phase_of(w), "has_results": bool(ctx.facts)}
        self.context_text = self.templates.render(
            CONTEXT, **self.shared, topics=ctx.topics, papers=ctx.papers, notes=ctx.notes, experiments=experiments,
            missing=ctx.missing, tables=ctx.tables, figures=ctx.figures, earlier=ctx.earlier,
            fact_count=len(ctx.facts))
        self.rules_text = self.templates.render(RULES, **self.shared)
        self.chunks = note_chunks(ctx.notes)

    def build(self, post: Post, edition: Edition) -> Prompt:
        earlier = [e for e in self.ctx.earlier if e.week in post.builds_on]
        variables = {**self.shared, "post": post, "title": post.title or "(a title you propose)", "edition": edition,
                     "earlier": earlier, "modules": self.modules, "mode": "outline"}
        user_text, module = self.templates.module(f"{edition.id}.md.j2", **variables)
        sections = _sections(module, f"{edition.id}.md.j2")
        placed, unplaced = place_notes(self.chunks, sections)
        skeleton = self.templates.render(
            LAYOUT, **{**variables, "mode": "skeleton", "title": post.display_title, "sections": sections,
                       "placed": placed, "unplaced": unplaced, "facts": self.ctx.facts,
                       "figures": self.ctx.figures, "tables": self.ctx.tables, "papers": self.ctx.papers,
                       "missing": self.ctx.missing})
        return Prompt(self.ctx.week.week, post, edition, post.display_title, self.context_text, self.rules_text,
                      user_text, skeleton, sections)


def _sections(module: Any, name: str) -> list[dict]:
    sections = getattr(module, "sections", None)
    ok = isinstance(sections, list) and all(isinstance(s, dict) and {"id", "title", "guide"} <= set(s)
                                            for s in sections)
    if not ok:
        raise ForgeError(f"{name}: no usable `sections` list",
                         hint="keep `{% set sections = [{\"id\": ..., \"title\": ..., \"guide\": ...}, ...] %}` "
                              "at the top of the edition template")
    return [{"includes": [], "keywords": [], **s} for s in sections]


_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def note_chunks(notes: list[Note]) -> list[Chunk]:
    """Split each note at its headings; chunks without a word of the learner's are dropped.

    `"# W1\\n## Maths\\n### Bellman\\nV = r + γV'\\n## Empty\\n"` -> one chunk, heading 'Maths › Bellman',
    text "V = r + γV'" (the file's `#` title is left out of every heading).
    """
    chunks: list[Chunk] = []
    for note in notes:
        sections: list[tuple[str, list[str]]] = [("", [])]  # (heading path, lines under it)
        path: list[tuple[int, str]] = []
        fence = False
        for line in note.body.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fence = not fence
            match = None if fence else _HEADING_LINE.match(line)
            if match:
                level = len(match.group(1))
                path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, match.group(2))]
                # the file's title (`# Week 1: ...`) names every section: it says nothing about this one
                sections.append((" › ".join(t for lvl, t in path if lvl > 1), []))
            else:
                sections[-1][1].append(line)
        for heading, lines in sections:
            text = "\n".join(lines).strip()
            if any(ch.isalnum() for ch in text):
                chunks.append(Chunk(note.name, heading, text))
    return chunks


def place_notes(chunks: list[Chunk], sections: list[dict]) -> tuple[dict[str, list[Chunk]], list[Chunk]]:
    """Each chunk goes under the section whose keywords it mentions most (its headings count 3×).

    Deterministic: ties go to the earlier section; a chunk that mentions no keyword stays unplaced.
    """
    placed: dict[str, list[Chunk]] = {}
    unplaced: list[Chunk] = []
    for chunk in chunks:
        heading, text = chunk.heading.lower(), chunk.text.lower()
        best, best_score = None, 0
        for section in sections:
            score = 0
            for kw in section.get("keywords", []):
                pattern = r"\b" + re.escape(str(kw).lower())
                score += 3 * len(re.findall(pattern, heading)) + len(re.findall(pattern, text))
            if score > best_score:
                best, best_score = section["id"], score
        if best is None:
            unplaced.append(chunk)
        else:
            placed.setdefault(best, []).append(chunk)
    return placed, unplaced


__all__ = ["EarlierPost", "Prompt", "PromptBuilder", "Templates", "note_chunks", "place_notes"]
