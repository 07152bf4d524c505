"""The data behind `forge status` (a first version: the schedule view grows with the review workflow)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.table import Table

from studyforge.experiments.registry import studies_for_week
from studyforge.tracking.records import list_records
from studyforge.workspace import Workspace


def build_status(ws: Workspace) -> list[dict[str, Any]]:
    plan = ws.curriculum
    records = list_records(ws.runs_dir)
    rows = []
    for w in plan.weeks:
        start = plan.schedule.start_date + dt.timedelta(weeks=w.week - 1)
        mine = [r for r in records if r.week == w.week]
        completed = {r.experiment for r in mine if r.status == "completed"}
        failed = sorted({r.experiment for r in mine if r.status == "failed"} - completed)
        drafts = sorted((ws.drafts_dir / w.slug).glob("*.md")) if (ws.drafts_dir / w.slug).is_dir() else []
        rows.append({
            "week": w.week, "title": w.title, "phase": plan.phase_of(w).title,
            "start": start.isoformat(), "end": (start + dt.timedelta(days=6)).isoformat(),
            "experiments": {"total": len(w.experiments), "implemented": len(studies_for_week(w.week)),
                            "completed": len(completed & {e.id for e in w.experiments}),
                            "failed": failed,
                            "last_run": max((r.started for r in mine), default=None)},
            "posts": {"planned": len(w.posts), "drafts": len(drafts)},
        })
    return rows


def status_table(rows: list[dict[str, Any]], ws: Workspace) -> Table:
    table = Table(title=f"{ws.curriculum.title} — status")
    for col in ("week", "dates", "phase", "title", "experiments", "last run", "posts"):
        table.add_column(col)
    for row in rows:
        e = row["experiments"]
        exp = f"{e['completed']}/{e['total']} run"
        if e["implemented"] < e["total"]:
            exp += f" [dim]({e['implemented']} implemented)[/]"
        if e["failed"]:
            exp += "\n[red]failed: " + ", ".join(e["failed"]) + "[/]"
        last = f"{e['last_run']:%Y-%m-%d}" if e["last_run"] else "—"
        table.add_row(str(row["week"]), f"{row['start']} → {row['end'][5:]}", row["phase"], row["title"], exp, last,
                      f"{row['posts']['drafts']} drafts / {row['posts']['planned']} planned")
    return table
