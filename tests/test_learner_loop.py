"""The drafting → review → publish loop as a learner walks it: placeholders, re-checks, versions, leftovers.

Each test drives the CLI (typer's CliRunner) or `run_draft` with a FakeClient in a workspace whose only
run record is written by hand, so every grounded number is known: ppo.cartpole's final return 487.3.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.console import out
from studyforge.drafting.context import gather
from studyforge.drafting.drafts import read_draft, save
from studyforge.drafting.pipeline import DraftOptions, run_draft
from studyforge.testing import FakeClient
from studyforge.tracking.io import write_json_atomic
from studyforge.tracking.records import RunRecord, record_dir
from studyforge.workspace import Workspace

runner = CliRunner()

CURRICULUM = """\
version: 1
title: Loop plan
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
    title: Policy gradients
    topics: [Clipping]
    core_papers:
      - {title: Proximal Policy Optimization Algorithms, authors: Schulman et al., year: 2017, arxiv: "1707.06347"}
    experiments:
      - {id: ppo.cartpole, title: PPO on CartPole, description: trains PPO, tracks: returns}
    wandb: "returns"
    posts:
      - {slug: ppo-explained, title: PPO Explained, kind: primary, notes_for_agent: Explain clipping.}
  - week: 2
    phase: 1
    title: Later week
    topics: [More]
    experiments:
      - {id: later.study, title: Later, description: later, tracks: x}
    wandb: "x"
    posts:
      - {slug: later-post, title: Later Post, kind: primary, notes_for_agent: Build on week 1., builds_on: [1]}
"""

THURSDAY = "2026-12-03"  # week 1's review day


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The loop plan and one completed (default-preset) run of ppo.cartpole whose final return is 487.3."""
    (tmp_path / "curriculum.yaml").write_text(CURRICULUM)
    workspace = Workspace(tmp_path)
    run_id = "20261130-100000-s0-abcd"
    folder = record_dir(workspace.runs_dir, 1, "ppo.cartpole", run_id)
    folder.mkdir(parents=True)
    RunRecord(run_id=run_id, experiment="ppo.cartpole", week=1, preset="default", seeds=[0], config={},
              status="completed", started=dt.datetime(2026, 11, 30, 10)).save(folder)
    write_json_atomic(folder / "summary.json", {"final_return": 487.3})
    return workspace


def forge(ws: Workspace, *args: str):
    return runner.invoke(app, ["-C", str(ws.root), *args])


def cells(ws: Workspace) -> dict[str, dict]:
    """`forge status --json`'s cells of week 1's post, by edition."""
    result = forge(ws, "status", "--json", "--today", THURSDAY)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["weeks"][0]["posts"][0]["editions"]


def draft_with(ws: Workspace, edition: str, text: str, *, force: bool = False):
    (outcome,) = run_draft(ws, DraftOptions(week=1, post="1", edition=edition, force=force), FakeClient([text]))
    return outcome


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- 2. a skeleton is not a post ----------------------------------------------------------------------

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
    before = tree(ws.drafts_dir)
    refused = forge(ws, "review", "1", "--approve")
    assert refused.exit_code == 2 and "not approved: unresolved checks in" in refused.output
    no_reason = forge(ws, "review", "1", "--approve", "--force")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    assert tree(ws.drafts_dir) == before
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


# -- 3. review checks the text as it is now ----------------------------------------------------------

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


# -- 4. one rule for which version is current ---------------------------------------------------------

def test_the_edited_version_stays_current_and_a_new_generation_is_a_candidate(ws, monkeypatch):
    monkeypatch.setattr(out.console, "width", 200)
    v1 = draft_with(ws, "manager", "# PPO Explained\n\nFirst version.\n").path
    edit(v1, "First version.", "My own careful words.")
    second = draft_with(ws, "manager", "# PPO Explained\n\nSecond version.\n")
    v2 = second.path
    assert v2.name == "ppo-explained.manager.v2.md" and second.kept == v1
    assert read_draft(v2).meta.candidate is not None

    # every reader agrees: v1 is current
    cell = cells(ws)["manager"]
    assert (cell["version"], cell["versions"], cell["path"]) == (1, 2, "drafts/week01/ppo-explained.manager.md")
    shown = forge(ws, "review", "1", "--edition", "manager")
    assert shown.exit_code == 0, shown.output
    assert "drafts/week01/ppo-explained.manager.md" in shown.output.splitlines()[0]
    assert "candidate beside it: drafts/week01/ppo-explained.manager.v2.md" in shown.output
    assert "-My own careful words." in shown.output and "+Second version." in shown.output  # current → candidate
    data = json.loads(forge(ws, "review", "1", "--edition", "manager", "--json").stdout)
    assert data[0]["path"] == "drafts/week01/ppo-explained.manager.md"
    assert [c["path"] for c in data[0]["candidates"]] == ["drafts/week01/ppo-explained.manager.v2.md"]
    assert forge(ws, "review", "1", "--edition", "manager", "--approve").exit_code == 0
    assert read_draft(v1).meta.status == "reviewed" and read_draft(v2).meta.status == "draft"
    site = ws.root / "site"
    published = forge(ws, "publish", "1", "--format", "markdown", "--out", str(site))
    assert published.exit_code == 0, published.output
    assert "My own careful words." in (site / "ppo-explained-manager.md").read_text()
    assert "ppo-explained.manager.v2.md is not reviewed yet" in published.output
    assert "--adopt v2" in published.output
    earlier = {e.slug: e for e in gather(ws, 2, allow_missing=True).earlier}["ppo-explained"]
    assert earlier.summary == "My own careful words."  # the scientist edition has no draft: the manager's

    # --adopt makes the candidate current, and back again
    adopted = forge(ws, "review", "1", "--post", "1", "--edition", "manager", "--adopt", "v2")
    assert adopted.exit_code == 0, adopted.output
    assert "adopted drafts/week01/ppo-explained.manager.v2.md" in adopted.output
    assert cells(ws)["manager"]["version"] == 2 and read_draft(v2).meta.candidate is None
    back = forge(ws, "review", "1", "--edition", "manager", "--adopt", "1")
    assert back.exit_code == 0, back.output
    assert cells(ws)["manager"]["version"] == 1 and read_draft(v2).meta.candidate is not None

    # an edit of the candidate makes it current
    edit(v2, "Second version.", "Second version, edited.")
    assert cells(ws)["manager"]["version"] == 2
    assert forge(ws, "review", "1", "--adopt", "v7").exit_code == 2


def test_a_new_generation_beside_a_kept_version_replaces_the_unedited_candidate(ws):
    v1 = draft_with(ws, "manager", "# PPO Explained\n\nFirst version.\n").path
    edit(v1, "First version.", "Mine.")
    assert draft_with(ws, "manager", "# PPO Explained\n\nSecond.\n").path.name.endswith(".v2.md")
    third = draft_with(ws, "manager", "# PPO Explained\n\nThird.\n")
    assert third.path.name.endswith(".v2.md") and "Third." in third.path.read_text()  # no v3 pile-up
    assert cells(ws)["manager"]["version"] == 1


def test_force_replaces_the_current_version_and_backs_it_up(ws):
    v1 = draft_with(ws, "manager", "# PPO Explained\n\nFirst version.\n").path
    edit(v1, "First version.", "My own careful words.")
    v2 = draft_with(ws, "manager", "# PPO Explained\n\nSecond version.\n").path
    result = forge(ws, "draft", "1", "--post", "1", "--edition", "manager", "--backend", "offline", "--force")
    assert result.exit_code == 0, result.output
    assert "[TO WRITE" in v1.read_text() and "Second version." in v2.read_text()
    assert cells(ws)["manager"]["version"] == 1  # the replaced version is still the current one
    backups = list((ws.forge_dir / "backups" / "week01").glob("ppo-explained.manager.*.md"))
    assert len(backups) == 1 and "My own careful words." in backups[0].read_text()
    assert ws.relative(backups[0]) in result.output.replace("\n", "")


def test_publish_takes_the_current_version_only(ws):
    v1 = draft_with(ws, "scientist", "# PPO Explained\n\nA return of 487.3.\n").path
    assert forge(ws, "review", "1", "--approve").exit_code == 0
    v2 = draft_with(ws, "scientist", "# PPO Explained\n\nA return of about 490.\n").path  # v1 is reviewed: kept
    assert forge(ws, "review", "1", "--adopt", "v2").exit_code == 0
    site = ws.root / "site"
    result = forge(ws, "publish", "1", "--format", "markdown", "--out", str(site))
    assert result.exit_code == 2 and "week 1 has no reviewed drafts" in result.output  # v1 is not current
    assert read_draft(v1).meta.status == "reviewed" and read_draft(v2).meta.status == "draft"


# -- 9. leftovers and categories ------------------------------------------------------------------------

def test_a_successful_draft_removes_its_stale_partial_and_review_lists_the_rest(ws, monkeypatch):
    monkeypatch.setattr(out.console, "width", 200)
    folder = ws.drafts_dir / "week01"
    folder.mkdir(parents=True)
    sci_partial = folder / "ppo-explained.scientist.md.partial"
    mgr_partial = folder / "ppo-explained.manager.md.partial"
    sci_partial.write_text("# PPO Explained\n\nHalf a sent")
    mgr_partial.write_text("# PPO Explained\n\nHalf of another")
    draft_with(ws, "scientist", "# PPO Explained\n\nA return of 487.3.\n")
    assert not sci_partial.exists() and mgr_partial.exists()
    shown = forge(ws, "review", "1")
    assert shown.exit_code == 0, shown.output
    assert "drafts/week01/ppo-explained.manager.md.partial" in shown.output
    assert "ppo-explained.scientist.md.partial" not in shown.output


def test_hugo_and_jekyll_use_the_same_categories(ws):
    for edition in ("scientist", "manager"):
        draft_with(ws, edition, "# PPO Explained\n\nA return of 487.3.\n")
    assert forge(ws, "review", "1", "--approve").exit_code == 0
    categories = {}
    for fmt, pattern in (("hugo", "content/posts/*/index.md"), ("jekyll", "_posts/*.md")):
        site = ws.root / f"site-{fmt}"
        assert forge(ws, "publish", "1", "--format", fmt, "--out", str(site), "--date", THURSDAY).exit_code == 0
        for post in sorted(site.glob(pattern)):
            head = yaml.safe_load(post.read_text().split("---\n")[1])
            categories.setdefault(fmt, []).append(head["categories"])
    assert categories["hugo"] == categories["jekyll"] and len(categories["hugo"]) == 2
