"""Atomic file writes: a reader (or a crash) never sees half a file, and a failed write leaves the old one.

Every file studyforge writes goes through here, so every file gets the mode a plain `open(path, "w")`
would give it: 0666 less the user's umask (0644 under the usual 022), which a web server can read. A file
that is replaced keeps its own mode (a learner's `chmod 600 notes/week04.md` survives `forge` rewriting it).
The temporary file is created with `os.open(..., 0o666)`, so the kernel applies the umask (and a folder's
default ACL) itself: the umask is never read or changed, which would race with other threads.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        keep = stat.S_IMODE(os.stat(path).st_mode)  # replacing a file: keep its mode
    except FileNotFoundError:
        keep = None
    fd, tmp = _create_temporary(path)
    try:
        if keep is not None:
            os.chmod(tmp, keep)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def copy_file_atomic(source: Path, dest: Path) -> None:
    """Copy `source`'s bytes to `dest` (atomically, with a new file's usual mode, not `source`'s)."""
    write_bytes_atomic(dest, Path(source).read_bytes())


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, empty `.<name>.<random>.tmp` beside `path`, open for writing, mode 0666 less the umask.

    `tempfile.mkstemp` would create it 0600 (fine for a secret, wrong for a post a web server serves).
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    """numpy / torch scalars and arrays, paths and dates as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def to_jsonable(data: Any) -> Any:
    """Round-trip `data` through JSON so what is kept in memory equals what is on disk."""
    return json.loads(json.dumps(data, default=_jsonable))
