"""Grounding checks: every number, figure and citation in a draft must come from somewhere true.

After every draft, before a human reads it:

- **numbers** — every number in the prose (integers, decimals, percentages, `1,234`, `1e-6`, `10^-6`,
  `1.5×10^-3`) must match a fact within the precision it is shown with (0.7389 matches "0.74", "73.9%",
  "0.7"; 662 matches "662" but not "660"), a table cell or figure caption of the runs, a number in the
  learner's notes, or one in the week's curriculum entry (paper years, week numbers, "4x4"). "about 600"
  widens the tolerance to the rounding the text implies; "over 600" holds for 600 ≤ v < 700. Numbers in
  code, LaTeX maths, HTML comments, link targets and image paths, heading numbering ("## 2.1 ..."),
  list markers, footnote markers, dates, arXiv ids, names like GPT-4 and the post's own "Figure 2",
  "Table 1", "Step 3" are not claims and are skipped.
- **figures** — every image linked must exist, relative to the draft (and so should linked drafts);
- **citations** — every arXiv id and every "Author et al. (YEAR)", "Author & Author (YEAR)" or
  "Author (YEAR)" must be one of the week's core papers or appear in the notes;
- **placeholders** — a `[TO WRITE…]` or `[RESULT: …]` left in the prose (outside code) is a problem
  that only replacing it resolves: a `resolved: true` mark does not count, and `forge publish` refuses it.

`finish.recheck` runs them again on a draft as it is now (`forge review`), keeping the reviewer's marks,
and `finish.place_checks` moves them to lines of the draft file. Links are read by markdown.py, as
`forge publish` reads them.

Each problem reads like "73.9% (line 41) matches no fact": line numbers are the body's plus `line_offset`
(the pipeline passes the front matter's length, so they are lines of the draft file).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from studyforge.drafting.markdown import LINK_TARGET, blank_fenced_code, find_links

if TYPE_CHECKING:
    from studyforge.drafting.context import DraftContext


class CheckProblem(BaseModel):
    """One grounding problem, e.g. line 41: '73.9%' matches no fact."""

    kind: Literal["number", "figure", "citation", "placeholder", "other"]
    line: int
    text: str
    message: str
    resolved: bool = False


class Checks(BaseModel):
    """What the checks found in a draft, kept in its front matter (lines are lines of the draft file)."""

    checked_at: dt.datetime | None = None
    numbers_checked: int = 0
    problems: list[CheckProblem] = Field(default_factory=list)

    @property
    def unresolved(self) -> int:
        return sum(not p.resolved for p in self.problems)


# ---------------------------------------------------------------------------------------------
# Reading numbers.

_NUMBER = re.compile(r"""
    (?:(?<![^\s(\[{=:,;~≈<>/])(?P<sign>[-−])|(?<![\w.,]))     # a sign only after a space or bracket
    (?:
        (?P<pow>10\^\{?(?P<powexp>[-−+]?\d+)\}?)               # 10^-6, 10^{-6}
      | (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)   # 12,345.6  0.7389  662
        (?:[eE](?P<exp>[-−+]?\d+)|\s?[×x]\s?10\^\{?(?P<exp2>[-−+]?\d+)\}?)?
    )
    (?P<pct>\s?%)?
    (?![\d])
""", re.VERBOSE)

_HEDGE = re.compile(r"(?:about|around|roughly|approximately|approx\.|nearly|almost|some|~|≈|∼)\s*$", re.IGNORECASE)
_ABOVE = re.compile(r"(?:over|more than|above|at least|greater than|exceeds?|exceeding)\s*$", re.IGNORECASE)
_BELOW = re.compile(r"(?:under|less than|fewer than|below|at most|up to|within)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Number:
    """A number as written: `73.9%` -> value 73.9, percent, tol 0.05 (half a unit of its last digit)."""

    text: str
    value: float
    percent: bool
    tol: float
    line: int
    bound: str = ""  # "", "about", "above" or "below": the words just before it

    def candidates(self) -> list[tuple[float, float]]:
        """(value, tolerance) pairs this number may stand for: 73.9% is 73.9 or 0.739."""
        out = [(self.value, self.tol)]
        if self.percent:
            out.append((self.value / 100, self.tol / 100))
        return out


def read_numbers(text: str, *, with_context: bool = True) -> list[Number]:
    """Every number in `text` (already masked), with its line.

    >>> [(n.value, n.tol, n.percent) for n in read_numbers("73.9% of 1,200 runs; 1e-6")]
    [(73.9, 0.05, True), (1200.0, 0.5, False), (1e-06, 5e-07, False)]
    """
    out: list[Number] = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for m in _NUMBER.finditer(text):
        if m.group("pow"):
            exp = int(m.group("powexp").replace("−", "-"))
            value, decimals, digits = 10.0 ** exp, 0, "1"
            scale = 10.0 ** exp
        else:
            raw = m.group("num").replace(",", "")
            decimals = len(raw.split(".")[1]) if "." in raw else 0
            exp_text = m.group("exp") or m.group("exp2")
            exp = int(exp_text.replace("−", "-")) if exp_text else 0
            scale = 10.0 ** exp
            value = float(raw) * scale
            digits = raw
        if m.group("sign"):
            value = -value
        tol = 0.5 * 10.0 ** -decimals * scale
        bound = ""
        if with_context:
            before = text[max(0, m.start() - 24):m.start()]
            if _HEDGE.search(before):
                bound = "about"
            elif _ABOVE.search(before):
                bound = "above"
            elif _BELOW.search(before):
                bound = "below"
            if bound and decimals == 0:  # "about 600": as precise as its last non-zero digit
                zeros = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
                tol = 0.5 * 10.0 ** zeros * scale
            elif bound:
                tol = 10.0 ** -decimals * scale
        line = bisect.bisect_right(line_starts, m.start())
        out.append(Number(m.group(0).strip(), value, bool(m.group("pct")), tol, line, bound))
    return out


# ---------------------------------------------------------------------------------------------
# What is not prose.

_SPANS = [
    re.compile(r"<!--.*?-->", re.DOTALL),                        # HTML comments
    re.compile(r"\$\$.*?\$\$", re.DOTALL),                       # display maths
    re.compile(r"\\\[.*?\\\]", re.DOTALL),
    re.compile(r"\\\(.*?\\\)", re.DOTALL),
    re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL),                # inline code
    re.compile(r"(?<![\\$\w])\$(?=[^\s$])(?:\\.|[^$\n\\])*?(?<=[^\s\\])\$(?!\d)"),  # inline maths $x$
    LINK_TARGET,                                                  # link and image targets
    re.compile(r"<https?://[^>]+>"),                              # autolinks
    re.compile(r"https?://[^\s)>\]]+"),                           # bare URLs
    re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE),        # reference definitions
    re.compile(r"</?[A-Za-z][^>\n]*>"),                           # HTML tags (<details>, <img src=...>)
]
_NOT_NUMBERS = [
    re.compile(r"^\s{0,3}#{1,6}\s+(?P<n>\d+(?:\.\d+)*\.?)(?=\s)", re.MULTILINE),   # heading numbering
    re.compile(r"^\s*(?P<n>\d+)[.)](?=\s)", re.MULTILINE),                       # ordered-list markers
    re.compile(r"\[\^?\d+\]"),                                                   # footnote markers [1] [^2]
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),                                        # dates
    re.compile(r"(?i)\barxiv:\s*\d{4}\.\d{4,5}(?:v\d+)?|\b\d{4}\.\d{4,5}(?:v\d+)?\b"),  # arXiv ids
    re.compile(r"(?<=[A-Za-z]{2}-)\d+(?:\.\d+)*"),                               # names: GPT-4, Llama-2
    re.compile(r"\b(?:Figure|Fig\.|Table|Section|Sec\.|Step|Equation|Eq\.|Listing|Appendix) (?P<n>\d+(?:\.\d+)*)"),
]


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def mask_code_and_links(body: str) -> str:
    """`body` with code, maths, comments, link targets and HTML tags blanked (lines and columns kept)."""
    text = blank_fenced_code(body)
    for pattern in _SPANS:
        for m in list(pattern.finditer(text)):
            text = _blank(text, m.start(), m.end())
    return text


def mask_non_prose(body: str) -> str:
    """Everything `read_numbers` must not see blanked: `mask_code_and_links` plus numbering, dates, ids."""
    text = mask_code_and_links(body)
    for pattern in _NOT_NUMBERS:
        for m in list(pattern.finditer(text)):
            start, end = m.span("n") if "n" in pattern.groupindex else m.span()
            text = _blank(text, start, end)
    for cite in find_citations(text):
        if cite.year_span:
            text = _blank(text, *cite.year_span)
    return text


# ---------------------------------------------------------------------------------------------
# Citations.

_ARXIV = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_NAME = r"[A-Z][A-Za-zÀ-ÖØ-öø-ÿ'’\-]+"
_CITE = re.compile(
    rf"(?P<who>(?P<first>{_NAME})(?:\s+et\s+al\.?|\s+(?:and|&)\s+{_NAME}(?:\s+(?:and|&)\s+{_NAME})?)?)"
    rf"(?:\s*\(|,\s+|\s+\()(?P<year>(?:1[89]|20)\d{{2}})[a-z]?(?![\d\w])\)?"
)
_NOT_AUTHORS = {"in", "the", "a", "an", "since", "by", "from", "figure", "fig", "table", "week", "section",
                "chapter", "example", "edition", "until", "before", "after", "as", "of", "and", "or", "on",
                "for", "to", "at", "january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december", "spring", "summer", "autumn", "fall", "winter",
                "version", "python", "note", "notes", "see", "cf", "eq", "equation", "step", "phase", "post"}


@dataclass
class Citation:
    text: str
    first_author: str | None
    year: int | None
    arxiv: str | None
    line: int
    year_span: tuple[int, int] | None = None


def find_citations(text: str) -> list[Citation]:
    """arXiv ids and author-year citations in `text` (already masked for code and links).

    >>> [(c.first_author, c.year) for c in find_citations("as Schulman et al. (2017) and Sutton & Barto (2018) show")]
    [('Schulman', 2017), ('Sutton', 2018)]
    """
    out: list[Citation] = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for m in _ARXIV.finditer(text):
        out.append(Citation(m.group(0), None, None, m.group(1), bisect.bisect_right(line_starts, m.start())))
    for m in _CITE.finditer(text):
        who, first = m.group("who"), m.group("first")
        has_coauthors = who != first
        if first.lower() in _NOT_AUTHORS:
            continue
        # "Author (YEAR)" alone, or "Author, YEAR" alone, is a citation only in its bracketed form
        if not has_coauthors and "(" not in text[m.end("who"):m.start("year")]:
            continue
        out.append(Citation(text[m.start():m.end()].strip(), first, int(m.group("year")), None,
                            bisect.bisect_right(line_starts, m.start()), (m.start("year"), m.end("year"))))
    return sorted(out, key=lambda c: c.line)


# ---------------------------------------------------------------------------------------------
# What numbers are true.


class Grounding:
    """The numbers a draft may use, each with where it comes from, searchable by value."""

    def __init__(self) -> None:
        self._values: list[tuple[float, str]] = []
        self._sorted: list[float] | None = None
        self.papers: list[tuple[str, int | None, str | None]] = []  # (authors and title, year, arxiv)
        self.notes_text = ""

    def add(self, value: float, source: str) -> None:
        if math.isfinite(value):
            self._values.append((abs(value), source))
            self._sorted = None

    def add_text(self, text: str, source: str) -> None:
        for n in read_numbers(text, with_context=False):
            for value, _ in n.candidates():
                self.add(value, source)

    def __len__(self) -> int:
        return len(self._values)

    def match(self, number: Number) -> str | None:
        """The source of a value `number` may stand for (None: it matches nothing)."""
        if self._sorted is None:
            self._values.sort(key=lambda x: x[0])
            self._sorted = [v for v, _ in self._values]
        for value, tol in number.candidates():
            x = abs(value)
            if number.bound == "above":  # "over 600": 600 ≤ v < 700
                lo, hi = x, x + 2 * tol
            elif number.bound == "below":  # "under 1 ms": 0 ≤ v ≤ 1
                lo, hi = 0.0, x
            else:
                slack = tol * (1 + 1e-9) + 1e-12 * max(1.0, x)  # float rounding, not precision
                lo, hi = x - slack, x + slack
            i = bisect.bisect_left(self._sorted, lo)
            if i < len(self._sorted) and self._sorted[i] <= hi:
                return self._values[i][1]
        return None

    @classmethod
    def from_context(cls, ctx: DraftContext) -> Grounding:
        g = cls()
        for fact in ctx.facts:
            for value in fact.numbers:
                g.add(value, fact.id)
        for table in ctx.tables:
            for row in table.rows:
                for cell in row:
                    try:
                        g.add(float(cell), f"table {table.name}")
                    except ValueError:
                        continue
            g.add_text(table.caption, f"caption of table {table.name}")
            g.add(table.total_rows, f"rows of table {table.name}")
            g.add(len(table.rows), f"rows of table {table.name} shown")
        for figure in ctx.figures:
            g.add_text(figure.caption, f"caption of {figure.name}")
        for note in ctx.notes:
            g.add_text(note.raw, f"notes {note.name}")
        g.notes_text = "\n".join(n.raw for n in ctx.notes)
        w = ctx.week
        for number in range(1, len(ctx.curriculum.weeks) + 1):
            g.add(number, "curriculum (week numbers)")
        g.add_text(w.model_dump_json(), "curriculum")
        for earlier in ctx.earlier:
            g.add_text(f"{earlier.title} {earlier.summary}", f"week {earlier.week} post {earlier.slug}")
        for paper in w.core_papers:
            g.papers.append((f"{paper.authors or ''} {paper.title}", paper.year, paper.arxiv))
            if paper.year:
                g.add(paper.year, "curriculum (paper years)")
        return g


# ---------------------------------------------------------------------------------------------
# The checks.


def check_draft(body: str, grounding: Grounding, draft_dir: Path, *, line_offset: int = 0) -> Checks:
    """Run every check on `body` (a draft's markdown, without front matter); see the module docstring."""
    problems: list[CheckProblem] = []
    cited = mask_code_and_links(body)
    prose = mask_non_prose(body)

    numbers = read_numbers(prose)
    for n in numbers:
        if grounding.match(n) is None:
            hint = "matches no fact" + (" (if derived, check the arithmetic)" if n.bound == "" else "")
            problems.append(CheckProblem(kind="number", line=n.line + line_offset, text=n.text,
                                         message=f"{n.text} (line {n.line + line_offset}) {hint}"))

    for found in find_links(body):
        link, line, is_image = found.target, found.line, found.image
        if re.match(r"^(?:[a-z][a-z0-9+.-]*:|#|/)", link, re.IGNORECASE):
            continue  # web links, anchors and absolute paths are not the draft's files
        target = (draft_dir / link.split("#")[0]).resolve()
        if not target.exists():
            what = "figure" if is_image else "linked file"
            problems.append(CheckProblem(kind="figure" if is_image else "other", line=line + line_offset, text=link,
                                         message=f"{what} {link} (line {line + line_offset}) does not exist"))

    notes = grounding.notes_text.lower()
    for cite in find_citations(cited):
        if cite.arxiv:
            ok = any(a == cite.arxiv for _, _, a in grounding.papers) or cite.arxiv in grounding.notes_text
        else:
            name = cite.first_author.lower()
            in_papers = any(re.search(rf"\b{re.escape(name)}\b", text.lower()) and (year in (None, cite.year))
                            for text, year, _ in grounding.papers)
            in_notes = re.search(rf"\b{re.escape(name)}\b", notes) is not None and str(cite.year) in notes
            ok = in_papers or in_notes
        if not ok:
            problems.append(CheckProblem(
                kind="citation", line=cite.line + line_offset, text=cite.text,
                message=f"{cite.text} (line {cite.line + line_offset}) is not among the week's papers or the notes"))

    for line, text in find_placeholders(body):
        need = "needs a measured number" if text.startswith("[RESULT") else "is a placeholder: write the prose"
        problems.append(CheckProblem(kind="placeholder", line=line + line_offset, text=text,
                                     message=f"{text} (line {line + line_offset}) {need}"))

    problems.sort(key=lambda p: p.line)
    return Checks(checked_at=dt.datetime.now().astimezone(), numbers_checked=len(numbers), problems=problems)


_PLACEHOLDER = re.compile(r"\[(?:TO WRITE|RESULT)\b[^\]\n]*\]")


def find_placeholders(body: str) -> list[tuple[int, str]]:
    """(line, text) of every `[TO WRITE…]` and `[RESULT…]` left in `body`, outside code and comments.

    >>> find_placeholders("# T\\n\\n> **[TO WRITE: Intuition]** ...\\nIt took [RESULT: steps]; `[TO WRITE]` is code.")
    [(3, '[TO WRITE: Intuition]'), (4, '[RESULT: steps]')]
    """
    text = mask_code_and_links(body)
    return [(text.count("\n", 0, m.start()) + 1, m.group(0)) for m in _PLACEHOLDER.finditer(text)]


def shift_lines(checks: Checks, offset: int) -> Checks:
    """The same checks with every line moved by `offset` (body lines -> lines of the draft file)."""
    if not offset:
        return checks
    moved = [p.model_copy(update={"line": p.line + offset,
                                  "message": p.message.replace(f"(line {p.line})", f"(line {p.line + offset})", 1)})
             for p in checks.problems]
    return checks.model_copy(update={"problems": moved})
