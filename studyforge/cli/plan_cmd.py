"""`forge validate` checks the workspace; `forge curriculum [WEEK]` prints the plan."""

from __future__ import annotations

import typer
from rich.table import Table
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
    """Print the plan: all weeks as a table, or one week as a tree."""
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
        table = Table(title=plan.title)
        for col in ("week", "phase", "title", "experiments", "posts"):
            table.add_column(col)
        for w in plan.weeks:
            done = sum(e.id in implemented for e in w.experiments)
            table.add_row(str(w.week), plan.phase_of(w).title, w.title, f"{done}/{len(w.experiments)} implemented",
                          "\n".join(p.display_title for p in w.posts))
        out.print(table)
        return
    w = plan.week(parse_week(week, plan))
    tree = Tree(f"[bold]Week {w.week}: {w.title}[/]  [dim]({plan.phase_of(w).title})[/]")

    def add_topic(node, item):
        if isinstance(item, Topic):
            child = node.add(item.title)
            for sub in item.subtopics:
                add_topic(child, sub)
        else:
            node.add(item)

    topics = tree.add("[bold]Study topics")
    for item in w.topics:
        add_topic(topics, item)
    papers = tree.add("[bold]Core papers")
    for p in w.core_papers:
        papers.add(" · ".join(x for x in (p.title, p.authors, str(p.year) if p.year else None,
                                          f"arXiv:{p.arxiv}" if p.arxiv else None) if x))
    exps = tree.add(f"[bold]Experiments[/]  [dim]W&B: {w.wandb}[/]")
    for e in w.experiments:
        mark = "[green]✓ implemented[/]" if e.id in implemented else "[yellow]planned[/]"
        exps.add(f"{e.id} — {e.title}  {mark}").add(f"[dim]{e.description} · tracks: {e.tracks}[/]")
    posts = tree.add("[bold]Posts")
    for p in w.posts:
        posts.add(f"{p.display_title}  [dim]({p.kind}, {p.slug})[/]").add(f"[dim]{p.notes_for_agent}[/]")
    out.print(tree)


__all__ = ["ForgeError"]
