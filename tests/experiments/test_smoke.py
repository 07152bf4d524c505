"""Every registered study runs end to end in its `quick` preset through the real RunContext, as a user runs it.

W&B is in the mode a user gets by default (`--wandb auto` without a key: offline, into the tmp workspace),
so anything W&B refuses (a table with mixed column types, say) fails here, not on the user's first run.
Every figure a study logs is checked for text that overlaps or leaves the canvas (`figure_checks`) before
it is saved, so the check costs no second run.
"""

from __future__ import annotations

import json

import pytest
from figure_checks import text_problems

from studyforge.curriculum import load_curriculum
from studyforge.experiments import registry
from studyforge.runner import RunRequest, execute, plan
from studyforge.tracking.context import RunContext
from studyforge.workspace import DEFAULTS, Workspace

STUDIES = registry.all_studies()


def test_every_registered_study_is_in_the_curriculum():
    curriculum = load_curriculum(DEFAULTS / "curriculum.yaml")
    for study in STUDIES:
        assert study.id in {e.id for e in curriculum.week(study.week).experiments}, study.id
        assert set(study.config.presets) <= {"quick", "default", "full"}
        for preset in ("quick", "default", "full"):
            study.config.from_preset(preset)  # every preset validates


@pytest.fixture
def figure_problems(monkeypatch) -> dict[str, list[str]]:
    """Figure name -> the text problems of that figure, for every figure logged during the test."""
    found: dict[str, list[str]] = {}
    log_figure = RunContext.log_figure

    def checked(self, name, fig, caption=""):
        found[name] = text_problems(fig)
        return log_figure(self, name, fig, caption)

    monkeypatch.setattr(RunContext, "log_figure", checked)
    return found


@pytest.mark.parametrize("study", STUDIES, ids=[s.id for s in STUDIES])
def test_quick_preset_runs(study, tmp_path, monkeypatch, capsys, figure_problems):
    monkeypatch.delenv("WANDB_MODE")  # the user's default: no key, so offline
    ws = Workspace(tmp_path)  # embedded default curriculum
    req = RunRequest(week=study.week, experiments=[study.id], preset="quick", wandb="auto", device="cpu")
    (outcome,) = execute(ws, req, plan(ws, req))
    record = outcome.record
    assert record.status == "completed", record.traceback
    summary = json.loads((record.path / "summary.json").read_text())
    assert summary, "a study must summarise its results"
    # a draft cites a figure by its dotted path, so no part of it may hold a dot or a space (experiments/keys.py)
    bad = [path for path in _key_paths(summary) if any(c in path[-1] for c in ". ")]
    assert not bad, f"summary keys a dotted path cannot name: {['.'.join(p) for p in bad][:5]}"
    if study.headline:
        from studyforge.tracking.stats import flatten

        assert study.headline in flatten(summary), f"headline {study.headline!r} missing from the summary"
    for artifact in record.figures + record.tables:
        assert (record.path / artifact.path).is_file()

    # W&B took everything: no sink error, no warning, and the offline run is on disk to sync
    wandb = json.loads((record.path / "run.json").read_text())["wandb"]
    assert wandb["mode"] == "offline"
    assert wandb["synced"] and wandb["error"] is None, wandb["error"]
    assert "W&B" not in capsys.readouterr().err
    assert len(wandb["dirs"]) == 1 and (ws.root / wandb["dirs"][0]).is_dir()

    problems = [f"{name}: {p}" for name, found in figure_problems.items() for p in found]
    assert not problems, "figures that do not read cleanly:\n" + "\n".join(problems)


def _key_paths(tree, prefix=()):
    """Every key of a nested summary, as the tuple of its parts."""
    for key, value in tree.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _key_paths(value, (*prefix, key))
