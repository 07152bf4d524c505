"""The study plan as data: the pydantic schema of `curriculum.yaml` and its loader.

Every validation error is located to `file:line` and names the field, so a typo in the plan reads
like `curriculum.yaml:212: weeks[3].posts[0].kind: 'primery' is not one of primary, connection`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from studyforge.errors import ForgeError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Strict):
    """A study topic with optional nested sub-topics, as the plan nests its bullets."""

    title: str
    subtopics: list[TopicItem] = Field(default_factory=list, description="nested bullets under this topic")

    def flatten(self, depth: int = 0) -> list[tuple[int, str]]:
        out = [(depth, self.title)]
        for sub in self.subtopics:
            out += sub.flatten(depth + 1) if isinstance(sub, Topic) else [(depth + 1, sub)]
        return out


TopicItem = Annotated[Union[str, Topic], Field(union_mode="left_to_right")]
Topic.model_rebuild()


class Paper(_Strict):
    title: str = Field(description="the paper's (or book chapter's) title as the plan names it")
    authors: str | None = Field(None, description="e.g. 'Schulman et al.'")
    year: int | None = Field(None, ge=1900, le=2100)
    arxiv: str | None = Field(None, description="arXiv id, e.g. '1707.06347'", pattern=r"^\d{4}\.\d{4,5}$")
    url: str | None = None
    note: str | None = Field(None, description="e.g. 'chapters 3–4' or how the plan's wording maps to the paper")


class Experiment(_Strict):
    id: str = Field(description="the registered study id, e.g. 'mdp.value_vs_policy_iteration'",
                    pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    title: str
    description: str = Field(description="what the experiment does")
    tracks: str = Field(description="what it tracks in W&B (from the plan's 'WandB:' line)")


class Post(_Strict):
    slug: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str | None = Field(None, description="exact title from the plan; null for a connection slot")
    kind: Literal["primary", "connection"]
    notes_for_agent: str = Field(description="the plan's 'Notes for Agent' / 'Content' text, verbatim")
    builds_on: list[int] = Field(default_factory=list, description="earlier weeks this post links back to")

    @property
    def display_title(self) -> str:
        return self.title or f"(connection post — title to be proposed) [{self.slug}]"


class Week(_Strict):
    week: int = Field(ge=1, le=52)
    phase: int
    title: str
    topics: list[TopicItem]
    core_papers: list[Paper] = Field(default_factory=list)
    experiments: list[Experiment] = Field(default_factory=list)
    wandb: str = Field(description="the plan's 'WandB:' line for the week")
    posts: list[Post]

    @property
    def slug(self) -> str:
        return f"week{self.week:02d}"

    @model_validator(mode="after")
    def _unique_ids(self) -> Week:
        for what, ids in (("experiment id", [e.id for e in self.experiments]), ("post slug", [p.slug for p in self.posts])):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {what}(s) {dupes} in week {self.week}")
        return self


class Phase(_Strict):
    id: int
    title: str
    weeks: list[int]


class Edition(_Strict):
    id: Literal["scientist", "manager"]
    name: str
    audience: str


class Schedule(_Strict):
    start_date: dt.date = Field(description="Monday of week 1; set by the user")
    study_days: list[str] = ["monday", "tuesday", "wednesday"]
    review_day: str = "thursday"
    optional_day: str = "friday"
    experiment_days: list[str] = ["saturday", "sunday"]
    posts_per_week: int = Field(2, ge=0)
    hours_per_week: str | None = None
    review_minutes: str | None = None

    @field_validator("start_date")
    @classmethod
    def _monday(cls, value: dt.date) -> dt.date:
        if value.weekday() != 0:
            monday = value - dt.timedelta(days=value.weekday())
            raise ValueError(f"{value} is a {value:%A}; the schedule starts on a Monday (e.g. {monday})")
        return value


class Drafting(_Strict):
    model: str | None = Field(None, description="Claude model id; default: a current id from the installed SDK")
    max_tokens: int = Field(8000, ge=256)


class Tracking(_Strict):
    wandb_project: str = "studyforge"
    wandb_entity: str | None = None


class FrontierTheme(_Strict):
    theme: str
    topics: list[str]


class Curriculum(_Strict):
    version: Literal[1] = 1
    title: str
    source: str | None = Field(None, description="where the plan came from")
    editions: list[Edition]
    schedule: Schedule
    drafting: Drafting = Drafting()
    tracking: Tracking = Tracking()
    phases: list[Phase]
    weeks: list[Week]
    frontier_topics: list[FrontierTheme] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Curriculum:
        numbers = [w.week for w in self.weeks]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"weeks must be numbered 1..{len(numbers)} in order, got {numbers}")
        phase_ids = {p.id for p in self.phases}
        for w in self.weeks:
            if w.phase not in phase_ids:
                raise ValueError(f"week {w.week} names phase {w.phase}, which is not in phases")
            for earlier in (b for p in w.posts for b in p.builds_on):
                if not 1 <= earlier < w.week:
                    raise ValueError(f"week {w.week}: builds_on {earlier} is not an earlier week")
        ids = [e.id for w in self.weeks for e in w.experiments]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"experiment ids must be unique across weeks: {dupes}")
        return self

    def week(self, number: int) -> Week:
        for w in self.weeks:
            if w.week == number:
                return w
        raise ForgeError(f"week {number} is not in the curriculum (weeks 1–{len(self.weeks)})",
                         hint="pick a week from `forge curriculum`")

    def phase_of(self, week: Week) -> Phase:
        return next(p for p in self.phases if p.id == week.phase)

    def post_count(self) -> int:
        return sum(len(w.posts) for w in self.weeks)


# ---------------------------------------------------------------------------------------------
# Week ids: `week4`, `4`, `w04`, `Week 4`, `week04` all mean week 4.

_WEEK_RE = re.compile(r"^(?:w|week)?\s*0*(\d{1,2})$", re.IGNORECASE)


def parse_week(text: str | int, curriculum: Curriculum | None = None) -> int:
    """`"week4"`, `"4"`, `"w04"` -> 4; anything else is a ForgeError naming the accepted forms."""
    match = _WEEK_RE.match(str(text).strip())
    if not match or int(match.group(1)) == 0:
        raise ForgeError(f"{text!r} is not a week", hint="write it as week4, w04 or 4")
    number = int(match.group(1))
    if curriculum is not None:
        curriculum.week(number)
    return number


# ---------------------------------------------------------------------------------------------
# Loading with line numbers.


def load_curriculum(path: Path) -> Curriculum:
    """Read and validate `path`; every problem is a ForgeError located to `file:line`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ForgeError(f"cannot read {path}: {exc.strerror}", hint="run forge from your workspace or `forge init`") from None
    return parse_curriculum(text, str(path))


def parse_curriculum(text: str, filename: str = "curriculum.yaml") -> Curriculum:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = getattr(exc, "problem", None) or str(exc)
        raise ForgeError(f"{where}: YAML syntax error: {problem}", hint="fix the indentation or quoting there") from None
    if not isinstance(data, dict):
        raise ForgeError(f"{filename}:1: expected a mapping of settings at the top", hint="see `forge init` for an example")
    try:
        return Curriculum.model_validate(data)
    except ValidationError as exc:
        raise ForgeError(describe_validation_error(exc, node, filename), hint="fix curriculum.yaml and run `forge validate`") from None


def describe_validation_error(exc: ValidationError, node: Any, filename: str) -> str:
    """The first error of `exc` as `file:line: field.path: message` (plus a count of the others)."""
    errors = exc.errors()
    # Unions report one error per branch; the most specific location is the most useful.
    first = max(errors, key=lambda e: len(e["loc"]))
    loc = [p for p in first["loc"] if not (isinstance(p, str) and (p in {"str", "Topic"} or p.startswith("function-")))]
    line = line_of(node, loc)
    path = _format_loc(loc)
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r} (remove it or check its spelling)"
    elif first["type"] == "missing":
        msg = "is required but missing"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 and first["type"] != "union_tag_invalid" else ""
    return f"{filename}:{line}: {path or '(top level)'}: {msg}{more}"


def line_of(node: Any, loc: list[Any]) -> int:
    """The 1-based line of the YAML node at `loc` (or of its deepest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
