"""`forge pull` (`tracking/pull.py`): W&B runs become local run records, idempotently, from a faked W&B API."""

from __future__ import annotations

import pytest

from studyforge.errors import ForgeError
from studyforge.tracking.records import list_records
from studyforge.workspace import Workspace


def test_pull_from_a_faked_wandb_api(mini_workspace):
    from studyforge.tracking.pull import pull

    class Run:
        id, name, state, url, job_type = "abc123", "fake.ok-s0", "finished", "https://wandb.ai/e/p/runs/abc123", "fake.ok"
        config = {"experiment": "fake.ok", "seed": 0, "preset": "default", "gamma": 0.9}
        summary = {"final": 0.9, "nested.steps": 5, "_runtime": 3, "figures/curve": {"_type": "image"}}
        created_at = "2026-11-20T10:00:00Z"

        def scan_history(self):
            return [{"step": 0, "charts/value": 0.0}, {"step": 1, "charts/value": 0.9}]

    class Api:
        def __init__(self):
            self.calls = []

        def runs(self, path, filters=None):
            self.calls.append((path, filters))
            return [Run()]

    api = Api()
    ws = Workspace(mini_workspace)
    created, skipped = pull(ws.runs_dir, 1, "e/p", api=api)
    assert api.calls == [("e/p", {"tags": {"$in": ["week01"]}})]
    assert len(created) == 1 and skipped == 0
    (record,) = list_records(ws.runs_dir, 1)
    assert record.source == "wandb" and record.status == "completed" and record.config == {"experiment": "fake.ok", "gamma": 0.9}
    assert record.summary() == {"final": 0.9, "nested": {"steps": 5}}
    assert record.metrics()[1]["charts/value"] == 0.9
    # idempotent: pulling again leaves the record untouched
    before = (record.path / "run.json").read_text()
    assert pull(ws.runs_dir, 1, "e/p", api=api) == ([], 1)
    assert (record.path / "run.json").read_text() == before
    with pytest.raises(ForgeError, match="not ENTITY/PROJECT"):
        pull(ws.runs_dir, 1, "justaproject", api=api)
