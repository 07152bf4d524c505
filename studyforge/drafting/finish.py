"""A reply becomes a draft file: what `forge draft` does with each reply, one at a time or from a batch.

    finish(ws, planned, job, response, backend)   copy the figures the body links, run the grounding checks,
                                                  place them in lines of the file, write the draft without
                                                  losing edits (drafts.write_new_draft), log the call
    recheck(draft, grounding)                     the checks of a draft as it is now, placed the same way
                                                  (`forge review`)

`Planned` (what the pipeline decided before the first call) and `Job` (one post and edition's prompt and
request) are shared by pipeline.py and batch.py through here, so neither imports the other's internals.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from studyforge.curriculum import Post
from studyforge.drafting.calllog import CallLog
from studyforge.drafting.checks import CheckProblem, Checks, Grounding, check_draft, shift_lines
from studyforge.drafting.context import DraftContext
from studyforge.drafting.drafts import Draft, DraftMeta, body_hash, partial_path, render, write_new_draft
from studyforge.drafting.llm import LLMError, LLMRequest, LLMResponse
from studyforge.drafting.pricing import estimate_cost
from studyforge.drafting.prompts import Prompt
from studyforge.notices import Notice
from studyforge.tracking.io import write_bytes_atomic
from studyforge.workspace import Workspace


@dataclass
class Job:
    prompt: Prompt
    request: LLMRequest

    @property
    def post(self) -> Post:
        return self.prompt.post

    @property
    def edition(self) -> str:
        return self.prompt.edition.id


@dataclass
class Planned:
    """Everything decided before the first call."""

    ctx: DraftContext
    grounding: Grounding
    jobs: list[Job]
    backend: str  # anthropic | offline (auto resolved)
    model: str | None  # None for the offline backend
    max_tokens: int
    notices: list[Notice] = field(default_factory=list)


@dataclass
class Outcome:
    job: Job
    path: Path
    kept: Path | None  # the current version left untouched: the new draft is a candidate beside it
    response: LLMResponse
    meta: DraftMeta
    backup: Path | None = None  # with --force: where the replaced text was copied


def finish(ws: Workspace, planned: Planned, job: Job, response: LLMResponse, backend: str, *, force: bool,
           log: CallLog, batch: bool = False) -> Outcome:
    """Copy the figures, check the body, write the draft without losing edits, and log the call."""
    body = response.text.strip()
    if not body:
        raise LLMError(f"{job.request.label}: the reply was empty", hint="run the command again",
                       request_id=response.request_id)
    week_dir = ws.drafts_dir / f"week{job.request.week:02d}"
    copy_figures(planned.ctx, body, week_dir)
    title = job.post.title or first_heading(body) or job.post.display_title
    usage = response.usage
    model = response.model if backend != "offline" else None
    cost = estimate_cost(model, usage, batch=batch) if model else (0.0 if backend == "offline" else None)
    checks = check_draft(body, planned.grounding, week_dir)
    if response.stop_reason == "max_tokens":
        last = body.count("\n") + 1
        checks.problems.append(CheckProblem(kind="other", line=last, text="max_tokens",
                                            message=f"the draft stops mid-way (line {last}): it hit max_tokens "
                                                    f"({planned.max_tokens}); raise drafting.max_tokens"))
    meta = DraftMeta(
        title=title, week=job.request.week, post=job.post.slug, edition=job.edition, status="draft",
        created=dt.datetime.now().astimezone().replace(microsecond=0), backend=backend, model=model,
        source_runs=planned.ctx.source_runs, notes_hash=planned.ctx.notes_hash, prompt_hash=job.request.hash,
        body_hash="", usage=usage, cost_usd=round(cost, 6) if cost is not None else None, checks=checks,
        allow_quick=True if planned.ctx.quick_runs else None, quick_runs=planned.ctx.quick_runs or None,
    )
    meta.body_hash = body_hash(body)
    place_checks(meta, checks, body)
    placed = write_new_draft(ws.drafts_dir, ws.forge_dir, meta, body, force=force)
    path = placed.path
    partial_path(ws.drafts_dir, meta.week, meta.post, meta.edition).unlink(missing_ok=True)  # stale now
    log.record(week=meta.week, post=meta.post, edition=meta.edition, backend=backend, model=model,
               kind="batch" if batch else "draft", prompt_hash=meta.prompt_hash, input_tokens=usage.input_tokens,
               output_tokens=usage.output_tokens, cache_read_tokens=usage.cache_read_tokens,
               cache_write_tokens=usage.cache_write_tokens, cost_usd=meta.cost_usd,
               duration_s=round(response.duration_s, 3), request_id=response.request_id, outcome="ok",
               draft=ws.relative(path))
    return Outcome(job, path, placed.kept, response, meta, placed.backup)


def copy_figures(ctx: DraftContext, body: str, week_dir: Path) -> None:
    """Copy each figure the body links next to the drafts (figures/<run id>/<file>; never overwritten)."""
    for fig in ctx.figures:
        if fig.link in body:
            dest = week_dir / fig.link
            if not dest.exists() and fig.source.exists():
                write_bytes_atomic(dest, fig.source.read_bytes())


def first_heading(body: str) -> str | None:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
    return m.group(1) if m else None


# ---------------------------------------------------------------------------------------------
# The checks, in lines of the draft file.


def place_checks(meta: DraftMeta, checks: Checks, body: str) -> None:
    """Set `meta.checks` to `checks` (in lines of the body) moved to lines of the draft file.

    The front matter holds the checks, so its length depends on them: iterate to the fixed point.
    """
    offset = 0
    for _ in range(6):
        meta.checks = shift_lines(checks, offset)
        text = render(meta, body)
        lines_before_body = text[: text.index("\n---\n", 3) + 5].count("\n") + 1
        if lines_before_body == offset:
            return
        offset = lines_before_body


def recheck(draft: Draft, grounding: Grounding) -> Checks:
    """The checks of `draft`'s body as it is now, in lines of its file (`forge review` runs this every time).

    A reviewer's `resolved: true` stays on a problem that still exists (the same kind and text, as many
    times as it was marked); never on a placeholder. A reply cut at max_tokens stays a problem until
    resolved: the text cannot tell.
    """
    fresh = check_draft(draft.body, grounding, draft.path.parent)
    old = draft.meta.checks.problems
    marks = Counter((p.kind, p.text) for p in old if p.resolved and p.kind != "placeholder")
    for p in fresh.problems:
        if marks[(p.kind, p.text)] > 0:
            marks[(p.kind, p.text)] -= 1
            p.resolved = True
    last = draft.body.strip().count("\n") + 1
    for p in old:
        if p.kind == "other" and p.text == "max_tokens":
            fresh.problems.append(p.model_copy(update={"line": last, "message": re.sub(
                r"\(line \d+\)", f"(line {last})", p.message, count=1)}))
    meta = draft.meta.model_copy()
    place_checks(meta, fresh, draft.body)
    return meta.checks
