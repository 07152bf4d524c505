"""`forge review WEEK`: Thursday's job — each draft's grounding checks, and what the reviewer changed.

Which draft: each post and edition may have several versions (`<slug>.<edition>.md`, `.v2.md`, ...).
Review works on the *current* one, by the one rule that status, publish and drafting also use
(drafting/drafts.py): the highest version that is not a candidate. Forge writes a new generation beside
a version the learner made theirs (edited, approved, published or adopted) as a *candidate*: review shows
each candidate with its diff against the current version, and `--adopt vN` (of each selected post and
edition that has a version N) makes it current; so does editing the candidate's body.

For the current version of each selected post and edition, review shows:

- the grounding checks, run again on the body as it is now (numbers, figures, citations, placeholders)
  against what drafting grounds on (drafting/context.gather: the plan, the notes, the latest completed
  runs; a note says so when the draft was made from other runs). The front matter's `checks` is updated
  from that run: a problem on a number the reviewer removed is gone, one on a number they typed is new,
  and `resolved: true` stays on the problems that still exist (drafting/checks.recheck);
- a unified diff from the body forge generated (`.forge/generated/weekNN/<file>`) to the file's body:
  the reviewer's edits;
- `.partial` files left by a broken stream (a successful draft of that post and edition removes its own).

`--approve` sets `status: reviewed` and the `reviewed` time in the front matter and changes nothing
else: the body is written back exactly as the reviewer left it. It refuses — approving none of them —
while any selected draft still has unresolved problems, unless `--force` with `--reason TEXT`, which is
recorded in the front matter as `forced: {at, reason, unresolved}`. A problem is resolved by fixing the
text and setting `resolved: true` on it in the front matter; a placeholder (`[TO WRITE…]`, `[RESULT: …]`)
only by replacing it with prose.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from studyforge.drafting.drafts import (
    Draft,
    Forced,
    Versions,
    adopt,
    generated_path,
    read_draft,
    save,
    week_partials,
    week_versions,
)
from studyforge.drafting.selection import select
from studyforge.errors import ForgeError
from studyforge.notices import Notice
from studyforge.workspace import Workspace


@dataclass
class Candidate:
    version: int
    draft: Draft
    diff: list[str]  # current body -> the candidate's body


@dataclass
class Review:
    draft: Draft  # the current version
    version: int
    generated: Path
    diff: list[str] | None  # None: no generated copy to compare with
    older: list[Path]  # versions kept beside it that are neither current nor candidates
    candidates: list[Candidate] = field(default_factory=list)
    sources: str | None = None  # said when the checks ground on other runs than the draft was made from


def current_drafts(ws: Workspace, week: int, post: str | None = None, edition: str | None = None
                   ) -> list[Versions]:
    """The versions of each selected post and edition of `week`, in the plan's order (`.current` is reviewed).

    Broken front matter in a version of a selected post and edition is a ForgeError naming the file and line.
    """
    plan = ws.curriculum
    selection = select(plan, week, post, edition)
    groups, _ = week_versions(ws.drafts_dir, week)
    selected = [g for g in groups if selection.has(g.slug, g.edition)]
    for group in selected:
        for v in group.versions:
            if v.draft is None:
                raise ForgeError(v.error or f"cannot read {v.path}", hint="fix the front matter, or delete the file")
    if not selected:
        what = selection.label
        partials = [ws.relative(p.path) for p in week_partials(ws.drafts_dir, week)]
        kept = f" (a broken stream's text is kept in {', '.join(partials)})" if partials else ""
        raise ForgeError(f"week {week} has no drafts{' for ' + what if what else ''} yet{kept}",
                         hint=f"write them with `forge draft week{week}`")
    order = {p.slug: i for i, p in enumerate(selection.week.posts)}
    editions = [e.id for e in plan.editions]
    return sorted(selected, key=lambda g: (order.get(g.slug, len(order)), g.slug,
                                           editions.index(g.edition) if g.edition in editions else len(editions)))


def adopt_version(ws: Workspace, week: int, number: int, post: str | None = None, edition: str | None = None,
                  *, now: dt.datetime | None = None) -> list[tuple[Draft, bool]]:
    """Make version `number` current in each selected post and edition that has one: (draft, changed)."""
    groups = current_drafts(ws, week, post, edition)
    having = [g for g in groups if g.get(number) is not None]
    if not having:
        found = sorted({v.number for g in groups for v in g.versions})
        raise ForgeError(f"no selected draft of week {week} has a version v{number}",
                         hint=f"versions there: {', '.join(f'v{n}' for n in found)}")
    done = []
    for group in having:
        changed = adopt(group, number, now=now)
        done.append((read_draft(group.get(number).path), changed))
    return done


def body_diff(ws: Workspace, draft: Draft) -> tuple[Path, list[str] | None]:
    """Unified diff, generated body -> current body (the reviewer's edits); None when forge's copy is gone."""
    generated = generated_path(ws.forge_dir, draft.path)
    try:
        before = generated.read_text(encoding="utf-8")
    except FileNotFoundError:
        return generated, None
    except (OSError, UnicodeDecodeError) as exc:
        raise ForgeError(f"cannot read {generated}: {exc}", hint="re-draft with --force to regenerate it") from None
    return generated, _diff(before, draft.body, f"generated/{ws.relative(draft.path)}", ws.relative(draft.path))


def _diff(before: str, after: str, name_before: str, name_after: str) -> list[str]:
    lines = difflib.unified_diff((before.strip() + "\n").splitlines(keepends=True),
                                 (after.strip() + "\n").splitlines(keepends=True), fromfile=name_before,
                                 tofile=name_after)
    return [line.rstrip("\n") for line in lines]


def review(ws: Workspace, week: int, post: str | None = None, edition: str | None = None) -> list[Review]:
    """Each selected current draft, its checks run again (and saved when they changed), edits and candidates."""
    from studyforge.drafting.checks import Grounding
    from studyforge.drafting.context import gather
    from studyforge.drafting.finish import recheck

    groups = current_drafts(ws, week, post, edition)
    ctx = gather(ws, week, allow_missing=True, allow_quick=True)  # what `forge draft` grounds on
    grounding = Grounding.from_context(ctx)
    out = []
    for group in groups:
        draft = group.current.draft
        checks = recheck(draft, grounding)
        if _changed(draft, checks):
            draft.meta.checks = checks
            save(draft)
        generated, diff = body_diff(ws, draft)
        candidates = [Candidate(v.number, v.draft, _diff(draft.body, v.draft.body, ws.relative(draft.path),
                                               ws.relative(v.path))) for v in group.candidates]
        sources = None
        if draft.meta.source_runs and sorted(draft.meta.source_runs) != sorted(ctx.source_runs):
            now = ", ".join(ctx.source_runs) or "none"
            sources = (f"drafted from run(s) {', '.join(draft.meta.source_runs)}; checked against the latest "
                       f"completed run(s): {now} (draft again to write from them)")
        out.append(Review(draft, group.current.number, generated, diff, [v.path for v in group.older], candidates, sources))
    return out


def _changed(draft: Draft, checks) -> bool:
    old = draft.meta.checks
    return (old.numbers_checked != checks.numbers_checked
            or [p.model_dump() for p in old.problems] != [p.model_dump() for p in checks.problems])


def partials(ws: Workspace, week: int, post: str | None = None, edition: str | None = None) -> list[Path]:
    """The `.partial` files a broken stream left for the selected posts and editions."""
    selection = select(ws.curriculum, week, post, edition)
    return [p.path for p in week_partials(ws.drafts_dir, week) if selection.has(p.slug, p.edition)]


def approve(ws: Workspace, reviews: list[Review], *, force: bool = False, reason: str | None = None,
            now: dt.datetime | None = None) -> list[tuple[Draft, Notice]]:
    """Mark each draft `reviewed` (front matter only); all or nothing. Returns (draft, what happened to it)."""
    blocked = [r.draft for r in reviews if r.draft.meta.status == "draft" and r.draft.unresolved]
    names = ", ".join(f"{ws.relative(d.path)} ({d.unresolved})" for d in blocked)
    if blocked and not force:
        raise ForgeError(f"not approved: unresolved checks in {names}",
                         hint="fix the text (replace each placeholder with prose) and set `resolved: true` on each "
                              "other problem in the front matter, or approve anyway with --force --reason TEXT")
    if blocked and not (reason or "").strip():
        raise ForgeError(f"--force needs --reason: say why {names} may go out with unresolved checks",
                         hint='e.g. --force --reason "placeholders kept to test the site layout"; it is recorded '
                              "in the front matter")
    now = now or dt.datetime.now().astimezone().replace(microsecond=0)
    done = []
    for r in reviews:
        draft = r.draft
        if draft.meta.status != "draft":
            done.append((draft, Notice("success", f"already {draft.meta.status}")))
            continue
        # Re-read right before writing: the body saved is the file's, as the reviewer left it.
        fresh = read_draft(draft.path)
        fresh.meta.status = "reviewed"
        fresh.meta.reviewed = now
        left = [p for p in fresh.meta.checks.problems if not p.resolved]
        if fresh.unresolved:
            fresh.meta.forced = Forced(at=now, reason=reason.strip(),
                                       unresolved=[f"line {p.line} [{p.kind}] {p.text}" for p in left])
        save(fresh)
        r.draft = fresh
        if fresh.unresolved:
            done.append((fresh, Notice("warning", f"reviewed (with --force: {fresh.unresolved} unresolved checks "
                                                  "remain)")))
        else:
            done.append((fresh, Notice("success", "reviewed")))
    return done
