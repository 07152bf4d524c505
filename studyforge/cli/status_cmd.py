"""`forge status`: the dashboard of the week's rhythm — one row per week, and what is due today.

studyforge/status.py computes the dashboard (and documents its states and JSON); this module draws it for
a terminal of any width: the header, one table row per week under its phase's name, then the problems
(failed experiments, unreadable files) one a line below the table, so that no cell has to hold a long id
or path. On a narrow terminal the dates, then the notes, then the experiments columns are dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt
from studyforge.console import out

TodayOpt = Annotated[str | None, typer.Option("--today", help="pretend today is YYYY-MM-DD (default: the date)",
                                              show_default=False)]

_STATE_STYLE = {"upcoming": "dim", "studying": "cyan", "drafting": "blue", "in review": "yellow",
                "published": "green", "overdue": "bold red"}
_DRAFT_STYLE = {"draft": "yellow", "reviewed": "cyan", "published": "green", "error": "red"}


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(today: TodayOpt = None, json_: JsonOpt = False) -> None:
    """One row per week under its phase, and what is due today (columns: week, title, dates, state, notes,
    experiments, posts; a narrow terminal drops dates, then notes, then experiments)."""
    from studyforge.status import build_status, parse_date

    out.json_mode = json_
    day = parse_date(today) if today is not None else None
    data = build_status(state.workspace(), day)
    if json_:
        out.json(data)
        return
    for line in header_lines(data):
        out.print(line)
    out.print(status_table(data, out.width))
    for line in problem_lines(data):
        out.print(line, soft_wrap=True)


def header_lines(data: dict[str, Any]) -> list[str]:
    """Where the calendar is, what is due today, the overdue weeks and the posts against the target."""
    from rich.markup import escape

    cal, posts = data["calendar"], data["posts"]
    plan = data["plan"]
    if cal["position"] == "during":
        row = data["weeks"][cal["week"] - 1]
        where = f"Today is {data['today']}: week {cal['week']} of {plan['weeks']} ({escape(row['title'])})."
    else:
        where = f"Today is {data['today']}: outside the plan ({plan['start_date']} → {plan['end_date']})."
    lines = [f"[bold]{escape(plan['title'])}[/]", where, f"[bold]Due:[/] {escape(cal['due'])}"]
    overdue = [str(row["week"]) for row in data["weeks"] if row["state"] == "overdue"]
    if overdue:
        lines.append(f"[bold red]Overdue:[/] week{'s' * (len(overdue) > 1)} {', '.join(overdue)} "
                     "(ended, posts not published)")
    colour = "green" if posts["published"] >= posts["target"] else "yellow"
    due = {"during": "due by the end of this week", "before": "due so far", "after": "due by the plan's end"}
    lines.append(f"[bold]Posts:[/] [{colour}]{posts['published']} published[/] of {posts['target']} "
                 f"{due[cal['position']]} ({posts['per_week']} a week; {posts['planned']} planned in all)")
    return lines


def status_table(data: dict[str, Any], width: int):
    """One row per week, each phase's weeks under its name; the columns that do not fit `width` are dropped."""
    from rich import box
    from rich.markup import escape
    from rich.text import Text

    from studyforge.display import Col, column_widths, fitted_table

    editions = list(data["weeks"][0]["posts"][0]["editions"]) if data["weeks"] and data["weeks"][0]["posts"] else []
    cols = [Col("week", whole=True, justify="right"), Col("title", min_width=16), Col("dates", whole=True, drop=4),
            Col("state", whole=True), Col("notes", drop=3), Col("experiments", drop=2, min_width=9),
            Col("posts", min_width=24)]
    rows: list[dict[str, Any]] = []
    phase = None
    for row in data["weeks"]:
        if row["phase"] != phase:
            if phase is not None:
                rows.append({})  # a blank line between phases
            phase = row["phase"]
            rows.append({"title": f"[bold]{escape(phase)}[/]"})
        start, end = dt.date.fromisoformat(row["start"]), dt.date.fromisoformat(row["end"])
        rows.append({
            "week": str(row["week"]), "title": escape(row["title"]), "dates": f"{start:%b %d}–{end:%b %d}",
            "state": f"[{_STATE_STYLE[row['state']]}]{row['state']}[/]",
            "notes": _notes_text(row["notes"]), "experiments": _experiments_text(row["experiments"]),
            "posts": _posts_text(row, short=False), "_row": row,
        })
    caption = f"posts: a line per post of the week, a status per edition ({' · '.join(editions)})"
    options = {"box": box.SIMPLE_HEAD, "pad_edge": False, "caption_justify": "left"}
    widest = max((len(line) for r in rows for line in Text.from_markup(r.get("posts", "")).plain.splitlines()),
                 default=0)
    if column_widths(cols, rows, width, **options).get("posts", widest) < widest:
        # too narrow for "(2 unresolved)" on one line: "(2)", explained in the caption
        for r in rows:
            if "_row" in r:
                r["posts"] = _posts_text(r["_row"], short=True)
        caption += "; (n): n unresolved checks"
    return fitted_table(cols, rows, width, caption=caption, **options)


def problem_lines(data: dict[str, Any]) -> list[str]:
    """What the table only counts, in full: failed and quick-only experiments, unreadable files (what, where)."""
    from rich.markup import escape

    lines = []
    for row in data["weeks"]:
        e = row["experiments"]
        where = f"week {row['week']}:"
        if e["failed"]:
            lines.append(f"[red]{where} failed: {escape(', '.join(e['failed']))}[/]")
        if e.get("quick_only_ids"):
            lines.append(f"[yellow]{where} quick runs only: {escape(', '.join(e['quick_only_ids']))}[/]")
        lines += [f"[red]{where} error: {escape(_short(error))}[/]" for error in row["errors"]]
    return lines


def _notes_text(notes: dict[str, Any]) -> str:
    from rich.markup import escape

    if not notes["present"]:
        text = "—"
    else:
        text = f"{notes['words']:,} words"
        if notes["status"]:
            text += f"\n[dim]{escape(notes['status'])}[/]"
    if notes["errors"]:
        text += f"\n[red]{_count(len(notes['errors']), 'error')}[/]"
    return text


def _experiments_text(e: dict[str, Any]) -> str:
    done = f"{e['completed']}/{e['total']} done"
    text = f"[green]{done}[/]" if e["total"] and e["completed"] == e["total"] else done
    if e["last_run"]:
        text += f"\nlast {dt.date.fromisoformat(e['last_run']):%b %d}"
    if e.get("quick_only"):
        text += "\n[yellow]quick runs only[/]"
    if e["failed"]:
        text += f"\n[red]{len(e['failed'])} failed[/]"
    if e["errors"]:
        text += f"\n[red]{_count(len(e['errors']), 'error')}[/]"
    return text


def _posts_text(row: dict[str, Any], short: bool) -> str:
    lines = []
    for index, post in enumerate(row["posts"], 1):
        cells = []
        for cell in post["editions"].values():
            status = cell["status"]
            if status is None:
                cells.append("—")
                continue
            text = f"[{_DRAFT_STYLE[status]}]{status}[/]"
            if cell["version"] and cell["version"] > 1:
                text += f" v{cell['version']}"
            if cell["unresolved"]:
                text += f" [red]({cell['unresolved']}{'' if short else ' unresolved'})[/]"
            cells.append(text)
        lines.append(f"{index}. " + " · ".join(cells))
    others = len(row["errors"]) - len(row["notes"]["errors"]) - len(row["experiments"]["errors"])
    if others > 0:
        lines.append(f"[red]{_count(others, 'error')}[/]")
    return "\n".join(lines)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _short(error: str) -> str:
    """What and where; the hint after ' — ' is in the JSON (and `forge validate`)."""
    return error.split(" — ")[0]
