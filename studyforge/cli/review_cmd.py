"""`forge review WEEK`: each draft's checks (run again), the reviewer's edits and candidates; `--approve`, `--adopt`."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, WeekArg
from studyforge.console import out

PostOpt = Annotated[str | None, typer.Option("--post", help="the post's number in the week or its slug (default: all)",
                                             show_default=False)]
EditionOpt = Annotated[str | None, typer.Option("--edition", help="scientist | manager | all (default: all)",
                                                show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("review")(review)


def review(
    week: WeekArg,
    post: PostOpt = None,
    edition: EditionOpt = None,
    approve: Annotated[bool, typer.Option("--approve", help="set status: reviewed (front matter only)")] = False,
    force: Annotated[bool, typer.Option("--force", help="approve despite unresolved checks (needs --reason)")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="why --force approves despite unresolved checks "
                                               "(recorded in the front matter)", show_default=False)] = None,
    adopt: Annotated[str | None, typer.Option("--adopt", metavar="vN", help="make version N of the selected "
                                              "drafts current (e.g. v2: a candidate forge wrote beside yours)",
                                              show_default=False)] = None,
    json_: JsonOpt = False,
) -> None:
    """Check each draft's text again, show the problems, your edits and any candidate version beside it."""
    from studyforge.curriculum import parse_week
    from studyforge.errors import ForgeError
    from studyforge.review import adopt_version, partials
    from studyforge.review import approve as do_approve
    from studyforge.review import review as do_review

    out.json_mode = json_
    version = None
    if adopt is not None:
        text = adopt.strip().lower().removeprefix("v")
        if not text.isdigit() or int(text) < 1:
            raise ForgeError(f"--adopt {adopt!r} is not a version", hint="write it as v2 (or 2); v1 is <slug>.<edition>.md")
        version = int(text)
    if reason is not None and not force:
        raise ForgeError("--reason goes with --force", hint="add --force, or leave out --reason")
    ws = state.workspace(writes=True)  # the checks are run again and saved in the front matter
    number = parse_week(week, ws.curriculum)
    if version is not None:
        for draft, changed in adopt_version(ws, number, version, post, edition):
            out.success(f"{'adopted' if changed else 'already current:'} {ws.relative(draft.path)}")
    reviews = do_review(ws, number, post, edition)
    for r in reviews:
        _show(ws, r)
    for path in partials(ws, number, post, edition):
        out.warn(f"{ws.relative(path)}: the text of a draft whose stream broke; delete it, or draft again")
    results = do_approve(ws, reviews, force=force, reason=reason) if approve else []
    for draft, notice in results:
        (out.warn if notice.level == "warning" else out.success)(f"{ws.relative(draft.path)}: {notice.text}")
    if json_:
        out.json([{"path": ws.relative(r.draft.path), "version": r.version, "status": r.draft.meta.status,
                   "checks": r.draft.meta.checks.model_dump(mode="json"), "unresolved": r.draft.unresolved,
                   "edited": r.draft.edited, "diff": r.diff, "older_versions": [ws.relative(p) for p in r.older],
                   "candidates": [{"path": ws.relative(c.draft.path), "version": c.version,
                                   "diff": c.diff} for c in r.candidates]}
                  for r in reviews])


def _show(ws, r) -> None:
    from rich.markup import escape
    from rich.rule import Rule

    d = r.draft
    meta = d.meta
    out.print(Rule(f"[bold]{escape(ws.relative(d.path))}[/]", align="left"))
    out.print(f"{escape(meta.title)}  [dim]({meta.edition} edition · status {meta.status} · "
              f"{'edited by you' if d.edited else 'unedited'})[/]")
    for path in r.older:
        out.print(f"[dim]older version kept beside it: {escape(ws.relative(path))}[/]")
    if r.sources:
        out.print(f"[yellow]{escape(r.sources)}[/]", soft_wrap=True)
    if meta.quick_runs:
        out.print(f"[yellow]drafted with --allow-quick from quick-preset (smoke-test) runs: "
                  f"{escape(', '.join(meta.quick_runs))}[/]", soft_wrap=True)
    checks = meta.checks
    unresolved = d.unresolved
    colour = "red" if unresolved else "green"
    out.print(f"[bold]Checks:[/] {checks.numbers_checked} numbers checked, {len(checks.problems)} problem(s), "
              f"[{colour}]{unresolved} unresolved[/]")
    for p in checks.problems:
        mark = "[green]✓ resolved[/]" if p.resolved else "[red]✗[/]"
        out.print(f"  {mark} line {p.line} {escape(f'[{p.kind}]')} {escape(repr(p.text))}: {escape(p.message)}",
                  soft_wrap=True)
    if r.diff is None:
        out.print(f"[yellow]no generated copy at {escape(ws.relative(r.generated))}: cannot show your edits[/]")
    elif not r.diff:
        out.print("[dim]Edits: none — the body is as forge wrote it[/]")
    else:
        out.print("[bold]Edits[/] (generated → current):")
        for line in r.diff:
            _diff_line(line)
    for c in r.candidates:
        out.print(f"[bold yellow]candidate beside it: {escape(ws.relative(c.draft.path))}[/] — written by forge, not "
                  f"current; `--adopt v{c.version}` (with --post/--edition) or an edit of it makes it "
                  "current", soft_wrap=True)
        out.print("[bold]Candidate[/] (current → candidate):")
        for line in c.diff:
            _diff_line(line)


def _diff_line(line: str) -> None:
    from rich.markup import escape

    style = ("bold" if line.startswith(("---", "+++")) else "cyan" if line.startswith("@@")
             else "green" if line.startswith("+") else "red" if line.startswith("-") else "")
    out.print(f"[{style}]{escape(line)}[/]" if style else escape(line), soft_wrap=True, markup=True)
