"""What a draft is written from: the week's plan, the learner's notes, and what the runs measured.

`gather(ws, week)` collects, for every post of the week at once (so that the two posts and two editions
share one context, and one prompt cache):

- the curriculum's week entry: topics, core papers, experiments, posts with their notes for the agent;
- the learner's notes, `notes/weekNN*.md`, verbatim (minus the skeleton's `<!-- prompts -->`);
- from the latest completed run of each of the week's experiments: the facts (facts.py), the tables
  (CSV, the first rows) and the figures with their captions — each figure with the relative link it will
  have once copied next to the drafts (`figures/<run id>/<name>.png`, immutable: a run id never changes);
- the posts of earlier weeks that this week's posts build on: title, slug, a short summary (taken from an
  existing draft's first paragraph when there is one, else from the curriculum) and, per edition, a link
  to its draft file — only where that file exists: a post not drafted yet is named, never linked.

Which run: the newest completed one at a preset other than `quick` (a smoke test: its numbers say the code
runs, not what a method achieves). A record that cannot be read (or whose summary cannot) is skipped with
a warning (`DraftContext.warnings`) and the next older one is used. Refused with a ForgeError: a week where
an experiment has quick runs only, unless `allow_quick` (then those runs are used and listed in
`quick_runs`, which the drafts' front matter records); a week with no completed run, unless
`allow_missing` (then the context says there are no results).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from studyforge.curriculum import Curriculum, Paper, Topic, Week
from studyforge.drafting.facts import Fact, facts_of_record
from studyforge.errors import ForgeError
from studyforge.tracking.records import QUICK, Artifact, RunRecord, scan_records
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
    links: dict[str, str] = field(default_factory=dict)  # edition -> its draft, relative to this week's drafts

    def link(self, edition: str) -> str | None:
        """`../week01/<slug>.<edition>.md` when that draft exists, else None (name the post, do not link it)."""
        return self.links.get(edition)


@dataclass
class DraftContext:
    curriculum: Curriculum
    week: Week
    notes: list[Note] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # experiments without a completed run
    quick_only: list[str] = field(default_factory=list)  # experiments whose completed runs are all `quick`
    warnings: list[str] = field(default_factory=list)  # records skipped, quick runs used: for the user
    facts: list[Fact] = field(default_factory=list)
    tables: list[TableRef] = field(default_factory=list)
    figures: list[FigureRef] = field(default_factory=list)
    earlier: list[EarlierPost] = field(default_factory=list)

    @property
    def source_runs(self) -> list[str]:
        return [r.run_id for r in self.runs]

    @property
    def quick_runs(self) -> list[str]:
        """The quick-preset runs drafted from (only with `allow_quick`)."""
        return [r.run_id for r in self.runs if r.preset == QUICK]

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


def gather(ws: Workspace, week: int, *, allow_missing: bool = False, allow_quick: bool = False) -> DraftContext:
    """The context of every post of `week` (see the module docstring)."""
    plan = ws.curriculum
    w = plan.week(week)
    ctx = DraftContext(curriculum=plan, week=w, notes=read_week_notes(ws, week))
    scan = scan_records(ws.runs_dir, week)
    for bad in scan.unreadable:
        what, _, hint = _relative_message(ws, bad.message).partition(" — ")
        ctx.warnings.append(f"{what}: skipped, the drafts use the newest readable completed run instead"
                            + (f" ({hint})" if hint else ""))
    for exp in w.experiments:
        completed = [r for r in scan.records if r.experiment == exp.id and r.status == "completed"]
        candidates = [r for r in completed if r.preset != QUICK]
        if completed and not candidates:
            ctx.quick_only.append(exp.id)
            candidates = completed if allow_quick else []
        for record in reversed(candidates):  # newest first
            try:
                facts = facts_of_record(record, week)
            except ForgeError as exc:  # a summary.json cut short: as if the record were unreadable
                what, _, hint = _relative_message(ws, str(exc)).partition(" — ")
                ctx.warnings.append(f"{what}: skipped run {record.run_id}, the drafts use an older completed run "
                                    f"of {exp.id} if there is one" + (f" ({hint})" if hint else ""))
                continue
            ctx.runs.append(record)
            ctx.facts += facts
            ctx.tables += _tables(record, ws)
            ctx.figures += _figures(record)
            break
        else:
            ctx.missing.append(exp.id)
    if ctx.quick_only and not allow_quick:
        raise ForgeError(f"week {week} has only quick-preset runs of {', '.join(ctx.quick_only)}: smoke tests, "
                         "not results to write about",
                         hint=f"run `forge run week{week}` (default preset) first, or draft from them anyway with "
                              "--allow-quick")
    if ctx.quick_runs:
        ctx.warnings.append(f"drafting from quick-preset runs ({', '.join(ctx.quick_runs)}) of "
                            f"{', '.join(ctx.quick_only)} because of --allow-quick: smoke-test numbers; the drafts' "
                            "front matter records it")
    if not ctx.runs and not allow_missing:
        ids = ", ".join(e.id for e in w.experiments) or "none listed"
        raise ForgeError(f"week {week} has no completed runs to draft from (experiments: {ids})",
                         hint=f"run `forge run week{week}` first, or pass --allow-missing-results for a draft "
                              "without measured numbers")
    ctx.earlier = _earlier_posts(ws, plan, w)
    return ctx


def _relative_message(ws: Workspace, message: str) -> str:
    """Messages name files relative to the workspace, as the user sees them."""
    return message.replace(str(ws.root) + os.sep, "")


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


def _first_seeds(record: RunRecord, artifacts: list[Artifact]) -> list[Artifact]:
    """Each artifact once by name, of the record's first seed where there is one per seed."""
    out, seen = [], set()
    for art in artifacts:
        if art.name in seen or (art.seed is not None and record.seeds and art.seed != record.seeds[0]):
            continue
        seen.add(art.name)
        out.append(art)
    return out


def _tables(record: RunRecord, ws: Workspace) -> list[TableRef]:
    out = []
    for art in _first_seeds(record, record.tables):
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
    return [FigureRef(record.experiment, record.run_id, art.name, art.caption, record.path / art.path,
                      f"figures/{record.run_id}/{Path(art.path).name}") for art in _first_seeds(record, record.figures)]


def _earlier_posts(ws: Workspace, plan: Curriculum, w: Week) -> list[EarlierPost]:
    weeks = sorted({b for p in w.posts for b in p.builds_on})
    out = []
    for number in weeks:
        earlier = plan.week(number)
        for post in earlier.posts:
            summary, source = _summary_from_draft(ws, number, post.slug)
            if summary is None:
                summary, source = _first_sentences(post.notes_for_agent, 2), "curriculum"
            out.append(EarlierPost(number, earlier.title, post.slug, post.display_title, summary, source,
                                   _draft_links(ws, number, post.slug, [e.id for e in plan.editions])))
    return out


def _draft_links(ws: Workspace, week: int, slug: str, editions: list[str]) -> dict[str, str]:
    """Per edition, the link from a drafts/weekNN/ folder to the post's current draft version
    (`drafts.week_versions` decides which); editions with no draft file get no link."""
    from studyforge.drafting.drafts import week_versions

    groups, _ = week_versions(ws.drafts_dir, week)
    folder = f"week{week:02d}"
    return {g.edition: f"../{folder}/{g.current.path.name}" for g in groups
            if g.slug == slug and g.edition in editions}


def _summary_from_draft(ws: Workspace, week: int, slug: str) -> tuple[str | None, str]:
    from studyforge.drafting.drafts import week_versions

    groups, _ = week_versions(ws.drafts_dir, week)
    current = [g.current.draft for g in groups if g.slug == slug and g.current.draft is not None]
    # of each edition's current version: prefer what a human approved, then the scientist edition
    ranked = sorted(current, key=lambda d: ({"published": 0, "reviewed": 1}.get(d.meta.status, 2),
                                            d.meta.edition != "scientist"))
    for draft in ranked:
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
