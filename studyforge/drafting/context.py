"""What a draft is written from: the week's plan, the learner's notes, and what the runs measured.

`gather(ws, week)` collects, for every post of the week at once (so that the two posts and two editions
share one context, and one prompt cache):

- the curriculum's week entry: topics, core papers, experiments, posts with their notes for the agent;
- the learner's notes, `notes/weekNN*.md`, verbatim (minus the skeleton's `<!-- prompts -->`);
- from the latest completed run of each of the week's experiments: the facts (facts.py), the tables
  (CSV, the first rows) and the figures with their captions — each figure with the relative link it will
  have once copied next to the drafts (`figures/<run id>/<name>.png`, immutable: a run id never changes);
- the posts of earlier weeks that this week's posts build on: title, slug, link and a short summary,
  taken from an existing draft's first paragraph when there is one, else from the curriculum.

No completed run is a ForgeError unless `allow_missing` (then the context says there are no results).
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from studyforge.curriculum import Curriculum, Paper, Topic, Week
from studyforge.drafting.facts import Fact, facts_of_record
from studyforge.errors import ForgeError
from studyforge.tracking.records import RunRecord, latest_completed
from studyforge.workspace import Workspace

# Rows of a table shown in the prompt (the whole CSV stays in the run record).
TABLE_ROWS = 40

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass
class Note:
    path: Path
    name: str  # relative to the workspace, for messages and the prompt
    meta: dict
    body: str  # verbatim, without the skeleton's HTML-comment prompts
    raw: str  # the file as read, for the notes hash


@dataclass
class FigureRef:
    experiment: str
    run_id: str
    name: str
    caption: str
    source: Path  # the PNG in the run record
    link: str  # relative to the week's drafts folder: figures/<run id>/<file>


@dataclass
class TableRef:
    experiment: str
    run_id: str
    name: str
    caption: str
    source: Path
    columns: list[str]
    rows: list[list[str]]  # at most TABLE_ROWS
    total_rows: int
    source_name: str = ""  # the CSV relative to the workspace, for messages and the prompt


@dataclass
class EarlierPost:
    week: int
    week_title: str
    slug: str
    title: str
    summary: str
    summary_from: str  # "draft <path>" or "curriculum"

    def link(self, edition: str) -> str:
        return f"../week{self.week:02d}/{self.slug}.{edition}.md"


@dataclass
class DraftContext:
    curriculum: Curriculum
    week: Week
    notes: list[Note] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # experiments without a completed run
    facts: list[Fact] = field(default_factory=list)
    tables: list[TableRef] = field(default_factory=list)
    figures: list[FigureRef] = field(default_factory=list)
    earlier: list[EarlierPost] = field(default_factory=list)

    @property
    def source_runs(self) -> list[str]:
        return [r.run_id for r in self.runs]

    @property
    def notes_hash(self) -> str | None:
        if not self.notes:
            return None
        digest = hashlib.sha256()
        for note in self.notes:
            digest.update(note.name.encode() + b"\0" + note.raw.encode() + b"\0")
        return "sha256:" + digest.hexdigest()

    @property
    def topics(self) -> list[tuple[int, str]]:
        """(depth, title) of every topic and sub-topic, in the plan's order."""
        out: list[tuple[int, str]] = []
        for item in self.week.topics:
            out += item.flatten() if isinstance(item, Topic) else [(0, item)]
        return out

    @property
    def papers(self) -> list[Paper]:
        return list(self.week.core_papers)

    def facts_of(self, experiment: str) -> list[Fact]:
        return [f for f in self.facts if f.experiment == experiment]


def gather(ws: Workspace, week: int, *, allow_missing: bool = False) -> DraftContext:
    """The context of every post of `week` (see the module docstring)."""
    plan = ws.curriculum
    w = plan.week(week)
    ctx = DraftContext(curriculum=plan, week=w, notes=read_week_notes(ws, week))
    latest = latest_completed(ws.runs_dir, week)
    for exp in w.experiments:
        record = latest.get(exp.id)
        if record is None:
            ctx.missing.append(exp.id)
            continue
        ctx.runs.append(record)
        ctx.facts += facts_of_record(record, week)
        ctx.tables += _tables(record, ws)
        ctx.figures += _figures(record)
    if not ctx.runs and not allow_missing:
        ids = ", ".join(e.id for e in w.experiments) or "none listed"
        raise ForgeError(f"week {week} has no completed runs to draft from (experiments: {ids})",
                         hint=f"run `forge run week{week}` first, or pass --allow-missing-results for a draft "
                              "without measured numbers")
    ctx.earlier = _earlier_posts(ws, plan, w)
    return ctx


def read_week_notes(ws: Workspace, week: int) -> list[Note]:
    """`notes/weekNN*.md`, parsed with python-frontmatter; broken front matter is a ForgeError at file:line."""
    from studyforge.notes import notes_paths, read_notes

    notes = []
    for path in notes_paths(ws.notes_dir, week):
        parsed = read_notes(path)  # raises ForgeError located to the line
        raw = path.read_text(encoding="utf-8")
        body = re.sub(r"\n{3,}", "\n\n", _COMMENT.sub("", parsed.body)).strip()
        notes.append(Note(path, ws.relative(path), parsed.meta, body, raw))
    return notes


def _tables(record: RunRecord, ws: Workspace) -> list[TableRef]:
    out, seen = [], set()
    for art in record.tables:
        if art.name in seen or (art.seed is not None and record.seeds and art.seed != record.seeds[0]):
            continue
        seen.add(art.name)
        path = record.path / art.path
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
        except OSError:
            continue  # a table the record lists but no longer has: left out, the facts remain
        if not rows:
            continue
        out.append(TableRef(record.experiment, record.run_id, art.name, art.caption, path, rows[0],
                            rows[1:TABLE_ROWS + 1], len(rows) - 1, ws.relative(path)))
    return out


def _figures(record: RunRecord) -> list[FigureRef]:
    out, seen = [], set()
    for art in record.figures:
        if art.name in seen or (art.seed is not None and record.seeds and art.seed != record.seeds[0]):
            continue
        seen.add(art.name)
        source = record.path / art.path
        out.append(FigureRef(record.experiment, record.run_id, art.name, art.caption, source,
                             f"figures/{record.run_id}/{Path(art.path).name}"))
    return out


def _earlier_posts(ws: Workspace, plan: Curriculum, w: Week) -> list[EarlierPost]:
    weeks = sorted({b for p in w.posts for b in p.builds_on})
    out = []
    for number in weeks:
        earlier = plan.week(number)
        for post in earlier.posts:
            summary, source = _summary_from_draft(ws, number, post.slug)
            if summary is None:
                summary, source = _first_sentences(post.notes_for_agent, 2), "curriculum"
            out.append(EarlierPost(number, earlier.title, post.slug, post.display_title, summary, source))
    return out


def _summary_from_draft(ws: Workspace, week: int, slug: str) -> tuple[str | None, str]:
    from studyforge.drafting.drafts import list_drafts, read_draft

    candidates = [p for p in list_drafts(ws.drafts_dir, week) if p.name.startswith(slug + ".")]
    # prefer what a human approved, then the scientist edition, then the newest version
    ranked = []
    for path in candidates:
        try:
            draft = read_draft(path)
        except ForgeError:
            continue
        rank = ({"published": 0, "reviewed": 1}.get(draft.meta.status, 2), draft.meta.edition != "scientist",
                -draft.meta.version)
        ranked.append((rank, draft))
    for _, draft in sorted(ranked, key=lambda x: x[0]):
        paragraph = first_paragraph(draft.body)
        if paragraph:
            return paragraph, f"draft {ws.relative(draft.path)}"
    return None, ""


def first_paragraph(body: str, limit: int = 400) -> str | None:
    """The first paragraph of prose: not a heading, image, quote (placeholders), comment, list or table.

    >>> first_paragraph("# Title\\n\\n> [PROSE]\\n\\nValue iteration repeats the Bellman backup.\\nUntil it settles.")
    'Value iteration repeats the Bellman backup. Until it settles.'
    """
    text = _COMMENT.sub("", body)
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block or block[0] in "#>!|<-*`$[" or re.match(r"^\d+[.)]\s", block):
            continue
        flat = " ".join(line.strip() for line in block.splitlines())
        return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"
    return None


def _first_sentences(text: str, n: int) -> str:
    """`_first_sentences("A b. C d. E f.", 2)` -> `'A b. C d.'`."""
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(parts[:n])
