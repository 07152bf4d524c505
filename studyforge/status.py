"""`forge status`: the dashboard of the plan's weekly rhythm — where the learner stands, what is due today.

The plan's rhythm (curriculum.yaml `schedule`): study, code and notes Monday to Wednesday; review the
drafts on Thursday; an optional second topic on Friday; experiments at the weekend; two posts a week.
Week N runs from `start_date + 7(N-1)` (a Monday) to the Sunday after.

**States.** Each week gets the first state whose rule holds ("today" is `--today`, default the date):

    published   every post the week plans has at least one edition with status `published`
    overdue     the week's Sunday is past and it is not published
    in review   at least one draft file exists for the week (any status)
    drafting    no drafts yet, and either the review day has come (today is on or after the week's
                Thursday) or the work is ready: notes exist and every experiment has a completed run
                at a preset other than `quick` (a smoke test, which `forge draft` does not draft from)
    studying    today falls inside the week, or work has started early (notes or run records exist)
    upcoming    the week has not started and nothing exists for it yet

**Cells.** Notes: the files `notes/weekNN*.md`, the words the learner wrote in them (headings and the
skeleton's comment prompts do not count) and the front matter's `status`. Experiments: planned
experiments with a completed run / planned, the newest run's start date, the experiments whose newest
run failed, and "quick runs only": experiments whose completed runs all used the `quick` preset
(`forge draft` refuses them without --allow-quick). Posts: per planned post and edition the status of
its current draft (the one rule of drafting/drafts.py: the highest `vN` that is not a candidate): `—`
(none), `draft`, `reviewed` or `published`, with the count of unresolved problems (the front matter's
grounding checks, and every `[TO WRITE…]` or `[RESULT: …]` placeholder left in the body as it is now).
A post counts as published when any edition of any version is. Anything unreadable (broken front
matter, a corrupt run record, a draft file that names no planned post) is listed as an error in its
own row; the rest of the table still renders.

**Header.** Which week the calendar is in, what the rhythm says is due today (e.g. "Thursday: review
week 4 drafts — 3 drafts, 2 with unresolved checks": the current drafts still in status `draft`), the
overdue weeks, and posts published against the target (`posts_per_week` for every week begun so far).

**JSON** (`forge status --json`), `schema_version` 1. Dates are `YYYY-MM-DD`. Additive changes keep the
version; renaming or removing a key bumps it.

    {
      "schema_version": 1,
      "today": "2026-12-24",
      "plan": {"title": str, "start_date": date, "end_date": date, "weeks": int},
      "calendar": {
        "position": "before" | "during" | "after",     # today against the whole plan
        "week": int | null,                             # the week the calendar is in (null outside)
        "weekday": "thursday",
        "activity": "study" | "review" | "optional" | "experiments" | "rest" | null,
        "due": str                                      # the header's sentence
      },
      "posts": {"published": int, "target": int,       # target: posts_per_week x weeks begun
                "per_week": int, "planned": int},       # planned: post slots in the curriculum
      "weeks": [{
        "week": int, "title": str, "phase": str, "start": date, "end": date,
        "state": "upcoming" | "studying" | "drafting" | "in review" | "published" | "overdue",
        "notes": {"present": bool, "files": [str], "words": int, "status": str | null, "errors": [str]},
        "experiments": {"total": int, "completed": int, "completed_ids": [str], "failed": [str],
                        "quick_only": bool, "quick_only_ids": [str],   # completed at the quick preset only
                        "last_run": date | null, "errors": [str]},
        "posts": [{
          "slug": str, "title": str, "kind": "primary" | "connection", "published": bool,
          "editions": {"<edition id>": {
            "status": null | "draft" | "reviewed" | "published" | "error",   # null: no draft
            "unresolved": int, "version": int | null, "versions": int,
            "path": str | null, "error": str | null}}
        }],
        "errors": [str]          # every problem of the row (notes, runs and drafts together)
      }]
    }

Status reads files only: it never imports experiment code (nor torch), so it stays fast. This module
computes the dashboard; cli/status_cmd.py draws it for the terminal.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from studyforge.curriculum import Curriculum, Week
from studyforge.errors import ForgeError
from studyforge.notes import notes_paths, read_notes
from studyforge.workspace import Workspace

SCHEMA_VERSION = 1
STATES = ("upcoming", "studying", "drafting", "in review", "published", "overdue")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_date(text: str, option: str = "--today") -> dt.date:
    """`"2026-12-03"` -> `date(2026, 12, 3)`; anything else is a ForgeError naming the option."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ForgeError(f"{option} {text!r} is not a date", hint="write it as YYYY-MM-DD, e.g. 2026-12-03") from None


def week_dates(plan: Curriculum, week: int) -> tuple[dt.date, dt.date]:
    """(Monday, Sunday) of `week`: week 1 starts on `schedule.start_date`."""
    start = plan.schedule.start_date + dt.timedelta(weeks=week - 1)
    return start, start + dt.timedelta(days=6)


def build_status(ws: Workspace, today: dt.date | None = None) -> dict[str, Any]:
    """Everything `forge status` shows, as the documented JSON-ready dict."""
    today = today or dt.date.today()
    plan = ws.curriculum
    rows = [_week_row(ws, plan, w, today) for w in plan.weeks]
    first, _ = week_dates(plan, 1)
    _, last = week_dates(plan, len(plan.weeks))
    begun = sum(1 for row in rows if dt.date.fromisoformat(row["start"]) <= today)
    published = sum(p["published"] for row in rows for p in row["posts"])
    return {
        "schema_version": SCHEMA_VERSION,
        "today": today.isoformat(),
        "plan": {"title": plan.title, "start_date": first.isoformat(), "end_date": last.isoformat(),
                 "weeks": len(plan.weeks)},
        "calendar": _calendar(plan, rows, today),
        "posts": {"published": published, "target": plan.schedule.posts_per_week * begun,
                  "per_week": plan.schedule.posts_per_week, "planned": plan.post_count()},
        "weeks": rows,
    }


# ---------------------------------------------------------------------------------------------
# One week.


def _week_row(ws: Workspace, plan: Curriculum, w: Week, today: dt.date) -> dict[str, Any]:
    start, end = week_dates(plan, w.week)
    notes = _notes_cell(ws, w.week)
    experiments = _experiments_cell(ws, w)
    posts, draft_errors, n_drafts = _posts_cell(ws, plan, w)
    row = {
        "week": w.week, "title": w.title, "phase": plan.phase_of(w).title,
        "start": start.isoformat(), "end": end.isoformat(), "state": "",
        "notes": notes, "experiments": experiments, "posts": posts,
        "errors": notes["errors"] + experiments["errors"] + draft_errors,
    }
    row["state"] = week_state(plan, w, today, notes_present=notes["present"], runs=experiments["runs"],
                              all_completed=experiments["completed"] == experiments["total"]
                              and not experiments["quick_only"],
                              drafts=n_drafts, all_published=bool(posts) and all(p["published"] for p in posts))
    del experiments["runs"]
    return row


def week_state(plan: Curriculum, w: Week, today: dt.date, *, notes_present: bool, runs: int, all_completed: bool,
               drafts: int, all_published: bool) -> str:
    """The week's state by the rules in the module docstring (the first that holds)."""
    start, end = week_dates(plan, w.week)
    review_day = start + dt.timedelta(days=DAYS.index(plan.schedule.review_day.lower()))
    if all_published:
        return "published"
    if today > end:
        return "overdue"
    if drafts:
        return "in review"
    if today >= review_day or (notes_present and all_completed):
        return "drafting"
    if start <= today or notes_present or runs:
        return "studying"
    return "upcoming"


def _notes_cell(ws: Workspace, week: int) -> dict[str, Any]:
    cell: dict[str, Any] = {"present": False, "files": [], "words": 0, "status": None, "errors": []}
    for path in notes_paths(ws.notes_dir, week):
        cell["present"] = True
        cell["files"].append(ws.relative(path))
        try:
            notes = read_notes(path)
        except ForgeError as exc:
            cell["errors"].append(_relative_message(ws, str(exc)))
            continue
        cell["words"] += notes.words
        if cell["status"] is None and notes.meta.get("status") is not None:
            cell["status"] = str(notes.meta["status"])
    return cell


def _experiments_cell(ws: Workspace, w: Week) -> dict[str, Any]:
    """Completed / planned, newest run, failed ones, quick runs only; an unreadable record is an error, not a stop."""
    from studyforge.tracking.records import QUICK, scan_records

    planned = [e.id for e in w.experiments]
    cell: dict[str, Any] = {"total": len(planned), "completed": 0, "completed_ids": [], "failed": [],
                            "quick_only": False, "quick_only_ids": [], "last_run": None, "errors": [], "runs": 0}
    try:
        scan = scan_records(ws.runs_dir, w.week)
    except ForgeError as exc:  # the runs folder itself cannot be read
        cell["errors"].append(_relative_message(ws, str(exc)))
        return cell
    cell["errors"] += [_relative_message(ws, bad.message) for bad in scan.unreadable]
    records = scan.records  # oldest first
    cell["runs"] = len(records)
    newest: dict[str, str] = {}
    completed: dict[str, set[bool]] = {}  # experiment -> {is quick} over its completed runs
    for r in records:
        newest[r.experiment] = r.status
        if r.status == "completed":
            completed.setdefault(r.experiment, set()).add(r.preset == QUICK)
    cell["completed_ids"] = [e for e in planned if e in completed]
    cell["completed"] = len(cell["completed_ids"])
    cell["failed"] = [e for e in planned if newest.get(e) == "failed"]
    # what `forge draft` refuses without --allow-quick: an experiment whose completed runs are all smoke tests
    cell["quick_only_ids"] = [e for e in cell["completed_ids"] if completed[e] == {True}]
    cell["quick_only"] = bool(cell["quick_only_ids"])
    if records:
        cell["last_run"] = max(r.started for r in records).date().isoformat()
    return cell


def _posts_cell(ws: Workspace, plan: Curriculum, w: Week) -> tuple[list[dict[str, Any]], list[str], int]:
    """Per planned post and edition, the current draft's status; plus the errors and the number of drafts."""
    from studyforge.drafting.drafts import list_drafts, week_versions

    editions = [e.id for e in plan.editions]
    slugs = {p.slug for p in w.posts}
    groups, misnamed = week_versions(ws.drafts_dir, w.week)
    expected = f"(expected <post-slug>.<edition>[.vN].md, posts: {', '.join(sorted(slugs))})"
    errors = [f"{ws.relative(path)}: names no planned post and edition of week {w.week} {expected}"
              for path in misnamed]
    slots = {}
    for group in groups:
        if group.slug not in slugs or group.edition not in editions:
            errors += [f"{ws.relative(v.path)}: names no planned post and edition of week {w.week} {expected}"
                       for v in group.versions]
            continue
        errors += [_relative_message(ws, v.error) for v in group.versions if v.error]
        slots[(group.slug, group.edition)] = group
    posts = []
    for p in w.posts:
        post: dict[str, Any] = {"slug": p.slug, "title": p.display_title, "kind": p.kind, "published": False,
                                "editions": {}}
        for edition in editions:
            group = slots.get((p.slug, edition))
            cell: dict[str, Any] = {"status": None, "unresolved": 0, "version": None,
                                    "versions": len(group.versions) if group else 0, "path": None, "error": None}
            if group is not None:
                current = group.current
                cell["version"] = current.number
                if current.draft is None:
                    cell.update(status="error", error=_relative_message(ws, current.error or ""))
                else:
                    cell.update(status=current.draft.meta.status, unresolved=current.draft.unresolved,
                                path=ws.relative(current.path))
                post["published"] |= any(v.draft is not None and v.draft.meta.status == "published"
                                         for v in group.versions)
            post["editions"][edition] = cell
        posts.append(post)
    return posts, errors, len(list_drafts(ws.drafts_dir, w.week))


def _relative_message(ws: Workspace, message: str) -> str:
    """Error messages name files relative to the workspace, as the table shows them."""
    return message.replace(str(ws.root) + os.sep, "")


# ---------------------------------------------------------------------------------------------
# The header: where the calendar is, and what the rhythm says is due today.


def _calendar(plan: Curriculum, rows: list[dict[str, Any]], today: dt.date) -> dict[str, Any]:
    schedule = plan.schedule
    weekday = DAYS[today.weekday()]
    first, _ = week_dates(plan, 1)
    _, last = week_dates(plan, len(plan.weeks))
    cal: dict[str, Any] = {"position": "during", "week": None, "weekday": weekday, "activity": None, "due": ""}
    if today < first:
        days = (first - today).days
        cal.update(position="before",
                   due=f"the plan starts on {first:%A %Y-%m-%d} (in {days} day{'s' * (days != 1)}): "
                       "get week 1's notes ready with `forge notes week1`")
        return cal
    if today > last:
        left = sum(row["state"] != "published" for row in rows)
        cal.update(position="after", due=f"the plan ended on {last:%Y-%m-%d}; "
                   + (f"{left} week(s) not yet published" if left else "every week is published"))
        return cal
    n = (today - first).days // 7 + 1
    row = rows[n - 1]
    day = weekday.capitalize()
    lower = lambda days: [d.lower() for d in days]  # noqa: E731
    if weekday in lower(schedule.study_days):
        notes = row["notes"]
        words = (f"notes: {notes['words']} words so far" if notes["present"]
                 else f"no notes yet: `forge notes week{n}`")
        activity, due = "study", f"{day}: study week {n} ({row['title']}) — topics, code and notes; {words}"
    elif weekday == schedule.review_day.lower():
        cells = [c for p in row["posts"] for c in p["editions"].values() if c["status"] is not None]
        pending = [c for c in cells if c["status"] == "draft"]
        reviewed = sum(c["status"] == "reviewed" for c in cells)
        unresolved = sum(c["unresolved"] > 0 for c in pending)
        if pending:
            tail = f"{len(pending)} draft{'s' * (len(pending) != 1)}, {unresolved} with unresolved checks"
        elif reviewed:
            tail = (f"nothing left to review; {reviewed} reviewed, to publish: "
                    f"`forge publish week{n} --format hugo --out SITE`")
        elif cells:
            tail = "nothing left to review"
        elif not row["experiments"]["completed"]:
            tail = f"no drafts yet — no completed runs to draft from: `forge run week{n}`"
        elif row["experiments"]["quick_only"]:
            tail = f"no drafts yet — quick runs only: `forge run week{n}` (default preset), then draft"
        else:
            tail = f"no drafts yet — `forge draft week{n}`"
        activity, due = "review", f"{day}: review week {n} drafts — {tail}"
    elif weekday == schedule.optional_day.lower():
        activity, due = "optional", f"{day}: optional — a second topic or deeper experiments for week {n}"
    elif weekday in lower(schedule.experiment_days):
        e = row["experiments"]
        nxt = f", or prepare week {n + 1}" if n < len(rows) else ""
        activity, due = "experiments", (f"{day}: experiments — week {n}: {e['completed']}/{e['total']} "
                                        f"completed (`forge run week{n}`){nxt}")
    else:
        activity, due = "rest", f"{day}: nothing scheduled"
    cal.update(week=n, activity=activity, due=due)
    return cal
