"""The drafting rooms and their doors (issue 14, item 3): no import loops, one home for each shared piece.

Read from the source (ast), as tests/experiments/test_rl_core.py does for the RL core, and checked where it shows:
one selector answers `forge draft` and `forge review` alike; checks and publishing read the same links.
"""

from __future__ import annotations

import ast
from pathlib import Path

from typer.testing import CliRunner

from studyforge.cli.main import app

PACKAGE = Path(__file__).resolve().parents[2] / "studyforge"
DRAFTING = sorted((PACKAGE / "drafting").glob("*.py")) + [PACKAGE / "review.py", PACKAGE / "publishing.py",
                                                            PACKAGE / "status.py"]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _runtime_imports(path: Path) -> set[str]:
    """Modules `path` imports when it runs (at the top or inside a function), not those under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_drafting_has_no_import_loops():
    graph = {_module(p): {m for m in _runtime_imports(p) if m.startswith("studyforge.")} for p in DRAFTING}
    loops = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                loops.append(path[path.index(nxt):] + [nxt])
            elif nxt in graph and len(path) < len(graph):
                visit(nxt, path + [nxt])

    for start in graph:
        visit(start, [start])
    assert loops == [], loops[:3]


def test_pipeline_and_batch_compute_the_cli_renders():
    for name in ("pipeline.py", "batch.py", "finish.py"):
        imports = _runtime_imports(PACKAGE / "drafting" / name)
        assert not {m for m in imports if m == "studyforge.console" or m.split(".")[0] == "rich"}, name


def test_an_llm_request_is_built_from_a_prompt_in_one_place():
    built = [f"{p.name}:{node.lineno}" for p in PACKAGE.rglob("*.py")
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and ast.unparse(node.func) == "LLMRequest"]
    assert built == [], built  # only `cls(...)` inside LLMRequest.from_prompt / from_turn


def test_shared_types_live_with_their_modules():
    from studyforge.drafting.checks import CheckProblem, Checks
    from studyforge.drafting.llm import Usage
    from studyforge.testing import FakeAnthropicAPI, FakeClient

    assert Usage.__module__ == "studyforge.drafting.llm"
    assert CheckProblem.__module__ == Checks.__module__ == "studyforge.drafting.checks"
    assert FakeClient.__module__.startswith("studyforge.testing.")
    assert FakeAnthropicAPI.__module__.startswith("studyforge.testing.")
    assert not (PACKAGE / "drafting" / "fakeapi.py").exists()


def test_prompt_becomes_a_request_with_the_prompts_blocks(ws):
    from studyforge.drafting.context import gather
    from studyforge.drafting.llm import LLMRequest
    from studyforge.drafting.prompts import PromptBuilder

    ctx = gather(ws, 1)
    prompt = PromptBuilder(ws, ctx).build(ctx.week.posts[1], ctx.curriculum.editions[1])
    request = LLMRequest.from_prompt(prompt, "claude-test", 123)
    assert request.params() == {"model": "claude-test", "max_tokens": 123, "system": prompt.system,
                                "messages": prompt.messages}
    assert request.label == "week 1 · ppo-in-practice · manager" and request.skeleton == prompt.skeleton


def test_notices_are_typed_not_matched_by_their_wording(ws):
    from studyforge.drafting.pipeline import DraftOptions, plan_drafts
    from studyforge.notices import Notice

    planned = plan_drafts(ws, DraftOptions(week=1))
    assert all(isinstance(n, Notice) for n in planned.notices)
    assert [n.level for n in planned.notices] == ["info", "warning"]  # offline backend; ppo.ablation not run
    cli = (PACKAGE / "cli" / "review_cmd.py").read_text(encoding="utf-8")
    assert '"force" in' not in cli


def test_one_selector_answers_draft_and_review_alike(ws):
    runner = CliRunner()
    for option in (["--post", "9"], ["--edition", "nope"]):
        said = []
        for command in ("draft", "review"):
            result = runner.invoke(app, ["-C", str(ws.root), command, "week1", *option])
            assert result.exit_code == 2, result.output
            said.append(result.output.strip())
        assert said[0] == said[1], said
    defined = [f"{p.name}:{node.name}" for p in PACKAGE.rglob("*.py")
               for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(node, ast.FunctionDef) and node.name in ("select", "select_post", "select_edition")]
    assert defined == ["selection.py:select"], defined


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
