"""What the learner's commands make of run records: a bad record, quick-preset runs, and the hints around them.

- one unreadable `run.json` is one error row (`forge runs`), one warning (`forge draft`, which drafts from the
  newest *valid* completed record) and one error in its week (`forge status`); it blocks nothing else;
- a `quick` run is a smoke test: drafting reads the newest completed run at another preset, refuses a week
  (or an experiment) with quick runs only unless `--allow-quick`, which the draft's front matter records and
  review shows; status marks such weeks; `forge sample` says when its checkpoint is a quick run's;
- links to earlier posts point only at drafts that exist.

Records are written by hand (test_drafting.write_record), so nothing trains here.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from test_drafting import CURRICULUM, NOTES, write_record
from typer.testing import CliRunner

from studyforge import status as status_mod
from studyforge.cli.main import app
from studyforge.console import out
from studyforge.drafting.context import gather
from studyforge.drafting.drafts import read_draft
from studyforge.errors import ForgeError
from studyforge.tracking.records import list_records, record_dir
from studyforge.workspace import Workspace

runner = CliRunner()

OLD = "20261130-100000-s0-abcd"  # a valid completed run
NEW = "20261201-090000-s0-beef"  # newer: the one a bad record or a quick run would shadow


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The drafting tests' mini plan with week 1's notes, and no run yet."""
    (tmp_path / "curriculum.yaml").write_text(CURRICULUM)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "week01.md").write_text(NOTES)
    return Workspace(tmp_path)


def forge(ws: Workspace, *args: str):
    return runner.invoke(app, ["-C", str(ws.root), *args])


def _bad_record(ws: Workspace, run_id: str, text: str, week: int = 1, experiment: str = "ppo.cartpole"):
    folder = record_dir(ws.runs_dir, week, experiment, run_id)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(text)
    return folder


TRUNCATED = '{"run_id": "20261201-090000-s0-beef", "experiment": "ppo.cartpole", "week": 1, "pre'
NOT_A_RECORD = '{"run_id": "20261201-090000-s0-beef", "week": "one"}'


# -- 8. one bad record blocks nothing ---------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [(TRUNCATED, "not valid JSON"), (NOT_A_RECORD, "not a valid run record")])
def test_forge_runs_lists_an_unreadable_record_as_an_error_row(ws, text, message, monkeypatch):
    write_record(ws)
    write_record(ws, "later.study", week=2, run_id="20261207-100000-s0-cafe")
    bad = _bad_record(ws, NEW, text)
    monkeypatch.setattr(out.console, "width", 250)
    for args in (["runs"], ["runs", "1"]):
        result = forge(ws, *args)
        assert result.exit_code == 0, result.output
        assert OLD in result.output and message in result.output and NEW in result.output
    assert "20261207-100000-s0-cafe" in forge(ws, "runs").output  # the other week still lists
    listing = forge(ws, "runs", "--json")
    assert listing.exit_code == 0, listing.output
    rows = json.loads(listing.stdout)
    good = [r for r in rows if r["status"] != "unreadable"]
    (error,) = [r for r in rows if r["status"] == "unreadable"]
    assert [r["run_id"] for r in good] == [OLD, "20261207-100000-s0-cafe"]
    assert error["path"] == "runs/week01/ppo.cartpole/" + NEW and message in error["error"]
    assert (error["week"], error["experiment"], error["run_id"]) == (1, "ppo.cartpole", NEW)
    assert str(ws.root) not in error["error"]  # located relative to the workspace
    assert [r.run_id for r in list_records(ws.runs_dir)] == [OLD, "20261207-100000-s0-cafe"]
    assert bad.exists()  # listed, never touched


def test_draft_warns_and_uses_the_newest_valid_completed_record(ws):
    write_record(ws)
    _bad_record(ws, NEW, TRUNCATED)
    result = forge(ws, "draft", "week1", "--post", "1", "--edition", "scientist", "--backend", "offline")
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and f"runs/week01/ppo.cartpole/{NEW}/run.json" in result.output
    assert "not valid JSON" in result.output
    meta = read_draft(ws.drafts_dir / "week01" / "ppo-explained.scientist.md").meta
    assert meta.source_runs == [OLD]


def test_status_keeps_listing_an_unreadable_record_in_its_week(ws):
    write_record(ws)
    _bad_record(ws, NEW, TRUNCATED)
    data = status_mod.build_status(ws, dt.date(2026, 12, 3))
    week1 = data["weeks"][0]
    assert week1["experiments"]["completed_ids"] == ["ppo.cartpole"]
    (error,) = week1["experiments"]["errors"]
    assert error.startswith(f"runs/week01/ppo.cartpole/{NEW}/run.json:1: not valid JSON")


def test_sample_finds_its_run_beside_an_unreadable_one(ws):
    from studyforge.experiments.language_modeling.sampling import find_run

    write_record(ws)
    _bad_record(ws, NEW, TRUNCATED)
    assert find_run(ws.runs_dir, OLD[:15]).run_id == OLD
    with pytest.raises(ForgeError, match="not valid JSON"):  # the bad one itself: say why, not "no such run"
        find_run(ws.runs_dir, NEW)


# -- 15. quick runs are smoke tests, not results ---------------------------------------------------------

def test_a_week_with_quick_runs_only_is_refused_naming_allow_quick(ws):
    write_record(ws, preset="quick")
    for extra in ([], ["--dry-run"], ["--backend", "offline"], ["--show-prompt"]):
        result = forge(ws, "draft", "week1", *extra)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "--allow-quick" in lines[0] and "ppo.cartpole" in lines[0], result.output
        assert "quick" in lines[0] and "Traceback" not in result.output
    assert not ws.drafts_dir.exists()


def test_allow_quick_drafts_and_records_it_in_the_front_matter_and_review(ws):
    write_record(ws, preset="quick")
    dry = forge(ws, "draft", "week1", "--allow-quick", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "quick" in dry.output  # the run is still said to be a quick one
    result = forge(ws, "draft", "week1", "--post", "1", "--allow-quick", "--backend", "offline")
    assert result.exit_code == 0, result.output
    path = ws.drafts_dir / "week01" / "ppo-explained.scientist.md"
    meta = read_draft(path).meta
    assert meta.source_runs == [OLD]
    assert meta.model_dump()["allow_quick"] is True and meta.model_dump()["quick_runs"] == [OLD]
    assert "allow_quick: true" in path.read_text()
    review = forge(ws, "review", "week1", "--post", "1", "--edition", "scientist")
    assert review.exit_code == 0, review.output
    (line,) = [x for x in review.output.splitlines() if "quick" in x]
    assert OLD in line and "--allow-quick" in line


def test_drafting_prefers_an_older_default_run_to_a_newer_quick_one(ws):
    write_record(ws)
    write_record(ws, run_id=NEW, preset="quick", started=dt.datetime(2026, 12, 1, 9), summary={"final_return": 29})
    ctx = gather(ws, 1)
    assert ctx.source_runs == [OLD] and ctx.quick_runs == []
    result = forge(ws, "draft", "week1", "--post", "1", "--edition", "scientist", "--backend", "offline")
    assert result.exit_code == 0, result.output
    text = (ws.drafts_dir / "week01" / "ppo-explained.scientist.md").read_text()
    assert "allow_quick" not in text and "quick_runs" not in text
    assert "| `w01.ppo.cartpole.final_return` | 487.3" in text


def test_one_experiment_with_quick_runs_only_is_refused_too(ws):
    write_record(ws)
    write_record(ws, "ppo.ablation", run_id=NEW, preset="quick")
    with pytest.raises(ForgeError, match=r"quick.*ppo\.ablation") as err:
        gather(ws, 1)
    assert "ppo.cartpole" not in err.value.message and "--allow-quick" in str(err.value)
    ctx = gather(ws, 1, allow_quick=True)
    assert ctx.source_runs == [OLD, NEW] and ctx.quick_runs == [NEW]


def test_status_marks_a_week_with_quick_runs_only(ws, monkeypatch):
    write_record(ws, preset="quick")
    data = status_mod.build_status(ws, dt.date(2026, 12, 3))
    week1 = data["weeks"][0]
    assert week1["experiments"]["quick_only"] is True and week1["experiments"]["completed"] == 1
    assert data["weeks"][1]["experiments"]["quick_only"] is False
    monkeypatch.setattr(out.console, "width", 250)
    result = forge(ws, "status", "--today", "2026-12-03")
    assert result.exit_code == 0, result.output
    assert "quick runs only" in result.output
    write_record(ws, run_id=NEW, started=dt.datetime(2026, 12, 1, 9))  # a default run: draftable again
    assert status_mod.build_status(ws, dt.date(2026, 12, 3))["weeks"][0]["experiments"]["quick_only"] is False


# -- 9b. status's hint for a week without completed runs --------------------------------------------------

@pytest.mark.parametrize("preset, hint", [(None, "`forge run week1`"), ("quick", "`forge run week1`"),
                                          ("default", "`forge draft week1`")])
def test_review_day_hint_runs_before_it_drafts(ws, preset, hint):
    if preset:
        write_record(ws, preset=preset)
    due = status_mod.build_status(ws, dt.date(2026, 12, 3))["calendar"]["due"]  # week 1's Thursday
    assert due.startswith("Thursday: review week 1 drafts — no drafts yet") and hint in due
    assert ("forge draft" in due) == (preset == "default")


# -- 9c. sampling a quick run's checkpoint says so --------------------------------------------------------

def test_sample_says_when_the_checkpoint_is_a_quick_runs(corpus, mini_workspace):
    from test_language_modeling import _fake_run

    run_id, folder = _fake_run(mini_workspace, corpus)  # a quick-preset record
    args = ["-C", str(mini_workspace), "sample", run_id, "--prompt", "the quick", "--max-new-tokens", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if "quick" in x and "preset" in x]
    assert "noise" in line
    as_json = runner.invoke(app, [*args, "--json"])
    assert json.loads(as_json.stdout)["preset"] == "quick"
    run = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**run, "preset": "default"}))
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "noise" not in again.output and "preset" not in again.output


@pytest.fixture
def corpus(tmp_path):
    from test_language_modeling import TEXT

    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return path


# -- 9d. links to earlier posts point at drafts that exist -----------------------------------------------

def test_earlier_posts_are_linked_only_once_drafted(ws):
    write_record(ws)
    ctx = gather(ws, 2, allow_missing=True)
    assert [(e.slug, e.link("scientist"), e.link("manager")) for e in ctx.earlier] == [
        ("ppo-explained", None, None), ("ppo-in-practice", None, None)]
    draft2 = ["draft", "2", "--allow-missing-results", "--backend", "offline", "--force"]
    assert forge(ws, *draft2).exit_code == 0
    for edition in ("scientist", "manager"):
        draft = read_draft(ws.drafts_dir / "week02" / f"later-post.{edition}.md")
        assert "PPO Explained" in draft.body and "](../week01/" not in draft.body
        assert [p for p in draft.meta.checks.problems if "does not exist" in p.message] == []

    assert forge(ws, "draft", "1", "--post", "1", "--edition", "scientist", "--backend", "offline").exit_code == 0
    ctx = gather(ws, 2, allow_missing=True)
    assert [(e.slug, e.link("scientist"), e.link("manager")) for e in ctx.earlier] == [
        ("ppo-explained", "../week01/ppo-explained.scientist.md", None), ("ppo-in-practice", None, None)]
    prompt = forge(ws, "draft", "2", "--allow-missing-results", "--show-prompt")
    earlier = prompt.output[prompt.output.index("<earlier_posts>"):prompt.output.index("</earlier_posts>")]
    assert "../week01/ppo-explained.scientist.md" in earlier and "ppo-explained.manager.md" not in earlier
    assert "../week01/ppo-in-practice" not in earlier and "<edition>" not in earlier
    assert forge(ws, *draft2).exit_code == 0
    scientist = read_draft(ws.drafts_dir / "week02" / "later-post.scientist.md")
    manager = read_draft(ws.drafts_dir / "week02" / "later-post.manager.md")
    assert "[PPO Explained](../week01/ppo-explained.scientist.md)" in scientist.body
    assert "](../week01/" not in manager.body and "PPO Explained" in manager.body
    assert [p for p in scientist.meta.checks.problems if "does not exist" in p.message] == []
