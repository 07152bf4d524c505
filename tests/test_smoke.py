"""Every registered study runs end to end in its `quick` preset through the real RunContext."""

from __future__ import annotations

import json

import pytest

from studyforge.curriculum import load_curriculum
from studyforge.experiments import registry
from studyforge.runner import RunRequest, execute, plan
from studyforge.workspace import DEFAULTS, Workspace

STUDIES = registry.all_studies()


def test_every_registered_study_is_in_the_curriculum():
    curriculum = load_curriculum(DEFAULTS / "curriculum.yaml")
    for study in STUDIES:
        assert study.id in {e.id for e in curriculum.week(study.week).experiments}, study.id
        assert set(study.config.presets) <= {"quick", "default", "full"}
        for preset in ("quick", "default", "full"):
            study.config.from_preset(preset)  # every preset validates


@pytest.mark.parametrize("study", STUDIES, ids=[s.id for s in STUDIES])
def test_quick_preset_runs(study, tmp_path):
    ws = Workspace(tmp_path)  # embedded default curriculum
    req = RunRequest(week=study.week, experiments=[study.id], preset="quick", wandb="disabled", device="cpu")
    (outcome,) = execute(ws, req, plan(ws, req))
    record = outcome.record
    assert record.status == "completed", record.traceback
    summary = json.loads((record.path / "summary.json").read_text())
    assert summary, "a study must summarise its results"
    if study.headline:
        from studyforge.tracking.stats import flatten

        assert study.headline in flatten(summary), f"headline {study.headline!r} missing from the summary"
    for artifact in record.figures + record.tables:
        assert (record.path / artifact.path).is_file()
