"""`forge runs [WEEK]` lists run records; `forge pull WEEK --wandb ENTITY/PROJECT` fetches online runs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, OptionalWeekArg, WeekArg
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.command("pull")(pull)


def runs(week: OptionalWeekArg = None, json_: JsonOpt = False) -> None:
    """List run records (newest last), with status, seeds, headline and path."""
    from studyforge.curriculum import parse_week
    from studyforge.display import fmt
    from studyforge.tracking.records import list_records
    from studyforge.tracking.stats import flatten

    ws = state.workspace()
    number = parse_week(week, ws.curriculum) if week else None
    records = list_records(ws.runs_dir, number)
    if json_:
        out.json([{**r.model_dump(mode="json"), "path": ws.relative(r.path), "summary": r.summary()}
                  for r in records])
        return
    if not records:
        out.print("No runs yet" + (f" for week {number}" if number else "") + ": try `forge run week1`.")
        return
    table = Table(title="Runs")
    for col in ("week", "experiment", "run id", "status", "preset", "seeds", "headline", "started", "time"):
        table.add_column(col)
    for r in records:
        value = flatten(r.summary()).get(r.headline) if r.headline else None
        colour = {"completed": "green", "failed": "red"}.get(r.status, "yellow")
        table.add_row(str(r.week), r.experiment, r.run_id, f"[{colour}]{r.status}[/]", r.preset,
                      ",".join(map(str, r.seeds)), fmt(value, r.stats().get(r.headline or "")),
                      f"{r.started:%Y-%m-%d %H:%M}", f"{r.duration_s:.1f}s" if r.duration_s else "—")
    out.print(table)


def pull(
    week: WeekArg,
    wandb: Annotated[str, typer.Option("--wandb", help="the W&B project: ENTITY/PROJECT")],
) -> None:
    """Fetch WEEK's online W&B runs (summaries and histories) into local records."""
    from studyforge.curriculum import parse_week
    from studyforge.tracking.pull import pull as do_pull

    ws = state.workspace()
    number = parse_week(week, ws.curriculum)
    created, skipped = do_pull(ws.runs_dir, number, wandb)
    for r in created:
        out.success(f"{r.experiment}: {r.run_id} ({r.status}) -> {ws.relative(r.path)}")
    out.print(f"{len(created)} run(s) pulled, {skipped} already present (left untouched).")
