"""Options shared by several commands, declared once, and the conventions every command follows.

**Short options** mean one thing everywhere; a long option without one has none on purpose:

    -C  --workspace    (every command)        -e  --experiment   (run)
    -p  --post         (draft)                -n  --limit        (log, prefs inspect)
    -f  --format       (publish, prefs inspect)  -o  --out       (publish)
    -t  --temperature  (sample)

**Choices** are listed in the help as `a | b | c` (then what each means), and checked with `choice()`
before a command prints or writes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from studyforge.errors import ForgeError

WeekArg = Annotated[str, typer.Argument(metavar="WEEK", help="week id: week4, w04 or 4", show_default=False)]
OptionalWeekArg = Annotated[
    str | None, typer.Argument(metavar="WEEK", help="week id: week4, w04 or 4 (default: all)", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-C", help="workspace folder (default: nearest folder with a curriculum.yaml)",
                 envvar="FORGE_WORKSPACE", show_default=False),
]


def choice(option: str, value: str, choices: Sequence[str]) -> str:
    """`value` when it is one of `choices`, else a ForgeError naming the option and listing them.

    `choice("--device", "gpu", ("auto", "cpu", "cuda"))` -> "--device 'gpu' is not one of auto | cpu | cuda".
    """
    if value not in choices:
        raise ForgeError(f"{option} {value!r} is not one of {' | '.join(choices)}")
    return value
