"""`forge publish WEEK --format F --out DIR`: reviewed drafts exported with each blog engine's conventions.

Each edition is its own post (the two editions are different texts for different readers), named
`<post-slug>-<edition>`, and the edition also becomes a category so a reader can follow one audience:

    format    post file                                   figures copied to           figure link
    hugo      content/posts/<name>/index.md (page bundle)  the bundle folder           fig.png
    jekyll    _posts/YYYY-MM-DD-<name>.md                 assets/posts/<name>/        /assets/posts/<name>/fig.png
    quarto    posts/<name>/index.qmd                      the post folder             fig.png
    markdown  <name>.md                                   <name>/                     <name>/fig.png

    format    front matter
    hugo      title, date, draft: false, tags, categories: [edition id], summary, math
    jekyll    layout: post, title, date, categories: [edition id], tags (+ math: true when the body has LaTeX)
    quarto    title, description, date, categories: [edition id, *tags]
    markdown  none: a `# Title` heading and an italic byline (edition name · date), for pasting anywhere

The edition's category is its id (`scientist`, `manager`) in every format, so a site moved from one
engine to another keeps its category pages; an id has no spaces, which Jekyll would carry into URLs.

`tags` default to the week's title and its phase; a reviewer may set `tags`, `categories` (added after
the edition) and `summary` (or `description`) in the draft's front matter to choose them. The summary
otherwise is the first paragraph of prose, as plain text, cut at 200 characters. A leading `# Title`
line in the body is dropped (the title comes from the front matter). For Jekyll, a body containing
`{{` or `{%` (LaTeX often does) is wrapped in `{% raw %}` so Liquid leaves it alone.

Which drafts: for each post and edition, its current version (drafting/drafts.py: the one rule that
status and review use too), when its status is `reviewed` or `published`; a candidate beside it is
named, never published; a week with none is refused. A draft that still holds a placeholder
(`[TO WRITE…]`, `[RESULT: …]`) is refused, even when approved with `--force`. Figures are the body's
local image links (markdown `![..](path)` and `<img src=..>` outside code, read by drafting/markdown.py
as the checks read them), resolved from the draft's folder; each is copied and its link rewritten, a
missing one is refused. The publication date is `--date`, else the date the draft was
first published, else today — so publishing again writes the same files (unchanged ones are not
touched) and leaves the drafts' `published` date as it was. Afterwards each draft's front matter says
`status: published` and `published: <date>`; its body is never changed.

Nothing is written until every draft, figure and path has been checked, and `--out` may not lie inside
the workspace's own folders (runs/, notes/, drafts/, templates/, .forge/).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import yaml

from studyforge.drafting.drafts import Draft, read_draft, save, week_versions
from studyforge.drafting.markdown import find_links, rewrite_targets, unlink
from studyforge.errors import ForgeError
from studyforge.tracking.io import write_bytes_atomic
from studyforge.workspace import Workspace

FORMATS = ("hugo", "jekyll", "quarto", "markdown")
PUBLISHABLE = ("reviewed", "published")


@dataclass
class Layout:
    post_file: Path
    asset_dir: Path
    link_prefix: str  # prepended to a figure's file name in the post's links


@dataclass
class Output:
    draft: Draft
    date: dt.date
    layout: Layout
    text: str
    figures: list[tuple[Path, Path]] = field(default_factory=list)  # (source, destination)
    stale: Path | None = None  # a Jekyll post file under an older date, removed when the date changes
    written: list[Path] = field(default_factory=list)


def layout_for(fmt: str, out: Path, name: str, date: dt.date) -> Layout:
    """Where a post and its figures go, per format (the table in the module docstring)."""
    if fmt == "hugo":
        folder = out / "content" / "posts" / name
        return Layout(folder / "index.md", folder, "")
    if fmt == "jekyll":
        return Layout(out / "_posts" / f"{date.isoformat()}-{name}.md", out / "assets" / "posts" / name,
                      f"/assets/posts/{name}/")
    if fmt == "quarto":
        folder = out / "posts" / name
        return Layout(folder / "index.qmd", folder, "")
    if fmt == "markdown":
        return Layout(out / f"{name}.md", out / name, f"{name}/")
    raise ForgeError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def check_out_dir(ws: Workspace, out: Path) -> Path:
    """The resolved `--out`; refused inside the workspace's own folders or when it is a file."""
    target = Path(out).expanduser().resolve()
    own = [ws.runs_dir, ws.notes_dir, ws.drafts_dir, ws.root / "templates", ws.templates_dir, ws.forge_dir]
    for folder in own:
        folder = folder.resolve()
        if target == folder or folder in target.parents:
            raise ForgeError(f"--out {out} is inside the workspace's {ws.relative(folder)}/ folder",
                             hint="publish into your site's folder, e.g. --out ../my-blog")
    if target.exists() and not target.is_dir():
        raise ForgeError(f"--out {out} is a file", hint="give a folder (it is created when missing)")
    return target


# ---------------------------------------------------------------------------------------------
# Markdown helpers.

_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#|\{\{)", re.IGNORECASE)
_LEADING_H1 = re.compile(r"\A\s*#\s+[^\n]*\n?")
_LATEX = re.compile(r"\$\$|\\\(|\\\[|\\begin\{|(?<![\\$])\$[^$\n]*[\\^_{][^$\n]*\$")


def summary_of(body: str, limit: int = 200) -> str:
    """The first paragraph of prose as plain text, cut at a word boundary.

    >>> summary_of("# Title\\n\\n![x](a.png)\\n\\nAn **MDP** is a [model](https://x.org) of `choice`.\\n\\nMore.")
    'An MDP is a model of choice.'
    """
    body = re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL)
    body = re.sub(r"```.*?```", "", body, flags=re.DOTALL)
    for paragraph in re.split(r"\n\s*\n", body):
        text = paragraph.strip()
        if not text or text.startswith(("#", "!", "<", "|", "$$", ">", "- ", "* ", "+ ", "---", "\\[")):
            continue
        text = unlink(text)
        text = re.sub(r"(\*\*|__|`)", "", text)
        text = re.sub(r"(?<!\w)\*(\S[^*]*?)\*(?!\w)", r"\1", text)
        text = " ".join(text.split())
        if len(text) > limit:
            text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return text
    return ""


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def _front_matter(data: dict[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000) + "---\n\n"


# ---------------------------------------------------------------------------------------------
# Publishing.


def publishable(ws: Workspace, week: int) -> tuple[list[Draft], list[str]]:
    """For each post and edition its current version if reviewed or published; plus notes on what is skipped."""
    groups, _ = week_versions(ws.drafts_dir, week)
    chosen, skipped = [], []
    for group in groups:
        current = group.current
        if current.draft is None:  # broken front matter: a ForgeError naming the file, before anything is written
            raise ForgeError(current.error or f"cannot read {current.path}", hint="fix the front matter")
        draft = current.draft
        if draft.meta.status in PUBLISHABLE:
            chosen.append(draft)
        else:
            skipped.append(f"{ws.relative(draft.path)} is not reviewed yet (`forge review week{week} --approve`)")
        for c in group.candidates:
            skipped.append(f"{ws.relative(c.path)} is not reviewed yet: a candidate beside the current "
                           f"{draft.path.name} ({draft.meta.status}); `forge review week{week} --post {group.slug} "
                           f"--edition {group.edition} --adopt v{c.number}` makes it current")
    if not chosen:
        raise ForgeError(f"week {week} has no reviewed drafts",
                         hint=f"review and approve them first: `forge review week{week} --approve`")
    from studyforge.drafting.checks import find_placeholders

    unfinished = [(d, find_placeholders(d.body)) for d in chosen]
    unfinished = [(d, found) for d, found in unfinished if found]
    if unfinished:
        names = ", ".join(f"{ws.relative(d.path)} ({len(found)}, e.g. {found[0][1]})" for d, found in unfinished)
        raise ForgeError(f"not published: placeholders left in {names}",
                         hint="replace each [TO WRITE…] and [RESULT: …] with prose or a measured number "
                              f"(`forge review week{week}` lists them), then publish again")
    return chosen, skipped


def plan_outputs(ws: Workspace, week: int, fmt: str, out: Path, date: dt.date | None = None,
                 today: dt.date | None = None) -> tuple[list[Output], list[str]]:
    """Everything `publish` will write, computed and checked without writing anything."""
    if fmt not in FORMATS:
        raise ForgeError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    plan = ws.curriculum
    w = plan.week(week)
    target = check_out_dir(ws, out)
    drafts, skipped = publishable(ws, week)
    editions = {e.id: e for e in plan.editions}
    outputs = []
    for draft in drafts:
        meta = draft.meta
        extra = meta.model_extra or {}
        when = date or meta.published or today or dt.date.today()
        name = f"{meta.post}-{meta.edition}"
        layout = layout_for(fmt, target, name, when)
        body = _LEADING_H1.sub("", draft.body.strip(), count=1).strip() + "\n"
        figures, mapping = _collect_figures(ws, draft, body, layout)
        body = rewrite_targets(body, mapping)
        tags = _strings(extra.get("tags")) or [w.title, plan.phase_of(w).title]
        more = _strings(extra.get("categories"))
        summary = str(extra.get("summary") or extra.get("description") or summary_of(body))
        math = bool(_LATEX.search(body))
        edition_name = editions[meta.edition].name if meta.edition in editions else meta.edition
        if fmt == "hugo":
            head = _front_matter({"title": meta.title, "date": when, "draft": False, "tags": tags,
                                  "categories": [meta.edition, *more], "summary": summary, "math": math})
        elif fmt == "jekyll":
            data = {"layout": "post", "title": meta.title, "date": when, "categories": [meta.edition, *more],
                    "tags": tags}
            if math:
                data["math"] = True
            head = _front_matter(data)
            if "{{" in body or "{%" in body:
                body = "{% raw %}\n" + body + "{% endraw %}\n"
        elif fmt == "quarto":
            head = _front_matter({"title": meta.title, "description": summary, "date": when,
                                  "categories": [meta.edition, *more, *tags]})
        else:
            head = f"# {meta.title}\n\n*{edition_name} · {when.isoformat()}*\n\n"
        stale = None
        if fmt == "jekyll" and meta.published and meta.published != when:
            old = layout_for(fmt, target, name, meta.published).post_file
            stale = old if old.exists() else None
        outputs.append(Output(draft, when, layout, head + body, figures, stale))
    return outputs, skipped


def _collect_figures(ws: Workspace, draft: Draft, body: str, layout: Layout
                     ) -> tuple[list[tuple[Path, Path]], dict[str, str]]:
    figures: list[tuple[Path, Path]] = []
    mapping: dict[str, str] = {}
    used: dict[str, Path] = {}
    for link in [found.target for found in find_links(body) if found.image]:
        if link in mapping or _EXTERNAL.match(link):
            continue
        candidate = Path(unquote(link))
        if candidate.is_absolute() and not candidate.exists():
            continue  # a site-absolute URL such as /images/logo.png: not ours to copy
        source = (candidate if candidate.is_absolute() else draft.path.parent / candidate).resolve()
        if not source.is_file():
            raise ForgeError(f"{ws.relative(draft.path)}:{_line_of(draft.path, link)}: figure {link!r} not found "
                             f"at {ws.relative(source)}", hint="fix the link or copy the figure there, then publish again")
        filename = source.name
        n = 1
        while filename in used and used[filename] != source:
            n += 1
            filename = f"{source.stem}-{n}{source.suffix}"
        used[filename] = source
        figures.append((source, layout.asset_dir / filename))
        mapping[link] = layout.link_prefix + quote(filename)
    return figures, mapping


def _line_of(path: Path, link: str) -> int:
    """The 1-based line of the draft file that links to `link` (1 when it cannot be told)."""
    return next((found.line for found in find_links(path.read_text(encoding="utf-8")) if found.target == link), 1)


def publish(ws: Workspace, week: int, fmt: str, out: Path, date: dt.date | None = None,
            today: dt.date | None = None) -> tuple[list[Output], list[str]]:
    """Write the week's reviewed posts into `out` in `fmt`, then mark the drafts published."""
    outputs, skipped = plan_outputs(ws, week, fmt, out, date, today)
    for o in outputs:
        if _write_if_changed(o.layout.post_file, o.text.encode("utf-8")):
            o.written.append(o.layout.post_file)
        for source, dest in o.figures:
            if _write_if_changed(dest, source.read_bytes()):
                o.written.append(dest)
        if o.stale is not None:
            o.stale.unlink(missing_ok=True)
    for o in outputs:
        meta = o.draft.meta
        if meta.status != "published" or meta.published != o.date:
            fresh = read_draft(o.draft.path)  # the body as it is in the file, untouched
            fresh.meta.status = "published"
            fresh.meta.published = o.date
            save(fresh)
            o.draft = fresh
    return outputs, skipped


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_bytes_atomic(path, data)
    return True
