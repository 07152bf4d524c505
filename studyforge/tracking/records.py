"""Run records: what a run leaves on disk, and how the rest of forge reads it back.

    runs/week01/mdp.value_vs_policy_iteration/20261126-101502-s0-3f9a/
        run.json        config, preset, seeds, status, times, git, versions, host, device, W&B link
        metrics.jsonl   one JSON object per `ctx.log` call ({"step": 3, "seed": 0, "charts/x": 1.2})
        summary.json    the study's summary (the mean over seeds for numbers when --seeds K > 1)
        stats.json      with --seeds K > 1: per summary number {mean, std, ci95, n, values} and per-seed summaries
        figures/*.png   tables/*.csv   checkpoints/*.pt

Every JSON file is written atomically. Readers never import experiment code: drafting and status
read records only. A record that cannot be read (a `run.json` cut short by a crash, or edited by hand)
blocks nothing: `scan_records` returns it beside the valid ones, for `forge runs` to show as an error
row, `forge draft` as a warning and `forge status` in its week.

A `quick` run is a smoke test (it checks that the code runs; its numbers are not results): drafting
reads the newest completed run at another preset (`newest_completed(..., quick=False)`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studyforge.errors import ForgeError
from studyforge.tracking.io import write_json_atomic

Status = Literal["running", "completed", "failed", "interrupted"]

# The smoke-test preset: seconds of training, numbers that say the code runs, not what a method achieves.
QUICK = "quick"


class Artifact(BaseModel):
    name: str
    path: str = Field(description="relative to the record folder")
    caption: str = ""
    seed: int | None = None


class WandbInfo(BaseModel):
    mode: Literal["online", "offline", "disabled"] = "disabled"
    project: str | None = None
    entity: str | None = None
    run_ids: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    dirs: list[str] = Field(default_factory=list, description="offline run folders, for `wandb sync`")
    synced: bool = Field(True, description="False when a W&B call failed during the run: the local record is "
                         "complete, the W&B run (online, or offline to sync) lacks part of it")
    error: str | None = Field(None, description="the first W&B failure (which call, the exception), when not synced")


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    experiment: str
    week: int
    title: str = ""
    preset: str
    seeds: list[int]
    config: dict[str, Any]
    status: Status = "running"
    started: dt.datetime
    ended: dt.datetime | None = None
    duration_s: float | None = None
    error: str | None = None
    traceback: str | None = None
    headline: str | None = None
    git: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    host: dict[str, Any] = Field(default_factory=dict)
    device: str = "cpu"
    wandb: WandbInfo = Field(default_factory=WandbInfo)
    figures: list[Artifact] = Field(default_factory=list)
    tables: list[Artifact] = Field(default_factory=list)
    checkpoints: list[Artifact] = Field(default_factory=list)
    source: Literal["local", "wandb"] = "local"

    # Set by the reader, not stored.
    path: Path | None = Field(default=None, exclude=True)

    def save(self, folder: Path | None = None) -> None:
        folder = folder or self.path
        assert folder is not None
        write_json_atomic(folder / "run.json", self.model_dump(mode="json"))

    def summary(self) -> dict[str, Any]:
        return _read_json(self.path / "summary.json", default={}) if self.path else {}

    def stats(self) -> dict[str, Any]:
        """Per flattened summary key: {mean, std, ci95, n, values} (empty for a single seed)."""
        return _read_json(self.path / "stats.json", default={}).get("stats", {}) if self.path else {}

    def metrics(self) -> list[dict[str, Any]]:
        if not self.path or not (self.path / "metrics.jsonl").exists():
            return []
        rows = []
        for line in (self.path / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut by a crash: keep the rest
                    continue
        return rows


def new_run_id(seed: int) -> str:
    """`20261126-101502-s0-3f9a`: sortable by time, unique, with the (first) seed visible."""
    return f"{dt.datetime.now():%Y%m%d-%H%M%S}-s{seed}-{secrets.token_hex(2)}"


def week_dir(runs_dir: Path, week: int) -> Path:
    return runs_dir / f"week{week:02d}"


def record_dir(runs_dir: Path, week: int, experiment: str, run_id: str) -> Path:
    return week_dir(runs_dir, week) / experiment / run_id


def read_record(folder: Path) -> RunRecord:
    data = _read_json(folder / "run.json")
    try:
        record = RunRecord.model_validate(data)
    except ValidationError as exc:
        raise ForgeError(f"{folder / 'run.json'}: not a valid run record ({exc.errors()[0]['msg']})",
                         hint="move the folder out of runs/ or delete it") from None
    record.path = folder
    return record


@dataclass(frozen=True)
class Unreadable:
    """A run folder (or a folder of runs) whose record cannot be read, and why."""

    folder: Path
    message: str  # the ForgeError's text: what, where (file and line) and what to do
    week: int | None = None
    experiment: str | None = None
    run_id: str | None = None  # None when a whole folder of runs could not be listed


@dataclass
class RecordScan:
    records: list[RunRecord] = field(default_factory=list)  # oldest first
    unreadable: list[Unreadable] = field(default_factory=list)  # in folder order


def scan_records(runs_dir: Path, week: int | None = None, experiment: str | None = None) -> RecordScan:
    """Every record (oldest first), optionally of one week / experiment, and apart every one that cannot be read.

    Only an unreadable runs folder itself is a ForgeError: nothing under it could be listed.
    """
    scan = RecordScan()
    if not runs_dir.exists():
        return scan
    if not os.access(runs_dir, os.R_OK | os.X_OK):
        raise ForgeError(f"cannot read the runs folder {runs_dir}", hint="check its permissions")
    weeks = [week_dir(runs_dir, week)] if week is not None else sorted(runs_dir.glob("week[0-9][0-9]"))
    for wdir in weeks:
        number = int(wdir.name[4:])
        for exp_dir in _subfolders(wdir, scan, number):
            if experiment and exp_dir.name != experiment:
                continue
            for run_dir in _subfolders(exp_dir, scan, number, exp_dir.name):
                if not (run_dir / "run.json").exists():
                    continue
                try:
                    scan.records.append(read_record(run_dir))
                except ForgeError as exc:
                    scan.unreadable.append(Unreadable(run_dir, str(exc), number, exp_dir.name, run_dir.name))
    scan.records.sort(key=lambda r: r.started)
    return scan


def _subfolders(folder: Path, scan: RecordScan, week: int, experiment: str | None = None) -> list[Path]:
    """The folders inside `folder`, sorted; one that cannot be listed is recorded as unreadable instead."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    except OSError as exc:
        scan.unreadable.append(Unreadable(folder, f"cannot read {folder}: {exc.strerror} — check its permissions",
                                          week, experiment))
        return []


def list_records(runs_dir: Path, week: int | None = None, experiment: str | None = None) -> list[RunRecord]:
    """The readable records (oldest first), optionally of one week / experiment (`scan_records` has the rest)."""
    return scan_records(runs_dir, week, experiment).records


def newest_completed(records: Iterable[RunRecord], *, quick: bool = True) -> dict[str, RunRecord]:
    """The newest completed record of each experiment among `records` (oldest first); `quick=False` skips
    the quick-preset runs."""
    latest: dict[str, RunRecord] = {}
    for record in records:
        if record.status == "completed" and (quick or record.preset != QUICK):
            latest[record.experiment] = record
    return latest


def latest_completed(runs_dir: Path, week: int, *, quick: bool = True) -> dict[str, RunRecord]:
    """The newest completed record of each of `week`'s experiments (readable ones; see `newest_completed`)."""
    return newest_completed(list_records(runs_dir, week), quick=quick)


def _read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if default is not None:
            return default
        raise ForgeError(f"{path} is missing", hint="the run folder is incomplete; delete it or re-run") from None
    except PermissionError:
        raise ForgeError(f"cannot read {path}", hint="check its permissions") from None
    except OSError as exc:
        raise ForgeError(f"cannot read {path}: {exc.strerror}", hint="restore or delete it") from None
    except json.JSONDecodeError as exc:
        raise ForgeError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})", hint="restore or delete the file") from None
    except UnicodeDecodeError:
        raise ForgeError(f"{path}: not valid JSON (not UTF-8 text)", hint="restore or delete the file") from None


# ---------------------------------------------------------------------------------------------
# Provenance.


def git_info(cwd: Path) -> dict[str, Any]:
    """The commit and dirty flag of the repository holding `cwd` (empty outside one)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return {}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("studyforge", "torch", "numpy", "gymnasium", "wandb"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def host_info() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "python": sys.executable}
