"""`RunContext`: everything a study needs from the outside world, and nothing it has to write itself.

A study calls `ctx.log`, `ctx.log_figure`, `ctx.log_table`, `ctx.summary`, `ctx.progress` and
`ctx.save_checkpoint`; the context writes the run record (atomically) and mirrors it to W&B. Seeding
(python, numpy, torch) happens before the study starts, so a study never repeats CleanRL's boilerplate.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from studyforge.tracking.io import to_jsonable, write_bytes_atomic, write_json_atomic, write_text_atomic
from studyforge.tracking.records import Artifact
from studyforge.tracking.wandb_sink import WandbSink

# A progress reporter receives ("start", total, description), ("advance", n, live-metrics), ("stop",).
Reporter = Callable[..., None]


def _no_report(*_: Any) -> None:
    return None


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if it is imported or importable) torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import torch

    torch.manual_seed(seed)


class Progress:
    """Handle returned by `ctx.progress(...)`: `bar.advance(1, **{"return": 12.3})`."""

    def __init__(self, report: Reporter):
        self._report = report

    def advance(self, n: float = 1, **live: Any) -> None:
        self._report("advance", n, live)

    def update(self, **live: Any) -> None:
        self._report("advance", 0, live)


class RunContext:
    """The outside world of one seed of one study run (see the module docstring)."""

    def __init__(self, *, out_dir: Path, config: Any, seed: int, device: str = "cpu",
                 sink: WandbSink | None = None, reporter: Reporter = _no_report,
                 seed_suffix: str = "", headline: str | None = None):
        self.out_dir = Path(out_dir)
        self.config = config
        self.seed = seed
        self.device = device
        self.rng = np.random.default_rng(seed)
        self._sink = sink
        self._report = reporter
        self._suffix = seed_suffix  # "" for the first seed; ".seed3" for the others
        self._headline = headline
        self._summary: dict[str, Any] = {}
        self.figures: list[Artifact] = []
        self.tables: list[Artifact] = []
        self.checkpoints: list[Artifact] = []
        self.out_dir.mkdir(parents=True, exist_ok=True)

    # -- what studies read ---------------------------------------------------------------------
    @property
    def torch_device(self):  # -> torch.device
        import torch

        return torch.device(self.device)

    def env_seed(self, index: int = 0) -> int:
        """A distinct, reproducible seed for environment `index` of this run."""
        return int(self.seed * 10_007 + index)

    # -- what studies write --------------------------------------------------------------------
    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Append one row to metrics.jsonl and to W&B."""
        row = to_jsonable({"step": step, "seed": self.seed, **metrics})
        with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        if self._sink:
            self._sink.log(to_jsonable(metrics), step)
        if self._headline and self._headline in metrics:
            self._report("advance", 0, {self._headline: metrics[self._headline]})

    def log_figure(self, name: str, fig: Any, caption: str = "") -> Path:
        """Save a matplotlib figure as figures/<name>.png (and to W&B); the figure is closed."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        path = self.out_dir / "figures" / f"{_safe(name)}{self._suffix}.png"
        write_bytes_atomic(path, buf.getvalue())
        self.figures.append(Artifact(name=name, path=str(path.relative_to(self.out_dir)), caption=caption,
                                     seed=self.seed))
        if self._sink:
            self._sink.log_figure(name, path, caption)
        return path

    def log_table(self, name: str, rows: list[dict[str, Any]], caption: str = "") -> Path:
        """Save rows (dicts with the same keys) as tables/<name>.csv (and a W&B table)."""
        columns = list(dict.fromkeys(k for row in rows for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        plain = to_jsonable(rows)
        writer.writerows(plain)
        path = self.out_dir / "tables" / f"{_safe(name)}{self._suffix}.csv"
        write_text_atomic(path, buf.getvalue())
        self.tables.append(Artifact(name=name, path=str(path.relative_to(self.out_dir)), caption=caption,
                                    seed=self.seed))
        if self._sink:
            self._sink.log_table(name, columns, [[row.get(c) for c in columns] for row in plain])
        return path

    def summary(self, **values: Any) -> None:
        """Merge values into this run's summary (summary.json); nested dicts are merged key by key."""
        _deep_merge(self._summary, to_jsonable(values))
        if self._sink:
            self._sink.summary(to_jsonable(values))
        if self._headline:
            from studyforge.tracking.stats import flatten

            flat = flatten(self._summary)
            if self._headline in flat:
                self._report("advance", 0, {self._headline: flat[self._headline]})

    def save_checkpoint(self, name: str, obj: Any) -> Path:
        """`torch.save(obj)` into checkpoints/<name>.pt (atomically); returns the path."""
        import torch

        buf = io.BytesIO()
        torch.save(obj, buf)
        path = self.out_dir / "checkpoints" / f"{_safe(name)}{self._suffix}.pt"
        write_bytes_atomic(path, buf.getvalue())
        self.checkpoints.append(Artifact(name=name, path=str(path.relative_to(self.out_dir)), seed=self.seed))
        return path

    @contextmanager
    def progress(self, total: float | None, description: str = "") -> Iterator[Progress]:
        """A progress bar for the study's main loop, shown live by `forge run`."""
        self._report("start", total, description)
        try:
            yield Progress(self._report)
        finally:
            self._report("stop")

    # -- used by the runner --------------------------------------------------------------------
    @property
    def summary_values(self) -> dict[str, Any]:
        return self._summary

    def write_summary(self, name: str = "summary.json") -> None:
        write_json_atomic(self.out_dir / name, self._summary)


def _deep_merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _safe(name: str) -> str:
    """A file-name-safe version of a figure/table name: 'value heatmap/8x8' -> 'value_heatmap_8x8'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._") or "unnamed"
