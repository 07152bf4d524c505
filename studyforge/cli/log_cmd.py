"""`forge log`: every LLM call forge made (.forge/llm-log.db), newest last."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, OptionalWeekArg
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("log")(log)


def log(
    week: OptionalWeekArg = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="show the newest N calls (0: all)")] = 50,
    json_: JsonOpt = False,
) -> None:
    """List the LLM calls: time, post, edition, model, tokens, estimated cost, duration, request id, outcome."""
    from studyforge.curriculum import parse_week
    from studyforge.drafting.calllog import CallLog

    out.json_mode = json_
    ws = state.workspace()
    number = parse_week(week, ws.curriculum) if week else None
    rows = CallLog(ws.forge_dir / "llm-log.db").rows(limit=limit or None, week=number)
    if json_:
        out.json(rows)
        return
    if not rows:
        out.print("No LLM calls logged yet: `forge draft week1` makes the first.")
        return
    table = Table(title="LLM calls (.forge/llm-log.db)", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("when", "draft", "backend · model", "tokens", "cost", "outcome · request id"):
        table.add_column(col, overflow="fold")
    for r in rows:
        cached, written = r["cache_read_tokens"] or 0, r["cache_write_tokens"] or 0
        tokens_in = (r["input_tokens"] or 0) + cached + written
        share = f" ({cached / tokens_in:.0%} cached)" if tokens_in and cached else ""
        outcome = {"ok": "[green]ok[/]"}.get(r["outcome"], f"[red]{r['outcome']}[/]")
        if r["error"]:
            outcome += f" [dim]{r['error'][:100]}[/]"
        table.add_row(r["time"][5:16].replace("T", " "), f"w{r['week']} {r['post']}\n{r['edition']} · {r['kind']}",
                      f"{r['backend']}\n{r['model'] or '—'}",
                      f"in {tokens_in:,}{share}\nout {r['output_tokens'] or 0:,}",
                      f"${r['cost_usd']:.4f}" if r["cost_usd"] is not None else "—",
                      f"{outcome}\n[dim]{r['request_id'] or '—'}[/]")
    out.print(table)
    costs = [r["cost_usd"] for r in rows if r["cost_usd"]]
    if costs:
        out.print(f"{len(rows)} call(s) shown; estimated cost ≈ ${sum(costs):.4f} (an estimate, see "
                  "studyforge/drafting/pricing.py)")
