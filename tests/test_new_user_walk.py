"""The new user's first week, replayed end to end as they would type it (issue 13's acceptance walk).

Every step is the real `forge` program in a subprocess, in a fresh workspace made by `forge init`, with the
user's defaults: no API key (offline drafts), `--wandb auto` (so W&B *offline*, not disabled), umask 022.
init → run (quick) → notes → draft → approve refused (placeholders) → edit → a typed number is caught →
fix → re-draft (a candidate beside the edit) → approve → publish; then the published files' text and modes.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import frontmatter
import pytest

PROSE = """\
# {title}

Value iteration sweeps the Bellman optimality backup over every state until the values stop moving;
policy iteration alternates a full evaluation with a greedy improvement. Both end at the same optimal
policy, which is the point: the backup is a contraction, so the order of the work changes the cost,
never the answer.

![The optimal values]({figure})
"""


def forge(cwd: Path, *args: str, code: int = 0) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WANDB_MODE", "ANTHROPIC_API_KEY", "WANDB_API_KEY", "FORGE_WORKSPACE")}
    env.update(COLUMNS="120", WANDB_SILENT="true")
    proc = subprocess.run([sys.executable, "-m", "studyforge.cli", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=600, preexec_fn=lambda: os.umask(0o022))
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, f"forge {' '.join(args)} exited {proc.returncode}, not {code}:\n{output}"
    assert "Traceback" not in output, output
    return output


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def current_drafts(ws: Path) -> list[Path]:
    return sorted(p for p in (ws / "drafts" / "week01").glob("*.md") if ".v" not in p.name)


@pytest.mark.timeout(900)
def test_a_new_users_first_week(tmp_path):
    ws = tmp_path / "plan"
    forge(tmp_path, "init", str(ws), "--start-date", "2026-11-30")
    assert mode(ws / "curriculum.yaml") == 0o644

    # Monday: run the week's experiments (quick, to see them work) and take notes.
    forge(ws, "run", "week1", "--preset", "quick")
    assert list((ws / "wandb").glob("offline-run-*")), "the default --wandb auto logs offline without a key"
    forge(ws, "notes", "week1")
    notes = ws / "notes" / "week01.md"
    notes.write_text(notes.read_text() + "\nValue iteration needed fewer sweeps than I expected.\n")

    # Thursday: a quick run is not a result to write about, unless the user says so.
    assert "--allow-quick" in forge(ws, "draft", "week1", "--backend", "offline", code=2)
    forge(ws, "draft", "week1", "--backend", "offline", "--allow-quick")
    drafts = current_drafts(ws)
    assert len(drafts) == 4 and all("[TO WRITE" in p.read_text() for p in drafts)

    # A skeleton is not a post: neither approved nor published.
    assert "placeholder" in forge(ws, "review", "week1", "--approve", code=2).lower()
    forge(ws, "publish", "week1", "--format", "jekyll", "--out", "site", code=2)

    # The reviewer writes the posts, keeping a figure the skeleton linked, and slips in a number of their own.
    figures = {}
    for path in drafts:
        post = frontmatter.load(path)
        figure = re.search(r"\]\((figures/[^)\s]+\.png)", post.content)
        assert figure, f"the skeleton {path.name} links no figure"
        figures[path] = figure.group(1)
        post.content = PROSE.format(title=post["title"], figure=figure.group(1)) + \
            "\nOur solver reached 99.99% accuracy and ran 555 times faster.\n"
        path.write_text(frontmatter.dumps(post) + "\n")
    report = forge(ws, "review", "week1")
    assert "99.99%" in report and "555" in report, "review must check the text as it is now"
    forge(ws, "review", "week1", "--approve", code=2)
    for path in drafts:
        path.write_text(path.read_text().replace("\nOur solver reached 99.99% accuracy and ran 555 times faster.\n", ""))

    # Re-drafting writes a candidate beside the edited post; the edited one stays current.
    forge(ws, "draft", "week1", "--backend", "offline", "--allow-quick")
    candidates = sorted((ws / "drafts" / "week01").glob("*.v2.md"))
    assert len(candidates) == 4
    assert "candidate" in forge(ws, "review", "week1").lower()
    forge(ws, "review", "week1", "--approve")
    for path in drafts:
        assert frontmatter.load(path)["status"] == "reviewed"
    for path in candidates:
        assert frontmatter.load(path)["status"] == "draft"

    # Publish: the edited text goes out, readable by a web server, with its figure.
    forge(ws, "publish", "week1", "--format", "jekyll", "--out", "site")
    posts = sorted((ws / "site" / "_posts").glob("*.md"))
    assert len(posts) == 4
    for post in posts:
        text = post.read_text()
        assert "the backup is a contraction" in text
        assert "[TO WRITE" not in text and "99.99" not in text
        assert mode(post) == 0o644
    copied = [p for p in (ws / "site").rglob("*.png")]
    assert copied and all(mode(p) == 0o644 for p in copied)
    status = json.loads(forge(ws, "status", "--json", "--today", "2026-12-03"))
    assert status["weeks"][0]["state"] == "published" and status["posts"]["published"] == 2
