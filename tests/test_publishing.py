"""`forge publish` (`publishing.py`): each format's conventions, figures that resolve, idempotent re-publishing, refusals."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner
from workspaces import THURSDAY, draft_with, forge, loop_workspace

from studyforge.cli.main import app
from studyforge.drafting.drafts import DraftMeta, read_draft, save, write_new_draft
from studyforge.publishing import summary_of
from studyforge.workspace import Workspace

runner = CliRunner()

# Not a real PNG: publishing copies bytes and never decodes them.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))

BODY = """\
# Toy Post

An **MDP** is a [model](https://example.org/mdp) of sequential choice; value iteration solves it in 12 sweeps.

![The optimal values](figures/values.png "V*")

$$V^*(s) = \\max_a \\sum_{s'} p(s' \\mid s, a)\\,[r + \\gamma V^*(s')]$$

<img src="figures/curve.png" width="400">

An outside image stays as it is: ![logo](https://example.org/logo.png)
"""


def _reviewed(ws: Workspace, edition: str, body: str = BODY, status: str = "reviewed", **extra) -> Path:
    meta = DraftMeta(title="Toy Post", week=1, post="toy-post", edition=edition, status=status,
                     created=dt.datetime(2026, 12, 1, 9), body_hash="-", **extra)
    return write_new_draft(ws.drafts_dir, ws.forge_dir, meta, body).path


@pytest.fixture
def ws(mini_workspace) -> Workspace:
    ws = Workspace(mini_workspace)
    figures = ws.drafts_dir / "week01" / "figures"
    figures.mkdir(parents=True)
    (figures / "values.png").write_bytes(PNG)
    (figures / "curve.png").write_bytes(PNG[::-1])
    _reviewed(ws, "scientist")
    _reviewed(ws, "manager", "Plain words, no maths.\n\n![The optimal values](figures/values.png)\n",
              tags=["decisions"], summary="What an MDP means for a team.")
    return ws


def _split(path: Path) -> tuple[dict, str]:
    """(front matter, body) of a published file, parsed independently of studyforge."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    assert match, f"{path} has no front matter"
    return yaml.safe_load(match.group(1)), match.group(2).lstrip("\n")


def _image_targets(body: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)", body) + re.findall(r'<img[^>]*src="([^"]+)"', body)


def _local_figures_resolve(out: Path, post: Path, body: str) -> int:
    """Every local image link resolves to a copied file with the source's bytes; returns how many."""
    count = 0
    for target in _image_targets(body):
        if target.startswith("https://"):
            continue
        path = out / target.lstrip("/") if target.startswith("/") else post.parent / target
        assert path.is_file(), f"{target} in {post} does not resolve"
        assert path.read_bytes() in (PNG, PNG[::-1])
        count += 1
    return count


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file()}


DATE = dt.date(2026, 12, 3)


@pytest.mark.parametrize("fmt", ["hugo", "jekyll", "quarto", "markdown"])
def test_publish_each_format(ws, fmt):
    out = ws.root.parent / f"site-{fmt}"
    result = runner.invoke(app, ["publish", "week1", "--format", fmt, "--out", str(out), "--date", "2026-12-03"])
    assert result.exit_code == 0, result.output
    sci = {
        "hugo": out / "content/posts/toy-post-scientist/index.md",
        "jekyll": out / "_posts/2026-12-03-toy-post-scientist.md",
        "quarto": out / "posts/toy-post-scientist/index.qmd",
        "markdown": out / "toy-post-scientist.md",
    }[fmt]
    mgr = Path(str(sci).replace("scientist", "manager"))
    assert sci.is_file() and mgr.is_file()
    if fmt == "markdown":
        text = sci.read_text()
        assert text.startswith("# Toy Post\n\n*Scientist edition · 2026-12-03*\n\n")
        body = text
    else:
        meta, body = _split(sci)
        mgr_meta, _ = _split(mgr)
        assert meta["title"] == "Toy Post" and meta["date"] == DATE
        if fmt == "hugo":
            assert meta["draft"] is False and meta["math"] is True and mgr_meta["math"] is False
            assert meta["categories"] == ["scientist"] and mgr_meta["categories"] == ["manager"]  # as Jekyll's
            assert meta["tags"] == ["Toy week", "Foundations"] and mgr_meta["tags"] == ["decisions"]
            assert meta["summary"] == ("An MDP is a model of sequential choice; value iteration solves it in "
                                       "12 sweeps.")
            assert mgr_meta["summary"] == "What an MDP means for a team."
        elif fmt == "jekyll":
            assert meta["layout"] == "post" and meta["categories"] == ["scientist"] and meta["math"] is True
            assert mgr_meta["categories"] == ["manager"] and "math" not in mgr_meta
            assert meta["tags"] == ["Toy week", "Foundations"]
        else:
            assert meta["description"].startswith("An MDP is a model")
            assert meta["categories"] == ["scientist", "Toy week", "Foundations"]
            assert mgr_meta["categories"] == ["manager", "decisions"]
    assert "# Toy Post" not in body.replace("# Toy Post\n\n*", "", 1)  # the title is not repeated
    assert "value iteration solves it in 12 sweeps" in body
    assert _local_figures_resolve(out, sci, body) == 2
    assert "https://example.org/logo.png" in body
    assert _local_figures_resolve(out, mgr, mgr.read_text()) == 1
    for edition in ("scientist", "manager"):
        draft = read_draft(ws.drafts_dir / "week01" / f"toy-post.{edition}.md")
        assert draft.meta.status == "published" and draft.meta.published == DATE


def test_republishing_is_idempotent(ws):
    out = ws.root.parent / "blog"
    args = ["publish", "1", "--format", "hugo", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    first = _tree(out)
    drafts_before = {p: p.read_bytes() for p in (ws.drafts_dir / "week01").glob("*.md")}
    published = read_draft(next(iter(drafts_before))).meta.published
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "unchanged" in again.output
    assert _tree(out) == first  # same files, same bytes, not even rewritten
    assert {p: p.read_bytes() for p in drafts_before} == drafts_before
    assert read_draft(next(iter(drafts_before))).meta.published == published


def test_a_reviewer_edit_after_publishing_is_republished_under_the_same_date(ws):
    out = ws.root.parent / "blog"
    args = ["publish", "1", "--format", "jekyll", "--out", str(out), "--date", "2026-12-03"]
    assert runner.invoke(app, args).exit_code == 0
    path = ws.drafts_dir / "week01" / "toy-post.scientist.md"
    path.write_text(path.read_text().replace("12 sweeps", "eleven sweeps"))
    assert runner.invoke(app, args[:-2]).exit_code == 0  # no --date: the first publication's date is kept
    post = out / "_posts" / "2026-12-03-toy-post-scientist.md"
    assert "eleven sweeps" in post.read_text()
    moved = runner.invoke(app, [*args[:-2], "--date", "2026-12-05"])
    assert moved.exit_code == 0
    assert not post.exists() and (out / "_posts" / "2026-12-05-toy-post-scientist.md").exists()
    assert read_draft(path).meta.published == dt.date(2026, 12, 5)


def test_only_reviewed_versions_are_published(ws):
    path = ws.drafts_dir / "week01" / "toy-post.scientist.md"
    path.write_text(path.read_text().replace("12 sweeps", "12 sweeps (edited)"))
    _reviewed(ws, "scientist", "A newer draft, not reviewed.\n", status="draft")  # goes beside it as v2
    assert (ws.drafts_dir / "week01" / "toy-post.scientist.v2.md").exists()
    out = ws.root.parent / "md"
    result = runner.invoke(app, ["publish", "1", "--format", "markdown", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "toy-post.scientist.v2.md is not reviewed yet" in result.output
    assert "12 sweeps (edited)" in (out / "toy-post-scientist.md").read_text()
    assert read_draft(ws.drafts_dir / "week01" / "toy-post.scientist.v2.md").meta.status == "draft"


@pytest.mark.parametrize("args, message", [
    (["--format", "wordpress", "--out", "site"], "unknown format 'wordpress'"),
    (["--format", "hugo", "--out", "drafts/site"], "is inside the workspace's drafts/ folder"),
    (["--format", "hugo", "--out", ".forge"], "is inside the workspace's .forge/ folder"),
    (["--format", "hugo", "--out", "notes/x/y"], "is inside the workspace's notes/ folder"),
    (["--format", "hugo", "--out", "site", "--date", "3 Dec"], "--date '3 Dec' is not a date"),
])
def test_publish_bad_input_writes_nothing(ws, args, message):
    before = _tree(ws.root)
    result = runner.invoke(app, ["publish", "1", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _tree(ws.root) == before


def test_publish_refuses_a_week_without_reviewed_drafts_and_missing_figures(ws):
    for path in (ws.drafts_dir / "week01").glob("*.md"):
        draft = read_draft(path)
        draft.meta.status = "draft"
        save(draft)
    before = _tree(ws.root)
    result = runner.invoke(app, ["publish", "1", "--format", "hugo", "--out", "site"])
    assert result.exit_code == 2 and "week 1 has no reviewed drafts" in result.output
    result = runner.invoke(app, ["publish", "2", "--format", "hugo", "--out", "site"])
    assert result.exit_code == 2 and "week 2 has no reviewed drafts" in result.output

    sci = ws.drafts_dir / "week01" / "toy-post.scientist.md"
    draft = read_draft(sci)
    draft.meta.status = "reviewed"
    save(draft)
    (ws.drafts_dir / "week01" / "figures" / "curve.png").unlink()
    before = _tree(ws.root)
    result = runner.invoke(app, ["publish", "1", "--format", "hugo", "--out", "site"])
    line = next(i for i, text in enumerate(sci.read_text().splitlines(), 1) if "figures/curve.png" in text)
    assert line > 9  # the front matter's lines count too
    assert result.exit_code == 2
    assert f"drafts/week01/toy-post.scientist.md:{line}: figure 'figures/curve.png' not found" in result.output
    assert _tree(ws.root) == before and not (ws.root / "site").exists()


def test_summary_known_answers():
    assert summary_of("## Intro\n\nFirst *real* paragraph,\nover two lines.\n\nSecond.") == \
        "First real paragraph, over two lines."
    assert summary_of("```python\nx = 1\n```\n\n- a list\n\nProse.") == "Prose."
    long = " ".join(["word"] * 100)
    cut = summary_of(long, limit=50)
    assert len(cut) <= 50 and cut.endswith("word…")


def test_jekyll_keeps_latex_braces_away_from_liquid(mini_workspace):
    ws = Workspace(mini_workspace)
    _reviewed(ws, "scientist", "The ratio $\\frac{{\\pi_\\theta}}{\\pi_{old}}$ is clipped.\n")
    out = ws.root.parent / "jekyll"
    assert runner.invoke(app, ["publish", "1", "--format", "jekyll", "--out", str(out)]).exit_code == 0
    (post,) = (out / "_posts").glob("*-toy-post-scientist.md")
    _, body = _split(post)
    assert body.startswith("{% raw %}\n") and body.rstrip().endswith("{% endraw %}")
    assert "$\\frac{{\\pi_\\theta}}{\\pi_{old}}$" in body


def test_hugo_and_jekyll_use_the_same_categories(tmp_path):
    ws = loop_workspace(tmp_path)  # the loop plan: the publish tests above use the mini plan
    for edition in ("scientist", "manager"):
        draft_with(ws, edition, "# PPO Explained\n\nA return of 487.3.\n")
    assert forge(ws, "review", "1", "--approve").exit_code == 0
    categories = {}
    for fmt, pattern in (("hugo", "content/posts/*/index.md"), ("jekyll", "_posts/*.md")):
        site = ws.root / f"site-{fmt}"
        assert forge(ws, "publish", "1", "--format", fmt, "--out", str(site), "--date", THURSDAY).exit_code == 0
        for post in sorted(site.glob(pattern)):
            head = yaml.safe_load(post.read_text().split("---\n")[1])
            categories.setdefault(fmt, []).append(head["categories"])
    assert categories["hugo"] == categories["jekyll"] and len(categories["hugo"]) == 2
