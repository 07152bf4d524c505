"""One console for every command: rich output for people, `--json` for scripts, one red line for errors."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape


def pipe_closed() -> NoReturn:
    """The reader of stdout went away (`forge runs | head -3`): stop writing and end quietly, exit 0, as git does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's last flush at exit cannot fail either
    raise SystemExit(0)


class _Console(Console):
    def on_broken_pipe(self) -> None:  # rich's own answer is exit 1
        self.quiet = True
        pipe_closed()


class Output:
    def __init__(self) -> None:
        self.console = _Console(highlight=False)
        self.err = _Console(stderr=True, highlight=False)
        self.json_mode = False

    @property
    def width(self) -> int:
        """The width of the console human output goes to (stderr's in --json mode): what tables are laid out for."""
        return (self.err if self.json_mode else self.console).width

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Human output: goes to stderr in --json mode so stdout stays machine-readable."""
        (self.err if self.json_mode else self.console).print(*objects, **kwargs)

    def json(self, data: Any) -> None:
        try:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            pipe_closed()

    def error(self, message: str) -> None:
        """Plain text (a path, a `[TO WRITE: …]` placeholder) is printed as it is, never read as markup."""
        self.err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)

    def info(self, message: str) -> None:
        self.print(f"[dim]{message}[/]", soft_wrap=True)

    def notice(self, message: str) -> None:
        """A dim line about the circumstances (not the output): on stderr, so pipes and --json never see it."""
        self.err.print(f"[dim]{message}[/]", soft_wrap=True)

    def success(self, message: str) -> None:
        self.print(f"[green]✓[/] {message}", soft_wrap=True)


out = Output()
