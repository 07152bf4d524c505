"""LLM clients: one protocol, and what speaks it — Claude and an offline skeleton (a fake for tests: studyforge/testing).

    client.generate(request, on_text=callback) -> LLMResponse     (streams; on_text gets each text delta)
    client.count_tokens(request) -> int                           (for --dry-run)

- `AnthropicClient`: the official SDK (which sends through httpx2). It honours the SDK's environment
  (ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BASE_URL for gateways and proxies), streams,
  and retries 408/409/429/5xx/529 and connection errors with exponential backoff (the SDK's own
  `max_retries`, honouring `retry-after`). What still fails is an `LLMError`: one line with the status,
  what to do and the request id, exit code 1. A stream that breaks after text arrived is a
  `StreamBroken` carrying the partial text, so the caller can keep it.
- `OfflineClient`: returns the skeleton the templates rendered (deterministic, free, no network).
- `studyforge.testing.FakeClient`: for tests — queued replies (text, an exception, or a response).

Each request is built from a rendered prompt by `LLMRequest.from_prompt`; `Usage` is what a call used.

The API key is read by the SDK from the environment and kept only inside the SDK's client: forge
never stores, logs or prints it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from studyforge.drafting.pricing import approx_tokens
from studyforge.errors import ForgeError

if TYPE_CHECKING:
    from studyforge.drafting.prompts import Prompt

OnText = Callable[[str], None]
MAX_RETRIES = 5  # the SDK waits 0.5 s, 1 s, 2 s, 4 s, 8 s (with jitter) unless told `retry-after`


class Usage(BaseModel):
    """Tokens one call used, as the API reports them (kept in the draft's front matter and the call log)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass
class LLMRequest:
    """One draft's request, plus labels for the log and the offline skeleton."""

    model: str
    max_tokens: int
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    week: int = 0
    post: str = ""
    edition: str = ""
    skeleton: str = ""

    @classmethod
    def from_prompt(cls, prompt: Prompt, model: str, max_tokens: int) -> LLMRequest:
        """The request for one post and edition: the prompt's blocks, labelled with its week, post and edition."""
        return cls(model, max_tokens, prompt.system, prompt.messages, week=prompt.week, post=prompt.post.slug,
                   edition=prompt.edition.id, skeleton=prompt.skeleton)

    @classmethod
    def from_turn(cls, model: str, max_tokens: int, system: str, user: str, *, week: int, post: str,
                  edition: str) -> LLMRequest:
        """A one-turn request that is not a post (week 9's judge): a system text and one user message, labelled
        for the call log like a draft's."""
        return cls(model, max_tokens, [{"type": "text", "text": system}], [{"role": "user", "content": user}],
                   week=week, post=post, edition=edition)

    def params(self) -> dict[str, Any]:
        """The Messages API parameters (exactly what is sent)."""
        return {"model": self.model, "max_tokens": self.max_tokens, "system": self.system, "messages": self.messages}

    @property
    def hash(self) -> str:
        text = json.dumps(self.params(), sort_keys=True, ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def label(self) -> str:
        return f"week {self.week} · {self.post} · {self.edition}"


@dataclass
class LLMResponse:
    text: str
    model: str | None
    usage: Usage = field(default_factory=Usage)
    request_id: str | None = None
    stop_reason: str | None = None
    duration_s: float = 0.0


class LLMError(ForgeError):
    """A call that failed for good (after the retries): exit code 1, with the request id when known."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, request_id: str | None = None,
                 status: int | None = None, partial: str = ""):
        super().__init__(message, hint=hint)
        self.request_id = request_id
        self.status = status
        self.partial = partial


class StreamBroken(LLMError):
    """The response stream stopped before the message was complete; `partial` is what had arrived."""


class LLMClient(Protocol):
    backend: str

    def generate(self, request: LLMRequest, on_text: OnText | None = None) -> LLMResponse: ...

    def count_tokens(self, request: LLMRequest) -> int: ...


def has_api_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


# ---------------------------------------------------------------------------------------------
# Claude through the official SDK.


class AnthropicClient:
    backend = "anthropic"

    def __init__(self, *, max_retries: int = MAX_RETRIES, http_client: Any = None, timeout: float | None = None):
        if not has_api_key():
            raise ForgeError("--backend anthropic needs an API key, and ANTHROPIC_API_KEY is not set",
                             hint="export ANTHROPIC_API_KEY=... (or ANTHROPIC_AUTH_TOKEN for a gateway), "
                                  "or draft offline with --backend offline")
        import anthropic

        kwargs: dict[str, Any] = {"max_retries": max_retries}
        if http_client is not None:
            kwargs["http_client"] = http_client
        if timeout is not None:
            kwargs["timeout"] = timeout
        self.max_retries = max_retries
        self.sdk = anthropic.Anthropic(**kwargs)  # reads the key and ANTHROPIC_BASE_URL from the environment

    @property
    def base_url(self) -> str:
        return str(self.sdk.base_url)

    def generate(self, request: LLMRequest, on_text: OnText | None = None) -> LLMResponse:
        parts: list[str] = []
        request_id: str | None = None
        start = time.perf_counter()
        try:
            with self.sdk.messages.stream(**request.params()) as stream:
                request_id = stream.request_id
                for text in stream.text_stream:
                    parts.append(text)
                    if on_text:
                        on_text(text)
                message = stream.get_final_message()
        except Exception as exc:  # noqa: BLE001 — every failure becomes one line (or a kept partial)
            raise self._failure(exc, request_id, "".join(parts)) from None
        if message.stop_reason is None:  # the connection closed cleanly, but before message_stop
            raise StreamBroken("the response stream ended before the message was complete"
                               + (f" (request {request_id})" if request_id else ""),
                               hint="run the command again", request_id=request_id, partial="".join(parts))
        u = message.usage
        usage = Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                      cache_read_tokens=u.cache_read_input_tokens or 0,
                      cache_write_tokens=u.cache_creation_input_tokens or 0)
        text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
        return LLMResponse(text or "".join(parts), message.model, usage, request_id, message.stop_reason,
                           time.perf_counter() - start)

    def count_tokens(self, request: LLMRequest) -> int:
        params = request.params()
        params.pop("max_tokens")
        try:
            return self.sdk.messages.count_tokens(**params).input_tokens
        except Exception as exc:  # noqa: BLE001
            raise self._failure(exc, None, "") from None

    # -- the Message Batches API ---------------------------------------------------------------
    def submit_batch(self, requests: list[tuple[str, LLMRequest]]) -> str:
        """Submit `(custom_id, request)` pairs; returns the batch id."""
        try:
            batch = self.sdk.messages.batches.create(
                requests=[{"custom_id": cid, "params": req.params()} for cid, req in requests])
        except Exception as exc:  # noqa: BLE001
            raise self._failure(exc, None, "") from None
        return batch.id

    def batch_status(self, batch_id: str) -> dict[str, Any]:
        """`{"status": "in_progress"|"canceling"|"ended", "succeeded": n, "errored": n, ..., "processing": n}`."""
        try:
            batch = self.sdk.messages.batches.retrieve(batch_id)
        except Exception as exc:  # noqa: BLE001
            raise self._failure(exc, None, "") from None
        counts = batch.request_counts
        return {"status": batch.processing_status, "processing": counts.processing, "succeeded": counts.succeeded,
                "errored": counts.errored, "canceled": counts.canceled, "expired": counts.expired}

    def batch_results(self, batch_id: str) -> Iterator[tuple[str, LLMResponse | LLMError]]:
        """Each result of an ended batch as it is read: (custom_id, response or the error)."""
        try:
            for item in self.sdk.messages.batches.results(batch_id):
                result = item.result
                if result.type == "succeeded":
                    m = result.message
                    usage = Usage(input_tokens=m.usage.input_tokens, output_tokens=m.usage.output_tokens,
                                  cache_read_tokens=m.usage.cache_read_input_tokens or 0,
                                  cache_write_tokens=m.usage.cache_creation_input_tokens or 0)
                    text = "".join(b.text for b in m.content if getattr(b, "type", "") == "text")
                    yield item.custom_id, LLMResponse(text, m.model, usage, m.id, m.stop_reason)
                elif result.type == "errored":
                    error = getattr(result.error, "error", result.error)
                    message = getattr(error, "message", None) or str(error)
                    yield item.custom_id, LLMError(f"the batch request failed: {getattr(error, 'type', '')} {message}",
                                                   hint="draft this post again (without --batch)")
                else:
                    yield item.custom_id, LLMError(f"the batch request was {result.type}",
                                                   hint="draft this post again (without --batch)")
        except Exception as exc:  # noqa: BLE001
            raise self._failure(exc, None, "") from None

    # -- errors ----------------------------------------------------------------------------------
    def _failure(self, exc: Exception, request_id: str | None, partial: str) -> LLMError:
        import anthropic

        if isinstance(exc, LLMError):
            return exc
        rid = getattr(exc, "request_id", None) or request_id
        at = f" (request {rid})" if rid else ""
        if partial:
            return StreamBroken(f"the response stream broke after {approx_tokens(partial):,} tokens{at}: "
                                f"{type(exc).__name__}: {_short(exc)}", hint="run the command again",
                                request_id=rid, partial=partial)
        retries = f" after {self.max_retries} retries" if self.max_retries else ""
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            detail = exc.api_message or _short(exc)
            kind = f"{status} {exc.type}" if exc.type else str(status)
            if status == 401:
                return LLMError(f"Anthropic rejected the API key (401 authentication error){at}: {detail}",
                                hint="check ANTHROPIC_API_KEY (forge never prints or stores it)", request_id=rid,
                                status=status)
            if status == 403:
                return LLMError(f"the API key may not use this model or endpoint (403){at}: {detail}",
                                hint="check the key's workspace and permissions", request_id=rid, status=status)
            if status == 404:
                return LLMError(f"not found (404){at}: {detail}", hint="check --model / drafting.model "
                                "(and ANTHROPIC_BASE_URL if you use a gateway)", request_id=rid, status=status)
            if status == 429:
                return LLMError(f"rate limited (429){retries}{at}: {detail}",
                                hint="wait a minute and run it again, or use --batch", request_id=rid, status=status)
            if status == 529:
                return LLMError(f"Anthropic is overloaded (529){retries}{at}: {detail}",
                                hint="try again in a few minutes, or use --batch", request_id=rid, status=status)
            if status >= 500:
                return LLMError(f"Anthropic server error ({kind}){retries}{at}: {detail}",
                                hint="try again later", request_id=rid, status=status)
            return LLMError(f"the API refused the request ({kind}){at}: {detail}",
                            hint="check --model and the templates' output", request_id=rid, status=status)
        if isinstance(exc, anthropic.APIConnectionError):
            return LLMError(f"cannot reach {self.base_url}{retries}: {_short(exc.__cause__ or exc)}",
                            hint="check the network (and ANTHROPIC_BASE_URL if you use a gateway)")
        return LLMError(f"the Claude call failed{at}: {type(exc).__name__}: {_short(exc)}",
                        hint="run the command again", request_id=rid)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------------------------------------
# Offline.


class OfflineClient:
    """The deterministic skeleton rendered from the templates: no key, no network, no cost."""

    backend = "offline"

    def generate(self, request: LLMRequest, on_text: OnText | None = None) -> LLMResponse:
        if on_text:
            on_text(request.skeleton)
        return LLMResponse(request.skeleton, None, Usage(), None, "end_turn", 0.0)

    def count_tokens(self, request: LLMRequest) -> int:
        return approx_request_tokens(request)


def approx_request_tokens(request: LLMRequest) -> int:
    texts = [b["text"] for b in request.system] + [m["content"] for m in request.messages]
    return sum(approx_tokens(t) for t in texts)
