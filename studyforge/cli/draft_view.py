"""How `forge draft` looks on the terminal: the drafting code's `DraftView` hooks, drawn with rich.

A transient line while a reply streams, one line per draft written with its check problems, the dry
run's table of tokens and costs, a progress bar while a batch runs; notices by their level.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from studyforge.console import out
from studyforge.drafting.finish import Job, Outcome, Planned
from studyforge.drafting.pipeline import Estimate
from studyforge.drafting.view import DraftView
from studyforge.notices import Notice
from studyforge.workspace import Workspace


def show(notice: Notice) -> None:
    {"info": out.info, "success": out.success, "warning": out.warn, "error": out.error}[notice.level](notice.text)


class TerminalView(DraftView):
    def __init__(self, ws: Workspace):
        self.ws = ws

    def notice(self, notice: Notice) -> None:
        show(notice)

    def prompts(self, planned: Planned) -> None:
        for job in planned.jobs:
            out.print(job.prompt.show(), markup=False, highlight=False, soft_wrap=True)
        out.info("the prompts above were not sent (--show-prompt)")

    def estimate(self, estimate: Estimate) -> None:
        model, batch = estimate.model, estimate.batch
        how = ("counted by the API (messages.count_tokens)" if estimate.exact else
               "a local estimate, ~4 characters per token (with ANTHROPIC_API_KEY set, the API counts them)")
        out.print(f"[bold]Dry run[/] for {model} — tokens {how}; costs are estimates from the price table in "
                  "studyforge/drafting/pricing.py" + (" with the Batch API's 50% discount" if batch else ""))
        for row in estimate.rows:
            cost = (f"input ≈ ${row['input_cost_usd']:.4f}, output ≤ {estimate.max_tokens:,} tokens ≈ "
                    f"≤ ${row['max_output_cost_usd']:.4f}") if estimate.priced else f"no price known for {model}"
            out.print(f"  {row['post']} · {row['edition']}: {row['input_tokens']:,} input tokens "
                      f"({row['shared_tokens']:,} shared, cached after the first request); {cost}")
        if estimate.priced:
            total_in = sum(r["input_cost_usd"] for r in estimate.rows)
            total_out = sum(r["max_output_cost_usd"] for r in estimate.rows)
            out.print(f"  total: input ≈ ${total_in:.4f}, at most ≈ ${total_in + total_out:.4f} with full-length "
                      "replies")
        out.info("nothing was generated (--dry-run)")

    def started(self, planned: Planned, backend: str) -> None:
        ctx = planned.ctx
        label = "offline skeleton" if backend == "offline" else f"{backend} {planned.model}"
        out.print(f"[bold]Week {ctx.week.week}: {ctx.week.title}[/] — {len(planned.jobs)} draft(s), {label}; "
                  f"context from {len(ctx.runs)} run(s), {len(ctx.facts)} facts, {len(ctx.notes)} notes file(s)")

    @contextmanager
    def streaming(self, job: Job, backend: str) -> Iterator[Callable[[str], None]]:
        """A transient rich line while the reply streams: tokens so far, seconds, and the latest text."""
        if backend == "offline":  # the skeleton arrives at once
            yield lambda delta: None
            return
        from rich.live import Live

        line = _StreamLine(job)
        with Live(line.render(), console=out.err if out.json_mode else out.console, refresh_per_second=8,
                  transient=True) as live:
            def on_text(delta: str) -> None:
                line.add(delta)
                live.update(line.render())

            yield on_text

    def drafted(self, outcome: Outcome) -> None:
        """One line per draft, then its check problems."""
        ws, meta, usage = self.ws, outcome.meta, outcome.meta.usage
        total_in = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        if meta.backend == "offline":
            how = "offline skeleton"
        else:
            cached = (f" ({usage.cache_read_tokens / total_in:.0%} from cache)"
                      if total_in and usage.cache_read_tokens else "")
            cost = f", ≈ ${meta.cost_usd:.4f} (estimate)" if meta.cost_usd is not None else ", cost unknown"
            how = (f"{meta.backend} {meta.model}: {total_in:,} tokens in{cached}, {usage.output_tokens:,} out{cost}, "
                   f"{outcome.response.duration_s:.1f}s")
        out.success(f"{ws.relative(outcome.path)} — {how}")
        if outcome.kept is not None:
            out.warn(f"kept {ws.relative(outcome.kept)}, the current version (yours: edited, approved or adopted); "
                     f"the new draft is a candidate beside it, {outcome.path.name}. `forge review week{meta.week}` "
                     f"shows the difference; `forge review week{meta.week} --post {meta.post} --edition "
                     f"{meta.edition} --adopt v{meta.version}` makes it current (--force replaces the current "
                     "version instead)")
        if outcome.backup is not None:
            out.info(f"  replaced with --force; the previous text is kept in {ws.relative(outcome.backup)}")
        checks = meta.checks
        problems = checks.problems
        colour = "yellow" if problems else "green"
        out.print(f"  [{colour}]checks: {checks.numbers_checked} numbers checked, {len(problems)} problem(s)[/]")
        for p in problems[:30]:
            out.print(f"    [yellow]⚠[/] {p.message}", markup=True, highlight=False)
        if len(problems) > 30:
            out.print(f"    … and {len(problems) - 30} more (see the draft's front matter)")

    def finished(self, outcomes: list[Outcome], week: int) -> None:
        problems = sum(len(o.meta.checks.problems) for o in outcomes)
        out.print(f"{len(outcomes)} draft(s) written" + (f", {problems} check problem(s) to look at" if problems else "")
                  + f". Review with `forge review week{week}`.")

    def batch_submitted(self, batch_id: str, requests: int, state: Path) -> None:
        out.print(f"Submitted batch {batch_id}: {requests} request(s), state in {self.ws.relative(state)}")

    def batch_resumed(self, state: dict[str, Any]) -> None:
        out.print(f"Resuming batch {state['batch_id']} (submitted {state['submitted']}, "
                  f"{len(state['items'])} request(s)); it is not submitted again.")

    @contextmanager
    def waiting(self, batch_id: str, requests: int) -> Iterator[Callable[[dict[str, Any]], None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("[bold]batch {task.fields[batch]}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                            console=out.err if out.json_mode else out.console, transient=True)
        with progress:
            task = progress.add_task("batch", total=requests, batch=batch_id[-12:], status="")

            def on_status(status: dict[str, Any]) -> None:
                done = status["succeeded"] + status["errored"] + status["canceled"] + status["expired"]
                progress.update(task, completed=done, status=f"{status['status']} · {status['succeeded']} ok, "
                                                             f"{status['errored']} errored")

            yield on_status

    def batch_done(self, batch_id: str, outcomes: list[Outcome], failures: int, week: int) -> None:
        out.print(f"Batch {batch_id}: {len(outcomes)} draft(s) written"
                  + (f", {failures} failed (draft those again without --batch)" if failures else "")
                  + f". Review with `forge review week{week}`.")


class _StreamLine:
    """The streaming line's text: `drafting week 1 · post · edition · model · ≈N tokens · Ns  <latest text>`."""

    def __init__(self, job: Job):
        self.job = job
        self.text: list[str] = []
        self.chars = 0
        self.start = time.perf_counter()

    def add(self, delta: str) -> None:
        self.text.append(delta)
        self.chars += len(delta)

    def render(self):
        from rich.text import Text

        tail = "".join(self.text)[-200:].replace("\n", " ").strip()[-70:]
        return Text.assemble(("drafting ", "dim"), (self.job.request.label, "bold"),
                             (f" · {self.job.request.model} · ≈{self.chars // 4:,} tokens · "
                              f"{time.perf_counter() - self.start:.0f}s  ", "dim"), (tail, "italic"))
