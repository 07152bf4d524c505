"""The drafting rooms and their doors (issue 14, item 3): one home for each shared piece.

Read from the source (ast), as tests/test_rl_core.py does for the RL core, and checked where it shows:
checks and publishing read the same links.
"""

from __future__ import annotations

import ast
from pathlib import Path

import test_drafting

ws = test_drafting.ws  # the fixture: the mini plan, week 1's notes and one completed run
PACKAGE = Path(__file__).resolve().parents[1] / "studyforge"


def test_test_doubles_live_in_studyforge_testing():
    from studyforge.testing import FakeAnthropicAPI, FakeClient

    assert FakeClient.__module__.startswith("studyforge.testing.")
    assert FakeAnthropicAPI.__module__.startswith("studyforge.testing.")
    assert not (PACKAGE / "drafting" / "fakeapi.py").exists()


def test_markdown_links_are_read_in_one_place():
    patterns = [f"{p.relative_to(PACKAGE)}:{node.lineno}" for p in PACKAGE.rglob("*.py")
                if p.name != "markdown.py" and "experiments" not in p.parts
                for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
                and ("\\]\\(" in node.value or "<img\\b" in node.value)]
    assert patterns == [], patterns


def test_checks_and_publishing_read_the_same_figure_links(ws, tmp_path):
    """An image in a code block is no figure to either; a bracket in alt text does not hide one from either."""
    from studyforge.drafting.drafts import read_draft
    from studyforge.drafting.pipeline import DraftOptions, run_draft
    from studyforge.publishing import publish
    from studyforge.review import approve, review
    from studyforge.testing import FakeClient

    figure = "figures/20261130-100000-s0-abcd/returns.png"
    body = (f"# PPO Explained\n\nPPO reached 487.3.\n\n![Figure [1]: returns]({figure})\n\n"
            "```markdown\n![an example](not-a-file.png)\n```\n")
    (outcome,) = run_draft(ws, DraftOptions(week=1, post="1", edition="scientist"), FakeClient([body]))
    assert read_draft(outcome.path).meta.checks.problems == []
    approve(ws, review(ws, 1, "1", "scientist"))
    (output,), _ = publish(ws, 1, "markdown", tmp_path / "site")
    assert [dest.name for _, dest in output.figures] == ["returns.png"]
    text = output.layout.post_file.read_text()
    assert "![Figure [1]: returns](ppo-explained-scientist/returns.png)" in text
    assert "![an example](not-a-file.png)" in text  # code is left as it is


def test_markdown_link_reader_known_answers():
    import doctest

    from studyforge.drafting import markdown
    from studyforge.drafting.markdown import find_links

    assert doctest.testmod(markdown).failed == 0
    body = ('<!-- ![old](a.png) -->\n![A [nested] alt](b.png "t")\n~~~\n[c](c.md)\n~~~\n'
            '<img width=3 src = "d e.png">\n[f](<f.md>)')
    assert [(link.target, link.line, link.image) for link in find_links(body)] == [
        ("b.png", 2, True), ("d e.png", 6, True), ("f.md", 7, False)]
