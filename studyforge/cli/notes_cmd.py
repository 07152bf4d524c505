"""`forge notes WEEK [--edit]`: the week's notes file, scaffolded from the template and never overwritten."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import WeekArg
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("notes")(notes)


def notes(
    week: WeekArg,
    edit: Annotated[bool, typer.Option("--edit", help="open the file in $EDITOR")] = False,
) -> None:
    """Create notes/weekNN.md (topics, papers, experiments, posts, with the plan's prompts); print its path."""
    from studyforge.curriculum import parse_week
    from studyforge.notes import create_notes, open_in_editor

    ws = state.workspace(writes=True)
    number = parse_week(week, ws.curriculum)
    path, created = create_notes(ws, number)
    if created:
        out.success(f"created {ws.relative(path)}")
    else:
        out.print(f"{ws.relative(path)} exists already: left as it is")
    out.print(str(path), soft_wrap=True, markup=False, highlight=False)  # one line, whole, for scripts
    if edit:
        open_in_editor(path)
