"""The registry of runnable studies.

A study is a function `study(ctx: RunContext, cfg: Config) -> None`, registered with an id that
matches an experiment id in curriculum.yaml::

    @register("mdp.value_vs_policy_iteration", week=1, config=CompareConfig,
              headline="frozenlake8x8.vi_sweeps")
    def value_vs_policy_iteration(ctx, cfg): ...

Topic packages are discovered by scanning `studyforge/experiments/<topic>/studies/` (one module per
study; a topic without that folder may keep its studies in one `<topic>/experiments.py`), so adding a
week means adding a topic package and a curriculum entry — nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from studyforge.errors import ForgeError
from studyforge.experiments.config import ExperimentConfig


@dataclass(frozen=True)
class Study:
    id: str
    week: int
    fn: Callable
    config: type[ExperimentConfig]
    title: str
    headline: str | None  # summary key shown live in the progress bar and in the closing table

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip()


_REGISTRY: dict[str, Study] = {}
_DISCOVERED = False


def register(
    study_id: str,
    *,
    week: int,
    config: type[ExperimentConfig],
    title: str | None = None,
    headline: str | None = None,
) -> Callable[[Callable], Callable]:
    """Register `fn` as the runnable study `study_id` of `week`."""

    def wrap(fn: Callable) -> Callable:
        if study_id in _REGISTRY and _REGISTRY[study_id].fn is not fn:
            raise ValueError(f"study id {study_id!r} registered twice")
        first_line = (fn.__doc__ or study_id).strip().splitlines()[0]
        _REGISTRY[study_id] = Study(study_id, week, fn, config, title or first_line, headline)
        return fn

    return wrap


def discover() -> None:
    """Import every study module (once): each module of `studyforge.experiments.<topic>.studies`, or
    `studyforge.experiments.<topic>.experiments` for a topic that keeps its studies in one file."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    import studyforge.experiments as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.ispkg:
            continue
        topic = f"{pkg.__name__}.{info.name}"
        studies = _optional_import(f"{topic}.studies")
        if studies is None:
            _optional_import(f"{topic}.experiments")
            continue
        for module in pkgutil.iter_modules(studies.__path__):
            importlib.import_module(f"{topic}.studies.{module.name}")
    _DISCOVERED = True


def _optional_import(name: str):
    """The module `name`, or None when it does not exist (an import error inside it is raised)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def all_studies() -> list[Study]:
    discover()
    return sorted(_REGISTRY.values(), key=lambda s: (s.week, s.id))


def studies_for_week(week: int) -> list[Study]:
    return [s for s in all_studies() if s.week == week]


def get(study_id: str) -> Study:
    discover()
    if study_id in _REGISTRY:
        return _REGISTRY[study_id]
    known = ", ".join(sorted({s.id for s in _REGISTRY.values()})) or "none"
    raise ForgeError(f"unknown experiment {study_id!r}", hint=f"registered experiments: {known}")
