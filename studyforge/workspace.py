"""Where the learner's things live: the workspace root and its folders.

The root is `--workspace`, else `$FORGE_WORKSPACE` (either must name an existing folder), else the nearest
folder at or above the current one holding a curriculum.yaml, else the current folder. A root without a
curriculum.yaml is not a workspace: commands may read there (on the embedded default plan) but never write
(`forge init DIR` makes one).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from studyforge.curriculum import Curriculum, load_curriculum
from studyforge.errors import ForgeError

DEFAULTS = Path(__file__).parent / "defaults"


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    @classmethod
    def find(cls, explicit: Path | None = None) -> Workspace:
        named = explicit if explicit is not None else os.environ.get("FORGE_WORKSPACE") or None
        if named is not None:
            folder = Path(named).expanduser()
            if not folder.exists():
                raise ForgeError(f"workspace folder {folder} does not exist",
                                 hint=f"check -C/--workspace and $FORGE_WORKSPACE, or create it with `forge init {folder}`")
            if not folder.is_dir():
                raise ForgeError(f"workspace {folder} is not a folder", hint="give -C/--workspace a folder")
            return cls(folder)
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / "curriculum.yaml").is_file():
                return cls(folder)
        return cls(here)

    @property
    def curriculum_path(self) -> Path:
        own = self.root / "curriculum.yaml"
        return own if own.exists() else DEFAULTS / "curriculum.yaml"

    @property
    def uses_default_curriculum(self) -> bool:
        """True outside a workspace: no curriculum.yaml at the root, so the embedded plan stands in."""
        return not (self.root / "curriculum.yaml").exists()

    def require_writable(self) -> None:
        """Refuse (ForgeError) to write anything unless the root is a workspace: one with a curriculum.yaml."""
        if self.uses_default_curriculum:
            raise ForgeError(f"{self.root} is not a forge workspace (it has no curriculum.yaml): this command "
                             "writes nothing outside one",
                             hint="create one with `forge init DIR` and run forge inside it (or pass -C DIR)")

    @cached_property
    def curriculum(self) -> Curriculum:
        return load_curriculum(self.curriculum_path)

    @property
    def templates_dir(self) -> Path:
        own = self.root / "templates"
        return own if own.is_dir() else DEFAULTS / "templates"

    runs_dir = property(lambda self: self.root / "runs")
    notes_dir = property(lambda self: self.root / "notes")
    drafts_dir = property(lambda self: self.root / "drafts")
    forge_dir = property(lambda self: self.root / ".forge")

    def relative(self, path: Path) -> str:
        """`path` relative to the root when inside it (for messages), else absolute."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)
