"""`forge draft`: context -> prompts -> LLM -> checked draft files, one post and edition at a time.

    plan_drafts(ws, options)      validate everything and render every prompt (no call, no file written)
    generate(ws, planned, client) stream each draft with a live display, then `finish` it
    finish(...)                   copy the figures, run the grounding checks, write the draft, log the call

Nothing is written before a call has succeeded: a failed call leaves every file as it was (only the
call log grows). A stream that breaks midway leaves its text in `<draft>.md.partial`, which the next
successful draft of that post and edition removes. A version the learner made theirs is never
overwritten: the new draft is a candidate beside it (drafts.write_new_draft, which also says which
version is current). Every call is logged (calllog.py).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studyforge.console import out
from studyforge.curriculum import Edition, Post, Week
from studyforge.drafting.calllog import CallLog
from studyforge.drafting.checks import Grounding, check_draft, place_checks
from studyforge.drafting.context import DraftContext, gather
from studyforge.drafting.drafts import (
    CheckProblem,
    Checks,
    DraftMeta,
    body_hash,
    partial_path,
    write_new_draft,
)
from studyforge.drafting.llm import (
    LLMClient,
    LLMError,
    LLMRequest,
    LLMResponse,
    StreamBroken,
    approx_request_tokens,
    has_api_key,
)
from studyforge.drafting.pricing import estimate_cost, price_of
from studyforge.drafting.prompts import Prompt, PromptBuilder
from studyforge.errors import ForgeError
from studyforge.tracking.io import write_bytes_atomic, write_text_atomic
from studyforge.workspace import Workspace

BACKENDS = ("auto", "anthropic", "offline")


@dataclass
class DraftOptions:
    week: int
    post: str = "all"
    edition: str = "all"
    backend: str = "auto"
    model: str | None = None
    dry_run: bool = False
    show_prompt: bool = False
    force: bool = False
    allow_missing_results: bool = False
    allow_quick: bool = False
    batch: bool = False


@dataclass
class Job:
    prompt: Prompt
    request: LLMRequest

    @property
    def post(self) -> Post:
        return self.prompt.post

    @property
    def edition(self) -> str:
        return self.prompt.edition.id


@dataclass
class Planned:
    """Everything decided before the first call."""

    ctx: DraftContext
    grounding: Grounding
    jobs: list[Job]
    backend: str  # anthropic | offline (auto resolved)
    model: str | None  # None for the offline backend
    max_tokens: int
    notices: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    job: Job
    path: Path
    kept: Path | None  # the current version left untouched: the new draft is a candidate beside it
    response: LLMResponse
    meta: DraftMeta
    backup: Path | None = None  # with --force: where the replaced text was copied


# ---------------------------------------------------------------------------------------------
# Planning.


def resolve_backend(name: str) -> tuple[str, str | None]:
    """(backend, notice): `auto` is anthropic with an API key in the environment, else offline."""
    if name not in BACKENDS:
        raise ForgeError(f"--backend {name!r} is not a backend", hint="use auto, anthropic or offline")
    if name == "auto":
        if has_api_key():
            return "anthropic", None
        return "offline", ("No ANTHROPIC_API_KEY set, so drafting offline: a skeleton with your notes, the facts, the "
                           "figures and [TO WRITE] placeholders. Set ANTHROPIC_API_KEY to draft with Claude.")
    return name, None


def select(w: Week, editions: list[Edition], post: str, edition: str) -> list[tuple[Post, Edition]]:
    """The (post, edition) pairs `--post N|SLUG|all` and `--edition ID|all` pick, in the plan's order."""
    posts = list(w.posts)
    if post != "all":
        if post.isdigit() and 1 <= int(post) <= len(posts):
            posts = [posts[int(post) - 1]]
        elif any(p.slug == post for p in posts):
            posts = [p for p in posts if p.slug == post]
        else:
            listing = ", ".join(f"{i} = {p.slug}" for i, p in enumerate(w.posts, 1))
            raise ForgeError(f"week {w.week} has no post {post!r}", hint=f"use --post with a number or slug: {listing}")
    chosen = list(editions)
    if edition != "all":
        chosen = [e for e in editions if e.id == edition]
        if not chosen:
            raise ForgeError(f"no edition {edition!r}",
                             hint=f"use --edition {' | '.join(e.id for e in editions)} | all")
    return [(p, e) for p in posts for e in chosen]


def resolve_model(ws: Workspace, option: str | None) -> str:
    from studyforge.drafting.pricing import default_model, known_models

    model = option or ws.curriculum.drafting.model or default_model()
    if model not in known_models() and not re.match(r"^[A-Za-z0-9][\w.:@/-]*$", model):
        raise ForgeError(f"--model {model!r} is not a model id", hint="e.g. --model " + default_model())
    return model


def _sdk_knows(model: str) -> bool:
    from studyforge.drafting.pricing import known_models

    return model in known_models()


def plan_drafts(ws: Workspace, opts: DraftOptions) -> Planned:
    """Validate the options, gather the context and render every prompt; raises ForgeError, writes nothing."""
    plan = ws.curriculum
    w = plan.week(opts.week)
    pairs = select(w, list(plan.editions), opts.post, opts.edition)
    backend, notice = resolve_backend(opts.backend)
    if opts.batch and backend != "anthropic":
        raise ForgeError("--batch needs the anthropic backend (the Message Batches API)",
                         hint="set ANTHROPIC_API_KEY, or draft offline without --batch")
    model = resolve_model(ws, opts.model) if backend == "anthropic" or opts.model or opts.dry_run else None
    if backend == "anthropic" and model and not _sdk_knows(model):
        out.warn(f"{model!r} is not a model id the installed anthropic SDK lists; sending it anyway")
    ctx = gather(ws, opts.week, allow_missing=opts.allow_missing_results, allow_quick=opts.allow_quick)
    builder = PromptBuilder(ws, ctx)
    jobs = []
    for post, edition in pairs:
        prompt = builder.build(post, edition)
        request = LLMRequest(model or "offline", plan.drafting.max_tokens, prompt.system, prompt.messages,
                             week=opts.week, post=post.slug, edition=edition.id, skeleton=prompt.skeleton)
        jobs.append(Job(prompt, request))
    notices = ([notice] if notice else []) + ctx.warnings
    if ctx.missing and ctx.runs:
        notices.append(f"no completed run of {', '.join(ctx.missing)}: its results are left out of the drafts")
    if not ctx.runs:
        notices.append("no completed runs: the drafts have no measured numbers ([RESULT: ...] placeholders)")
    if not ctx.notes:
        notices.append(f"no notes for week {opts.week} (notes/week{opts.week:02d}*.md): drafting from the plan "
                       "and the results alone; `forge notes` writes a skeleton")
    return Planned(ctx, Grounding.from_context(ctx), jobs, backend, model if backend == "anthropic" else None,
                   plan.drafting.max_tokens, notices)


def make_client(backend: str) -> LLMClient:
    from studyforge.drafting.llm import AnthropicClient, OfflineClient

    return AnthropicClient() if backend == "anthropic" else OfflineClient()


# ---------------------------------------------------------------------------------------------
# Generating.


def generate(ws: Workspace, planned: Planned, client: LLMClient, *, force: bool = False,
             live: bool = True) -> list[Outcome]:
    """Draft every planned job in turn; the first failure stops the run (what was written stays)."""
    log = CallLog(ws.forge_dir / "llm-log.db")
    outcomes = []
    for job in planned.jobs:
        start = time.perf_counter()
        partial = partial_path(ws.drafts_dir, job.request.week, job.post.slug, job.edition)
        display = _live_display(job, client, enabled=live and client.backend != "offline")
        try:
            with display as on_text:
                response = client.generate(job.request, on_text)
        except StreamBroken as exc:
            if exc.partial:
                write_text_atomic(partial, exc.partial)
            _log_failure(log, job, client, exc, time.perf_counter() - start, "partial")
            kept = (f"; the partial text is kept in {ws.relative(partial)}" if exc.partial else "")
            raise LLMError(f"{exc.message}{kept}; no draft was changed", hint=exc.hint,
                           request_id=exc.request_id) from None
        except LLMError as exc:
            _log_failure(log, job, client, exc, time.perf_counter() - start, "error")
            raise
        except KeyboardInterrupt:
            text = "".join(display.text)
            if text:
                write_text_atomic(partial, text)
            error = LLMError(f"interrupted (Ctrl-C) while drafting {job.request.label}")
            _log_failure(log, job, client, error, time.perf_counter() - start, "interrupted")
            kept = f"; the partial text is kept in {ws.relative(partial)}" if text else ""
            raise ForgeError(f"{error.message}{kept}; no draft was changed",
                             hint="run the command again to draft it", exit_code=130) from None
        response.duration_s = response.duration_s or (time.perf_counter() - start)
        outcome = finish(ws, planned, job, response, client.backend, force=force, log=log)
        report(ws, outcome)
        outcomes.append(outcome)
    return outcomes


def finish(ws: Workspace, planned: Planned, job: Job, response: LLMResponse, backend: str, *, force: bool,
           log: CallLog, batch: bool = False) -> Outcome:
    """Copy the figures, check the body, write the draft without losing edits, and log the call."""
    body = response.text.strip()
    if not body:
        raise LLMError(f"{job.request.label}: the reply was empty", hint="run the command again",
                       request_id=response.request_id)
    week_dir = ws.drafts_dir / f"week{job.request.week:02d}"
    _copy_figures(planned.ctx, body, week_dir)
    title = job.post.title or _first_heading(body) or job.post.display_title
    usage = response.usage
    model = response.model if backend != "offline" else None
    cost = estimate_cost(model, usage, batch=batch) if model else (0.0 if backend == "offline" else None)
    checks = check_draft(body, planned.grounding, week_dir)
    if response.stop_reason == "max_tokens":
        last = body.count("\n") + 1
        checks.problems.append(CheckProblem(kind="other", line=last, text="max_tokens",
                                            message=f"the draft stops mid-way (line {last}): it hit max_tokens "
                                                    f"({planned.max_tokens}); raise drafting.max_tokens"))
    meta = DraftMeta(
        title=title, week=job.request.week, post=job.post.slug, edition=job.edition, status="draft",
        created=dt.datetime.now().astimezone().replace(microsecond=0), backend=backend, model=model,
        source_runs=planned.ctx.source_runs, notes_hash=planned.ctx.notes_hash, prompt_hash=job.request.hash,
        body_hash="", usage=usage, cost_usd=round(cost, 6) if cost is not None else None, checks=checks,
        allow_quick=True if planned.ctx.quick_runs else None, quick_runs=planned.ctx.quick_runs or None,
    )
    meta.body_hash = body_hash(body)
    place_checks(meta, checks, body)
    placed = write_new_draft(ws.drafts_dir, ws.forge_dir, meta, body, force=force)
    path = placed.path
    partial_path(ws.drafts_dir, meta.week, meta.post, meta.edition).unlink(missing_ok=True)  # stale now
    log.record(week=meta.week, post=meta.post, edition=meta.edition, backend=backend, model=model,
               kind="batch" if batch else "draft", prompt_hash=meta.prompt_hash, input_tokens=usage.input_tokens,
               output_tokens=usage.output_tokens, cache_read_tokens=usage.cache_read_tokens,
               cache_write_tokens=usage.cache_write_tokens, cost_usd=meta.cost_usd,
               duration_s=round(response.duration_s, 3), request_id=response.request_id, outcome="ok",
               draft=ws.relative(path))
    return Outcome(job, path, placed.kept, response, meta, placed.backup)


def _copy_figures(ctx: DraftContext, body: str, week_dir: Path) -> None:
    """Copy each figure the body links next to the drafts (figures/<run id>/<file>; never overwritten)."""
    for fig in ctx.figures:
        if fig.link in body:
            dest = week_dir / fig.link
            if not dest.exists() and fig.source.exists():
                write_bytes_atomic(dest, fig.source.read_bytes())


def _first_heading(body: str) -> str | None:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
    return m.group(1) if m else None


def _log_failure(log: CallLog, job: Job, client: LLMClient, exc: LLMError, duration: float, outcome: str) -> None:
    log.record(week=job.request.week, post=job.post.slug, edition=job.edition, backend=client.backend,
               model=job.request.model, kind="draft", prompt_hash=job.request.hash, duration_s=round(duration, 3),
               request_id=exc.request_id, outcome=outcome, error=exc.message[:500])


class _live_display:
    """A transient rich line while the reply streams: tokens so far, seconds, and the latest text."""

    def __init__(self, job: Job, client: LLMClient, enabled: bool):
        self.job, self.client, self.enabled = job, client, enabled
        self.text: list[str] = []
        self.chars = 0
        self.start = time.perf_counter()
        self.live: Any = None

    def __enter__(self):
        if self.enabled:
            from rich.live import Live

            self.live = Live(self._render(), console=out.err if out.json_mode else out.console,
                             refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self.on_text

    def on_text(self, delta: str) -> None:
        self.text.append(delta)
        self.chars += len(delta)
        if self.live is not None:
            self.live.update(self._render())

    def _render(self):
        from rich.text import Text

        tail = "".join(self.text)[-200:].replace("\n", " ").strip()[-70:]
        line = Text.assemble(("drafting ", "dim"), (self.job.request.label, "bold"),
                             (f" · {self.job.request.model} · ≈{self.chars // 4:,} tokens · "
                              f"{time.perf_counter() - self.start:.0f}s  ", "dim"), (tail, "italic"))
        return line

    def __exit__(self, *exc_info) -> None:
        if self.live is not None:
            self.live.__exit__(*exc_info)


def report(ws: Workspace, outcome: Outcome) -> None:
    """One line per draft, then its check problems."""
    meta, usage = outcome.meta, outcome.meta.usage
    total_in = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    if meta.backend == "offline":
        how = "offline skeleton"
    else:
        cached = f" ({usage.cache_read_tokens / total_in:.0%} from cache)" if total_in and usage.cache_read_tokens else ""
        cost = f", ≈ ${meta.cost_usd:.4f} (estimate)" if meta.cost_usd is not None else ", cost unknown"
        how = (f"{meta.backend} {meta.model}: {total_in:,} tokens in{cached}, {usage.output_tokens:,} out{cost}, "
               f"{outcome.response.duration_s:.1f}s")
    out.success(f"{ws.relative(outcome.path)} — {how}")
    if outcome.kept is not None:
        out.warn(f"kept {ws.relative(outcome.kept)}, the current version (yours: edited, approved or adopted); "
                 f"the new draft is a candidate beside it, {outcome.path.name}. `forge review week{meta.week}` shows "
                 f"the difference; `forge review week{meta.week} --post {meta.post} --edition {meta.edition} "
                 f"--adopt v{meta.version}` makes it current (--force replaces the current version instead)")
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


# ---------------------------------------------------------------------------------------------
# --dry-run and --show-prompt.


def dry_run(ws: Workspace, planned: Planned, client: LLMClient | None, *, batch: bool = False) -> list[dict]:
    """Count each request's input tokens and estimate its cost; nothing is generated.

    With the API: `messages.count_tokens` per request, and once for the shared (cached) blocks. Without a
    key: a local estimate (~4 characters per token), labelled as such.
    """
    model = planned.model or resolve_model(ws, None)
    exact = client is not None and client.backend == "anthropic"
    log = CallLog(ws.forge_dir / "llm-log.db")
    shared_request = LLMRequest(model, planned.max_tokens, planned.jobs[0].request.system,
                                [{"role": "user", "content": "."}], week=planned.jobs[0].request.week,
                                post="(shared context)", edition="-")
    if exact:
        shared = client.count_tokens(shared_request)
        log.record(week=shared_request.week, post=shared_request.post, edition="-", backend="anthropic", model=model,
                   kind="count_tokens", prompt_hash=shared_request.hash, input_tokens=shared, outcome="ok")
    else:
        shared = approx_request_tokens(shared_request)
    price = price_of(model)
    rows = []
    for i, job in enumerate(planned.jobs):
        request = LLMRequest(model, planned.max_tokens, job.request.system, job.request.messages,
                             week=job.request.week, post=job.post.slug, edition=job.edition)
        tokens = client.count_tokens(request) if exact else approx_request_tokens(request)
        if exact:
            log.record(week=request.week, post=request.post, edition=request.edition, backend="anthropic",
                       model=model, kind="count_tokens", prompt_hash=request.hash, input_tokens=tokens, outcome="ok")
        cached = min(shared, tokens)
        from studyforge.drafting.drafts import Usage

        first = i == 0 or batch
        usage = Usage(input_tokens=tokens - cached, cache_write_tokens=cached if first else 0,
                      cache_read_tokens=0 if first else cached)
        rows.append({"post": job.post.slug, "edition": job.edition, "input_tokens": tokens, "shared_tokens": cached,
                     "input_cost_usd": estimate_cost(model, usage, batch=batch),
                     "max_output_cost_usd": estimate_cost(model, Usage(output_tokens=planned.max_tokens), batch=batch)})
    how = ("counted by the API (messages.count_tokens)" if exact else
           "a local estimate, ~4 characters per token (with ANTHROPIC_API_KEY set, the API counts them)")
    out.print(f"[bold]Dry run[/] for {model} — tokens {how}; costs are estimates from the price table in "
              "studyforge/drafting/pricing.py" + (" with the Batch API's 50% discount" if batch else ""))
    for row in rows:
        cost = (f"input ≈ ${row['input_cost_usd']:.4f}, output ≤ {planned.max_tokens:,} tokens ≈ "
                f"≤ ${row['max_output_cost_usd']:.4f}") if price else f"no price known for {model}"
        out.print(f"  {row['post']} · {row['edition']}: {row['input_tokens']:,} input tokens "
                  f"({row['shared_tokens']:,} shared, cached after the first request); {cost}")
    if price:
        total_in = sum(r["input_cost_usd"] for r in rows)
        total_out = sum(r["max_output_cost_usd"] for r in rows)
        out.print(f"  total: input ≈ ${total_in:.4f}, at most ≈ ${total_in + total_out:.4f} with full-length replies")
    out.info("nothing was generated (--dry-run)")
    return rows


def show_prompts(planned: Planned) -> None:
    for job in planned.jobs:
        out.print(job.prompt.show(), markup=False, highlight=False, soft_wrap=True)
    out.info("the prompts above were not sent (--show-prompt)")


# ---------------------------------------------------------------------------------------------
# The command.


def run_draft(ws: Workspace, opts: DraftOptions, client: LLMClient | None = None) -> list[Outcome]:
    """What `forge draft` does (see the CLI's help); `client` overrides the backend (tests)."""
    planned = plan_drafts(ws, opts)
    generating = not (opts.show_prompt or opts.dry_run)
    for notice in planned.notices:
        if notice.startswith("No ANTHROPIC"):
            if generating:
                out.info(notice)
        else:
            out.warn(notice)
    if opts.show_prompt:
        show_prompts(planned)
        if not opts.dry_run:
            return []
    if opts.dry_run:
        api = client if client is not None else (make_client("anthropic") if planned.backend == "anthropic" else None)
        dry_run(ws, planned, api, batch=opts.batch)
        return []
    client = client or make_client(planned.backend)
    if opts.batch:
        from studyforge.drafting.batch import run_batch

        return run_batch(ws, planned, client, force=opts.force)
    label = "offline skeleton" if client.backend == "offline" else f"{client.backend} {planned.model}"
    out.print(f"[bold]Week {opts.week}: {planned.ctx.week.title}[/] — {len(planned.jobs)} draft(s), {label}; "
              f"context from {len(planned.ctx.runs)} run(s), {len(planned.ctx.facts)} facts, "
              f"{len(planned.ctx.notes)} notes file(s)")
    outcomes = generate(ws, planned, client, force=opts.force)
    problems = sum(len(o.meta.checks.problems) for o in outcomes)
    out.print(f"{len(outcomes)} draft(s) written" + (f", {problems} check problem(s) to look at" if problems else "")
              + f". Review with `forge review week{opts.week}`.")
    return outcomes


__all__ = ["Checks", "DraftOptions", "Outcome", "Planned", "dry_run", "finish", "generate", "plan_drafts",
           "run_draft"]
