"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WeekArg = Annotated[str, typer.Argument(help="week id: week4, w04 or 4", show_default=False)]
OptionalWeekArg = Annotated[str | None, typer.Argument(help="week id: week4, w04 or 4 (default: all)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-C", help="workspace folder (default: nearest folder with a curriculum.yaml)",
                 envvar="FORGE_WORKSPACE", show_default=False),
]
