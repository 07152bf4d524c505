"""`FakeClient`: an LLM client for tests — queued replies, every request recorded, no network.

It speaks the same protocol as the real clients (drafting/llm.py: `generate` with streaming, `count_tokens`),
so the pipeline runs unchanged: `run_draft(ws, options, FakeClient(["# Title\\n\\nBody."]))`.
"""

from __future__ import annotations

from studyforge.drafting.llm import (
    LLMRequest,
    LLMResponse,
    OnText,
    StreamBroken,
    Usage,
    approx_request_tokens,
)
from studyforge.drafting.pricing import approx_tokens


class FakeClient:
    """For tests: replies are taken in order; each may be text, an LLMResponse, or an exception to raise.

    `FakeClient(["# Title\\n\\nbody"])`; `client.requests` holds every request it was sent.
    A reply given as `StreamBroken(..., partial="...")` first streams the partial text, then raises.
    """

    backend = "fake"

    def __init__(self, replies: list[str | LLMResponse | BaseException] | None = None, *, model: str = "fake-model",
                 chunk: int = 40, tokens: int = 1000):
        self.replies = list(replies or [])
        self.requests: list[LLMRequest] = []
        self.model = model
        self.chunk = chunk
        self.tokens = tokens

    def generate(self, request: LLMRequest, on_text: OnText | None = None) -> LLMResponse:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError("FakeClient: no reply queued")
        reply = self.replies.pop(0)
        if isinstance(reply, StreamBroken):
            if on_text and reply.partial:
                on_text(reply.partial)
            raise reply
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, LLMResponse):
            return reply
        for i in range(0, len(reply), self.chunk):
            if on_text:
                on_text(reply[i:i + self.chunk])
        usage = Usage(input_tokens=self.tokens, output_tokens=approx_tokens(reply))
        return LLMResponse(reply, self.model, usage, f"req_fake_{len(self.requests)}", "end_turn", 0.0)

    def count_tokens(self, request: LLMRequest) -> int:
        self.requests.append(request)
        return approx_request_tokens(request)
