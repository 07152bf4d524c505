"""Rich views shared by the commands: live progress of `forge run` and the closing results table."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

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


def outcomes_table(outcomes, ws) -> Table:
    """The closing table of `forge run`: one row per experiment, record folders in the caption."""
    table = Table(title="Results", title_justify="left", caption_justify="left")
    table.add_column("experiment", overflow="fold")
    table.add_column("status")
    table.add_column("headline", overflow="fold")
    table.add_column("time", justify="right")
    table.add_column("figures", justify="right")
    folders = []
    for o in outcomes:
        r = o.record
        value, stats = o.headline()
        head = f"{o.study.headline}\n[bold]{fmt(value, stats)}[/]" if value is not None else "—"
        status = {"completed": "[green]completed[/]", "failed": "[red]failed[/]"}.get(r.status, f"[yellow]{r.status}[/]")
        if r.status == "failed" and r.error:
            status += f"\n[red]{r.error[:200]}[/]"
        table.add_row(o.study.id, status, head, f"{r.duration_s or 0:.1f}s", str(len(r.figures)))
        folders.append(f"{o.study.id}: {ws.relative(r.path)}/")
    table.caption = "records (run.json, summary.json, figures/, tables/):\n  " + "\n  ".join(folders)
    return table
