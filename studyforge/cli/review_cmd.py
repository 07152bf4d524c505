"""`forge review WEEK`: each draft's check report and the reviewer's edits; `--approve` marks them reviewed."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, WeekArg
from studyforge.console import out

PostOpt = Annotated[str | None, typer.Option("--post", help="the post's number in the week or its slug (default: all)",
                                             show_default=False)]
EditionOpt = Annotated[str | None, typer.Option("--edition", help="scientist, manager or all (default: all)",
                                                show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("review")(review)


def review(
    week: WeekArg,
    post: PostOpt = None,
    edition: EditionOpt = None,
    approve: Annotated[bool, typer.Option("--approve", help="set status: reviewed (front matter only)")] = False,
    force: Annotated[bool, typer.Option("--force", help="approve despite unresolved checks")] = False,
    json_: JsonOpt = False,
) -> None:
    """Show each draft's grounding checks and a diff of your edits against what forge generated."""
    from studyforge.curriculum import parse_week
    from studyforge.review import approve as do_approve
    from studyforge.review import review as do_review

    out.json_mode = json_
    ws = state.workspace()
    number = parse_week(week, ws.curriculum)
    reviews = do_review(ws, number, post, edition)
    for r in reviews:
        _show(ws, r)
    results = do_approve(ws, reviews, force=force) if approve else []
    for draft, what in results:
        (out.warn if "force" in what else out.success)(f"{ws.relative(draft.path)}: {what}")
    if json_:
        out.json([{"path": ws.relative(r.draft.path), "status": r.draft.meta.status,
                   "checks": r.draft.meta.checks.model_dump(mode="json"), "unresolved": r.draft.meta.checks.unresolved,
                   "edited": r.draft.edited, "diff": r.diff, "older_versions": [ws.relative(p) for p in r.older]}
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
    if meta.quick_runs:
        out.print(f"[yellow]drafted with --allow-quick from quick-preset (smoke-test) runs: "
                  f"{escape(', '.join(meta.quick_runs))}[/]", soft_wrap=True)
    checks = meta.checks
    unresolved = checks.unresolved
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
            style = ("bold" if line.startswith(("---", "+++")) else "cyan" if line.startswith("@@")
                     else "green" if line.startswith("+") else "red" if line.startswith("-") else "")
            out.print(f"[{style}]{escape(line)}[/]" if style else escape(line), soft_wrap=True, markup=True)
