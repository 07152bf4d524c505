"""The learner's week: `forge status`, `forge notes`, `forge review`, `forge init` (publishing: test_learner_publish)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import frontmatter
import pytest
import yaml
from typer.testing import CliRunner

from studyforge import status as status_mod
from studyforge.cli.main import app
from studyforge.console import out
from studyforge.drafting.checks import CheckProblem, Checks
from studyforge.drafting.drafts import DraftMeta, read_draft, write_new_draft
from studyforge.notes import word_count
from studyforge.scaffold import monday_of, next_monday
from studyforge.tracking.records import RunRecord
from studyforge.validate import check_note
from studyforge.workspace import DEFAULTS, Workspace

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


def _draft(ws: Workspace, week: int, post: str, edition: str, body: str = "Some text.\n", *,
           status: str = "draft", unresolved: int = 0, resolved: int = 0) -> Path:
    problems = [CheckProblem(kind="number", line=3 + i, text=f"{70 + i}.9%", message="matches no fact")
                for i in range(unresolved)]
    problems += [CheckProblem(kind="figure", line=9, text="x.png", message="missing", resolved=True)] * resolved
    meta = DraftMeta(title=f"Title of {post}", week=week, post=post, edition=edition, status=status,
                     created=dt.datetime(2026, 12, 1, 9, 0), body_hash="-", checks=Checks(problems=problems))
    return write_new_draft(ws.drafts_dir, ws.forge_dir, meta, body).path


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
    _draft(ws, 1, "post-1-a", "scientist", status="published")
    _draft(ws, 1, "post-1-b", "manager", status="published")
    _draft(ws, 1, "post-1-b", "scientist", status="reviewed")
    _draft(ws, 2, "post-2-a", "scientist", unresolved=1)
    broken = _draft(ws, 2, "post-2-b", "manager")
    broken.write_text(broken.read_text().replace("edition: manager", "edition: [manager"))
    _draft(ws, 4, "post-4-a", "scientist", unresolved=2)
    _draft(ws, 4, "post-4-a", "manager", unresolved=1, resolved=1)
    _draft(ws, 4, "post-4-b", "scientist", resolved=2)
    _draft(ws, 4, "post-4-b", "manager", status="reviewed")
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


# -- notes ----------------------------------------------------------------------------------------

def test_notes_scaffold_has_every_section_and_is_never_overwritten(mini_workspace):
    result = runner.invoke(app, ["notes", "week1"])
    assert result.exit_code == 0, result.output
    path = mini_workspace / "notes" / "week01.md"
    assert str(path) in result.output
    post = frontmatter.load(path)
    assert post.metadata["week"] == 1 and post.metadata["title"] == "Toy week"
    assert post.metadata["status"] == "in progress" and isinstance(post.metadata["started"], dt.date)
    headings = re.findall(r"^(#+) (.+)$", post.content, re.MULTILINE)
    assert headings == [("#", "Week 1: Toy week"), ("##", "Study topics"), ("###", "Counting"),
                        ("###", "Nested"), ("####", "a"), ("####", "b"), ("##", "Core papers"),
                        ("###", "A paper"), ("##", "Experiments"), ("###", "OK"), ("###", "Fails"),
                        ("##", "Posts"), ("###", "Toy Post")]
    assert "`fake.fail`" in post.content and "raises" in post.content and "Be brief." in post.content
    assert word_count(post.content) == 0  # the prompts are comments: nothing written yet
    assert check_note(path) is None  # `forge validate` accepts it

    path.write_text(path.read_text() + "\nMy own words.\n")
    before = path.read_bytes()
    again = runner.invoke(app, ["notes", "1"])
    assert again.exit_code == 0 and "exists already" in again.output
    assert path.read_bytes() == before


def test_notes_edit_opens_the_editor(mini_workspace, monkeypatch):
    editor = mini_workspace / "fake-editor.sh"
    editor.write_text('#!/bin/sh\necho "Value iteration converged in three sweeps." >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(editor))
    result = runner.invoke(app, ["notes", "2", "--edit"])
    assert result.exit_code == 0, result.output
    data = status_mod.build_status(Workspace(mini_workspace), dt.date(2026, 12, 8))
    assert {"present": True, "words": 6, "files": ["notes/week02.md"]}.items() <= data["weeks"][1]["notes"].items()

    monkeypatch.delenv("EDITOR")
    result = runner.invoke(app, ["notes", "2", "--edit"])
    assert result.exit_code == 2 and "$EDITOR is not set" in result.output


def test_notes_bad_week_is_one_line(mini_workspace):
    result = runner.invoke(app, ["notes", "week9"])
    assert result.exit_code == 2 and "week 9 is not in the curriculum" in result.output
    assert not (mini_workspace / "notes").exists()


def test_word_count_known_answers():
    assert word_count("") == 0
    assert word_count("# Title\n<!-- many\nwords -->\n- one two\n\n`x = 1` — three") == 5
    assert word_count("##NotAHeading words") == 2


# -- review ---------------------------------------------------------------------------------------

GENERATED = "# Bellman\n\nValue iteration took 12 sweeps.\n\nIt converged to 73.9% success.\n"


def test_review_shows_checks_and_the_reviewers_edits(mini_workspace, monkeypatch):
    ws = Workspace(mini_workspace)
    path = _draft(ws, 1, "toy-post", "scientist", GENERATED, unresolved=1)
    path.write_text(path.read_text().replace("73.9% success", "74.2% success (3 seeds)"))
    monkeypatch.setattr(out.console, "width", 200)
    result = runner.invoke(app, ["review", "week1"])
    assert result.exit_code == 0, result.output
    # the checks run on the body as it is now: the stored '70.9%' is in no line of it, the reviewer's numbers are
    lines = path.read_text().splitlines()  # with the new checks in the front matter
    line = next(i for i, text in enumerate(lines, 1) if "It converged to 74.2%" in text)
    assert "3 unresolved" in result.output and "'70.9%'" not in result.output
    assert f"line {line} [number] '74.2%': 74.2% (line {line}) matches no fact" in result.output
    assert "-It converged to 73.9% success." in result.output
    assert "+It converged to 74.2% success (3 seeds)." in result.output
    data = json.loads(runner.invoke(app, ["review", "1", "--json"]).stdout)
    assert data[0]["edited"] is True and data[0]["unresolved"] == 3
    assert [line for line in data[0]["diff"] if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        "-It converged to 73.9% success.", "+It converged to 74.2% success (3 seeds)."]


def test_approve_refuses_unresolved_checks_and_keeps_the_edits(mini_workspace):
    ws = Workspace(mini_workspace)
    path = _draft(ws, 1, "toy-post", "scientist", GENERATED, unresolved=1)
    other = _draft(ws, 1, "toy-post", "manager", "Plain words.\n")
    text = path.read_text().replace("12 sweeps", "11 sweeps").replace("title: Title", "tags: [mdp]\ntitle: Title")
    path.write_text(text)
    untouched = other.read_bytes()

    refused = runner.invoke(app, ["review", "1", "--approve"])
    assert refused.exit_code == 2 and "not approved: unresolved checks in drafts/week01/toy-post.scientist.md (2)" \
        in refused.output  # '11' and '73.9%': the checks of the text as it is now, saved in its front matter
    assert other.read_bytes() == untouched and read_draft(path).meta.status == "draft"  # all or nothing
    assert [p.text for p in read_draft(path).meta.checks.problems] == ["11", "73.9%"]

    path.write_text(path.read_text().replace("resolved: false", "resolved: true"))
    edited_body = frontmatter.load(path).content
    approved = runner.invoke(app, ["review", "1", "--approve"])
    assert approved.exit_code == 0, approved.output
    for p in (path, other):
        draft = read_draft(p)
        assert draft.meta.status == "reviewed" and draft.meta.reviewed is not None
    draft = read_draft(path)
    assert draft.body == edited_body and "11 sweeps" in draft.body  # the reviewer's edits are kept
    assert draft.meta.model_extra["tags"] == ["mdp"]  # and their own front-matter keys


def test_approve_with_force_and_selection(mini_workspace):
    ws = Workspace(mini_workspace)
    sci = _draft(ws, 1, "toy-post", "scientist", "It reached 81.2%.\n", unresolved=1)
    mgr = _draft(ws, 1, "toy-post", "manager", "It reached 99.99% accuracy.\n", unresolved=1)
    result = runner.invoke(app, ["review", "1", "--post", "1", "--edition", "manager", "--approve", "--force",
                                 "--reason", "the figure is from the paper"])
    assert result.exit_code == 0, result.output
    assert read_draft(mgr).meta.status == "reviewed" and read_draft(sci).meta.status == "draft"
    assert "unresolved checks remain" in result.output
    assert read_draft(mgr).meta.forced.reason == "the figure is from the paper"


@pytest.mark.parametrize("args, message", [
    (["review", "1", "--post", "nope"], "week 1 has no post 'nope'"),
    (["review", "1", "--edition", "poet"], "no edition 'poet'"),
    (["review", "2"], "week 2 has no drafts yet"),
    (["review", "w99"], "week 99 is not in the curriculum"),
])
def test_review_bad_input(mini_workspace, args, message):
    _draft(Workspace(mini_workspace), 1, "toy-post", "scientist")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


# -- init, version, completion --------------------------------------------------------------------

def test_init_scaffolds_a_workspace_and_aligns_the_start_date(tmp_path):
    target = tmp_path / "my-plan"
    result = runner.invoke(app, ["init", str(target), "--start-date", "2027-01-06"])
    assert result.exit_code == 0, result.output
    assert "2027-01-06 is a Wednesday" in result.output and "2027-01-04" in result.output
    default = (DEFAULTS / "curriculum.yaml").read_text().splitlines()
    mine = (target / "curriculum.yaml").read_text().splitlines()
    changed = [line for line in difflib.unified_diff(default, mine, lineterm="", n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-  start_date: 2026-11-30", "+  start_date: 2027-01-04"]  # comments and all kept
    assert (target / "templates" / "notes.md.j2").read_text() == (DEFAULTS / "templates" / "notes.md.j2").read_text()
    assert (target / "notes").is_dir() and (target / "drafts").is_dir()
    assert {"runs/", "wandb/", ".forge/"} <= set((target / ".gitignore").read_text().split())
    data = json.loads(runner.invoke(app, ["-C", str(target), "status", "--json", "--today", "2027-01-07"]).stdout)
    assert data["plan"]["start_date"] == "2027-01-04" and data["calendar"]["week"] == 1
    assert runner.invoke(app, ["-C", str(target), "notes", "1"]).exit_code == 0
    assert (target / "notes" / "week01.md").exists()


def test_init_refuses_to_overwrite_and_bad_dates(tmp_path):
    target = tmp_path / "plan"
    target.mkdir()
    (target / "curriculum.yaml").write_text("mine\n")
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 2 and "already has curriculum.yaml" in result.output
    assert (target / "curriculum.yaml").read_text() == "mine\n" and sorted(os.listdir(target)) == ["curriculum.yaml"]
    result = runner.invoke(app, ["init", str(tmp_path / "other"), "--start-date", "next monday"])
    assert result.exit_code == 2 and "--start-date 'next monday' is not a date" in result.output
    assert not (tmp_path / "other").exists()


def test_init_keeps_an_existing_gitignore(tmp_path):
    target = tmp_path / "repo"
    target.mkdir()
    (target / ".gitignore").write_text("node_modules/\nruns\n")
    assert runner.invoke(app, ["init", str(target), "--start-date", "2027-01-04"]).exit_code == 0
    lines = (target / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "runs"] and lines[-2:] == ["wandb/", ".forge/"]
    assert "runs/" not in lines  # already ignored as `runs`


def test_mondays():
    thursday = dt.date(2026, 12, 3)
    assert monday_of(thursday) == dt.date(2026, 11, 30) and next_monday(thursday) == dt.date(2026, 12, 7)
    assert monday_of(dt.date(2026, 11, 30)) == next_monday(dt.date(2026, 11, 30)) == dt.date(2026, 11, 30)
    assert next_monday(dt.date(2026, 12, 6)) == dt.date(2026, 12, 7)  # a Sunday


def test_version_and_shell_completion(tmp_path):
    assert runner.invoke(app, ["--version"]).output.strip() == "forge (studyforge) 0.1.0"
    assert "--install-completion" in runner.invoke(app, ["--help"]).output
    forge = Path(sys.executable).parent / "forge"
    if not forge.exists():
        pytest.skip("the forge console script is not installed")
    env = {**os.environ, "_FORGE_COMPLETE": "complete_bash", "COMP_WORDS": "forge pu", "COMP_CWORD": "1"}
    completed = subprocess.run([str(forge)], env=env, capture_output=True, text=True, timeout=30)
    assert completed.stdout.split() == ["pull", "publish"]


def test_yaml_of_a_draft_is_still_valid_after_approval(mini_workspace):
    path = _draft(Workspace(mini_workspace), 1, "toy-post", "scientist")
    assert runner.invoke(app, ["review", "1", "--approve"]).exit_code == 0
    head = path.read_text().split("---")[1]
    assert yaml.safe_load(head)["status"] == "reviewed"
