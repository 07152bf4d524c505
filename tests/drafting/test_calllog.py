"""The call log (`drafting/calllog.py`): one row per LLM call with tokens, outcome and request id; `forge log`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.drafting.calllog import CallLog
from studyforge.drafting.pipeline import DraftOptions, run_draft
from studyforge.testing import FakeClient

runner = CliRunner()


def test_call_log_rows_and_forge_log(ws):
    client = FakeClient(["# PPO Explained\n\nA.\n", "# PPO Explained\n\nB.\n"], tokens=1234)
    run_draft(ws, DraftOptions(week=1, post="1"), client)
    rows = CallLog(ws.forge_dir / "llm-log.db").rows()
    assert [(r["post"], r["edition"], r["backend"], r["input_tokens"], r["outcome"]) for r in rows] == [
        ("ppo-explained", "scientist", "fake", 1234, "ok"), ("ppo-explained", "manager", "fake", 1234, "ok")]
    assert rows[0]["prompt_hash"] == client.requests[0].hash and rows[0]["request_id"] == "req_fake_1"
    assert rows[0]["draft"] == "drafts/week01/ppo-explained.scientist.md"
    result = runner.invoke(app, ["-C", str(ws.root), "log", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["edition"] for r in json.loads(result.stdout)] == ["scientist", "manager"]
    table = runner.invoke(app, ["-C", str(ws.root), "log", "1"])
    assert table.exit_code == 0 and "LLM calls" in table.output and "req_fake_2" in table.output
