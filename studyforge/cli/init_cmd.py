"""`forge init DIR [--start-date YYYY-MM-DD]`: scaffold a new workspace (never over an existing one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="the new workspace's folder (created when "
                                              "missing)", show_default=False)],
    start_date: Annotated[str | None, typer.Option("--start-date", help="Monday of week 1, YYYY-MM-DD "
                                                   "(default: the coming Monday)", show_default=False)] = None,
) -> None:
    """Create curriculum.yaml, templates/, notes/, drafts/ and a .gitignore for a plan of your own."""
    from studyforge.scaffold import init_workspace
    from studyforge.status import parse_date

    given = parse_date(start_date, "--start-date") if start_date is not None else None
    result = init_workspace(directory, given)
    if result.aligned_from:
        out.warn(f"{result.aligned_from} is a {result.aligned_from:%A}: week 1 starts on the Monday of that week, "
                 f"{result.start_date}")
    for path in result.created:
        out.print(f"[dim]created {path}[/]")
    out.success(f"workspace ready in {directory}: week 1 starts on {result.start_date:%A %Y-%m-%d}")
    out.print(f"next: cd {directory} && forge status, then `forge notes week1 --edit`")
