"""One console for every command: rich output for people, `--json` for scripts, one red line for errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


class Output:
    def __init__(self) -> None:
        self.console = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)
        self.json_mode = False

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Human output: goes to stderr in --json mode so stdout stays machine-readable."""
        (self.err if self.json_mode else self.console).print(*objects, **kwargs)

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/] {message}", soft_wrap=True)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {message}", soft_wrap=True)

    def info(self, message: str) -> None:
        self.print(f"[dim]{message}[/]", soft_wrap=True)

    def notice(self, message: str) -> None:
        """A dim line about the circumstances (not the output): on stderr, so pipes and --json never see it."""
        self.err.print(f"[dim]{message}[/]", soft_wrap=True)

    def success(self, message: str) -> None:
        self.print(f"[green]✓[/] {message}", soft_wrap=True)


out = Output()
