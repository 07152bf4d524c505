"""A line a command has for the user besides its result, as data: its level and its text.

Library code (drafting, review) hands notices to the CLI, which picks how each level looks
(cli/draft_view.py, cli/review_cmd.py). A notice is told apart by its level, never by its wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["info", "success", "warning", "error"]


@dataclass(frozen=True)
class Notice:
    level: Level
    text: str
