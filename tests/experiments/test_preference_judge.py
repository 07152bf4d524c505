"""Week 9's AI feedback (issue 15, item 5): the constitution, the Claude judge through the real client against the
fake Messages API, the offline code judge, position bias, agreement and cost — and the study's quick run."""

from __future__ import annotations

import httpx2
import pytest

from studyforge.drafting.calllog import CallLog
from studyforge.drafting.llm import AnthropicClient
from studyforge.drafting.pricing import estimate_cost
from studyforge.errors import ForgeError
from studyforge.experiments.preference.gold import gold_rewards
from studyforge.experiments.preference.judge import (
    ClaudeJudge,
    CodeJudge,
    PairJudgement,
    Principle,
    Verdict,
    agreement_with_gold,
    constitution_path,
    cost_summary,
    judge_both_orders,
    load_constitution,
    make_judge,
    parse_constitution,
    parse_verdict,
    position_bias,
)
from studyforge.testing import FakeAnthropicAPI
from studyforge.workspace import DEFAULTS

KEY = "sk-ant-test-NEVER-WRITE-ME-0123456789"
FLUENCY = Principle("fluency", "Real words", "Prefer the response written in real English words.", gold="fluency")
STYLE = Principle("style", "Vowels", "Prefer more vowels.", gold="style")
KIND = Principle("harmless", "Kindness", "Prefer the kinder response.")
REAL, VOWELY = " the cat sat ", " eau oui sat "  # style 0.333 / 0.778, fluency 1.0 / 0.333 (gold.py's doctest)


@pytest.fixture
def api_env(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://fake.test")


def claude(api: FakeAnthropicAPI, **kw) -> ClaudeJudge:
    client = AnthropicClient(http_client=httpx2.Client(transport=api.transport()), max_retries=0)
    return ClaudeJudge(client, model="claude-haiku-4-5", **kw)


# -- the constitution ------------------------------------------------------------------------------------------


def test_the_packaged_constitution_parses_with_checkable_and_uncheckable_principles():
    principles = load_constitution(DEFAULTS / "templates" / "constitution.md")
    by_id = {p.id: p for p in principles}
    assert by_id["fluency"].gold == "fluency" and by_id["style"].gold == "style"
    assert "real English words" in by_id["fluency"].text and "gold:" not in by_id["fluency"].text
    assert [p for p in principles if p.gold is None], "at least one principle no code can check"


def test_constitution_format_errors_are_refused():
    assert parse_constitution("preamble\n## a: A\nline one\nline two\n\n## b: B\nx\ngold: style\n") == [
        Principle("a", "A", "line one line two"), Principle("b", "B", "x", "style")]
    for bad in ("## a: A\nx\n## a: again\ny\n", "## no colon here\nx\n", "just text\n", "## a: A\n\n"):
        with pytest.raises(ValueError):
            parse_constitution(bad)
    with pytest.raises(ForgeError, match="no constitution"):
        load_constitution(DEFAULTS / "missing.md")


def test_the_workspace_constitution_wins_over_the_packaged_one(tmp_path):
    assert constitution_path(None) == DEFAULTS / "templates" / "constitution.md"
    assert constitution_path(tmp_path) == DEFAULTS / "templates" / "constitution.md"  # a workspace without a copy
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "constitution.md").write_text("## a: A\nx\n")
    assert constitution_path(tmp_path) == tmp_path / "templates" / "constitution.md"
    assert constitution_path(tmp_path, "other.md").name == "other.md"


# -- the code judge ------------------------------------------------------------------------------------------


def test_code_judge_agrees_with_gold_on_checkable_principles_and_abstains_on_the_others():
    judge = CodeJudge(gold_rewards("the cat sat on the mat", min_count=1))
    assert judge.judge("p", REAL, VOWELY, FLUENCY).choice == "A"
    assert judge.judge("p", VOWELY, REAL, FLUENCY).choice == "B"
    assert judge.judge("p", REAL, VOWELY, STYLE).choice == "B"  # the two principles conflict on this pair
    kind = judge.judge("p", REAL, VOWELY, KIND)
    assert kind.abstained and kind.reason == "no gold reward"
    assert judge.judge("p", REAL, REAL, STYLE).reason == "tie"
    both = judge_both_orders(judge, "p", REAL, VOWELY, FLUENCY)
    assert both.first_wins is True and both.flipped is False
    assert position_bias([both])["flip_rate"] == 0.0


# -- Claude through the real client and the fake API -----------------------------------------------------------


def test_claude_judge_sends_the_principle_and_both_completions_and_parses_the_verdict(api_env, tmp_path):
    api = FakeAnthropicAPI(replies=["Response B keeps to real words.\nVerdict: B"])
    log = CallLog(tmp_path / "llm-log.db")
    verdict = claude(api, call_log=log, label="study").judge("Once upon", " zzq xxv ", " a time ", FLUENCY)
    assert verdict.choice == "B" and verdict.calls == 1
    body = api.requests[0]["body"]
    content = body["messages"][0]["content"]
    assert FLUENCY.text in content and " zzq xxv " in content and " a time " in content and "Once upon" in content
    assert content.index(" zzq xxv ") < content.index(" a time ")  # A is shown first
    assert body["model"] == "claude-haiku-4-5"
    assert verdict.usage.input_tokens > 0 and verdict.usage.output_tokens > 0
    assert verdict.cost_usd == pytest.approx(estimate_cost("claude-haiku-4-5", verdict.usage))
    rows = log.rows()
    assert [(r["kind"], r["outcome"], r["week"]) for r in rows] == [("judge", "ok", 9)]
    assert KEY not in str(rows)


def test_a_malformed_verdict_is_retried_once_then_abstained(api_env):
    api = FakeAnthropicAPI(replies=["I like A.", "Verdict: maybe", "Verdict: A"])
    judge = claude(api)
    first = judge.judge("x", "a", "b", FLUENCY)
    assert first.abstained and first.reason == "malformed" and first.calls == 2 and len(api.requests) == 2
    assert first.cost_usd > 0  # both calls are paid for
    second = judge.judge("x", "a", "b", FLUENCY)  # the queue moved on by exactly two replies
    assert second.choice == "A" and len(api.requests) == 3
    recovered = claude(FakeAnthropicAPI(replies=["hmm", "**Verdict:** B"])).judge("x", "a", "b", FLUENCY)
    assert recovered.choice == "B" and recovered.calls == 2


def test_an_overloaded_api_abstains_but_a_rejected_key_stops_the_study(api_env):
    busy = claude(FakeAnthropicAPI(failures=[(529, "overloaded_error", "busy")]))
    verdict = busy.judge("x", "a", "b", FLUENCY)
    assert verdict.abstained and verdict.reason.startswith("api error")
    rejected = claude(FakeAnthropicAPI(failures=[(401, "authentication_error", "bad key")]))
    with pytest.raises(ForgeError, match="401"):
        rejected.judge("x", "a", "b", FLUENCY)


def test_a_position_biased_judge_is_measured_as_biased(api_env):
    pairs = [("one", "two"), ("three", "four"), ("five", "six")]
    always_a = claude(FakeAnthropicAPI(replies=["Verdict: A"] * 6))
    biased = [judge_both_orders(always_a, "p", a, b, FLUENCY) for a, b in pairs]
    assert position_bias(biased) == {"flip_rate": 1.0, "slot_a_rate": 1.0, "pairs_both_decided": 3}
    assert all(j.first_wins is None for j in biased)  # conflicting orders give no label
    # a judge that reads the texts: it prefers the first completion, shown as A, then (swapped) as B
    consistent = claude(FakeAnthropicAPI(replies=["Verdict: A", "Verdict: B"] * 3))
    fair = [judge_both_orders(consistent, "p", a, b, FLUENCY) for a, b in pairs]
    assert position_bias(fair) == {"flip_rate": 0.0, "slot_a_rate": 0.5, "pairs_both_decided": 3}
    assert all(j.first_wins is True for j in fair)


def test_make_judge_takes_claude_only_with_a_key(monkeypatch):
    gold = gold_rewards("the cat", min_count=1)
    assert make_judge("auto", gold).kind == "code"
    assert make_judge("code", gold).kind == "code"
    with pytest.raises(ForgeError, match="API key"):
        make_judge("claude", gold)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert make_judge("auto", gold).kind == "claude"  # builds the client; no call is made
    assert make_judge("code", gold).kind == "code"


# -- agreement, position bias and cost, hand-computed ------------------------------------------------------------


def test_agreement_and_cost_against_hand_counts():
    v = Verdict
    judgements = [
        PairJudgement(FLUENCY, v("A", cost_usd=0.002, calls=1), v("B", cost_usd=0.002, calls=1)),  # first, right
        PairJudgement(FLUENCY, v("B", cost_usd=0.001, calls=2), v("A", cost_usd=0.001, calls=1)),  # second, wrong
        PairJudgement(FLUENCY, v("A", calls=1), v("A", calls=1)),  # flipped: no label; single orders: 1 right 1 wrong
        PairJudgement(KIND, v("A", calls=1), v("B", calls=1)),  # uncheckable
        PairJudgement(STYLE, v(None, "malformed", calls=2), v("B", calls=1)),  # one abstained verdict
    ]
    objectives = ["style", "fluency"]
    first = [[0.0, 0.9], [0.0, 0.8], [0.0, 0.7], [0.0, 0.0], [0.5, 0.0]]
    second = [[0.0, 0.1], [0.0, 0.2], [0.0, 0.3], [0.0, 0.0], [0.1, 0.0]]
    out = agreement_with_gold(judgements, first, second, objectives)
    flu = out["per_principle"]["fluency"]
    assert (flu["pairs"], flu["labelled"], flu["agreement"]) == (3, 2, 0.5)
    assert flu["single_order_agreement"] == pytest.approx(3 / 6)  # right, right, wrong, wrong, right, wrong
    assert out["per_principle"]["harmless"]["agreement"] is None
    sty = out["per_principle"]["style"]
    assert sty["abstained_verdicts"] == 1 and sty["labelled"] == 0 and sty["single_order_agreement"] == 1.0
    assert out["overall"] == 0.5 and out["pairs_checked"] == 2
    bias = position_bias(judgements)
    assert bias["pairs_both_decided"] == 4 and bias["flip_rate"] == 0.25
    cost = cost_summary(judgements)
    assert cost["verdicts"] == 10 and cost["calls"] == 12
    assert cost["cost_per_1k_labels"] == pytest.approx(1000 * 0.006 / 10)


def test_parse_verdict_is_strict():
    assert parse_verdict("Reasons.\n\nVerdict: A\n") == "A"
    assert parse_verdict("verdict: b") == "B"
    for bad in ("", "Verdict: C", "Verdict: A\nmore text", "The verdict: A is better", "Verdict: A B"):
        assert parse_verdict(bad) is None, bad


# -- the study ----------------------------------------------------------------------------------------------------


def test_the_quick_study_runs_with_the_code_judge(tmp_path):
    from studyforge.experiments.preference.studies.constitutional_preferences import (
        ConstitutionalConfig,
        constitutional_preferences,
    )
    from studyforge.tracking.context import RunContext

    cfg = ConstitutionalConfig.from_preset("quick", {"judge": "auto"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    constitutional_preferences(ctx, cfg)
    s = ctx.summary_values
    assert s["judge"]["kind"] == "code" and s["cost_per_1k_labels"] == 0.0
    assert s["agreement"] == 1.0  # the code judge reads the gold rewards: 1 by construction
    assert s["flip_rate"] == 0.0 and s["position_bias"]["pairs_both_decided"] > 0
    assert s["agreement_per_principle"]["harmless"]["labelled"] == 0  # it abstains on what it cannot check
    for name in ("ai", "gold", "human"):
        assert 0.0 <= s["rlaif"][name]["heldout_gold_accuracy"] <= 1.0
    assert s["rlaif"]["gold"]["label_gold_agreement"] == 1.0
    rounds = s["self_rewarding"]["rounds"]
    assert s["self_rewarding_rounds"] >= 3 and len(rounds) == s["self_rewarding_rounds"] + 1
    assert rounds[0]["kl_to_initial"] == pytest.approx(0.0, abs=1e-6)
    assert all(r["kl_to_initial"] > 0 for r in rounds[1:])  # DPO moved the policy
    assert all(0.0 <= r["judge_gold_agreement"] <= 1.0 for r in rounds[:-1])
    assert (tmp_path / "run" / "figures" / "constitutional_preferences.png").is_file()
