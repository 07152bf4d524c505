"""The real `AnthropicClient` (official SDK, httpx2) against a fake Messages API — never the network.

In process through `httpx2.MockTransport`, and once through a real HTTP server on 127.0.0.1 reached via
ANTHROPIC_BASE_URL, driving `forge draft` from the CLI.
"""

from __future__ import annotations

import json

import httpx2
import pytest
from typer.testing import CliRunner
from workspaces import drafting_workspace, snapshot

from studyforge.cli.main import app
from studyforge.drafting.calllog import CallLog
from studyforge.drafting.drafts import read_draft
from studyforge.drafting.llm import AnthropicClient, LLMError, LLMRequest, StreamBroken
from studyforge.drafting.pipeline import DraftOptions, run_draft
from studyforge.drafting.pricing import default_model
from studyforge.testing import FakeAnthropicAPI

KEY = "sk-ant-test-NEVER-WRITE-ME-0123456789"
LONG = "# PPO Explained\n\n" + "PPO reached 487.3 after 40000 steps. " * 12 + "\n"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://fake.test")  # the SDK's own variable; nothing listens there
    return drafting_workspace(tmp_path)


def client_for(api: FakeAnthropicAPI, max_retries: int = 2) -> AnthropicClient:
    return AnthropicClient(http_client=httpx2.Client(transport=api.transport()), max_retries=max_retries)


def request(text: str = "Say hi.") -> LLMRequest:
    return LLMRequest("claude-test", 100, [{"type": "text", "text": "context", "cache_control": {"type": "ephemeral"}}],
                      [{"role": "user", "content": text}], week=1, post="p", edition="scientist")


def test_request_shape_system_blocks_and_cache_control(ws):
    api = FakeAnthropicAPI(replies=[LONG, LONG])
    run_draft(ws, DraftOptions(week=1, post="1"), client_for(api))
    bodies = [r["body"] for r in api.requests]
    assert len(bodies) == 2 and all(b["stream"] is True for b in bodies)
    first = bodies[0]
    assert first["model"] == default_model() and first["max_tokens"] == 8000
    system = first["system"]
    assert [b.get("cache_control") for b in system] == [{"type": "ephemeral"}, {"type": "ephemeral"}]
    assert system[0]["text"].startswith("<curriculum>")  # the shared context comes first
    assert "w01.ppo.cartpole.final_return = 487.3 ± 9.1 (3 seeds)" in system[0]["text"]
    assert "log-derivative trick" in system[0]["text"]  # the learner's notes, verbatim
    assert [m["role"] for m in first["messages"]] == ["user"]
    assert "Scientist edition" in first["messages"][0]["content"]
    assert "Manager edition" in bodies[1]["messages"][0]["content"]
    assert bodies[1]["system"] == system
    assert api.headers_seen[0]["host"] == "fake.test"  # ANTHROPIC_BASE_URL is honoured
    assert KEY in " ".join(api.headers_seen[0].values())  # the SDK sent the key from the environment


def test_streaming_with_usage_and_cache_reuse(ws):
    api = FakeAnthropicAPI(replies=[LONG, LONG], min_cache_tokens=50)
    client = client_for(api)
    seen: list[str] = []
    req = request("x " * 10)
    req.system = [{"type": "text", "text": "shared " * 200, "cache_control": {"type": "ephemeral"}}]
    first = client.generate(req, seen.append)
    assert "".join(seen) == LONG and len(seen) > 5 and first.text == LONG
    assert first.usage.cache_write_tokens > 0 and first.usage.cache_read_tokens == 0
    assert first.request_id == "req_fake_0001" and first.stop_reason == "end_turn"
    second = client.generate(req)
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens and second.usage.cache_write_tokens == 0


def test_retry_after_429_then_success(ws):
    api = FakeAnthropicAPI(replies=[LONG], failures=[(429, "rate_limit_error", "slow down")])
    response = client_for(api).generate(request())
    assert response.text == LONG
    assert [r["path"] for r in api.requests] == ["/v1/messages", "/v1/messages"]


def test_401_is_one_clear_line_with_the_request_id_and_no_retry(ws):
    api = FakeAnthropicAPI(failures=[(401, "authentication_error", "invalid x-api-key")])
    with pytest.raises(LLMError) as err:
        client_for(api).generate(request())
    assert err.value.exit_code == 1 and err.value.status == 401
    assert "Anthropic rejected the API key (401 authentication error) (request req_fake_0001)" in str(err.value)
    assert KEY not in str(err.value) and len(api.requests) == 1


def test_persistent_529_fails_after_the_retries(ws):
    api = FakeAnthropicAPI(failures=[(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(LLMError, match=r"overloaded \(529\) after 2 retries \(request req_fake_0003\)"):
        client_for(api, max_retries=2).generate(request())
    assert len(api.requests) == 3


def test_connection_error_names_the_endpoint(ws, monkeypatch):
    def refuse(request):
        raise httpx2.ConnectError("connection refused")

    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://gateway.invalid")
    client = AnthropicClient(http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)), max_retries=0)
    with pytest.raises(LLMError, match="cannot reach http://gateway.invalid"):
        client.generate(request())


def test_broken_stream_keeps_the_partial_text_and_touches_no_draft(ws):
    good = FakeAnthropicAPI(replies=[LONG])
    (outcome,) = run_draft(ws, DraftOptions(week=1, post="1", edition="scientist"), client_for(good))
    before = snapshot(ws.root)
    api = FakeAnthropicAPI(replies=[LONG.replace("487.3", "9.1")], break_after=100)
    with pytest.raises(LLMError) as err:
        run_draft(ws, DraftOptions(week=1, post="1", edition="scientist"), client_for(api))
    partial = outcome.path.with_name(outcome.path.name + ".partial")
    assert err.value.exit_code == 1 and "partial text is kept in drafts/week01/ppo-explained.scientist.md.partial" \
        in str(err.value)
    kept = partial.read_text()
    assert 0 < len(kept) <= 100 and LONG.replace("487.3", "9.1").startswith(kept)
    after = snapshot(ws.root)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {".forge/llm-log.db", "drafts/week01/ppo-explained.scientist.md.partial"}
    assert CallLog(ws.forge_dir / "llm-log.db").rows()[-1]["outcome"] == "partial"


def test_stream_broken_is_raised_by_the_client(ws):
    api = FakeAnthropicAPI(replies=[LONG], break_after=60)
    with pytest.raises(StreamBroken) as err:
        client_for(api).generate(request())
    assert err.value.partial and LONG.startswith(err.value.partial) and err.value.request_id == "req_fake_0001"


def test_dry_run_counts_tokens_through_the_api_and_generates_nothing(ws):
    api = FakeAnthropicAPI()
    run_draft(ws, DraftOptions(week=1, dry_run=True), client_for(api))
    assert {r["path"] for r in api.requests} == {"/v1/messages/count_tokens"} and len(api.requests) == 5
    assert not ws.drafts_dir.exists()
    rows = CallLog(ws.forge_dir / "llm-log.db").rows()
    assert {r["kind"] for r in rows} == {"count_tokens"} and all(r["input_tokens"] > 0 for r in rows)


def test_batch_submit_interrupt_and_resume(ws):
    from studyforge.drafting.batch import pending_batch, run_batch
    from studyforge.drafting.pipeline import plan_drafts
    from studyforge.errors import ForgeError

    api = FakeAnthropicAPI(replies=[LONG] * 4, polls_until_end=1)
    client = client_for(api)
    planned = plan_drafts(ws, DraftOptions(week=1, batch=True))

    def interrupt(_seconds):
        raise KeyboardInterrupt

    with pytest.raises(ForgeError, match="it keeps running at Anthropic") as err:
        run_batch(ws, planned, client, poll_seconds=0, sleep=interrupt)
    assert err.value.exit_code == 130 and not ws.drafts_dir.exists()
    path, state = pending_batch(ws, 1)
    assert state["batch_id"] == "msgbatch_fake001" and len(state["items"]) == 4

    outcomes = run_batch(ws, plan_drafts(ws, DraftOptions(week=1, post="1", batch=True)), client, poll_seconds=0,
                         sleep=lambda s: None)
    assert [r["path"] for r in api.requests].count("/v1/messages/batches") == 1  # resumed, not resubmitted
    assert len(outcomes) == 4 and all(o.meta.backend == "anthropic" for o in outcomes)
    assert pending_batch(ws, 1) is None and json.loads(path.read_text())["completed"]
    meta = read_draft(outcomes[1].path).meta
    assert meta.cost_usd is not None and meta.usage.cache_read_tokens > 0  # the batch reused the cached context
    assert {r["kind"] for r in CallLog(ws.forge_dir / "llm-log.db").rows()} == {"batch"}


def test_cli_through_a_local_server_never_writes_the_key(ws, monkeypatch, tmp_path):
    api = FakeAnthropicAPI(replies=[LONG] * 4)
    runner = CliRunner()
    with api.serve() as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        result = runner.invoke(app, ["-C", str(ws.root), "draft", "week1", "--backend", "anthropic"])
        assert result.exit_code == 0, result.output
        log = runner.invoke(app, ["-C", str(ws.root), "log", "--json"])
        api.failures = [(401, "authentication_error", "invalid x-api-key")]
        failed = runner.invoke(app, ["-C", str(ws.root), "draft", "1", "-p", "1", "--edition", "manager"])
    assert len(list((ws.drafts_dir / "week01").glob("*.md"))) == 4
    assert KEY in " ".join(api.headers_seen[0].values()) and len(json.loads(log.stdout)) == 4
    assert failed.exit_code == 1 and "401" in failed.output and "Traceback" not in failed.output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in written) and any(p.name.endswith(".manager.md") for p in written)
    leaks = [str(p) for p in written if KEY.encode() in p.read_bytes()]
    assert leaks == [] and KEY not in result.output + log.output + failed.output
