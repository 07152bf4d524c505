"""Run records: what a run leaves on disk, and how the rest of forge reads it back.

    runs/week01/mdp.value_vs_policy_iteration/20261126-101502-s0-3f9a/
        run.json        config, preset, seeds, status, times, git, versions, host, device, W&B link
        metrics.jsonl   one JSON object per `ctx.log` call ({"step": 3, "seed": 0, "charts/x": 1.2})
        summary.json    the study's summary (the mean over seeds for numbers when --seeds K > 1)
        stats.json      with --seeds K > 1: per summary number {mean, std, ci95, n, values} and per-seed summaries
        figures/*.png   tables/*.csv   checkpoints/*.pt

Every JSON file is written atomically. Readers never import experiment code: drafting and status
read records only.
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
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studyforge.errors import ForgeError
from studyforge.tracking.io import write_json_atomic

Status = Literal["running", "completed", "failed", "interrupted"]


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


def list_records(runs_dir: Path, week: int | None = None, experiment: str | None = None) -> list[RunRecord]:
    """All records (oldest first), optionally of one week / experiment; unreadable ones raise ForgeError."""
    if not runs_dir.exists():
        return []
    if not os.access(runs_dir, os.R_OK | os.X_OK):
        raise ForgeError(f"cannot read the runs folder {runs_dir}", hint="check its permissions")
    weeks = [week_dir(runs_dir, week)] if week is not None else sorted(runs_dir.glob("week[0-9][0-9]"))
    out = []
    for wdir in weeks:
        if not wdir.is_dir():
            continue
        for exp_dir in sorted(p for p in wdir.iterdir() if p.is_dir()):
            if experiment and exp_dir.name != experiment:
                continue
            for run_dir in sorted(p for p in exp_dir.iterdir() if (p / "run.json").exists()):
                out.append(read_record(run_dir))
    return sorted(out, key=lambda r: r.started)


def latest_completed(runs_dir: Path, week: int) -> dict[str, RunRecord]:
    """The newest completed record of each of `week`'s experiments."""
    latest: dict[str, RunRecord] = {}
    for record in list_records(runs_dir, week):
        if record.status == "completed":
            latest[record.experiment] = record  # list is oldest first
    return latest


def _read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if default is not None:
            return default
        raise ForgeError(f"{path} is missing", hint="the run folder is incomplete; delete it or re-run") from None
    except PermissionError:
        raise ForgeError(f"cannot read {path}", hint="check its permissions") from None
    except json.JSONDecodeError as exc:
        raise ForgeError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})", hint="restore or delete the file") from None


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
