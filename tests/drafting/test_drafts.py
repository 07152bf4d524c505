"""Draft files (`drafting/drafts.py`): one rule for which version is current — every reader (status, review,
publish, the next week's context) agrees; an edited or reviewed version is kept and a new generation goes
beside it as a candidate; --adopt and --force; a stale partial goes once a draft succeeds.

On the loop plan (workspaces.py), with drafts from `FakeClient`.
"""

from __future__ import annotations

import json

import pytest
from workspaces import cells, draft_with, edit, forge, loop_workspace

from studyforge.console import out
from studyforge.drafting.context import gather
from studyforge.drafting.drafts import read_draft
from studyforge.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The loop plan and one completed (default-preset) run of ppo.cartpole whose final return is 487.3."""
    return loop_workspace(tmp_path)


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


# -- leftovers ------------------------------------------------------------------------------------------

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
