"""Every table forge prints stays readable at 80 columns as at 140: ids (run ids, experiment ids, slugs,
request ids) are shown whole on one line, no word of a title is broken, and the table does not run to
many times the lines it needs. Each table is rendered through its command, as a user sees it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.console import out
from studyforge.drafting.calllog import CallLog
from studyforge.experiments import registry
from studyforge.experiments.config import ExperimentConfig
from studyforge.tracking.records import RunRecord
from studyforge.workspace import DEFAULTS, Workspace

runner = CliRunner()
WIDTHS = (80, 140)
LONGEST_ID = "value_based.sample_efficiency_vs_policy_methods"  # the longest registered experiment id


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The packaged 16-week plan (long titles), with runs of long-named experiments and a few LLM calls."""
    shutil.copy(DEFAULTS / "curriculum.yaml", tmp_path / "curriculum.yaml")
    ws = Workspace(tmp_path)
    for i, (week, experiment) in enumerate([(1, "mdp.value_vs_policy_iteration"), (14, LONGEST_ID),
                                            (14, LONGEST_ID), (2, "tokenization.bpe_from_scratch")]):
        run_id = f"2026120{i + 1}-121818-s0-22{i}0"
        RunRecord(run_id=run_id, experiment=experiment, week=week, preset="default", seeds=[0, 1, 2], config={},
                  status="failed" if i == 2 else "completed", started=dt.datetime(2026, 12, i + 1, 12, 18),
                  duration_s=123.4).save(ws.runs_dir / f"week{week:02d}" / experiment / run_id)
    log = CallLog(ws.forge_dir / "llm-log.db")
    for edition, outcome in (("scientist", "ok"), ("manager", "api_error")):
        log.record(week=7, post="ppo-the-goldilocks-of-policy-optimization", edition=edition, backend="anthropic",
                   model="claude-sonnet-4-5-20250929", kind="draft", input_tokens=12_345, output_tokens=2_345,
                   cache_read_tokens=10_000, cost_usd=0.0421, duration_s=41.2, outcome=outcome,
                   request_id="req_011CUzsyJ6gV8xLeCPsD1pFc",
                   error=None if outcome == "ok" else "overloaded_error: the API is temporarily overloaded, retry")
    return ws


def render(monkeypatch, width: int, *args: str) -> str:
    monkeypatch.setattr(out.console, "width", width)
    monkeypatch.setattr(out.err, "width", width)
    result = runner.invoke(app, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.output


def whole_words(text: str) -> set[str]:
    return set(text.split())


def assert_whole(ids: list[str], text: str) -> None:
    """Each id appears on one line, between spaces (not cut with '…', not folded onto the next line)."""
    for id_ in ids:
        assert re.search(rf"(?<!\S){re.escape(id_)}(?!\S)", text), f"{id_!r} is cut or split:\n{text}"
    assert "…" not in text


def assert_titles_unbroken(titles: list[str], text: str) -> None:
    words = whole_words(text)
    broken = sorted({w for title in titles for w in title.split() if w not in words})
    assert broken == [], f"title words broken mid-word: {broken}\n{text}"


def assert_broken_only_at_dots(key: str, text: str) -> None:
    """A dotted metric key may wrap after a dot, never inside a name: every piece of it in `text` starts and
    ends at a dot boundary (`frozenlake8x8.` + `gamma0_99.success_rate.`, not `frozenla` + `ke8x8`)."""
    bounds = {0, len(key)} | {i + 1 for i, char in enumerate(key) if char == "."}
    pieces = [t for t in text.split() if t in key and ("." in t or "_" in t)]  # not the "value" header
    assert pieces, f"{key!r} is not shown"
    for piece in pieces:
        starts = [m.start() for m in re.finditer(re.escape(piece), key)]
        assert any(s in bounds and s + len(piece) in bounds for s in starts), f"{piece!r} splits a name in {key!r}"


def assert_fits(text: str, width: int, allowed_longer=lambda line: False) -> None:
    long = [line for line in text.splitlines() if len(line.rstrip()) > width and not allowed_longer(line)]
    assert long == [], long


def plan_titles(ws: Workspace) -> list[str]:
    plan = ws.curriculum
    return [w.title for w in plan.weeks] + [p.title for p in plan.phases]


# -- forge status -------------------------------------------------------------------------------------------


@pytest.fixture
def dashboard(ws, monkeypatch):
    """Status data as a busy learner has it: drafts with versions and unresolved checks, errors, failures."""
    from studyforge import status as status_mod

    data = status_mod.build_status(ws, dt.date(2027, 1, 7))
    editions = ("scientist", "manager")
    for n, row in enumerate(data["weeks"][:6]):
        for p, post in enumerate(row["posts"]):
            for e, edition in enumerate(editions):
                post["editions"][edition] |= {"status": ("draft", "reviewed", "published")[(n + p + e) % 3],
                                              "version": 1 + (n + e) % 3, "unresolved": (n * 7 + p) % 13}
    data["weeks"][3]["errors"] = ["drafts/week04/the-policy-gradient-wars.manager.md:3: broken front matter — fix it"]
    monkeypatch.setattr(status_mod, "build_status", lambda ws, today=None: data)
    return data


@pytest.mark.parametrize("width", WIDTHS)
def test_status_table(ws, dashboard, monkeypatch, width):
    text = render(monkeypatch, width, "-C", str(ws.root), "status", "--today", "2027-01-07")
    assert_titles_unbroken(plan_titles(ws), text)
    assert_whole([LONGEST_ID, "drafts/week04/the-policy-gradient-wars.manager.md:3:"], text)
    # the problem lines under the table are printed whole (the terminal soft-wraps them)
    assert_fits(text, width, allowed_longer=lambda line: line.startswith("week "))
    weeks = len(dashboard["weeks"])
    assert len(text.splitlines()) <= (4 if width == 80 else 3) * weeks + 20, text
    for phase in ws.curriculum.phases:  # each phase's name on a line of its own, not glued under a title
        assert re.search(rf"^\s*{re.escape(phase.title)}\s*$", text, re.MULTILINE), phase.title


# -- forge runs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_table(ws, monkeypatch, width):
    text = render(monkeypatch, width, "-C", str(ws.root), "runs")
    ids = [r.run_id for r in _records(ws)] + [LONGEST_ID, "mdp.value_vs_policy_iteration"]
    assert_whole(ids, text)
    assert_fits(text, width)
    assert len(text.splitlines()) <= 2 * 4 + 8
    assert "completed" in text and "failed" in text


def _records(ws):
    from studyforge.tracking.records import list_records

    return list_records(ws.runs_dir)


# -- forge log ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_log_table(ws, monkeypatch, width):
    text = render(monkeypatch, width, "-C", str(ws.root), "log")
    assert_whole(["ppo-the-goldilocks-of-policy-optimization"], text)
    if width == 140:
        assert_whole(["claude-sonnet-4-5-20250929", "req_011CUzsyJ6gV8xLeCPsD1pFc"], text)
    assert_titles_unbroken(["overloaded_error: the API is temporarily overloaded, retry"], text)
    assert_fits(text, width)
    assert len(text.splitlines()) <= 14


# -- forge curriculum ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_curriculum_table(ws, monkeypatch, width):
    text = render(monkeypatch, width, "-C", str(ws.root), "curriculum")
    post_titles = [p.display_title for w in ws.curriculum.weeks for p in w.posts]
    assert_titles_unbroken(plan_titles(ws) + post_titles, text)
    assert_fits(text, width)
    assert len(text.splitlines()) <= (6 if width == 80 else 4) * len(ws.curriculum.weeks) + 12


# -- forge run: the results table ---------------------------------------------------------------------------


class _Config(ExperimentConfig):
    pass


@pytest.fixture
def long_named_studies(tmp_path):
    """Week 1 of a plan whose two studies have the longest ids and headline keys forge knows."""
    (tmp_path / "curriculum.yaml").write_text((DEFAULTS / "curriculum.yaml").read_text())
    registry.discover()
    saved = dict(registry._REGISTRY)
    key = "frozenlake8x8.gamma0_99.success_rate.value_iteration"

    def completes(ctx, cfg):
        """Reports a long-named headline."""
        ctx.summary(frozenlake8x8={"gamma0_99": {"success_rate": {"value_iteration": 0.645}}})

    def fails(ctx, cfg):
        """Fails with a long message."""
        raise RuntimeError("a long error message that says what went wrong, where and what to try next")

    registry._REGISTRY.clear()
    registry.register("mdp.gridworld_solver", week=1, config=_Config, headline=key)(completes)
    registry.register("mdp.value_vs_policy_iteration", week=1, config=_Config, headline=key)(fails)
    yield SimpleNamespace(key=key, root=tmp_path)
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


@pytest.mark.parametrize("width", WIDTHS)
def test_run_results_table(long_named_studies, monkeypatch, width):
    text = render(monkeypatch, width, "run", "week1", "--wandb", "disabled")
    results = text[text.index("Results"):]  # after the progress lines
    assert "0.645" in results
    assert_whole(["mdp.gridworld_solver", "mdp.value_vs_policy_iteration"], results)
    run_ids = [p.name for p in (long_named_studies.root / "runs" / "week01").glob("*/*")]
    assert len(run_ids) == 2 and all(re.search(rf"{r}/", results) for r in run_ids)  # record folders, whole
    assert_broken_only_at_dots(long_named_studies.key, results)
    assert_fits(results, width, allowed_longer=lambda line: "failed:" in line or line.startswith("  runs/"))
    assert len(results.splitlines()) <= 20
