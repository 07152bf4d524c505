"""Grounding checks: which numbers, figures and citations in a draft are true — known cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studyforge.drafting.checks import (
    Grounding,
    check_draft,
    find_citations,
    mask_non_prose,
    read_numbers,
    shift_lines,
)


def grounding(*values: float, notes: str = "", papers=(("Schulman et al. Proximal Policy Optimization", 2017,
                                                          "1707.06347"),)) -> Grounding:
    g = Grounding()
    for v in values:
        g.add(v, "fact")
    g.add_text(notes, "notes")
    g.notes_text = notes
    g.papers = list(papers)
    return g


@pytest.mark.parametrize("fact, text, ok", [
    (0.7389, "0.7389", True),
    (0.7389, "0.74", True),           # rounded, as shown
    (0.7389, "0.7", True),
    (0.7389, "73.9%", True),          # a fraction shown as a percentage
    (0.7389, "74%", True),
    (0.7389, "0.75", False),          # not what 0.7389 rounds to
    (0.7389, "73.8%", False),
    (73.9, "73.9%", True),            # a fact already in percent
    (662, "662", True),
    (662, "660", False),              # unhedged: exact to the digit shown
    (662, "about 660", True),         # hedged: as precise as its last non-zero digit
    (662, "over 600", True),          # 600 ≤ 662 < 700
    (662, "over 700", False),
    (0.5527, "under 1", True),
    (12345, "12,345", True),
    (12345, "12,346", False),
    (1e-10, "1e-10", True),
    (1e-06, "10^-6", True),
    (1e-06, "10^{-6}", True),
    (0.0015, "1.5×10^-3", True),
    (-14.0, "−14", True),             # unicode minus
    (-14.0, "14", True),              # "14 steps" for a value of −14
    (487.3, "487", True),
])
def test_numbers_match_within_the_precision_shown(fact, text, ok, tmp_path):
    checks = check_draft(f"The run gave {text} here.\n", grounding(fact), tmp_path)
    assert checks.numbers_checked == 1
    assert (checks.problems == []) == ok, checks.problems


def test_numbers_outside_prose_are_skipped(tmp_path):
    body = """# 1. Intro

## 2.3 The maths

Inline $V(s) = 0.93 + \\gamma$ and display:

$$
V^* = \\max_a 17.5
$$

```python
theta = 1e-99
```

Call `solve(steps=4242)`, see [the 8x8 plot](figures/run-31337/plot_9.png) and <https://x.org/7777>.
1. A list item whose marker is not a number claim
2. and 2026-11-30 is a date, arXiv:1707.06347 an id, [^3] a footnote, GPT-4 a name, Figure 2 a part.
<!-- 555 is a comment -->
"""
    masked = mask_non_prose(body)
    assert [n.text for n in read_numbers(masked)] == ["8"]  # only "8x8" is prose (and "x8" is a word)
    checks = check_draft(body, grounding(8), tmp_path)
    assert checks.numbers_checked == 1
    assert [p.kind for p in checks.problems] == ["other"]  # the linked figure does not exist


def test_figures_must_exist_relative_to_the_draft(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"png")
    body = "![ok](figures/a.png)\n\n![missing](figures/b.png)\n\n![web](https://example.org/c.png)\n"
    problems = check_draft(body, grounding(), tmp_path).problems
    assert [(p.kind, p.line, p.message) for p in problems] == [
        ("figure", 3, "figure figures/b.png (line 3) does not exist")]


def test_citations_must_be_the_weeks_papers_or_in_the_notes(tmp_path):
    body = ("Schulman et al. (2017) introduced clipping (arXiv:1707.06347).\n"
            "Mnih et al. (2015) played Atari; see also arXiv:1312.5602.\n"
            "Bellman (1957) named dynamic programming.\n"
            "In (2020) nothing is cited, and Sutton & Barto (2018) is not in this week's list.\n")
    g = grounding(notes="I read Bellman's 1957 book.")
    problems = check_draft(body, g, tmp_path).problems
    assert [(p.kind, p.line, p.text) for p in problems] == [
        ("citation", 2, "1312.5602"), ("citation", 2, "Mnih et al. (2015)"),
        ("number", 4, "2020"), ("citation", 4, "Sutton & Barto (2018)")]
    assert problems[1].message == "Mnih et al. (2015) (line 2) is not among the week's papers or the notes"


def test_find_citations_forms():
    text = "(Schulman et al., 2017) and Kudo & Richardson (2018); Figure (2019) and Week 3 are not citations."
    assert [(c.first_author, c.year) for c in find_citations(text)] == [("Schulman", 2017), ("Kudo", 2018)]


def test_result_placeholders_are_problems_and_lines_shift(tmp_path):
    checks = check_draft("Intro.\n\nThe return was [RESULT: final return].\n", grounding(), tmp_path)
    assert [(p.line, p.message) for p in checks.problems] == [
        (3, "[RESULT: final return] (line 3) needs a measured number")]
    moved = shift_lines(checks, 40)
    assert [(p.line, p.message) for p in moved.problems] == [
        (43, "[RESULT: final return] (line 43) needs a measured number")]


@settings(max_examples=200, deadline=None)
@given(value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
       decimals=st.integers(min_value=0, max_value=4))
def test_property_a_fact_rounded_any_way_matches_and_a_shifted_one_does_not(value, decimals):
    g = grounding(value)
    shown = f"{value:,.{decimals}f}"
    assert g.match(read_numbers(f"x {shown} y")[0]) is not None
    as_percent = f"{value * 100:.{decimals}f}%"
    assert g.match(read_numbers(f"x {as_percent} y")[0]) is not None
    # the same digits, moved by three units of the last place shown, are not this fact
    off = round(value, decimals) + 3 * 10.0 ** -decimals * (1 if value >= 0 else -1)
    wrong = read_numbers(f"x {off:.{decimals}f} y")[0]
    assert g.match(wrong) is None


def test_docstring_examples_hold():
    import doctest

    from studyforge.drafting import checks, context, facts, pricing

    for module in (checks, context, facts, pricing):
        assert doctest.testmod(module).failed == 0, module.__name__
