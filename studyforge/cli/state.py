"""Per-invocation state set by the top-level callback (the workspace), read by the commands."""

from __future__ import annotations

from pathlib import Path

from studyforge.workspace import Workspace

_workspace_path: Path | None = None


def set_workspace(path: Path | None) -> None:
    global _workspace_path
    _workspace_path = path


def workspace() -> Workspace:
    return Workspace.find(_workspace_path)
