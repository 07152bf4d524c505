"""Draft files: the markdown a human reviews, the rules that keep their edits safe, and which version is current.

    drafts/week04/policy-gradient-wars.scientist.md     front matter (DraftMeta) + the post's body
    .forge/generated/week04/policy-gradient-wars.scientist.md   the body exactly as forge wrote it

The front matter's `body_hash` is the hash of the body forge wrote. If the file's body no longer
hashes to it, a human has edited it, and forge never overwrites it. `forge review` diffs the generated
copy against the file.

**Versions.** One post and edition may have several files: `<slug>.<edition>.md` is version 1,
`<slug>.<edition>.vN.md` version N. Exactly one is *current*: the one status counts, review checks and
approves, publish exports and later drafts summarise. `Versions.current` (from `week_versions`) alone decides:

- a version is a *candidate* while its front matter has `candidate: <hash>` and its body still hashes
  to it (forge sets it aside; an edit of its body makes it the learner's, so no longer a candidate);
- the current version is the highest-numbered one that is not a candidate (if all are, the highest).

Writing a new draft (`write_new_draft`) keeps the current version when the learner made it theirs
(edited its body, approved or published it, or adopted it): the new text goes beside it as a candidate,
in place of an unedited candidate if there is one, else as the next `vN`. A current version that is
still forge's unedited draft is simply replaced. With `force`, the current version's file is replaced
whatever it holds, and its text first copied to `.forge/backups/weekNN/<file>.<time>.md`.
`adopt(group, N)` makes version N current: it clears N's mark (recording `adopted`) and sets aside
every higher version. Deleting a file, or the `candidate:` line, works too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studyforge.drafting.checks import Checks, find_placeholders
from studyforge.drafting.llm import Usage
from studyforge.errors import ForgeError
from studyforge.tracking.io import write_bytes_atomic, write_text_atomic

Edition = Literal["scientist", "manager"]
DraftStatus = Literal["draft", "reviewed", "published"]


class Forced(BaseModel):
    """An approval given with `forge review --approve --force` despite unresolved problems."""

    at: dt.datetime
    reason: str
    unresolved: list[str] = Field(default_factory=list, description="the problems left, e.g. 'line 12 [number] 81.2%'")


class DraftMeta(BaseModel):
    """The front matter of a draft file (unknown keys a reviewer adds are kept, not rejected)."""

    model_config = ConfigDict(extra="allow")

    title: str
    week: int
    post: str = Field(description="the post's slug in curriculum.yaml")
    edition: Edition
    status: DraftStatus = "draft"
    created: dt.datetime
    backend: Literal["anthropic", "offline", "fake"] = "offline"
    model: str | None = None
    source_runs: list[str] = Field(default_factory=list, description="run ids whose facts the draft used")
    allow_quick: bool | None = Field(default=None, description="drafted with --allow-quick (None: not needed)")
    quick_runs: list[str] | None = Field(default=None, description="the quick-preset (smoke-test) runs among them")
    notes_hash: str | None = None
    prompt_hash: str | None = None
    body_hash: str = Field(description="sha256 of the body as forge wrote it")
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    checks: Checks = Field(default_factory=Checks)
    reviewed: dt.datetime | None = None
    published: dt.date | None = None
    version: int = 1
    candidate: str | None = Field(None, description="set aside beside the current version: the body's hash then; "
                                                    "see the module docstring")
    adopted: dt.datetime | None = Field(None, description="when `forge review --adopt` made this version current")
    forced: Forced | None = None


@dataclass
class Draft:
    path: Path
    meta: DraftMeta
    body: str

    @property
    def edited(self) -> bool:
        """True when a human changed the body since forge wrote it."""
        return body_hash(self.body) != self.meta.body_hash

    @property
    def is_candidate(self) -> bool:
        """Set aside beside the current version, and its body unchanged since."""
        return self.meta.candidate is not None and body_hash(self.body) == self.meta.candidate

    @property
    def kept(self) -> bool:
        """The learner's: edited, approved, published or adopted. Forge writes a new draft beside it."""
        return self.edited or self.meta.status != "draft" or self.meta.adopted is not None

    @property
    def unresolved(self) -> int:
        """Unresolved problems now: the front matter's, but placeholders counted in the body as it is."""
        others = sum(not p.resolved for p in self.meta.checks.problems if p.kind != "placeholder")
        return others + len(find_placeholders(self.body))


def body_hash(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.strip().encode("utf-8")).hexdigest()


def draft_path(drafts_dir: Path, week: int, slug: str, edition: str, version: int = 1) -> Path:
    suffix = "" if version == 1 else f".v{version}"
    return drafts_dir / f"week{week:02d}" / f"{slug}.{edition}{suffix}.md"


def generated_path(forge_dir: Path, draft: Path) -> Path:
    """Where the body forge generated for `draft` is kept, for `forge review`'s diff."""
    return forge_dir / "generated" / draft.parent.name / draft.name


def read_draft(path: Path) -> Draft:
    """Parse a draft; broken front matter is a ForgeError located to the file (and line when known)."""
    import frontmatter

    try:
        post = frontmatter.load(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)  # YAML sees the text from the opening "---"
        raise ForgeError(f"{where}: broken front matter ({getattr(exc, 'problem', exc)})",
                         hint="fix the YAML between the '---' lines") from None
    except OSError as exc:
        raise ForgeError(f"cannot read {path}: {exc.strerror}", hint="check the file") from None
    try:
        meta = DraftMeta.model_validate(post.metadata)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ForgeError(f"{path}: front matter field {field!r}: {err['msg']}",
                         hint="restore the field forge wrote, or re-draft with --force") from None
    return Draft(path, meta, post.content)


def render(meta: DraftMeta, body: str) -> str:
    """The file text: YAML front matter between '---' lines, then the body."""
    data: dict[str, Any] = meta.model_dump(mode="json", exclude_none=True)
    head = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{head}---\n\n{body.strip()}\n"


def save(draft: Draft) -> None:
    """Write the draft file atomically (used for status changes; the body is the file's, untouched)."""
    write_text_atomic(draft.path, render(draft.meta, draft.body))


def partial_path(drafts_dir: Path, week: int, slug: str, edition: str) -> Path:
    """Where a broken stream's text is kept: `<slug>.<edition>.md.partial`."""
    return draft_path(drafts_dir, week, slug, edition).with_suffix(".md.partial")


def list_drafts(drafts_dir: Path, week: int) -> list[Path]:
    folder = drafts_dir / f"week{week:02d}"
    return sorted(folder.glob("*.md")) if folder.is_dir() else []




# ---------------------------------------------------------------------------------------------
# Versions: which files are the versions of a post and edition, and which one is current.

DRAFT_NAME = re.compile(r"^(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)\.(?P<edition>[a-z]+)(?:\.v(?P<version>[2-9]|[1-9]\d+))?\.md$")


@dataclass
class Version:
    number: int
    path: Path
    draft: Draft | None  # None: unreadable, see `error`
    error: str | None = None

    @property
    def candidate(self) -> bool:
        return self.draft is not None and self.draft.is_candidate


@dataclass
class Versions:
    """Every version of one post and edition of a week, numbered from the file names, lowest first."""

    week: int
    slug: str
    edition: str
    versions: list[Version]

    @property
    def current(self) -> Version:
        """The highest version that is not a candidate (an unreadable one counts as the learner's)."""
        kept = [v for v in self.versions if not v.candidate]
        return (kept or self.versions)[-1]

    @property
    def candidates(self) -> list[Version]:
        current = self.current
        return [v for v in self.versions if v.candidate and v is not current]

    @property
    def older(self) -> list[Version]:
        """The versions neither current nor candidates (kept, e.g. the one a candidate was adopted over)."""
        current = self.current
        return [v for v in self.versions if v is not current and not v.candidate]

    def get(self, number: int) -> Version | None:
        return next((v for v in self.versions if v.number == number), None)


def week_versions(drafts_dir: Path, week: int) -> tuple[list[Versions], list[Path]]:
    """The versions of every post and edition of `week` (by slug, then edition), and the `.md` files
    whose names are not `<slug>.<edition>[.vN].md`. Unreadable files are versions with an error."""
    groups: dict[tuple[str, str], list[Version]] = {}
    misnamed = []
    for path in list_drafts(drafts_dir, week):
        match = DRAFT_NAME.match(path.name)
        if not match:
            misnamed.append(path)
            continue
        try:
            version = Version(int(match["version"] or 1), path, read_draft(path))
        except ForgeError as exc:
            version = Version(int(match["version"] or 1), path, None, str(exc))
        groups.setdefault((match["slug"], match["edition"]), []).append(version)
    out = [Versions(week, slug, edition, sorted(found, key=lambda v: v.number))
           for (slug, edition), found in sorted(groups.items())]
    return out, misnamed


@dataclass
class Partial:
    path: Path
    slug: str  # "" when the name is not `<slug>.<edition>.md.partial`
    edition: str


def week_partials(drafts_dir: Path, week: int) -> list[Partial]:
    """The `<slug>.<edition>.md.partial` files broken streams left in `week` (partial_path names them)."""
    folder = drafts_dir / f"week{week:02d}"
    found = []
    for path in sorted(folder.glob("*.md.partial")) if folder.is_dir() else []:
        match = DRAFT_NAME.match(path.name.removesuffix(".partial"))
        found.append(Partial(path, match["slug"] if match else "", match["edition"] if match else ""))
    return found


def versions_of(drafts_dir: Path, week: int, slug: str, edition: str) -> Versions | None:
    """The versions of one post and edition (None: no file yet)."""
    groups, _ = week_versions(drafts_dir, week)
    return next((g for g in groups if (g.slug, g.edition) == (slug, edition)), None)


def adopt(group: Versions, number: int, *, now: dt.datetime | None = None) -> bool:
    """Make version `number` current (see the module docstring); False when it already was."""
    target = group.get(number)
    if target is None:
        have = ", ".join(f"v{v.number}" for v in group.versions)
        raise ForgeError(f"{group.slug} ({group.edition}) has no version v{number}", hint=f"it has {have}")
    if target.draft is None:
        raise ForgeError(target.error or f"cannot read {target.path}", hint="fix the file, then adopt it")
    if target is group.current and not target.candidate:
        return False
    above = [v for v in group.versions if v.number > number and not v.candidate]
    for v in above:
        if v.draft is None:
            raise ForgeError(f"cannot set {v.path.name} aside: {v.error}", hint="fix or delete it, then adopt again")
    for v in above:
        v.draft.meta.candidate = body_hash(v.draft.body)
        save(v.draft)
    target.draft.meta.candidate = None
    target.draft.meta.adopted = now or dt.datetime.now().astimezone().replace(microsecond=0)
    save(target.draft)
    return True


# ---------------------------------------------------------------------------------------------
# Writing a new draft.


@dataclass
class Placement:
    path: Path  # where the new draft was written
    kept: Path | None = None  # the current version left as it was: the new draft is a candidate beside it
    backup: Path | None = None  # with force: the copy of the text it replaced


def write_new_draft(drafts_dir: Path, forge_dir: Path, meta: DraftMeta, body: str, *, force: bool = False,
                    now: dt.datetime | None = None) -> Placement:
    """Write a freshly generated draft without ever losing a human's edits (the rules in the module docstring).

    Also keeps the generated body under .forge/generated/ for review diffs.
    """
    meta.body_hash = body_hash(body)
    meta.candidate = meta.adopted = meta.forced = None
    group = versions_of(drafts_dir, meta.week, meta.post, meta.edition)
    placement = Placement(draft_path(drafts_dir, meta.week, meta.post, meta.edition))
    number = 1
    if group is not None:
        current = group.current
        number = current.number
        if force:
            placement.backup = _backup(forge_dir, current.path, now)
        elif current.draft is None or current.draft.kept:
            placement.kept = current.path
            spare = [v for v in group.candidates if not v.draft.kept]  # forge's own, untouched: replaced
            number = spare[-1].number if spare else group.versions[-1].number + 1
            meta.candidate = meta.body_hash
    meta.version = number
    placement.path = draft_path(drafts_dir, meta.week, meta.post, meta.edition, number)
    write_text_atomic(generated_path(forge_dir, placement.path), body.strip() + "\n")
    write_text_atomic(placement.path, render(meta, body))
    return placement


def _backup(forge_dir: Path, path: Path, now: dt.datetime | None) -> Path:
    """Copy `path` to .forge/backups/weekNN/<name>.<YYYYmmdd-HHMMSS>.md (never over an earlier backup)."""
    stamp = f"{(now or dt.datetime.now()):%Y%m%d-%H%M%S}"
    folder = forge_dir / "backups" / path.parent.name
    target = folder / f"{path.stem}.{stamp}.md"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}.{stamp}-{n}.md"
    write_bytes_atomic(target, path.read_bytes())
    return target
