"""Rich views shared by the commands: tables that fit the terminal, live progress of `forge run` and the
closing results table.

**Tables at any width.** `fitted_table` lays a table out for the console's width instead of letting rich
squeeze every column: an id (run id, experiment id, slug, request id) is shown whole on one line, a word
is never broken, and when the columns do not fit at their narrowest, the least important ones are
dropped (each `Col` says how dispensable it is). What a dropped column held is in `--json`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from studyforge.console import out


def fmt(value: Any, stats: dict[str, Any] | None = None) -> str:
    """A number as the tables show it: `487.3 ± 9.1 (3 seeds)` with stats, `0.0013` or `12,345` alone."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        text = _num(value)
        if stats and stats.get("ci95") is not None:
            text = f"{text} ± {_num(stats['ci95'])} ({stats['n']} seeds)"
        return text
    if isinstance(value, list):
        return f"[{len(value)} values]"
    return str(value)


def _num(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return str(x)
    if abs(x) >= 1000:
        return f"{x:,.1f}"
    if abs(x) >= 0.01:
        return f"{x:.4g}"
    return f"{x:.3g}"


# ---------------------------------------------------------------------------------------------
# Tables that fit the terminal.


@dataclass(frozen=True)
class Col:
    """One column of a `fitted_table`.

    `drop`: 0 = always shown; on a narrow console the column with the highest `drop` goes first.
    `whole`: the cells are ids, shown whole on one line: never wrapped, folded or cut.
    `breaks`: characters a long word may be broken after (`"."` for metric keys such as
    `frozenlake8x8.gamma0_99.success_rate`); otherwise text wraps at spaces only.
    `min_width`: the narrowest the column may get even when its words are shorter (keeps titles from
    wrapping into many short lines).
    """

    name: str
    drop: int = 0
    whole: bool = False
    breaks: str = ""
    min_width: int = 0
    justify: str = "left"


def fitted_table(cols: Sequence[Col], rows: Sequence[dict[str, Any]], width: int, **table_options: Any) -> Table:
    """A rich Table of `rows` (dicts keyed by column name; a missing key is an empty cell) `width` cells wide.

    Each column gets at least its longest word (`whole` columns: their longest line), columns are dropped,
    highest `drop` first, until the rest fit, and the width left over goes to the columns whose text wraps.
    If even the columns that are never dropped do not fit, they keep their widths (the table is wider than
    the console) rather than cut an id; `fits()` tells the caller beforehand, to choose another layout.
    """
    shown, widths = _layout(cols, rows, width, table_options)
    table = Table(**table_options)
    for col, w in zip(shown, widths, strict=True):
        table.add_column(col.name, width=w, no_wrap=col.whole, justify=col.justify,  # type: ignore[arg-type]
                         overflow="ellipsis" if col.whole else "fold")
    for row in rows:
        cells = [row.get(col.name, "") for col in shown]
        table.add_row(*(_break(cell, w, col.breaks) if col.breaks else cell
                        for cell, col, w in zip(cells, shown, widths, strict=True)))
    return table


def fits(cols: Sequence[Col], rows: Sequence[dict[str, Any]], width: int, keep: int = 0,
         **table_options: Any) -> bool:
    """True when the columns with `drop <= keep` (by default those never dropped) fit `width` at their narrowest."""
    needed = [c for c in cols if c.drop <= keep]
    return sum(_narrowest(c, rows) for c in needed) + _overhead(len(needed), table_options) <= width


def _layout(cols, rows, width, table_options) -> tuple[list[Col], list[int]]:
    shown = list(cols)
    while True:
        room = width - _overhead(len(shown), table_options)
        least = [_narrowest(c, rows) for c in shown]
        spare = room - sum(least)
        droppable = [c for c in shown if c.drop > 0]
        if spare >= 0 or not droppable:
            break
        # the most dispensable column goes; of equals, the rightmost
        shown.remove(max(reversed(droppable), key=lambda c: c.drop))
    widths = least
    most = [max(w, _widest(c, rows)) for c, w in zip(shown, least, strict=True)]
    # share what is left: first to the columns that then fit on one line, the smallest need first; the
    # rest evenly, a cell at a time, among the columns whose text still wraps
    for i in sorted(range(len(shown)), key=lambda i: most[i] - widths[i]):
        if 0 < most[i] - widths[i] <= spare:
            spare -= most[i] - widths[i]
            widths[i] = most[i]
    while spare > 0:
        growing = [i for i, (w, m) in enumerate(zip(widths, most, strict=True)) if w < m]
        if not growing:
            break
        for i in growing[:spare]:
            widths[i] += 1
        spare -= min(spare, len(growing))
    return shown, widths


def column_widths(cols: Sequence[Col], rows: Sequence[dict[str, Any]], width: int,
                  **table_options: Any) -> dict[str, int]:
    """The width `fitted_table` gives each column it keeps (dropped columns are absent)."""
    shown, widths = _layout(cols, rows, width, table_options)
    return {c.name: w for c, w in zip(shown, widths, strict=True)}


def _lines(cell: Any) -> list[str]:
    if cell is None:
        return [""]
    text = cell if isinstance(cell, Text) else Text.from_markup(str(cell))
    return text.plain.splitlines() or [""]


def _words(line: str, breaks: str) -> list[str]:
    words = line.split()
    for char in breaks:
        words = [part for word in words for part in _split_after(word, char)]
    return words


def _split_after(word: str, char: str) -> list[str]:
    """`_split_after("a.b.c", ".")` -> `["a.", "b.", "c"]`."""
    parts = word.split(char)
    return [p + char for p in parts[:-1]] + [parts[-1]] if len(parts) > 1 else [word]


def _narrowest(col: Col, rows) -> int:
    lines = [line for row in rows for line in _lines(row.get(col.name))] + [col.name]
    if col.whole:
        return max(cell_len(line) for line in lines)
    words = [w for line in lines for w in _words(line, col.breaks)]
    return max([col.min_width, *(cell_len(w) for w in words)])


def _widest(col: Col, rows) -> int:
    lines = [line for row in rows for line in _lines(row.get(col.name))] + [col.name]
    return max(cell_len(line) for line in lines)


def _overhead(columns: int, table_options: dict[str, Any]) -> int:
    """The cells a table's borders and padding take beside its columns' contents (measured, not assumed)."""
    probe = Table(**table_options)
    for _ in range(columns):
        probe.add_column(width=1)
    console = Console(width=10_000)
    return Measurement.get(console, console.options, probe).maximum - columns


def _break(cell: RenderableType, width: int, breaks: str) -> RenderableType:
    """A plain-text cell whose words longer than `width` are broken after `breaks` characters.

    `_break("frozenlake8x8.gamma0_99.success_rate", 24, ".")` -> `"frozenlake8x8.gamma0_99.\nsuccess_rate"`.
    """
    if not isinstance(cell, str) or "[" in cell:  # markup: left to rich
        return cell
    return "\n".join(" ".join(_pack(word, width, breaks) if cell_len(word) > width else word
                                for word in line.split(" ")) for line in cell.splitlines())


def _pack(word: str, width: int, breaks: str) -> str:
    lines = [""]
    for part in _words(word, breaks):
        if lines[-1] and cell_len(lines[-1] + part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


@contextmanager
def run_progress():
    """Yields `reporter_for(study, seeds)`; each study gets one live row with ETA and headline metric."""
    console = out.err if out.json_mode else out.console
    # A live bar only on a terminal; in logs (CI, pipes) one line per experiment and seed instead.
    live_bar = console.is_terminal
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[live]}"),
        console=console, transient=False, disable=not live_bar,
    )

    def reporter_for(study, seeds):
        task = progress.add_task(study.id, total=None, live="")
        label = {"seed": ""}

        def report(kind: str, *args: Any) -> None:
            if kind == "seed":
                index, seed = args
                label["seed"] = f" · seed {seed} ({index + 1}/{len(seeds)})" if len(seeds) > 1 else ""
                progress.update(task, description=study.id + label["seed"])
                if not live_bar:
                    console.print(f"running {study.id}{label['seed']} …")
            elif kind == "start":
                total, description = args
                progress.reset(task, total=total, live="")
                progress.update(task, description=f"{study.id}{label['seed']} · {description}".rstrip(" ·"))
            elif kind == "advance":
                n, live = args
                text = "  ".join(f"{k}={fmt(v)}" for k, v in live.items())
                progress.update(task, advance=n, **({"live": text} if text else {}))
            elif kind == "stop":
                t = progress.tasks[task]
                if t.total is not None:
                    progress.update(task, completed=t.total)

        return report

    with progress:
        yield reporter_for


def outcomes_table(outcomes, width: int) -> Table:
    """The closing table of `forge run`: one row per experiment (the error and the record folder follow it,
    from `outcome_lines`, so that no cell holds a traceback's last line or a path)."""
    from rich import box
    from rich.markup import escape

    cols = [Col("experiment", whole=True), Col("status", whole=True), Col("headline", breaks=".", drop=1),
            Col("value", drop=1, min_width=6), Col("time", whole=True, drop=3, justify="right"),
            Col("figures", whole=True, drop=2, justify="right")]
    rows = []
    for o in outcomes:
        r = o.record
        value, stats = o.headline()
        status = {"completed": "[green]completed[/]", "failed": "[red]failed[/]"}.get(r.status, f"[yellow]{r.status}[/]")
        rows.append({"experiment": o.study.id, "status": status,
                     "headline": escape(o.study.headline) if value is not None else "—",
                     "value": f"[bold]{fmt(value, stats)}[/]" if value is not None else "—",
                     "time": f"{r.duration_s or 0:.1f}s", "figures": str(len(r.figures))})
    return fitted_table(cols, rows, width, title="Results", title_justify="left", box=box.SIMPLE_HEAD)


def outcome_lines(outcomes, ws) -> list[str]:
    """Under the results table: each failure's error, and where each record is."""
    from rich.markup import escape

    lines = [f"[red]{escape(o.study.id)} failed: {escape(o.record.error)}[/]"
             for o in outcomes if o.record.status == "failed" and o.record.error]
    lines.append("records (run.json, summary.json, figures/, tables/):")
    lines += [f"  {escape(ws.relative(o.record.path))}/" for o in outcomes]
    return lines
