"""The drafting context (`drafting/context.py`): earlier posts summarized from their drafts, and a week without
completed runs refused unless allowed. Which runs it reads: test_context_runs.py."""

from __future__ import annotations

import pytest

from studyforge.drafting.context import gather
from studyforge.drafting.pipeline import DraftOptions, run_draft
from studyforge.errors import ForgeError
from studyforge.testing import FakeClient


def test_earlier_posts_summary_comes_from_an_existing_draft(ws):
    run_draft(ws, DraftOptions(week=1, post="1", edition="scientist"),
              FakeClient(["# PPO Explained\n\nPPO clips the policy ratio to keep updates small.\n"]))
    ctx = gather(ws, 2, allow_missing=True)
    titles = {e.slug: e for e in ctx.earlier}
    assert titles["ppo-explained"].summary == "PPO clips the policy ratio to keep updates small."
    assert titles["ppo-explained"].link("scientist") == "../week01/ppo-explained.scientist.md"
    assert titles["ppo-explained"].link("manager") is None  # not drafted: named, never linked
    assert titles["ppo-in-practice"].summary_from == "curriculum"


def test_no_completed_runs_is_refused_unless_allowed(ws):
    with pytest.raises(ForgeError, match="week 2 has no completed runs"):
        gather(ws, 2)
    ctx = gather(ws, 2, allow_missing=True)
    assert ctx.facts == [] and ctx.missing == ["later.study"]
