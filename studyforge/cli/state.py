"""Per-invocation state set by the top-level callback (the workspace), read by the commands."""

from __future__ import annotations

from pathlib import Path

from studyforge.console import out
from studyforge.workspace import Workspace

_workspace_path: Path | None = None


def set_workspace(path: Path | None) -> None:
    global _workspace_path
    _workspace_path = path


def workspace(*, writes: bool = False) -> Workspace:
    """The workspace the command works in.

    A command that writes (`writes=True`) refuses outside a workspace (no curriculum.yaml); one that only
    reads runs on the embedded plan there, and says so in one dim line on stderr.
    """
    ws = Workspace.find(_workspace_path)
    if writes:
        ws.require_writable()
    elif ws.uses_default_curriculum:
        out.notice(f"{ws.root} is not a workspace (no curriculum.yaml): showing the embedded plan "
                   "(`forge init DIR` starts one)")
    return ws
