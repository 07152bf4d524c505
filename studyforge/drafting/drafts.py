"""Draft files: the markdown a human reviews, and the rules that keep their edits safe.

    drafts/week04/policy-gradient-wars.scientist.md     front matter (DraftMeta) + the post's body
    .forge/generated/week04/policy-gradient-wars.scientist.md   the body exactly as forge wrote it

The front matter's `body_hash` is the hash of the body forge wrote. If the file's body no longer
hashes to it, a human has edited it, and forge never overwrites it: a new draft goes beside it
(`<slug>.<edition>.v2.md`) unless `--force`. `forge review` diffs the generated copy against the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studyforge.errors import ForgeError
from studyforge.tracking.io import write_text_atomic

Edition = Literal["scientist", "manager"]
DraftStatus = Literal["draft", "reviewed", "published"]


class CheckProblem(BaseModel):
    """One grounding problem, e.g. line 41: '73.9%' matches no fact."""

    kind: Literal["number", "figure", "citation", "other"]
    line: int
    text: str
    message: str
    resolved: bool = False


class Checks(BaseModel):
    checked_at: dt.datetime | None = None
    numbers_checked: int = 0
    problems: list[CheckProblem] = Field(default_factory=list)

    @property
    def unresolved(self) -> int:
        return sum(not p.resolved for p in self.problems)


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


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


@dataclass
class Draft:
    path: Path
    meta: DraftMeta
    body: str

    @property
    def edited(self) -> bool:
        """True when a human changed the body since forge wrote it."""
        return body_hash(self.body) != self.meta.body_hash


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


def write_new_draft(drafts_dir: Path, forge_dir: Path, meta: DraftMeta, body: str, *, force: bool = False) -> Path:
    """Write a freshly generated draft without ever losing a human's edits.

    - no file yet, or the existing file is unedited forge output: (over)write it;
    - the existing file was edited by a human: write `<slug>.<edition>.vN.md` beside it, unless `force`.
    Also keeps the generated body under .forge/generated/ for review diffs.
    """
    meta.body_hash = body_hash(body)
    path = draft_path(drafts_dir, meta.week, meta.post, meta.edition)
    if path.exists() and not force:
        try:
            existing = read_draft(path)
            keep = existing.edited or existing.meta.status != "draft"
        except ForgeError:
            keep = True  # unreadable: treat as the human's
        if keep:
            version = 2
            while draft_path(drafts_dir, meta.week, meta.post, meta.edition, version).exists():
                version += 1
            meta.version = version
            path = draft_path(drafts_dir, meta.week, meta.post, meta.edition, version)
    write_text_atomic(generated_path(forge_dir, path), body.strip() + "\n")
    write_text_atomic(path, render(meta, body))
    return path


def list_drafts(drafts_dir: Path, week: int) -> list[Path]:
    folder = drafts_dir / f"week{week:02d}"
    return sorted(folder.glob("*.md")) if folder.is_dir() else []
