"""`forge validate` checks the workspace; `forge curriculum [WEEK]` prints the plan."""

from __future__ import annotations

import typer
from rich.tree import Tree

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, OptionalWeekArg
from studyforge.console import out
from studyforge.errors import ForgeError


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("curriculum")(curriculum)


def validate(json_: JsonOpt = False) -> None:
    """Check curriculum.yaml, the notes' front matter and the templates; exit 2 on any problem."""
    from studyforge.validate import validate_workspace

    checked, problems = validate_workspace(state.workspace())
    if json_:
        out.json({"ok": not problems, "checked": checked, "problems": [str(p) for p in problems]})
    else:
        for line in checked:
            out.print(f"checked {line}")
        for problem in problems:
            out.error(str(problem))
    if problems:
        raise typer.Exit(2)
    if not json_:
        out.success("everything is valid")


def curriculum(week: OptionalWeekArg = None, json_: JsonOpt = False) -> None:
    """Print the plan: all weeks as a table under their phases (columns: week, title, experiments, posts), or
    one week as a tree."""
    from rich.markup import escape

    from studyforge.curriculum import Topic, parse_week
    from studyforge.experiments.registry import all_studies

    ws = state.workspace()
    plan = ws.curriculum
    implemented = {s.id for s in all_studies()}
    if json_:
        data = plan.model_dump(mode="json")
        if week:
            data = plan.week(parse_week(week, plan)).model_dump(mode="json")
        out.json(data)
        return
    if week is None:
        out.print(plan_table(plan, implemented, out.width))
        return
    w = plan.week(parse_week(week, plan))
    e_ = escape  # the plan's text is shown as written, never read as rich markup ("[week06-connection]")
    tree = Tree(f"[bold]Week {w.week}: {e_(w.title)}[/]  [dim]({e_(plan.phase_of(w).title)})[/]")

    def add_topic(node, item):
        if isinstance(item, Topic):
            child = node.add(e_(item.title))
            for sub in item.subtopics:
                add_topic(child, sub)
        else:
            node.add(e_(item))

    topics = tree.add("[bold]Study topics")
    for item in w.topics:
        add_topic(topics, item)
    papers = tree.add("[bold]Core papers")
    for p in w.core_papers:
        papers.add(e_(" · ".join(x for x in (p.title, p.authors, str(p.year) if p.year else None,
                                             f"arXiv:{p.arxiv}" if p.arxiv else None) if x)))
    exps = tree.add(f"[bold]Experiments[/]  [dim]W&B: {e_(w.wandb)}[/]")
    for e in w.experiments:
        mark = "[green]✓ implemented[/]" if e.id in implemented else "[yellow]planned[/]"
        exps.add(f"{e_(e.id)} — {e_(e.title)}  {mark}").add(f"[dim]{e_(e.description)} · tracks: {e_(e.tracks)}[/]")
    posts = tree.add("[bold]Posts")
    for p in w.posts:
        posts.add(f"{e_(p.display_title)}  [dim]({p.kind}, {p.slug})[/]").add(f"[dim]{e_(p.notes_for_agent)}[/]")
    out.print(tree)


def plan_table(plan, implemented: set[str], width: int):
    """Every week under its phase's name: title, experiments implemented / planned, the posts' titles."""
    from rich import box
    from rich.markup import escape

    from studyforge.display import Col, fitted_table

    cols = [Col("week", whole=True, justify="right"), Col("title", min_width=16),
            Col("experiments", drop=1, min_width=11), Col("posts", min_width=36)]
    rows: list[dict[str, str]] = []
    phase = None
    for w in plan.weeks:
        if plan.phase_of(w).title != phase:
            if phase is not None:
                rows.append({})  # a blank line between phases
            phase = plan.phase_of(w).title
            rows.append({"title": f"[bold]{escape(phase)}[/]"})
        done = sum(e.id in implemented for e in w.experiments)
        rows.append({"week": str(w.week), "title": escape(w.title),
                     "experiments": f"{done}/{len(w.experiments)} implemented",
                     "posts": "\n".join(f"• {escape(p.display_title)}" for p in w.posts)})
    return fitted_table(cols, rows, width, title=escape(plan.title), title_justify="left", box=box.SIMPLE_HEAD)


__all__ = ["ForgeError"]
