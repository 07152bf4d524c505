"""`forge log`: every LLM call forge made (.forge/llm-log.db), newest last, in a table that fits the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, OptionalWeekArg
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("log")(log)


def log(
    week: OptionalWeekArg = None,
    limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", help="show the newest N calls (0: all)")] = 50,
    json_: JsonOpt = False,
) -> None:
    """List the LLM calls forge made, newest last (columns: when, draft, model / request id, tokens, cost,
    duration, outcome; a narrow terminal drops duration, tokens, model and when first)."""
    from studyforge.curriculum import parse_week
    from studyforge.drafting.calllog import CallLog
    from studyforge.errors import ForgeError

    out.json_mode = json_
    if limit < 0:
        raise ForgeError(f"--limit {limit}: give a number of calls, or 0 for all", hint="e.g. `forge log -n 20`")
    ws = state.workspace()
    number = parse_week(week, ws.curriculum) if week else None
    rows = CallLog(ws.forge_dir / "llm-log.db").rows(limit=limit or None, week=number)
    if json_:
        out.json(rows)
        return
    if not rows:
        out.print("No LLM calls logged yet: `forge draft week1` makes the first.")
        return
    out.print(calls_table(rows, out.width))
    costs = [r["cost_usd"] for r in rows if r["cost_usd"]]
    if costs:
        out.print(f"{len(rows)} call(s) shown; estimated cost ≈ ${sum(costs):.4f} (an estimate, see "
                  "studyforge/drafting/pricing.py)")


def calls_table(rows: list[dict], width: int):
    """One row per call: the slug, the model and the request id are shown whole; an error's text wraps."""
    from rich import box
    from rich.markup import escape

    from studyforge.display import Col, fitted_table

    cols = [Col("when", whole=True, drop=3), Col("draft", whole=True), Col("model / request id", whole=True, drop=4),
            Col("tokens", whole=True, drop=5, justify="right"), Col("cost", whole=True, drop=1, justify="right"),
            Col("duration", whole=True, drop=6, justify="right"), Col("outcome", min_width=8)]
    cells = []
    for r in rows:
        cached, written = r["cache_read_tokens"] or 0, r["cache_write_tokens"] or 0
        tokens_in = (r["input_tokens"] or 0) + cached + written
        share = f" ({cached / tokens_in:.0%} cached)" if tokens_in and cached else ""
        outcome = {"ok": "[green]ok[/]"}.get(r["outcome"], f"[red]{escape(str(r['outcome']))}[/]")
        if r["error"]:
            outcome += f" [dim]{escape(r['error'][:100])}[/]"
        cells.append({
            "when": r["time"][5:16].replace("T", " "),
            "draft": f"{escape(str(r['post']))}\n[dim]w{r['week']} · {r['edition']} · {r['kind']}[/]",
            "model / request id": f"{escape(str(r['model'] or r['backend']))}\n[dim]{escape(str(r['request_id'] or '—'))}[/]",
            "tokens": f"in {tokens_in:,}{share}\nout {r['output_tokens'] or 0:,}",
            "cost": f"${r['cost_usd']:.4f}" if r["cost_usd"] is not None else "—",
            "duration": f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else "—",
            "outcome": outcome,
        })
    return fitted_table(cols, cells, width, title="LLM calls (.forge/llm-log.db)", box=box.SIMPLE_HEAD,
                        title_justify="left")
