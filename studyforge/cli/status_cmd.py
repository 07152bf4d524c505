"""`forge status`: the dashboard of the week's rhythm — one row per week, and what is due today."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt
from studyforge.console import out

TodayOpt = Annotated[str | None, typer.Option("--today", help="pretend today is YYYY-MM-DD (default: the date)",
                                              show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(today: TodayOpt = None, json_: JsonOpt = False) -> None:
    """One row per week: dates, phase, state, notes, experiments and each post's draft status."""
    from studyforge.status import build_status, header_lines, parse_date, status_table

    out.json_mode = json_
    day = parse_date(today) if today is not None else None
    data = build_status(state.workspace(), day)
    if json_:
        out.json(data)
        return
    for line in header_lines(data):
        out.print(line, soft_wrap=True)
    out.print(status_table(data))
