"""Prompts (`drafting/prompts.py`): the cached system blocks shared by every post and edition, the post's own
request, and the offline skeleton the templates render — useful, grounded and deterministic."""

from __future__ import annotations

from workspaces import PNG

from studyforge.drafting.context import gather
from studyforge.drafting.drafts import read_draft
from studyforge.drafting.pipeline import DraftOptions, run_draft


def test_context_and_prompt_shape(ws):
    from studyforge.drafting.prompts import PromptBuilder

    ctx = gather(ws, 1)
    assert ctx.missing == ["ppo.ablation"] and ctx.source_runs == ["20261130-100000-s0-abcd"]
    assert ctx.figures[0].link == "figures/20261130-100000-s0-abcd/returns.png"
    assert "In your own words" not in ctx.notes[0].body and "log-derivative trick" in ctx.notes[0].body
    prompt = PromptBuilder(ws, ctx).build(ctx.week.posts[0], ctx.curriculum.editions[0])
    system = prompt.system
    assert [b["cache_control"] for b in system] == [{"type": "ephemeral"}] * 2
    assert "w01.ppo.cartpole.final_return = 487.3 ± 9.1 (3 seeds)" in system[0]["text"]
    assert "log-derivative trick" in system[0]["text"] and "arXiv:1707.06347" in system[0]["text"]
    assert "figures/20261130-100000-s0-abcd/returns.png" in system[0]["text"]
    assert "Not run yet (no facts): ppo.ablation" in system[0]["text"]
    assert "Every number you write must come from the context" in system[1]["text"]
    assert "PPO Explained" in prompt.user_text and "Scientist edition" in prompt.user_text
    # the shared blocks are identical for every post and edition (or the cache would not match)
    other = PromptBuilder(ws, ctx).build(ctx.week.posts[1], ctx.curriculum.editions[1])
    assert other.system == system and other.user_text != prompt.user_text
    assert "propose one" in other.user_text  # the connection post has no title yet


def test_offline_skeleton_is_useful_grounded_and_deterministic(ws):
    (outcome, _, _, _) = run_draft(ws, DraftOptions(week=1, backend="offline"))
    draft = read_draft(outcome.path)
    body = draft.body
    assert draft.meta.backend == "offline" and draft.meta.model is None and draft.meta.cost_usd == 0
    assert body.startswith("# PPO Explained")
    sections = ["## Intuition", "## The mathematics, step by step", "## The code", "## What the experiments measured",
                "## Where this leads", "## References"]
    assert [body.index(s) for s in sections] == sorted(body.index(s) for s in sections)
    assert body.count("[TO WRITE") >= len(sections)
    # the notes go under the section they are about, verbatim
    maths = body[body.index("## The mathematics"):body.index("## The code")]
    assert "log-derivative trick" in maths
    code = body[body.index("## The code"):body.index("## What the experiments")]
    assert "torch.clamp" in code
    results = body[body.index("## What the experiments"):body.index("## Where this leads")]
    assert "`w01.ppo.cartpole.final_return` | 487.3 ± 9.1 (3 seeds)" in results
    assert "![returns](figures/20261130-100000-s0-abcd/returns.png)" in results
    assert (outcome.path.parent / "figures/20261130-100000-s0-abcd/returns.png").read_bytes() == PNG
    assert "arXiv:1707.06347" in body[body.index("## References"):]
    # a skeleton made only of true numbers passes its own checks: its only problems are its placeholders
    problems = draft.meta.checks.problems
    assert draft.meta.checks.numbers_checked > 10 and {p.kind for p in problems} == {"placeholder"}
    assert {f"[TO WRITE: {s[3:]}]" for s in sections} <= {p.text for p in problems}
    again = run_draft(ws, DraftOptions(week=1, post="1", edition="scientist", backend="offline"))[0]
    assert read_draft(again.path).body == body and again.path == outcome.path  # unedited: replaced in place
