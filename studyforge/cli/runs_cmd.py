"""`forge runs [WEEK]` lists run records; `forge pull WEEK --wandb ENTITY/PROJECT` fetches online runs."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, OptionalWeekArg, WeekArg
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.command("pull")(pull)


def runs(week: OptionalWeekArg = None, json_: JsonOpt = False) -> None:
    """List run records, newest last, unreadable ones as error rows (columns: week, experiment, run id, status,
    preset, seeds, headline, started, time; a narrow terminal drops started, seeds, preset and time first)."""
    from studyforge.curriculum import parse_week
    from studyforge.display import fmt
    from studyforge.errors import ForgeError
    from studyforge.tracking.records import scan_records
    from studyforge.tracking.stats import flatten

    ws = state.workspace()
    number = parse_week(week, ws.curriculum) if week else None
    scan = scan_records(ws.runs_dir, number)
    relative = lambda message: message.replace(str(ws.root) + os.sep, "")  # noqa: E731
    summaries: list[tuple[dict, dict, str | None]] = []
    for r in scan.records:  # a summary cut short marks its row, it does not stop the listing
        try:
            summaries.append((r.summary(), r.stats(), None))
        except ForgeError as exc:
            summaries.append(({}, {}, relative(str(exc))))
    bad = [{"week": u.week, "experiment": u.experiment, "run_id": u.run_id, "status": "unreadable",
            "path": ws.relative(u.folder), "error": relative(u.message)} for u in scan.unreadable]
    if json_:
        out.json([{**r.model_dump(mode="json"), "path": ws.relative(r.path), "summary": summary,
                   **({"summary_error": error} if error else {})}
                  for r, (summary, _, error) in zip(scan.records, summaries, strict=True)] + bad)
        return
    if not scan.records and not bad:
        out.print("No runs yet" + (f" for week {number}" if number else "") + ": try `forge run week1`.")
        return
    cells = []
    for r, (summary, stats, error) in zip(scan.records, summaries, strict=True):
        value = flatten(summary).get(r.headline) if r.headline else None
        colour = {"completed": "green", "failed": "red"}.get(r.status, "yellow")
        headline = f"[red]{escape(_short(error))}[/]" if error else fmt(value, stats.get(r.headline or ""))
        cells.append({"week": str(r.week), "experiment": r.experiment, "run id": r.run_id,
                      "status": f"[{colour}]{r.status}[/]", "preset": r.preset, "seeds": ",".join(map(str, r.seeds)),
                      "headline": headline, "started": f"{r.started:%Y-%m-%d %H:%M}",
                      "time": f"{r.duration_s:.1f}s" if r.duration_s else "—"})
    for row in bad:
        cells.append({"week": str(row["week"] or "—"), "experiment": row["experiment"] or "—",
                      "run id": row["run_id"] or "—", "status": "[red]unreadable[/]", "preset": "—", "seeds": "—",
                      "headline": f"[red]{escape(_short(row['error']))}[/]", "started": "—", "time": "—"})
    out.print(runs_table(cells, out.width))
    for row in bad:  # in full, whatever the terminal's width did to the row
        out.warn(f"unreadable run record: {row['error']}")
    for r in scan.records:
        if not r.wandb.synced:
            out.warn(f"{r.run_id} ({r.experiment}): its W&B run lacks part of the record ({r.wandb.error}); "
                     f"the local record is complete")


def runs_table(cells: list[dict[str, str]], width: int):
    """Experiment and run ids are shown whole (`forge sample` takes the run id); when they do not fit side by
    side with the headline the experiment stacks above its run id; the less important columns go first."""
    from rich import box

    from studyforge.display import Col, fits, fitted_table

    rest = [Col("status", whole=True), Col("preset", whole=True, drop=3), Col("seeds", whole=True, drop=4),
            Col("headline", drop=1, min_width=10), Col("started", whole=True, drop=5),
            Col("time", whole=True, drop=2, justify="right")]
    options = {"title": "Runs", "title_justify": "left", "box": box.SIMPLE_HEAD}
    side_by_side = [Col("week", whole=True, drop=6, justify="right"), Col("experiment", whole=True),
                    Col("run id", whole=True), *rest]
    if fits(side_by_side, cells, width, keep=1, **options):  # the headline too
        return fitted_table(side_by_side, cells, width, **options)
    stacked = [{**c, "experiment / run id": f"{c['experiment']}\n  {c['run id']}"} for c in cells]
    return fitted_table([Col("week", whole=True, drop=6, justify="right"), Col("experiment / run id", whole=True),
                         *rest], stacked, width, **options)


def _short(error: str) -> str:
    """What and where (the warning below the table adds the hint after ' — ')."""
    return error.split(" — ")[0]


def pull(
    week: WeekArg,
    wandb: Annotated[str, typer.Option("--wandb", help="the W&B project: ENTITY/PROJECT")],
) -> None:
    """Fetch WEEK's online W&B runs (summaries and histories) into local records."""
    from studyforge.curriculum import parse_week
    from studyforge.tracking.pull import pull as do_pull

    ws = state.workspace(writes=True)
    number = parse_week(week, ws.curriculum)
    created, skipped = do_pull(ws.runs_dir, number, wandb)
    for r in created:
        out.success(f"{r.experiment}: {r.run_id} ({r.status}) -> {ws.relative(r.path)}")
    out.print(f"{len(created)} run(s) pulled, {skipped} already present (left untouched).")
