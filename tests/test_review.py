"""`forge review` (`review.py`): the checks of the body as it is now, the reviewer's edits as a diff, approval
refused while checks are unresolved (or forced with a reason), and a skeleton's placeholders never approved or
published. The loop tests run on the loop plan (workspaces.py) with drafts from `FakeClient`."""

from __future__ import annotations

import json
import re

import frontmatter
import pytest
import yaml
from typer.testing import CliRunner
from workspaces import THURSDAY, cells, draft_with, edit, forge, loop_workspace, make_draft, snapshot

from studyforge.cli.main import app
from studyforge.console import out
from studyforge.drafting.drafts import read_draft, save
from studyforge.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The loop plan and one completed (default-preset) run of ppo.cartpole whose final return is 487.3."""
    return loop_workspace(tmp_path)


GENERATED = "# Bellman\n\nValue iteration took 12 sweeps.\n\nIt converged to 73.9% success.\n"


def test_review_shows_checks_and_the_reviewers_edits(mini_workspace, monkeypatch):
    ws = Workspace(mini_workspace)
    path = make_draft(ws, 1, "toy-post", "scientist", GENERATED, unresolved=1)
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
    path = make_draft(ws, 1, "toy-post", "scientist", GENERATED, unresolved=1)
    other = make_draft(ws, 1, "toy-post", "manager", "Plain words.\n")
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
    sci = make_draft(ws, 1, "toy-post", "scientist", "It reached 81.2%.\n", unresolved=1)
    mgr = make_draft(ws, 1, "toy-post", "manager", "It reached 99.99% accuracy.\n", unresolved=1)
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
    make_draft(Workspace(mini_workspace), 1, "toy-post", "scientist")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_yaml_of_a_draft_is_still_valid_after_approval(mini_workspace):
    path = make_draft(Workspace(mini_workspace), 1, "toy-post", "scientist")
    assert runner.invoke(app, ["review", "1", "--approve"]).exit_code == 0
    head = path.read_text().split("---")[1]
    assert yaml.safe_load(head)["status"] == "reviewed"


# -- a skeleton is not a post -----------------------------------------------------------------------------

def test_a_skeleton_is_not_a_post(ws, monkeypatch):
    monkeypatch.setattr(out.console, "width", 200)
    assert forge(ws, "draft", "week1", "--backend", "offline").exit_code == 0
    sci = ws.drafts_dir / "week01" / "ppo-explained.scientist.md"
    assert "[TO WRITE" in sci.read_text()

    # counted by status: per edition and in the review day's header
    for cell in cells(ws).values():
        assert cell["status"] == "draft" and cell["unresolved"] >= 6  # one [TO WRITE] block per section at least
    header = json.loads(forge(ws, "status", "--json", "--today", THURSDAY).stdout)["calendar"]["due"]
    assert header.endswith("2 drafts, 2 with unresolved checks")

    # listed by review
    shown = forge(ws, "review", "1", "--edition", "scientist")
    assert shown.exit_code == 0, shown.output
    assert re.search(r"✗ line \d+ \[placeholder\] '\[TO WRITE: Intuition\]'", shown.output)

    # refused by approve; --force needs a reason, which is recorded
    before = snapshot(ws.drafts_dir)
    refused = forge(ws, "review", "1", "--approve")
    assert refused.exit_code == 2 and "not approved: unresolved checks in" in refused.output
    no_reason = forge(ws, "review", "1", "--approve", "--force")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    assert snapshot(ws.drafts_dir) == before
    forced = forge(ws, "review", "1", "--approve", "--force", "--reason", "checking the site's layout")
    assert forced.exit_code == 0, forced.output
    meta = read_draft(sci).meta
    assert meta.status == "reviewed"
    assert meta.forced.reason == "checking the site's layout" and meta.forced.at is not None
    assert any("[placeholder] [TO WRITE: Intuition]" in u for u in meta.forced.unresolved)

    # refused by publish, in one line naming the files, writing nothing
    site = ws.root / "site"
    result = forge(ws, "publish", "1", "--format", "jekyll", "--out", str(site))
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert "drafts/week01/ppo-explained.scientist.md" in result.output
    assert "drafts/week01/ppo-explained.manager.md" in result.output and "[TO WRITE" in result.output
    assert not site.exists()


def test_result_placeholders_count_too_and_prose_clears_them(ws):
    path = draft_with(ws, "scientist", "# PPO Explained\n\nPPO reached [RESULT: the final return].\n").path
    assert cells(ws)["scientist"]["unresolved"] == 1
    edit(path, "[RESULT: the final return]", "a return of 487.3")
    assert cells(ws)["scientist"]["unresolved"] == 0  # status reads the body as it is now
    assert forge(ws, "review", "1", "--approve").exit_code == 0


# -- review checks the text as it is now ------------------------------------------------------------------

def test_review_rechecks_the_current_body_and_keeps_resolved_marks(ws, monkeypatch):
    monkeypatch.setattr(out.console, "width", 200)
    path = draft_with(ws, "scientist", "# PPO Explained\n\nPPO reached a return of 487.3.\n\n"
                                       "It also hit 81.2% on the ablation.\n").path
    assert [p.text for p in read_draft(path).meta.checks.problems] == ["81.2%"]
    edit(path, "It also hit 81.2% on the ablation.",
         "It reached 99.99% accuracy and ran 555 times faster than REINFORCE.")

    shown = forge(ws, "review", "1")
    assert shown.exit_code == 0, shown.output
    assert "'99.99%': 99.99% (line" in shown.output and "'555': 555 (line" in shown.output
    assert "'81.2%'" not in shown.output  # a problem on a removed number is gone (the diff still shows it)
    checks = read_draft(path).meta.checks
    assert [(p.kind, p.text, p.resolved) for p in checks.problems] == [
        ("number", "99.99%", False), ("number", "555", False)]
    lines = path.read_text().splitlines()
    assert all(p.text in lines[p.line - 1] for p in checks.problems)  # lines of the file, front matter included

    refused = forge(ws, "review", "1", "--approve")
    assert refused.exit_code == 2 and "ppo-explained.scientist.md (2)" in refused.output

    # the reviewer resolves one problem, then adds a number: the mark stays, the new number is flagged
    draft = read_draft(path)
    draft.meta.checks.problems[0].resolved = True
    save(draft)
    edit(path, "than REINFORCE.", "than REINFORCE on 64 environments.")
    assert forge(ws, "review", "1").exit_code == 0
    problems = read_draft(path).meta.checks.problems
    assert [(p.text, p.resolved) for p in problems] == [("99.99%", True), ("555", False), ("64", False)]


def test_reviewing_twice_rewrites_nothing(ws):
    path = draft_with(ws, "scientist", "# PPO Explained\n\nA return of 487.3, and 12 more.\n").path
    assert forge(ws, "review", "1").exit_code == 0
    before = path.read_bytes()
    assert forge(ws, "review", "1").exit_code == 0
    assert path.read_bytes() == before
