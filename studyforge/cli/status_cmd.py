"""`forge status`: where the learner stands, one row per week."""

from __future__ import annotations

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(json_: JsonOpt = False) -> None:
    """One row per week: dates, experiments run/total, posts drafted/planned."""
    from studyforge.status import build_status, status_table

    ws = state.workspace()
    rows = build_status(ws)
    if json_:
        out.json(rows)
    else:
        out.print(status_table(rows, ws))
