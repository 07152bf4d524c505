"""Files forge writes get a new file's usual mode (0666 less the umask), so a web server can serve them.

Atomic writes (`tracking/io.py`, used by every command that writes: here `forge init` and `forge publish` too)
go through a temporary file; `tempfile.mkstemp` makes that 0600, and the published site then
answered 403. Each test runs under the default umask 022 (-> 0644) and a private 077 (-> 0600).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from studyforge.cli.main import app
from studyforge.drafting.drafts import DraftMeta, write_new_draft
from studyforge.tracking.io import copy_file_atomic, write_bytes_atomic, write_json_atomic, write_text_atomic
from studyforge.workspace import Workspace

runner = CliRunner()


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_atomic_writes_get_the_usual_mode(tmp_path, umask):
    expected = 0o666 & ~umask
    write_text_atomic(tmp_path / "new" / "post.md", "text")
    write_bytes_atomic(tmp_path / "new" / "figure.png", b"\x89PNG")
    write_json_atomic(tmp_path / "new" / "run.json", {"a": 1})
    source = tmp_path / "source.png"
    source.write_bytes(b"png")
    source.chmod(0o600)  # a copy gets a new file's mode, not its source's
    copy_file_atomic(source, tmp_path / "new" / "copy.png")
    assert {p.name: oct(_mode(p)) for p in _files(tmp_path / "new")} == {
        name: oct(expected) for name in ("copy.png", "figure.png", "post.md", "run.json")}
    assert (tmp_path / "new" / "copy.png").read_bytes() == b"png"


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "notes.md"
    path.write_text("old")
    path.chmod(0o640)
    write_text_atomic(path, "new")
    assert path.read_text() == "new" and _mode(path) == 0o640
    path.chmod(0o604)
    write_bytes_atomic(path, b"newer")
    assert path.read_bytes() == b"newer" and _mode(path) == 0o604
    assert [p.name for p in tmp_path.iterdir()] == ["notes.md"]  # no temporary file left behind


def test_forge_init_writes_readable_files(tmp_path, umask):
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--start-date", "2026-11-30"])
    assert result.exit_code == 0, result.output
    files = _files(tmp_path / "ws")
    assert len(files) > 5 and (tmp_path / "ws" / "curriculum.yaml") in files
    assert {p.relative_to(tmp_path): oct(_mode(p)) for p in files} == {
        p.relative_to(tmp_path): oct(0o666 & ~umask) for p in files}


def test_drafts_published_posts_and_figures_are_readable(mini_workspace, umask):
    ws = Workspace(mini_workspace)
    figures = ws.drafts_dir / "week01" / "figures"
    figures.mkdir(parents=True)
    (figures / "values.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (figures / "values.png").chmod(0o600)  # publish copies the bytes into a file of its own
    meta = DraftMeta(title="Toy Post", week=1, post="toy-post", edition="scientist", status="reviewed",
                     created=dt.datetime(2026, 12, 1, 9), body_hash="-")
    write_new_draft(ws.drafts_dir, ws.forge_dir, meta, "# Toy Post\n\nPlain words.\n\n![The values](figures/values.png)\n")
    (draft,) = (ws.drafts_dir / "week01").glob("toy-post.*.md")
    assert _mode(draft) == 0o666 & ~umask
    out = mini_workspace / "site"
    result = runner.invoke(app, ["publish", "week1", "--format", "hugo", "--out", str(out), "--date", "2026-12-03"])
    assert result.exit_code == 0, result.output
    written = _files(out)
    assert any(p.suffix == ".md" for p in written) and any(p.suffix == ".png" for p in written)
    assert {p.relative_to(out): oct(_mode(p)) for p in written} == {
        p.relative_to(out): oct(0o666 & ~umask) for p in written}
