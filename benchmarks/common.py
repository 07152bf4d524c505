"""What every benchmark shares: timing, peak memory, and one table printed side by side with the peer."""

from __future__ import annotations

import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

# Wide enough for the side-by-side columns when the output goes to a file or a CI log.
console = Console(width=None if sys.stdout.isatty() else 140)


@dataclass
class Row:
    """One measured figure: ours against a peer (or against a target alone), with the target stated."""

    what: str
    ours: float
    unit: str
    peer: float | None = None
    peer_name: str = ""
    target: str = ""
    ok: bool | None = None  # None: informational

    @property
    def ratio(self) -> float | None:
        return None if not self.peer else self.ours / self.peer


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Wall time in seconds of the fastest of `repeat` calls (first call included)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_python_memory(fn: Callable[[], Any]) -> tuple[Any, int]:
    """(result, peak bytes allocated by Python objects during `fn`) via tracemalloc."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def report(title: str, rows: list[Row]) -> bool:
    """Print `rows` as one table; returns whether every row with a verdict passed."""
    table = Table(title=f"{title}  [dim]({machine()})[/]")
    for col in ("what", "ours", "peer", "ratio", "target", "ok"):
        table.add_column(col, justify="left" if col in ("what", "target") else "right")
    for r in rows:
        peer = f"{r.peer:.4g} {r.unit} ({r.peer_name})" if r.peer is not None else "—"
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        ok = {True: "[green]yes[/]", False: "[red]NO[/]", None: ""}[r.ok]
        table.add_row(r.what, f"{r.ours:.4g} {r.unit}", peer, ratio, r.target, ok)
    console.print(table)
    return all(r.ok is not False for r in rows)
