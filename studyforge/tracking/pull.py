"""`forge pull`: bring runs made elsewhere (online in W&B) into local records, which drafting reads.

Each W&B run becomes a record `runs/weekNN/<experiment>/wandb-<id>/` with its config, summary and
history. Pulling is idempotent: a run already pulled is left untouched, never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from studyforge.errors import ForgeError
from studyforge.tracking.io import write_json_atomic, write_text_atomic
from studyforge.tracking.records import RunRecord, WandbInfo, record_dir

_STATES = {"finished": "completed", "crashed": "failed", "failed": "failed", "killed": "interrupted",
           "running": "running"}


def pull(runs_dir: Path, week: int, path: str, api: Any = None) -> tuple[list[RunRecord], int]:
    """Fetch `week`'s runs of the W&B project `path` (ENTITY/PROJECT); returns (new records, skipped)."""
    if path.count("/") != 1 or not all(path.split("/")):
        raise ForgeError(f"--wandb {path!r} is not ENTITY/PROJECT", hint="e.g. --wandb my-team/studyforge")
    if api is None:
        import wandb

        try:
            api = wandb.Api(timeout=30)
        except Exception as exc:  # no key, no network
            raise ForgeError(f"cannot reach the W&B API: {exc}", hint="set WANDB_API_KEY and check the network",
                             exit_code=1) from None
    try:
        runs = list(api.runs(path, filters={"tags": {"$in": [f"week{week:02d}"]}}))
    except Exception as exc:
        raise ForgeError(f"W&B: cannot list runs of {path}: {exc}", hint="check the entity/project name",
                         exit_code=1) from None
    created, skipped = [], 0
    for run in runs:
        config = dict(run.config)
        experiment = config.get("experiment") or run.job_type or "unknown"
        folder = record_dir(runs_dir, week, experiment, f"wandb-{run.id}")
        if (folder / "run.json").exists():
            skipped += 1
            continue
        seed = int(config.get("seed", 0))
        started = _parse_time(getattr(run, "created_at", None))
        summary = {k: v for k, v in dict(run.summary).items() if not k.startswith("_") and _plain(v)}
        record = RunRecord(
            run_id=f"wandb-{run.id}", experiment=experiment, week=week, title=run.name or experiment,
            preset=str(config.get("preset", "unknown")), seeds=[seed],
            config={k: v for k, v in config.items() if k not in ("preset", "seed", "week", "forge_run_id")},
            status=_STATES.get(run.state, "failed"), started=started, ended=None, source="wandb",
            wandb=WandbInfo(mode="online", project=path.split("/")[1], entity=path.split("/")[0],
                            run_ids=[run.id], urls=[run.url]),
        )
        folder.mkdir(parents=True, exist_ok=True)
        rows = [{k: v for k, v in row.items() if _plain(v)} for row in run.scan_history()]
        write_text_atomic(folder / "metrics.jsonl", "".join(json.dumps({**r, "seed": seed}) + "\n" for r in rows))
        write_json_atomic(folder / "summary.json", _unflatten(summary))
        record.path = folder
        record.save()
        created.append(record)
    return created, skipped


def _plain(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or (isinstance(value, list) and all(
        isinstance(v, int | float) for v in value))


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"a.b": 1}` -> `{"a": {"b": 1}}`: W&B summaries are flat, ours are nested."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = value
    return out


def _parse_time(text: str | None) -> dt.datetime:
    if text:
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    return dt.datetime.now().astimezone()
