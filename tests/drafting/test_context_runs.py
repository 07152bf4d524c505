"""Which run records drafting reads (`drafting/context.py`), as `forge draft` and `forge review` show it:

- the newest *valid* completed record: an unreadable `run.json` is one warning, and blocks nothing;
- a `quick` run is a smoke test: drafting reads the newest completed run at another preset, refuses a week
  (or an experiment) with quick runs only unless `--allow-quick`, which the draft's front matter records and
  review shows;
- links to earlier posts point only at drafts that exist.

Records are written by hand (workspaces.write_record), so nothing trains here.
"""

from __future__ import annotations

import datetime as dt

import pytest
from workspaces import NEW, OLD, TRUNCATED, bad_record, drafting_workspace, forge, write_record

from studyforge.drafting.context import gather
from studyforge.drafting.drafts import read_draft
from studyforge.errors import ForgeError
from studyforge.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """The drafting plan with week 1's notes, and no run yet (each test writes the records it needs)."""
    return drafting_workspace(tmp_path, run=False)


def test_draft_warns_and_uses_the_newest_valid_completed_record(ws):
    write_record(ws)
    bad_record(ws, NEW, TRUNCATED)
    result = forge(ws, "draft", "week1", "--post", "1", "--edition", "scientist", "--backend", "offline")
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and f"runs/week01/ppo.cartpole/{NEW}/run.json" in result.output
    assert "not valid JSON" in result.output
    meta = read_draft(ws.drafts_dir / "week01" / "ppo-explained.scientist.md").meta
    assert meta.source_runs == [OLD]


# -- quick runs are smoke tests, not results --------------------------------------------------------------

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


# -- links to earlier posts point at drafts that exist -----------------------------------------------

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
