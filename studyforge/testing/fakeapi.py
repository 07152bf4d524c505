"""A fake of the Messages API, in process, for the tests and the benchmark: never the network.

It speaks the wire format the official SDK expects, so the real `AnthropicClient` runs unchanged:

    api = FakeAnthropicAPI(replies=["# Title\\n\\nBody."])
    sdk_client = httpx2.Client(transport=api.transport())        # in process, via httpx2.MockTransport
    with api.serve() as base_url: ...                            # or a real HTTP server on 127.0.0.1

- `POST /v1/messages` streams server-sent events (message_start, text deltas, message_stop) or returns
  one JSON message; queued `failures` come first (e.g. a 429, then success); `break_after=N` cuts
  the stream after N characters of text, as a dropped connection would.
- Prompt caching is simulated the way the API documents it: each `cache_control` breakpoint caches
  the prefix up to it (at least `min_cache_tokens` long); a later request with the same prefix reads
  it (`cache_read_input_tokens`) and writes only the rest (`cache_creation_input_tokens`).
- `POST /v1/messages/count_tokens`, and the Message Batches endpoints (create, retrieve, results).

Token counts are `pricing.approx_tokens` estimates; every request body is kept in `requests`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from studyforge.drafting.pricing import approx_tokens

DEFAULT_REPLY = "# A drafted post\n\nThis reply came from the fake Messages API.\n"


@dataclass
class FakeResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    break_at: int | None = None  # send only this many bytes, then drop the connection


@dataclass
class FakeAnthropicAPI:
    replies: list[str] = field(default_factory=list)
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (status, error type, message), in order
    break_after: int | None = None  # characters of text after which the next stream is cut
    min_cache_tokens: int = 1024
    polls_until_end: int = 1  # batch retrievals that still answer "in_progress"
    model: str | None = None  # reported model (default: the requested one)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    _cache: set[str] = field(default_factory=set)
    _batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- adapters --------------------------------------------------------------------------------
    def transport(self):
        """An `httpx2.MockTransport` answering like the API (pass it in `httpx2.Client(transport=...)`)."""
        import httpx2

        def handler(request: httpx2.Request) -> httpx2.Response:
            resp = self.handle(request.method, request.url.path, dict(request.headers), request.read(),
                               f"{request.url.scheme}://{request.url.netloc.decode()}")
            if resp.break_at is None:
                return httpx2.Response(resp.status, headers=resp.headers, content=resp.body)

            def cut() -> Iterator[bytes]:
                yield resp.body[: resp.break_at]
                raise httpx2.ReadError("connection reset by peer (fake API)")

            return httpx2.Response(resp.status, headers=resp.headers, content=cut())

        return httpx2.MockTransport(handler)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A real HTTP server on 127.0.0.1 (a free port) for the duration; yields its base URL."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                host = f"http://{self.headers.get('host')}"
                resp = api.handle(self.command, self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()},
                                  body, host)
                self.send_response(resp.status)
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(resp.body)))
                if resp.break_at is not None:
                    self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(resp.body if resp.break_at is None else resp.body[: resp.break_at])
                self.wfile.flush()
                if resp.break_at is not None:
                    self.close_connection = True

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:  # quiet
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    # -- the API -----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes, base: str) -> FakeResponse:
        with self._lock:
            self._ids += 1
            rid = f"req_fake_{self._ids:04d}"
            self.headers_seen.append({k.lower(): v for k, v in headers.items()})
            data = json.loads(body) if body else {}
            self.requests.append({"method": method, "path": path, "body": data})
            if self.failures and method == "POST" and path.startswith("/v1/messages"):
                status, kind, message = self.failures.pop(0)
                return _json(status, {"type": "error", "error": {"type": kind, "message": message}}, rid,
                             {"retry-after-ms": "1"})
            if method == "POST" and path == "/v1/messages/count_tokens":
                return _json(200, {"input_tokens": self._tokens(data)[0]}, rid)
            if method == "POST" and path == "/v1/messages":
                return self._message(data, rid)
            if method == "POST" and path == "/v1/messages/batches":
                return self._create_batch(data, rid)
            if method == "GET" and path.startswith("/v1/messages/batches/"):
                parts = path.strip("/").split("/")
                if len(parts) == 5 and parts[4] == "results":
                    return self._batch_results(parts[3], rid)
                return self._retrieve_batch(parts[3], rid, base)
            return _json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}}, rid)

    def _tokens(self, data: dict[str, Any]) -> tuple[int, list[tuple[str, int]]]:
        """(total input tokens, [(prefix hash, prefix tokens) at each cache breakpoint])."""
        blocks: list[dict[str, Any]] = []
        system = data.get("system") or []
        blocks += [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
        for message in data.get("messages", []):
            content = message["content"]
            blocks += [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        digest = hashlib.sha256(str(data.get("model")).encode())
        total, marks = 0, []
        for block in blocks:
            text = block.get("text", "")
            total += approx_tokens(text)
            digest.update(text.encode() + b"\0")
            if block.get("cache_control"):
                marks.append((digest.hexdigest(), total))
        return total, marks

    def _usage(self, data: dict[str, Any]) -> dict[str, int]:
        total, marks = self._tokens(data)
        read = max((n for h, n in marks if h in self._cache), default=0)
        cacheable = [(h, n) for h, n in marks if n >= self.min_cache_tokens]
        write = max((n for _, n in cacheable), default=0)
        write = max(0, write - read)
        self._cache.update(h for h, _ in cacheable)
        return {"input_tokens": total - read - write, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write}

    def _next_reply(self) -> str:
        return self.replies.pop(0) if self.replies else DEFAULT_REPLY

    def _message_json(self, data: dict[str, Any], text: str, mid: str) -> dict[str, Any]:
        usage = {**self._usage(data), "output_tokens": approx_tokens(text)}
        return {"id": mid, "type": "message", "role": "assistant", "model": self.model or data.get("model"),
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": usage}

    def _message(self, data: dict[str, Any], rid: str) -> FakeResponse:
        text = self._next_reply()
        message = self._message_json(data, text, f"msg_{rid}")
        if not data.get("stream"):
            return _json(200, message, rid)
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**message["usage"], "output_tokens": 1}}
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("ping", {"type": "ping"}),
        ]
        for i in range(0, len(text), 24):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": text[i:i + 24]}}))
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": message["usage"]["output_tokens"]}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        body, break_at, sent = b"", None, 0
        for name, payload in events:
            chunk = f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()
            if self.break_after is not None and break_at is None and name == "content_block_delta":
                sent += len(payload["delta"]["text"])
                if sent > self.break_after:
                    break_at = len(body)  # cut before this delta: the client saw `sent - 24` characters
            body += chunk
        if break_at is not None:
            self.break_after = None
        return FakeResponse(200, {"content-type": "text/event-stream", "request-id": rid}, body, break_at)

    def _create_batch(self, data: dict[str, Any], rid: str) -> FakeResponse:
        batch_id = f"msgbatch_fake{len(self._batches) + 1:03d}"
        self._batches[batch_id] = {"requests": data["requests"], "polls": 0, "results": None}
        return _json(200, self._batch_json(batch_id, None), rid)

    def _batch_json(self, batch_id: str, base: str | None) -> dict[str, Any]:
        b = self._batches[batch_id]
        n = len(b["requests"])
        ended = b["results"] is not None
        return {"id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0, "errored": 0,
                                   "canceled": 0, "expired": 0},
                "created_at": "2026-11-26T10:00:00Z", "expires_at": "2026-11-27T10:00:00Z",
                "ended_at": "2026-11-26T10:05:00Z" if ended else None,
                "results_url": f"{base}/v1/messages/batches/{batch_id}/results" if ended and base else None}

    def _retrieve_batch(self, batch_id: str, rid: str, base: str) -> FakeResponse:
        if batch_id not in self._batches:
            return _json(404, {"type": "error", "error": {"type": "not_found_error", "message": batch_id}}, rid)
        b = self._batches[batch_id]
        b["polls"] += 1
        if b["results"] is None and b["polls"] > self.polls_until_end:
            b["results"] = [{"custom_id": r["custom_id"], "result": {
                "type": "succeeded", "message": self._message_json(r["params"], self._next_reply(),
                                                                   f"msg_{batch_id}_{i}")}}
                for i, r in enumerate(b["requests"])]
        return _json(200, self._batch_json(batch_id, base), rid)

    def _batch_results(self, batch_id: str, rid: str) -> FakeResponse:
        results = self._batches[batch_id]["results"] or []
        body = "".join(json.dumps(r) + "\n" for r in results).encode()
        return FakeResponse(200, {"content-type": "application/binary", "request-id": rid}, body)


def _json(status: int, data: dict[str, Any], rid: str, extra: dict[str, str] | None = None) -> FakeResponse:
    return FakeResponse(status, {"content-type": "application/json", "request-id": rid, **(extra or {})},
                        json.dumps(data).encode())
