"""The study plan as data: the pydantic schema of `curriculum.yaml` and its loader.

The loader reports every problem, each located to its own `file:line` and naming the field, so a plan with
two typos reads

    curriculum.yaml:212: weeks[3].posts[0].kind: Input should be 'primary' or 'connection'
    curriculum.yaml:230: weeks[4].tittle: unknown key 'tittle' (did you mean 'title'? it is required)

Three layers, all located: YAML syntax (where an unclosed quote or bracket *opens*, not where the parser
gave up), the schema (pydantic, one problem per error, unknown keys named with the closest valid key), and
the rules across entries (weeks numbered 1…n, phases that exist, earlier weeks in `builds_on`, unique ids)
at the offending entry. A caller that knows the registered studies passes them (`studies`), and an
experiment id that no study registers, in a week whose topic is implemented, is a problem too; this module
never imports the registry itself (it imports torch), so only `forge validate` and `forge run` pay for it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    # The rules across entries (weeks 1…n in order, phases that exist, unique ids, earlier weeks in
    # builds_on) are checked by `curriculum_problems` on the located YAML, so each is reported at its entry.

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
# Loading: every problem, each at its own line.


@dataclass(frozen=True)
class Problem:
    """One problem of a file, located: `str(problem)` is `file:line: message`."""

    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class CurriculumError(ForgeError):
    """A curriculum.yaml with problems: `problems` has every one; the message lists the first few."""

    SHOWN = 5

    def __init__(self, problems: list[Problem], filename: str):
        self.problems = problems
        if len(problems) == 1:
            message = str(problems[0])
        else:
            shown = [str(p) for p in problems[: self.SHOWN]]
            rest = len(problems) - len(shown)
            more = [f"… and {rest} more (`forge validate` lists them all)"] if rest else []
            message = "\n  ".join([f"{filename} has {len(problems)} problems", *shown, *more])
        super().__init__(message, hint="fix curriculum.yaml and run `forge validate`")


def load_curriculum(path: Path, studies: Mapping[str, int] | None = None) -> Curriculum:
    """Read and validate `path`; any problem raises one CurriculumError listing them, each at `file:line`.

    `studies` (registered id -> week) adds the cross-check of experiment ids against the registry.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ForgeError(f"cannot read {path}: {exc.strerror}", hint="run forge from your workspace or `forge init`") from None
    return parse_curriculum(text, str(path), studies)


def parse_curriculum(text: str, filename: str = "curriculum.yaml", studies: Mapping[str, int] | None = None) -> Curriculum:
    plan, problems = curriculum_problems(text, filename, studies)
    if problems:
        raise CurriculumError(problems, filename)
    assert plan is not None
    return plan


def curriculum_problems(text: str, filename: str = "curriculum.yaml",
                        studies: Mapping[str, int] | None = None) -> tuple[Curriculum | None, list[Problem]]:
    """(the plan, or None when it has problems; every problem, in file order)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line, message = describe_yaml_error(exc, text)
        return None, [Problem(f"{filename}:{line}", f"YAML syntax error: {message}")]
    if not isinstance(data, dict):
        return None, [Problem(f"{filename}:1", "expected a mapping of settings at the top (see `forge init`)")]
    problems: list[tuple[int, list[Any], str]] = []  # (line, loc, message)
    plan = None
    try:
        plan = Curriculum.model_validate(data)
    except ValidationError as exc:
        problems += _schema_problems(exc, node)
    problems += [(line_of(node, loc), loc, msg) for loc, msg in _rule_problems(data, node)]
    if studies is not None:
        problems += [(line_of(node, loc), loc, msg) for loc, msg in _registry_problems(data, studies)]
    problems.sort(key=lambda p: p[0])  # stable: problems on one line keep their order
    located = [Problem(f"{filename}:{line}", f"{_format_loc(loc) or '(top level)'}: {msg}") for line, loc, msg in problems]
    return (None if located else plan), located


# -- YAML syntax ---------------------------------------------------------------------------------------

_OPENERS = {"while scanning a quoted scalar": "unclosed quote: the quoted text that starts here never ends",
            "while parsing a flow sequence": "unclosed '[': the list that starts here is never closed",
            "while parsing a flow mapping": "unclosed '{': the mapping that starts here is never closed"}


def describe_yaml_error(exc: yaml.YAMLError, text: str) -> tuple[int, str]:
    """(1-based line, message) of a YAML error, at the line where the mistake is rather than where YAML gave up.

    An unclosed quote or bracket is found where it opens. A quote that is closed only by the next quote in
    the file (`title: "abc` … `arxiv: "1234"`) swallows the lines between and the parser fails lines later,
    on what follows it: the error is placed at the quoted text that runs over several lines.
    """
    problem = getattr(exc, "problem", None) or str(exc)
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else 1
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context in _OPENERS and context_mark is not None:
        return context_mark.line + 1, f"{_OPENERS[context]} (YAML gave up at line {line}: {problem})"
    runaway = _runaway_quote(text)
    if runaway is not None and runaway < line:
        return runaway, (f"unclosed quote: the quoted text that starts here runs over several lines, up to the "
                         f"next quote (YAML gave up at line {line}: {problem})")
    return line, problem


def _runaway_quote(text: str) -> int | None:
    """The line of the last quoted scalar spanning several lines before the scanner stopped (None: none)."""
    found = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if (isinstance(token, yaml.ScalarToken) and token.style in ('"', "'")
                    and token.end_mark.line > token.start_mark.line):
                found = token.start_mark.line + 1
    except yaml.YAMLError:
        pass
    return found


# -- the schema ----------------------------------------------------------------------------------------

_UNION_BRANCHES = {"str", "Topic"}  # pydantic tags the errors of each branch of TopicItem with its type


def _schema_problems(exc: ValidationError, node: Any) -> list[tuple[int, list[Any], str]]:
    errors = _chosen_branches(exc.errors())
    # An unknown key whose closest valid key is a missing required one is one mistake, said once.
    unknown = {tuple(e["loc"]): _suggest(e["loc"]) for e in errors if e["type"] == "extra_forbidden"}
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    problems = []
    for e in errors:
        loc = list(e["loc"])
        if e["type"] == "extra_forbidden":
            suggestion, valid = unknown[tuple(loc)]
            if suggestion and (*loc[:-1], suggestion) in missing:
                msg = f"unknown key {loc[-1]!r} (did you mean {suggestion!r}? it is required)"
            elif suggestion:
                msg = f"unknown key {loc[-1]!r} (did you mean {suggestion!r}?)"
            else:
                msg = f"unknown key {loc[-1]!r} (remove it; the keys here are {', '.join(valid)})"
        elif e["type"] == "missing":
            if any(key[:-1] == tuple(loc[:-1]) and hint[0] == loc[-1] for key, hint in unknown.items()):
                continue  # said with the misspelt key
            msg = "is required but missing"
        else:
            msg = e["msg"].removeprefix("Value error, ")
        problems.append((line_of(node, loc), loc, msg))
    return problems


def _chosen_branches(errors: list[dict]) -> list[dict]:
    """The errors with union branches resolved: of a TopicItem that matched neither a text nor a Topic, keep the
    errors of the branch that got furthest (a mapping's own key errors, not "should be a valid string")."""
    out, groups = [], {}
    for e in errors:
        loc = tuple(e["loc"])
        at = next((i for i, part in enumerate(loc) if part in _UNION_BRANCHES), None)
        if at is None:
            out.append({**e, "loc": loc})
        else:
            groups.setdefault(loc[:at], []).append(e)
    for prefix, group in groups.items():
        branches: dict[str, list[dict]] = {}
        for e in group:
            branches.setdefault(e["loc"][len(prefix)], []).append(e)
        best = max(branches.values(), key=lambda es: max(len(e["loc"]) for e in es))
        out += _chosen_branches([{**e, "loc": (*prefix, *e["loc"][len(prefix) + 1:])} for e in best])
    return out


def _suggest(loc: tuple[Any, ...]) -> tuple[str | None, list[str]]:
    """(the closest valid key to the unknown key at `loc`, or None; the valid keys there)."""
    model = _model_at(loc[:-1])
    valid = list(model.model_fields) if model else []
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
    return (close[0] if close else None), valid


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema model that validates the mapping at `loc` (None when there is none)."""
    annotation: Any = Curriculum
    for part in loc:
        if isinstance(part, int):
            args = [a for a in get_args(_unwrap(annotation)) if a is not type(None)]
            annotation = args[0] if get_origin(_unwrap(annotation)) is list and args else None
        else:
            model = _as_model(annotation)
            if model is None or part not in model.model_fields:
                return None
            annotation = model.model_fields[part].annotation
    return _as_model(annotation)


def _unwrap(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _as_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((a for a in (_unwrap(a) for a in get_args(annotation))
                 if isinstance(a, type) and issubclass(a, BaseModel)), None)


# -- the rules across entries --------------------------------------------------------------------------


def _rule_problems(data: dict, node: Any) -> list[tuple[list[Any], str]]:
    """Weeks 1…n in order, phases that exist, earlier weeks in builds_on, unique ids: each at its entry.

    Runs on the raw data (entries the schema refused are skipped), so these are reported with the others.
    """
    problems: list[tuple[list[Any], str]] = []
    weeks = [(i, w) for i, w in enumerate(_list(data.get("weeks"))) if isinstance(w, dict)]
    first_at: dict[int, int] = {}
    order: list[tuple[int, int]] = []  # (index, number), duplicates left out
    for i, w in weeks:
        number = w.get("week")
        if not _is_int(number):
            continue
        if number in first_at:
            problems.append((["weeks", i, "week"], f"week {number} appears twice (first at line "
                                                   f"{line_of(node, ['weeks', first_at[number]])})"))
        else:
            first_at[number] = i
            order.append((i, number))
    for expected, (i, number) in enumerate(order, start=1):
        if number != expected:
            problems.append((["weeks", i, "week"], f"weeks are numbered 1, 2, 3… in order: expected week {expected} "
                                                   f"here, found week {number}"))
            break  # the rest follow from this one
    phases = [p.get("id") for p in _list(data.get("phases")) if isinstance(p, dict)]
    if phases and all(_is_int(p) for p in phases):
        for i, w in weeks:
            if _is_int(w.get("phase")) and w["phase"] not in phases:
                problems.append((["weeks", i, "phase"], f"phase {w['phase']} is not one of the phases "
                                                        f"({', '.join(map(str, phases))})"))
    for i, w in weeks:
        for j, post in enumerate(_list(w.get("posts"))):
            for k, earlier in enumerate(_list(post.get("builds_on")) if isinstance(post, dict) else []):
                if _is_int(earlier) and _is_int(w.get("week")) and not 1 <= earlier < w["week"]:
                    problems.append((["weeks", i, "posts", j, "builds_on", k],
                                     f"{earlier} is not an earlier week (week {w['week']} builds on weeks before it)"))
    seen_ids: dict[str, list[Any]] = {}
    for i, w in weeks:
        seen_slugs: dict[str, list[Any]] = {}
        for field, seen, scope in (("experiments", seen_ids, "ids are unique across the plan"),
                                   ("posts", seen_slugs, "slugs are unique within a week")):
            key = "id" if field == "experiments" else "slug"
            for j, entry in enumerate(_list(w.get(field))):
                value = entry.get(key) if isinstance(entry, dict) else None
                if not isinstance(value, str):
                    continue
                loc = ["weeks", i, field, j, key]
                if value in seen:
                    what = "experiment id" if key == "id" else "post slug"
                    problems.append((loc, f"{what} {value!r} appears twice (first at line "
                                          f"{line_of(node, seen[value])}); {scope}"))
                else:
                    seen[value] = loc
    return problems


def _registry_problems(data: dict, studies: Mapping[str, int]) -> list[tuple[list[Any], str]]:
    """Experiment ids against the registered studies (id -> week).

    An unregistered id is a mistake when its week's topic is implemented: the registry has studies of that
    week with that id's topic (`mdp.` in week 1), or one of that week's studies is a near match (a typo in the
    topic). Otherwise it is a planned study (weeks whose topic package does not exist yet). A registered id
    listed under another week than its study's is a mistake too: `forge run` would never run it.
    """
    problems: list[tuple[list[Any], str]] = []
    for i, w in enumerate(_list(data.get("weeks"))):
        if not isinstance(w, dict) or not _is_int(w.get("week")):
            continue
        number = w["week"]
        of_week = sorted(sid for sid, week in studies.items() if week == number)
        topics = {sid.split(".")[0] for sid in of_week}
        for j, entry in enumerate(_list(w.get("experiments"))):
            sid = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(sid, str):
                continue
            loc = ["weeks", i, "experiments", j, "id"]
            if sid in studies:
                if studies[sid] != number:
                    problems.append((loc, f"{sid!r} is registered for week {studies[sid]}, so `forge run week{number}` "
                                          f"would never run it (list it under week {studies[sid]})"))
                continue
            near = difflib.get_close_matches(sid, of_week, n=1, cutoff=0.85)
            if sid.split(".")[0] in topics or near:
                close = near or difflib.get_close_matches(sid, list(studies), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"week {number}'s studies: {', '.join(of_week)}"
                problems.append((loc, f"no registered study {sid!r} ({hint})"))
    return problems


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
