"""`forge status` (`status.py`): each week's state, what is due today, the documented JSON, broken files as errors
in their own rows; run records as status reads them (an unreadable one, quick runs only, the review-day hint)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner
from workspaces import NEW, TRUNCATED, bad_record, drafting_workspace, forge, make_draft, write_record

from studyforge import status as status_mod
from studyforge.cli.main import app
from studyforge.console import out
from studyforge.tracking.records import RunRecord
from studyforge.workspace import Workspace

runner = CliRunner()


def _curriculum(weeks: int) -> str:
    """A plan of `weeks` weeks from Monday 2026-11-30, each with 2 experiments and 2 posts."""
    text = f"""\
version: 1
title: Status plan
editions:
  - {{id: scientist, name: Scientist Edition, audience: researchers}}
  - {{id: manager, name: Manager Edition, audience: managers}}
schedule:
  start_date: 2026-11-30
phases:
  - {{id: 1, title: Foundations, weeks: {list(range(1, weeks + 1))}}}
weeks:
"""
    for n in range(1, weeks + 1):
        text += f"""\
  - week: {n}
    phase: 1
    title: Week {n} topic
    topics: [Topic {n}a, {{title: Topic {n}b, subtopics: [Sub {n}]}}]
    experiments:
      - {{id: w{n}.first, title: First {n}, description: the first, tracks: x}}
      - {{id: w{n}.second, title: Second {n}, description: the second, tracks: y}}
    wandb: "x"
    posts:
      - {{slug: post-{n}-a, title: Post {n}a, kind: primary, notes_for_agent: Be brief.}}
      - {{slug: post-{n}-b, title: null, kind: connection, notes_for_agent: Connect.}}
"""
    return text


def _run(ws: Workspace, week: int, experiment: str, status: str, started: dt.datetime,
         preset: str = "default") -> None:
    run_id = f"{started:%Y%m%d-%H%M%S}-s0-abcd"
    RunRecord(run_id=run_id, experiment=experiment, week=week, preset=preset, seeds=[0], config={},
              status=status, started=started).save(ws.runs_dir / f"week{week:02d}" / experiment / run_id)


def _notes(ws: Workspace, week: int, words: str, meta: str = "status: in progress") -> Path:
    path = ws.notes_dir / f"week{week:02d}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nweek: {week}\n{meta}\n---\n\n## Heading words\n<!-- a prompt, not counted -->\n{words}\n")
    return path


@pytest.fixture
def dashboard(tmp_path) -> Workspace:
    """Seven weeks; on Thursday 2026-12-24 (week 4) every state appears once or more.

    1 published   both posts published (an edition each)       -- past
    2 overdue     drafts, not published; one draft's front matter is broken
    3 overdue     nothing at all
    4 in review   this week: 3 drafts (2 with unresolved checks) + 1 reviewed; one experiment failed
    5 drafting    future, but notes written and every experiment completed
    6 studying    future, notes started early (their front matter is broken); a corrupt run record
    7 upcoming    nothing
    """
    (tmp_path / "curriculum.yaml").write_text(_curriculum(7))
    ws = Workspace(tmp_path)
    make_draft(ws, 1, "post-1-a", "scientist", status="published")
    make_draft(ws, 1, "post-1-b", "manager", status="published")
    make_draft(ws, 1, "post-1-b", "scientist", status="reviewed")
    make_draft(ws, 2, "post-2-a", "scientist", unresolved=1)
    broken = make_draft(ws, 2, "post-2-b", "manager")
    broken.write_text(broken.read_text().replace("edition: manager", "edition: [manager"))
    make_draft(ws, 4, "post-4-a", "scientist", unresolved=2)
    make_draft(ws, 4, "post-4-a", "manager", unresolved=1, resolved=1)
    make_draft(ws, 4, "post-4-b", "scientist", resolved=2)
    make_draft(ws, 4, "post-4-b", "manager", status="reviewed")
    _run(ws, 4, "w4.first", "completed", dt.datetime(2026, 12, 22, 10))
    _run(ws, 4, "w4.second", "completed", dt.datetime(2026, 12, 22, 11))
    _run(ws, 4, "w4.second", "failed", dt.datetime(2026, 12, 23, 18, 30))
    _notes(ws, 4, "Policy gradients, derived twice.")
    _notes(ws, 5, "Early notes.")
    _run(ws, 5, "w5.first", "completed", dt.datetime(2026, 12, 20, 9))
    _run(ws, 5, "w5.second", "completed", dt.datetime(2026, 12, 21, 9))
    (ws.notes_dir / "week06.md").write_text("---\nweek: 6\ntitle: a: b\n---\nStarted.\n")
    bad = ws.runs_dir / "week06" / "w6.first" / "x"
    bad.mkdir(parents=True)
    (bad / "run.json").write_text("{not json")
    return ws


THURSDAY = dt.date(2026, 12, 24)


def test_status_covers_every_state(dashboard):
    data = status_mod.build_status(dashboard, THURSDAY)
    states = {row["week"]: row["state"] for row in data["weeks"]}
    assert states == {1: "published", 2: "overdue", 3: "overdue", 4: "in review", 5: "drafting", 6: "studying",
                      7: "upcoming"}
    assert set(states.values()) == set(status_mod.STATES)
    week4 = data["weeks"][3]
    assert (week4["start"], week4["end"]) == ("2026-12-21", "2026-12-27")
    assert week4["experiments"] == {"total": 2, "completed": 2, "completed_ids": ["w4.first", "w4.second"],
                                        "failed": ["w4.second"], "quick_only": False, "quick_only_ids": [],
                                        "last_run": "2026-12-23", "errors": []}
    assert week4["notes"]["words"] == 4 and week4["notes"]["status"] == "in progress"
    a, b = week4["posts"]
    assert {"status": "draft", "unresolved": 2, "version": 1}.items() <= a["editions"]["scientist"].items()
    assert a["editions"]["manager"]["unresolved"] == 1  # the resolved problem does not count
    assert b["editions"]["manager"]["status"] == "reviewed" and not b["published"]
    # The issue's own example of the header, on the review day of week 4.
    assert data["calendar"] == {"position": "during", "week": 4, "weekday": "thursday", "activity": "review",
                                "due": "Thursday: review week 4 drafts — 3 drafts, 2 with unresolved checks"}
    assert data["posts"] == {"published": 2, "target": 8, "per_week": 2, "planned": 14}


def test_broken_files_are_errors_in_their_rows_and_the_rest_renders(dashboard, monkeypatch):
    data = status_mod.build_status(dashboard, THURSDAY)
    week2, week6 = data["weeks"][1], data["weeks"][5]
    cell = week2["posts"][1]["editions"]["manager"]
    assert cell["status"] == "error" and "drafts/week02/post-2-b.manager.md" in cell["error"]
    assert week2["posts"][0]["editions"]["scientist"]["status"] == "draft"  # its neighbour still reads
    assert any("broken front matter" in e for e in week6["notes"]["errors"])
    assert week6["notes"]["errors"][0].startswith("notes/week06.md:3:")  # located to the file's line
    assert any("not valid JSON" in e for e in week6["experiments"]["errors"])
    assert len(week6["errors"]) == 2 and week2["errors"] == [cell["error"]]

    monkeypatch.setattr(out.console, "width", 250)
    result = runner.invoke(app, ["-C", str(dashboard.root), "status", "--today", "2026-12-24"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Due: Thursday: review week 4 drafts — 3 drafts, 2 with unresolved checks" in text
    assert "Overdue: weeks 2, 3" in text and "2 published of 8 due" in text
    assert "error: drafts/week02/post-2-b.manager.md" in text and "error: notes/week06.md:3" in text
    assert "failed: w4.second" in text
    for state in status_mod.STATES:
        assert state in text


def test_status_json_follows_the_documented_schema(dashboard):
    result = runner.invoke(app, ["-C", str(dashboard.root), "status", "--today", "2026-12-24", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema_version"] == status_mod.SCHEMA_VERSION == 1
    # Every key the output uses is documented in the module docstring, and every documented key is used.
    documented = set(re.findall(r'"([a-z_]+)":', status_mod.__doc__))

    def keys(value):
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    used = keys(data) - {"scientist", "manager"}  # edition ids are data, documented as "<edition id>"
    assert used == documented
    for row in data["weeks"]:
        assert row["state"] in status_mod.STATES
        dt.date.fromisoformat(row["start"]), dt.date.fromisoformat(row["end"])
        assert isinstance(row["notes"]["words"], int) and isinstance(row["errors"], list)
        for post in row["posts"]:
            for cell in post["editions"].values():
                assert cell["status"] in (None, "draft", "reviewed", "published", "error")


@pytest.mark.parametrize("today, due", [
    ("2026-11-20", "the plan starts on Monday 2026-11-30 (in 10 days)"),
    ("2026-12-22", "Tuesday: study week 4 (Week 4 topic) — topics, code and notes; notes: 4 words so far"),
    ("2026-12-25", "Friday: optional — a second topic or deeper experiments for week 4"),
    ("2026-12-27", "Sunday: experiments — week 4: 2/2 completed (`forge run week4`), or prepare week 5"),
    ("2026-12-31", "Thursday: review week 5 drafts — no drafts yet — `forge draft week5`"),
    ("2027-02-01", "the plan ended on 2027-01-17; 6 week(s) not yet published"),
])
def test_what_is_due_follows_the_rhythm(dashboard, today, due):
    assert status_mod.build_status(dashboard, dt.date.fromisoformat(today))["calendar"]["due"].startswith(due)


@pytest.mark.parametrize("today, evidence, state", [
    ("2026-12-28", {}, "studying"),                                     # Monday of the week
    ("2026-12-31", {}, "drafting"),                                     # its Thursday, no drafts yet
    ("2026-12-20", {}, "upcoming"),                                     # the Sunday before
    ("2026-12-20", {"runs": 1}, "studying"),                            # started early
    ("2026-12-20", {"notes_present": True, "all_completed": True}, "drafting"),
    ("2027-01-03", {"drafts": 2}, "in review"),                         # its Sunday, the last day
    ("2027-01-04", {"drafts": 2}, "overdue"),                           # the Monday after
    ("2027-01-04", {"drafts": 2, "all_published": True}, "published"),
])
def test_week_state_rules(tmp_path, today, evidence, state):
    (tmp_path / "curriculum.yaml").write_text(_curriculum(6))
    plan = Workspace(tmp_path).curriculum
    args = {"notes_present": False, "runs": 0, "all_completed": False, "drafts": 0, "all_published": False} | evidence
    assert status_mod.week_state(plan, plan.week(5), dt.date.fromisoformat(today), **args) == state


def test_status_stays_light_and_rejects_a_bad_date(mini_workspace):
    code = ("import sys, datetime; from studyforge.status import build_status; from studyforge.workspace import "
            "Workspace; build_status(Workspace('.'), datetime.date(2026, 12, 3)); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'wandb', 'anthropic') if m in sys.modules))")
    imported = subprocess.run([sys.executable, "-c", code], cwd=mini_workspace, capture_output=True, text=True,
                              check=True)
    assert imported.stdout.strip() == "[]"
    result = runner.invoke(app, ["status", "--today", "2026-13-01"])
    assert result.exit_code == 2 and "--today '2026-13-01' is not a date" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


# -- run records as status reads them ---------------------------------------------------------------------

@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The drafting plan (workspaces.py) with week 1's notes, and no run yet."""
    return drafting_workspace(tmp_path, run=False)


def test_status_keeps_listing_an_unreadable_record_in_its_week(ws):
    write_record(ws)
    bad_record(ws, NEW, TRUNCATED)
    data = status_mod.build_status(ws, dt.date(2026, 12, 3))
    week1 = data["weeks"][0]
    assert week1["experiments"]["completed_ids"] == ["ppo.cartpole"]
    (error,) = week1["experiments"]["errors"]
    assert error.startswith(f"runs/week01/ppo.cartpole/{NEW}/run.json:1: not valid JSON")


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


@pytest.mark.parametrize("preset, hint", [(None, "`forge run week1`"), ("quick", "`forge run week1`"),
                                          ("default", "`forge draft week1`")])
def test_review_day_hint_runs_before_it_drafts(ws, preset, hint):
    if preset:
        write_record(ws, preset=preset)
    due = status_mod.build_status(ws, dt.date(2026, 12, 3))["calendar"]["due"]  # week 1's Thursday
    assert due.startswith("Thursday: review week 1 drafts — no drafts yet") and hint in due
    assert ("forge draft" in due) == (preset == "default")
