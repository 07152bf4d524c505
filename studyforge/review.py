"""`forge review WEEK`: Thursday's job — each draft's grounding checks, and what the reviewer changed.

For each selected draft this shows the check report written into its front matter by `forge draft`
(numbers checked; every problem with its line, and whether it is resolved) and a unified diff from the
body forge generated (`.forge/generated/weekNN/<file>`) to the file's current body: the reviewer's edits.

`--approve` sets `status: reviewed` and the `reviewed` time in the front matter and changes nothing
else: the body is written back exactly as the reviewer left it. It refuses — changing no file at all —
while any selected draft still has unresolved check problems, unless `--force`. A problem is resolved
by fixing the text and setting `resolved: true` on it in the front matter.

Which files: a post and edition can have several versions (`<slug>.<edition>.md`, `.v2.md`, ...: forge
writes a new version beside a draft a human has edited). Review works on the current one, the highest
version; delete a version to make an older one current.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from pathlib import Path

from studyforge.curriculum import Week
from studyforge.drafting.drafts import Draft, generated_path, list_drafts, read_draft, save
from studyforge.errors import ForgeError
from studyforge.workspace import Workspace


@dataclass
class Review:
    draft: Draft
    generated: Path
    diff: list[str] | None  # None: no generated copy to compare with
    older: list[Path]  # earlier versions of the same post and edition, kept beside it


def select_post(w: Week, post: str | None) -> str | None:
    """`--post` as the post's number in the week (1, 2) or its slug -> the slug (None: all posts)."""
    if post is None or post == "all":
        return None
    slugs = [p.slug for p in w.posts]
    if post.isdigit() and 1 <= int(post) <= len(slugs):
        return slugs[int(post) - 1]
    if post in slugs:
        return post
    listing = ", ".join(f"{i} = {s}" for i, s in enumerate(slugs, 1))
    raise ForgeError(f"week {w.week} has no post {post!r}", hint=f"use a number or slug: {listing}")


def select_edition(edition_ids: list[str], edition: str | None) -> str | None:
    if edition is None or edition == "all":
        return None
    if edition not in edition_ids:
        raise ForgeError(f"no edition {edition!r}", hint=f"use one of {', '.join(edition_ids)} or all")
    return edition


def current_drafts(ws: Workspace, week: int, post: str | None = None, edition: str | None = None
                   ) -> list[tuple[Draft, list[Path]]]:
    """The current (highest-version) draft of each post and edition of `week`, with the older versions' paths.

    Broken front matter in a selected draft is a ForgeError naming the file and line.
    """
    plan = ws.curriculum
    w = plan.week(week)
    slug = select_post(w, post)
    ed = select_edition([e.id for e in plan.editions], edition)
    groups: dict[tuple[str, str], list[Draft]] = {}
    for path in list_drafts(ws.drafts_dir, week):
        parts = path.name.split(".")
        if len(parts) < 3 or (slug and parts[0] != slug) or (ed and parts[1] != ed):
            continue  # cheap filter on the name first: only selected drafts are parsed
        draft = read_draft(path)
        if (slug and draft.meta.post != slug) or (ed and draft.meta.edition != ed):
            continue
        groups.setdefault((draft.meta.post, draft.meta.edition), []).append(draft)
    order = {p.slug: i for i, p in enumerate(w.posts)}
    editions = [e.id for e in plan.editions]
    result = []
    for key in sorted(groups, key=lambda k: (order.get(k[0], len(order)), k[0], editions.index(k[1]))):
        versions = sorted(groups[key], key=lambda d: d.meta.version)
        result.append((versions[-1], [d.path for d in versions[:-1]]))
    if not result:
        what = " ".join(x for x in (slug, ed) if x)
        raise ForgeError(f"week {week} has no drafts{' for ' + what if what else ''} yet",
                         hint=f"write them with `forge draft week{week}`")
    return result


def body_diff(ws: Workspace, draft: Draft) -> tuple[Path, list[str] | None]:
    """Unified diff, generated body -> current body (the reviewer's edits); None when forge's copy is gone."""
    generated = generated_path(ws.forge_dir, draft.path)
    try:
        before = generated.read_text(encoding="utf-8")
    except FileNotFoundError:
        return generated, None
    except (OSError, UnicodeDecodeError) as exc:
        raise ForgeError(f"cannot read {generated}: {exc}", hint="re-draft with --force to regenerate it") from None
    after = draft.body.strip() + "\n"
    before = before.strip() + "\n"
    lines = list(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                      fromfile=f"generated/{ws.relative(draft.path)}",
                                      tofile=ws.relative(draft.path)))
    return generated, [line.rstrip("\n") for line in lines]


def review(ws: Workspace, week: int, post: str | None = None, edition: str | None = None) -> list[Review]:
    out = []
    for draft, older in current_drafts(ws, week, post, edition):
        generated, diff = body_diff(ws, draft)
        out.append(Review(draft, generated, diff, older))
    return out


def approve(ws: Workspace, reviews: list[Review], *, force: bool = False, now: dt.datetime | None = None
            ) -> list[tuple[Draft, str]]:
    """Mark each draft `reviewed` (front matter only); all or nothing. Returns (draft, what happened)."""
    blocked = [r.draft for r in reviews if r.draft.meta.status == "draft" and r.draft.meta.checks.unresolved]
    if blocked and not force:
        names = ", ".join(f"{ws.relative(d.path)} ({d.meta.checks.unresolved})" for d in blocked)
        raise ForgeError(f"not approved: unresolved checks in {names}",
                         hint="fix the text and set `resolved: true` on each problem in the front matter, "
                              "or approve anyway with --force")
    now = now or dt.datetime.now().astimezone().replace(microsecond=0)
    done = []
    for r in reviews:
        draft = r.draft
        if draft.meta.status != "draft":
            done.append((draft, f"already {draft.meta.status}"))
            continue
        # Re-read right before writing: the body saved is the file's, as the reviewer left it.
        fresh = read_draft(draft.path)
        fresh.meta.status = "reviewed"
        fresh.meta.reviewed = now
        save(fresh)
        r.draft = fresh
        forced = " (with --force: unresolved checks remain)" if fresh.meta.checks.unresolved else ""
        done.append((fresh, "reviewed" + forced))
    return done
