"""`forge publish WEEK --format hugo|jekyll|quarto|markdown --out DIR`: export the week's reviewed posts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import WeekArg
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)


def publish(
    week: WeekArg,
    format_: Annotated[str, typer.Option("--format", "-f", help="hugo | jekyll | quarto | markdown",
                                         show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="the site's folder (created when missing)",
                                          show_default=False)],
    date: Annotated[str | None, typer.Option("--date", help="publication date YYYY-MM-DD (default: the date "
                                             "of the first publication, else today)", show_default=False)] = None,
) -> None:
    """Export WEEK's reviewed drafts, one post per edition, with figures; mark the drafts published."""
    from studyforge.curriculum import parse_week
    from studyforge.publishing import FORMATS
    from studyforge.publishing import publish as do_publish
    from studyforge.status import parse_date

    fmt = format_.strip().lower()
    if fmt not in FORMATS:
        from studyforge.errors import ForgeError

        raise ForgeError(f"unknown format {format_!r}", hint=f"use one of {', '.join(FORMATS)}")
    when = parse_date(date, "--date") if date is not None else None
    ws = state.workspace(writes=True)
    number = parse_week(week, ws.curriculum)
    outputs, skipped = do_publish(ws, number, fmt, out_dir, date=when)
    for o in outputs:
        figures = f", {len(o.figures)} figure{'s' * (len(o.figures) != 1)}" if o.figures else ""
        what = "written" if o.written else "unchanged"
        out.success(f"{ws.relative(o.draft.path)} → {o.layout.post_file} ({o.date}{figures}; {what})")
    for line in skipped:
        out.warn(line)
    out.print(f"{len(outputs)} post(s) published to {out_dir} as {fmt}.")
