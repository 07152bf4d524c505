"""Issue 14, item 2: a topic's studies live one per module in `<topic>/studies/`, named after the study, with
their figures in `<topic>/plots.py` — the layout a newcomer (and the next week) copies."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import studyforge.experiments as experiments_pkg
from studyforge.experiments import registry

ROOT = Path(experiments_pkg.__file__).parent
# the topics split so far (the others join this list as their experiments.py is split)
SPLIT = ("mdp", "tokenization", "attention", "transformer", "language_modeling", "policy_gradient", "value_based",
         "model_based", "preference_optimization", "preference", "rlhf", "reward_hacking")


@pytest.mark.parametrize("topic", SPLIT)
def test_each_study_is_its_own_module_named_after_it(topic):
    assert not (ROOT / topic / "experiments.py").exists()
    studies = [s for s in registry.all_studies() if s.id.split(".")[0] == topic]
    assert studies
    for study in studies:
        name = study.id.split(".", 1)[1]
        assert study.fn.__module__ == f"studyforge.experiments.{topic}.studies.{name}", study.id
        assert study.config.__module__.startswith(f"studyforge.experiments.{topic}.studies."), study.id
    modules = {p.stem for p in (ROOT / topic / "studies").glob("*.py")} - {"__init__", "common"}
    assert modules == {s.id.split(".", 1)[1] for s in studies}
    listing = importlib.import_module(f"studyforge.experiments.{topic}.studies").__doc__ or ""
    assert all(f"`{s.id.split('.', 1)[1]}`" in listing for s in studies), "studies/__init__.py lists every study"


@pytest.mark.parametrize("topic", SPLIT)
def test_study_modules_draw_nothing_themselves(topic):
    """Figures are built in `<topic>/plots.py`; a study module only hands them to `ctx.log_figure`."""
    paths = sorted((ROOT / topic / "studies").glob("*.py"))
    assert paths, f"{topic} has no studies/ package"
    for path in paths:
        source = path.read_text()
        assert ".subplots(" not in source and ".figure(" not in source, path.name
        tree = ast.parse(source)
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                 for alias in node.names}
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not any(n.startswith("matplotlib") for n in names | modules), path.name
        assert not any(n in {"label_points", "plt"} for n in names), path.name
