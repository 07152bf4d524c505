"""Every test runs in an isolated workspace: a tmp folder as cwd, W&B disabled, no API keys.

The tests mirror the package (the test of `studyforge/x/y.py` is `tests/x/test_y.py`); test folders are not
packages, so every test file has a name of its own, and the helper modules here (`figure_checks`,
`fake_studies`, `workspaces`) are imported by name from any folder: pytest puts tests/ on sys.path for this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_studies import FakeConfig, fail, ok

from studyforge.experiments import registry
from studyforge.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "WANDB_API_KEY", "FORGE_WORKSPACE", "EDITOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The corpora in ../shared/data beside the clone, read in place (CI has them; the product never needs them).

    Every test that reads them takes this fixture, so their absence is one clear failure, never a skip.
    """
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}: the tests read the corpora in "
                    "../shared/data beside the clone", pytrace=False)
    return SHARED_DATA


@pytest.fixture
def fakes(mini_workspace):
    """The mini plan's workspace, with `fake.ok` and `fake.fail` (fake_studies.py) registered for its week 1."""
    registry.discover()
    saved = dict(registry._REGISTRY)
    registry.register("fake.ok", week=1, config=FakeConfig, headline="final")(ok)
    registry.register("fake.fail", week=1, config=FakeConfig)(fail)
    yield Workspace(mini_workspace)
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


MINI_CURRICULUM = """\
version: 1
title: Mini plan
editions:
  - {id: scientist, name: Scientist edition, audience: researchers}
  - {id: manager, name: Manager edition, audience: non-technical readers}
schedule:
  start_date: 2026-11-30
phases:
  - {id: 1, title: Foundations, weeks: [1, 2]}
weeks:
  - week: 1
    phase: 1
    title: Toy week
    topics: [Counting, {title: Nested, subtopics: [a, b]}]
    core_papers:
      - {title: A paper, authors: Someone, year: 2020, arxiv: "2001.00001"}
    experiments:
      - {id: fake.ok, title: OK, description: works, tracks: x}
      - {id: fake.fail, title: Fails, description: raises, tracks: x}
    wandb: "x"
    posts:
      - {slug: toy-post, title: Toy Post, kind: primary, notes_for_agent: Be brief.}
  - week: 2
    phase: 1
    title: Empty week
    topics: [Nothing]
    experiments:
      - {id: fake.planned, title: Planned, description: not yet, tracks: x}
    wandb: "x"
    posts:
      - {slug: empty-post, title: Empty Post, kind: primary, notes_for_agent: Later., builds_on: [1]}
"""


@pytest.fixture
def mini_workspace(tmp_path) -> Path:
    (tmp_path / "curriculum.yaml").write_text(MINI_CURRICULUM)
    return tmp_path
