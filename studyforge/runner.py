"""`forge run`: plan a week's studies (validating everything first), run them seed by seed, record them.

Planning happens before anything runs, so a bad `--set`, an unknown experiment or an unavailable
device is reported without touching any record. During the run, each study gets a fresh record folder;
a study that raises is recorded `failed` and the others still run; Ctrl-C records `interrupted`.
"""

from __future__ import annotations

import datetime as dt
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studyforge.curriculum import load_curriculum
from studyforge.errors import ForgeError
from studyforge.experiments import registry
from studyforge.experiments.config import ExperimentConfig
from studyforge.tracking.context import Reporter, RunContext, seed_everything
from studyforge.tracking.io import write_json_atomic
from studyforge.tracking.records import (
    RunRecord,
    WandbInfo,
    git_info,
    host_info,
    new_run_id,
    package_versions,
    record_dir,
)
from studyforge.tracking.stats import aggregate, flatten
from studyforge.tracking.wandb_sink import WandbSink, resolve_mode
from studyforge.workspace import Workspace


@dataclass
class RunRequest:
    week: int
    experiments: list[str] = field(default_factory=list)  # empty: all of the week's studies
    preset: str = "default"
    seed: int = 0
    seeds: int = 1
    overrides: dict[str, str] = field(default_factory=dict)
    device: str = "auto"
    wandb: str = "auto"


@dataclass
class Planned:
    study: registry.Study
    config: ExperimentConfig


@dataclass
class Outcome:
    study: registry.Study
    record: RunRecord

    @property
    def ok(self) -> bool:
        return self.record.status == "completed"

    def headline(self) -> tuple[Any, dict[str, Any] | None]:
        """(value, stats entry or None) of the study's headline summary key."""
        key = self.study.headline
        if not key or self.record.path is None:
            return None, None
        value = flatten(self.record.summary()).get(key)
        return value, self.record.stats().get(key)


def plan(ws: Workspace, req: RunRequest) -> list[Planned]:
    """Resolve and validate the studies and configs of `req` (raises ForgeError, runs nothing)."""
    week = ws.curriculum.week(req.week)
    # The plan's experiment ids against the registered studies: a typo would run 1 of 2 studies without a word.
    load_curriculum(ws.curriculum_path, {s.id: s.week for s in registry.all_studies()})
    if req.seeds < 1:
        raise ForgeError(f"--seeds {req.seeds} must be at least 1", hint="e.g. --seeds 3")
    # The curriculum decides what belongs to the week: a registered study it does not list is not run.
    listed = {e.id for e in week.experiments}
    implemented = [s for s in registry.studies_for_week(req.week) if s.id in listed]
    if req.experiments:
        studies = []
        for exp_id in req.experiments:
            match = [s for s in implemented if s.id == exp_id]
            if not match:
                known = ", ".join(s.id for s in implemented) or "none implemented yet"
                raise ForgeError(f"week {req.week} has no experiment {exp_id!r}", hint=f"choose from: {known}")
            studies.append(match[0])
    else:
        studies = implemented
    if not studies:
        planned_ids = ", ".join(e.id for e in week.experiments) or "none"
        raise ForgeError(f"week {req.week} ({week.title}): its experiments are not implemented yet ({planned_ids})",
                         hint=f"see `forge curriculum week{req.week}` for what is planned")

    # A --set key must belong to at least one selected study; each study takes the keys it knows.
    keys = {k.split(".")[0] for k in req.overrides}
    for key in keys:
        if not any(key in s.config.model_fields for s in studies):
            known = sorted({f for s in studies for f in s.config.model_fields})
            raise ForgeError(f"--set {key}=…: no selected experiment has a setting {key!r}",
                             hint=f"settings: {', '.join(known)}")
    planned = []
    for study in studies:
        mine = {k: v for k, v in req.overrides.items() if k.split(".")[0] in study.config.model_fields}
        try:
            config = study.config.from_preset(req.preset, mine)
        except ForgeError as exc:
            raise ForgeError(f"{study.id}: {exc.message}", hint=exc.hint) from None
        planned.append(Planned(study, config))
    return planned


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise ForgeError(f"unknown --device {device!r}", hint="use auto, cpu or cuda")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ForgeError("--device cuda: no CUDA device is available here", hint="use --device cpu or auto")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def execute(ws: Workspace, req: RunRequest, planned: list[Planned],
            reporter_for: Any = None) -> list[Outcome]:
    """Run every planned study; returns one Outcome per study. KeyboardInterrupt propagates after
    the interrupted record is saved."""
    import matplotlib

    matplotlib.use("Agg")
    device = resolve_device(req.device)
    mode = resolve_mode(req.wandb)
    tracking = ws.curriculum.tracking
    seeds = [req.seed + i for i in range(req.seeds)]
    common = {"git": git_info(ws.root), "versions": package_versions(), "host": host_info()}
    outcomes = []
    for item in planned:
        study, config = item.study, item.config
        run_id = new_run_id(seeds[0])
        folder = record_dir(ws.runs_dir, study.week, study.id, run_id)
        folder.mkdir(parents=True, exist_ok=False)
        record = RunRecord(
            run_id=run_id, experiment=study.id, week=study.week, title=study.title, preset=req.preset,
            seeds=seeds, config=config.model_dump(mode="json"), started=dt.datetime.now().astimezone(),
            headline=study.headline, device=device,
            wandb=WandbInfo(mode=mode, project=tracking.wandb_project, entity=tracking.wandb_entity), **common,
        )
        record.path = folder
        record.save()
        report: Reporter = reporter_for(study, seeds) if reporter_for else (lambda *a: None)
        per_seed: list[dict[str, Any]] = []
        try:
            for index, seed in enumerate(seeds):
                report("seed", index, seed)
                per_seed.append(_run_seed(study, config, record, folder, seed, index, device, mode, ws, report))
            record.status = "completed"
        except KeyboardInterrupt:
            record.status = "interrupted"
            record.error = "interrupted by the user (Ctrl-C)"
            raise
        except Exception as exc:  # the study's own failure: record it, go on with the others
            record.status = "failed"
            record.error = f"{type(exc).__name__}: {exc}"
            record.traceback = traceback.format_exc()
        finally:
            _finish(record, folder, per_seed)
            outcomes.append(Outcome(study, record))
    return outcomes


def _sink_failed(study, record: RunRecord, seed: int, error: str) -> None:
    """A W&B call failed: the record says so, and the user reads one warning line per run (not per call)."""
    if record.wandb.synced:
        from studyforge.console import out

        seed_note = f" (seed {seed})" if len(record.seeds) > 1 else ""
        out.warn(f"W&B: {study.id}{seed_note}: {error} — the study goes on and its local record is complete; "
                 f"W&B lacks part of it (run.json: wandb.synced false)")
    record.wandb.synced = False
    record.wandb.error = record.wandb.error or error


def _run_seed(study, config, record: RunRecord, folder: Path, seed: int, index: int, device: str,
              mode, ws: Workspace, report: Reporter) -> dict[str, Any]:
    seed_everything(seed)
    sink = WandbSink(mode, record.wandb.project or "studyforge", record.wandb.entity, ws.root,
                     on_error=lambda error: _sink_failed(study, record, seed, error))
    sink.start(group=record.run_id, name=f"{study.id}-s{seed}", job_type=study.id,
               config={**record.config, "preset": record.preset, "seed": seed, "week": study.week,
                       "forge_run_id": record.run_id},
               tags=[f"week{study.week:02d}", record.preset])
    ctx = RunContext(out_dir=folder, config=config, seed=seed, device=device, sink=sink, reporter=report,
                     seed_suffix="" if index == 0 else f".seed{seed}", headline=study.headline)
    exit_code = 1
    try:
        study.fn(ctx, config)
        exit_code = 0
    finally:
        record.figures += ctx.figures
        record.tables += ctx.tables
        record.checkpoints += ctx.checkpoints
        info = sink.finish(exit_code)
        if info:
            record.wandb.run_ids.append(info["id"])
            if info.get("url"):
                record.wandb.urls.append(info["url"])
            if info.get("dir"):
                record.wandb.dirs.append(ws.relative(Path(info["dir"])))
        if exit_code:  # keep what the study had summarised before it stopped
            ctx.write_summary("summary.json" if index == 0 else f"summary.seed{seed}.json")
    return ctx.summary_values


def _finish(record: RunRecord, folder: Path, per_seed: list[dict[str, Any]]) -> None:
    if per_seed:
        if len(per_seed) == 1:
            write_json_atomic(folder / "summary.json", per_seed[0])
        else:
            summary, stats = aggregate(per_seed)
            write_json_atomic(folder / "summary.json", summary)
            write_json_atomic(folder / "stats.json", {"stats": stats, "per_seed": dict(zip(
                [str(s) for s in record.seeds], per_seed, strict=False))})
    record.ended = dt.datetime.now().astimezone()
    record.duration_s = round((record.ended - record.started).total_seconds(), 3)
    record.save(folder)
