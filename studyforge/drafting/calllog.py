"""Every LLM call, logged to SQLite (`.forge/llm-log.db`), as simonw/llm logs its prompts.

One row per call — drafts (any backend), token counts for `--dry-run`, batch results, and failures —
with the week, post, edition, model, the prompt's hash (not the prompt: the notes are the learner's),
input/output/cache-read/cache-write tokens, the estimated cost, the duration, the API's request id and
the outcome. `forge log` lists it. No header, key or environment variable is ever stored.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

COLUMNS = [
    ("time", "TEXT"), ("week", "INTEGER"), ("post", "TEXT"), ("edition", "TEXT"), ("backend", "TEXT"),
    ("model", "TEXT"), ("kind", "TEXT"), ("prompt_hash", "TEXT"), ("input_tokens", "INTEGER"),
    ("output_tokens", "INTEGER"), ("cache_read_tokens", "INTEGER"), ("cache_write_tokens", "INTEGER"),
    ("cost_usd", "REAL"), ("duration_s", "REAL"), ("request_id", "TEXT"), ("outcome", "TEXT"),
    ("error", "TEXT"), ("draft", "TEXT"),
]
NAMES = [name for name, _ in COLUMNS]


class CallLog:
    """`CallLog(ws.forge_dir / "llm-log.db").record(week=1, post="x", outcome="ok", ...)`."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
        conn.execute(f"CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
        return conn

    def record(self, **fields: Any) -> None:
        unknown = set(fields) - set(NAMES)
        if unknown:
            raise ValueError(f"unknown log fields {sorted(unknown)}")
        fields.setdefault("time", dt.datetime.now().astimezone().isoformat(timespec="seconds"))
        names = list(fields)
        with closing(self._connect()) as conn, conn:
            conn.execute(f"INSERT INTO calls ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                         [fields[n] for n in names])

    def rows(self, limit: int | None = None, week: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` calls (all when None), oldest first."""
        if not self.path.exists():
            return []
        query = "SELECT id, " + ", ".join(NAMES) + " FROM calls"
        args: list[Any] = []
        if week is not None:
            query += " WHERE week = ?"
            args.append(week)
        query += " ORDER BY id DESC"
        if limit:
            query += " LIMIT ?"
            args.append(limit)
        try:
            with closing(sqlite3.connect(self.path, timeout=10)) as conn:
                conn.row_factory = sqlite3.Row
                found = [dict(r) for r in conn.execute(query, args)]
        except sqlite3.DatabaseError as exc:
            from studyforge.errors import ForgeError

            raise ForgeError(f"{self.path}: cannot read the call log ({exc})",
                             hint="move the file away; forge starts a new log") from None
        return found[::-1]
