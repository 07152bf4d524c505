"""Drafting cost and speed, with the API faked: week 1's two posts × two editions through the real client.

Runs week 1's studies (default preset, seconds) into a temporary workspace, then drafts all four posts with the real
`AnthropicClient` talking to the in-process fake Messages API (studyforge/testing/fakeapi.py), which
simulates prompt caching as the API documents it. Measured:

- input tokens per request (a local estimate, ~4 characters per token: no tokenizer offline);
- the share of each later request's input read from the prompt cache (target ≥ 70% for the second
  edition: the week's context must dominate the prompt and come first);
- wall time of the pipeline outside the API call — context, prompts, checks, figures, files, log —
  per draft (target ≤ 2 s), and for a single draft on its own (planning not shared with other drafts).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, report

REPO = Path(__file__).resolve().parents[1]


class TimedClient:
    """Wraps a client and adds up the time spent inside its calls."""

    def __init__(self, inner):
        self.inner = inner
        self.backend = inner.backend
        self.api_seconds = 0.0
        self.responses = []

    def generate(self, request, on_text=None):
        start = time.perf_counter()
        try:
            response = self.inner.generate(request, on_text)
        finally:
            self.api_seconds += time.perf_counter() - start
        self.responses.append((request, response))
        return response

    def count_tokens(self, request):
        return self.inner.count_tokens(request)


def main() -> bool:
    import httpx2

    from studyforge.console import out
    from studyforge.drafting.llm import AnthropicClient
    from studyforge.drafting.pipeline import DraftOptions, run_draft
    from studyforge.runner import RunRequest, execute, plan
    from studyforge.testing import FakeAnthropicAPI
    from studyforge.workspace import Workspace

    os.environ.setdefault("WANDB_MODE", "disabled")
    saved = {k: os.environ.get(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-benchmark-fake"
    os.environ["ANTHROPIC_BASE_URL"] = "http://fake.test"
    quiet = out.console.quiet, out.err.quiet
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "curriculum.yaml").write_text((REPO / "curriculum.yaml").read_text())
            ws = Workspace(root)
            req = RunRequest(week=1, preset="default", wandb="disabled")
            out.console.quiet = out.err.quiet = True
            execute(ws, req, plan(ws, req))
            reply = ("# Draft\n\nValue iteration needed 662 sweeps on FrozenLake 8x8 (γ = 0.99).\n\n"
                     + "Policy iteration needed 3 improvements where value iteration took 662 sweeps (γ = 0.99). " * 100)
            api = FakeAnthropicAPI(replies=[reply] * 8)
            client = TimedClient(AnthropicClient(http_client=httpx2.Client(transport=api.transport())))

            start = time.perf_counter()
            outcomes = run_draft(ws, DraftOptions(week=1, force=True), client)
            total = time.perf_counter() - start
            per_draft = (total - client.api_seconds) / len(outcomes)

            client.api_seconds = 0.0
            start = time.perf_counter()
            run_draft(ws, DraftOptions(week=1, post="1", edition="scientist", force=True), client)
            single = time.perf_counter() - start - client.api_seconds
    finally:
        out.console.quiet, out.err.quiet = quiet
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    rows = []
    for i, (request, response) in enumerate(client.responses[:4]):
        u = response.usage
        total_in = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens
        rows.append(Row(f"input tokens: {request.post} · {request.edition}", total_in, "tokens (≈)"))
        if i:
            share = 100 * u.cache_read_tokens / total_in
            target = "≥ 70%" if i == 1 else "informational"
            rows.append(Row(f"  read from cache ({'second edition' if i == 1 else f'request {i + 1}'})", share, "%",
                            target=target, ok=share >= 70 if i == 1 else None))
        else:
            marked = 100 * u.cache_write_tokens / total_in
            rows.append(Row("  marked for caching (first request, cache write)", marked, "%"))
    rows.append(Row("pipeline outside the API, per draft (4 drafts)", per_draft, "s", target="≤ 2 s",
                    ok=per_draft <= 2.0))
    rows.append(Row("pipeline outside the API, one draft alone", single, "s", target="≤ 2 s", ok=single <= 2.0))
    checked = sum(o.meta.checks.numbers_checked for o in outcomes)
    rows.append(Row("numbers checked in the 4 drafts", checked, "numbers"))
    return report("forge draft week1 (fake API, default-preset records; tokens estimated at ~4 chars/token)", rows)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
