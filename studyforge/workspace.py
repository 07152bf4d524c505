"""Where the learner's things live: the workspace root and its folders.

The root is `--workspace`, else `$FORGE_WORKSPACE`, else the nearest folder at or above the current one
holding a curriculum.yaml, else the current folder (which then runs on the embedded default plan).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from studyforge.curriculum import Curriculum, load_curriculum

DEFAULTS = Path(__file__).parent / "defaults"


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    @classmethod
    def find(cls, explicit: Path | None = None) -> Workspace:
        if explicit is not None:
            return cls(explicit)
        if os.environ.get("FORGE_WORKSPACE"):
            return cls(Path(os.environ["FORGE_WORKSPACE"]))
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
        return not (self.root / "curriculum.yaml").exists()

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
