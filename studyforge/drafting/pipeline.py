"""`forge draft`: context -> prompts -> LLM -> checked draft files, one post and edition at a time.

    plan_drafts(ws, options)      validate everything and render every prompt (no call, no file written)
    generate(ws, planned, client) stream each draft, then `finish` it (finish.py: figures, checks, file, log)
    run_draft(ws, options)        what the command does: plan, then show the prompts, estimate, or generate

Nothing is written before a call has succeeded: a failed call leaves every file as it was (only the
call log grows). A stream that breaks midway leaves its text in `<draft>.md.partial`, which the next
successful draft of that post and edition removes. A version the learner made theirs is never
overwritten: the new draft is a candidate beside it (drafts.write_new_draft, which also says which
version is current). Every call is logged (calllog.py).

This module computes; what the user sees as it happens goes through a `DraftView` (view.py), which
the CLI renders (cli/draft_view.py). Messages for the user are `Notice`s, told apart by their level.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from studyforge.drafting.batch import run_batch
from studyforge.drafting.calllog import CallLog
from studyforge.drafting.checks import Grounding
from studyforge.drafting.context import gather
from studyforge.drafting.drafts import partial_path
from studyforge.drafting.finish import Job, Outcome, Planned, finish
from studyforge.drafting.llm import (
    LLMClient,
    LLMError,
    LLMRequest,
    StreamBroken,
    Usage,
    approx_request_tokens,
    has_api_key,
)
from studyforge.drafting.pricing import estimate_cost, price_of
from studyforge.drafting.prompts import PromptBuilder
from studyforge.drafting.selection import select
from studyforge.drafting.view import DraftView
from studyforge.errors import ForgeError
from studyforge.notices import Notice
from studyforge.tracking.io import write_text_atomic
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
class Estimate:
    """--dry-run: each request's input tokens and the cost they imply (`rows`, one per post and edition)."""

    model: str
    exact: bool  # counted by the API (else ~4 characters per token)
    batch: bool  # priced with the Batch API's discount
    priced: bool  # the model is in the price table
    max_tokens: int
    rows: list[dict]


# ---------------------------------------------------------------------------------------------
# Planning.


def resolve_backend(name: str) -> tuple[str, Notice | None]:
    """(backend, notice): `auto` is anthropic with an API key in the environment, else offline."""
    if name not in BACKENDS:
        raise ForgeError(f"--backend {name!r} is not a backend", hint="use auto, anthropic or offline")
    if name == "auto":
        if has_api_key():
            return "anthropic", None
        return "offline", Notice("info", "No ANTHROPIC_API_KEY set, so drafting offline: a skeleton with your notes, "
                                         "the facts, the figures and [TO WRITE] placeholders. Set ANTHROPIC_API_KEY "
                                         "to draft with Claude.")
    return name, None


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
    pairs = select(plan, opts.week, opts.post, opts.edition).pairs()
    backend, notice = resolve_backend(opts.backend)
    notices = [notice] if notice else []
    if opts.batch and backend != "anthropic":
        raise ForgeError("--batch needs the anthropic backend (the Message Batches API)",
                         hint="set ANTHROPIC_API_KEY, or draft offline without --batch")
    model = resolve_model(ws, opts.model) if backend == "anthropic" or opts.model or opts.dry_run else None
    if backend == "anthropic" and model and not _sdk_knows(model):
        notices.append(Notice("warning", f"{model!r} is not a model id the installed anthropic SDK lists; "
                                         "sending it anyway"))
    ctx = gather(ws, opts.week, allow_missing=opts.allow_missing_results, allow_quick=opts.allow_quick)
    builder = PromptBuilder(ws, ctx)
    jobs = []
    for post, edition in pairs:
        prompt = builder.build(post, edition)
        jobs.append(Job(prompt, LLMRequest.from_prompt(prompt, model or "offline", plan.drafting.max_tokens)))
    notices += [Notice("warning", text) for text in ctx.warnings]
    if ctx.missing and ctx.runs:
        notices.append(Notice("warning", f"no completed run of {', '.join(ctx.missing)}: its results are left out "
                                         "of the drafts"))
    if not ctx.runs:
        notices.append(Notice("warning", "no completed runs: the drafts have no measured numbers ([RESULT: ...] "
                                         "placeholders)"))
    if not ctx.notes:
        notices.append(Notice("warning", f"no notes for week {opts.week} (notes/week{opts.week:02d}*.md): drafting "
                                         "from the plan and the results alone; `forge notes` writes a skeleton"))
    return Planned(ctx, Grounding.from_context(ctx), jobs, backend, model if backend == "anthropic" else None,
                   plan.drafting.max_tokens, notices)


def make_client(backend: str) -> LLMClient:
    from studyforge.drafting.llm import AnthropicClient, OfflineClient

    return AnthropicClient() if backend == "anthropic" else OfflineClient()


# ---------------------------------------------------------------------------------------------
# Generating.


def generate(ws: Workspace, planned: Planned, client: LLMClient, *, force: bool = False,
             view: DraftView | None = None) -> list[Outcome]:
    """Draft every planned job in turn; the first failure stops the run (what was written stays)."""
    view = view or DraftView()
    log = CallLog(ws.forge_dir / "llm-log.db")
    outcomes = []
    for job in planned.jobs:
        start = time.perf_counter()
        partial = partial_path(ws.drafts_dir, job.request.week, job.post.slug, job.edition)
        received: list[str] = []  # kept for a Ctrl-C: the text so far goes to the .partial file
        try:
            with view.streaming(job, client.backend) as show:
                response = client.generate(job.request, _keep_and_show(received, show))
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
            text = "".join(received)
            if text:
                write_text_atomic(partial, text)
            error = LLMError(f"interrupted (Ctrl-C) while drafting {job.request.label}")
            _log_failure(log, job, client, error, time.perf_counter() - start, "interrupted")
            kept = f"; the partial text is kept in {ws.relative(partial)}" if text else ""
            raise ForgeError(f"{error.message}{kept}; no draft was changed",
                             hint="run the command again to draft it", exit_code=130) from None
        response.duration_s = response.duration_s or (time.perf_counter() - start)
        outcome = finish(ws, planned, job, response, client.backend, force=force, log=log)
        view.drafted(outcome)
        outcomes.append(outcome)
    return outcomes


def _keep_and_show(kept: list[str], show: Callable[[str], None]) -> Callable[[str], None]:
    """The streaming callback: each piece of text is kept (for a Ctrl-C's .partial file) and shown."""

    def on_text(delta: str) -> None:
        kept.append(delta)
        show(delta)

    return on_text


def _log_failure(log: CallLog, job: Job, client: LLMClient, exc: LLMError, duration: float, outcome: str) -> None:
    log.record(week=job.request.week, post=job.post.slug, edition=job.edition, backend=client.backend,
               model=job.request.model, kind="draft", prompt_hash=job.request.hash, duration_s=round(duration, 3),
               request_id=exc.request_id, outcome=outcome, error=exc.message[:500])


# ---------------------------------------------------------------------------------------------
# --dry-run.


def dry_run(ws: Workspace, planned: Planned, client: LLMClient | None, *, batch: bool = False) -> Estimate:
    """Count each request's input tokens and estimate its cost; nothing is generated.

    With the API: `messages.count_tokens` per request, and once for the shared (cached) blocks. Without a
    key: a local estimate (~4 characters per token), labelled as such.
    """
    model = planned.model or resolve_model(ws, None)
    exact = client is not None and client.backend == "anthropic"
    log = CallLog(ws.forge_dir / "llm-log.db")
    requests = [LLMRequest.from_prompt(job.prompt, model, planned.max_tokens) for job in planned.jobs]
    # the week's shared blocks alone (the user message is a stand-in): what every request after the first reads
    # from the cache
    shared_request = dataclasses.replace(requests[0], messages=[{"role": "user", "content": "."}],
                                         post="(shared context)", edition="-", skeleton="")
    if exact:
        shared = client.count_tokens(shared_request)
        log.record(week=shared_request.week, post=shared_request.post, edition="-", backend="anthropic", model=model,
                   kind="count_tokens", prompt_hash=shared_request.hash, input_tokens=shared, outcome="ok")
    else:
        shared = approx_request_tokens(shared_request)
    rows = []
    for i, request in enumerate(requests):
        tokens = client.count_tokens(request) if exact else approx_request_tokens(request)
        if exact:
            log.record(week=request.week, post=request.post, edition=request.edition, backend="anthropic",
                       model=model, kind="count_tokens", prompt_hash=request.hash, input_tokens=tokens, outcome="ok")
        cached = min(shared, tokens)
        first = i == 0 or batch
        usage = Usage(input_tokens=tokens - cached, cache_write_tokens=cached if first else 0,
                      cache_read_tokens=0 if first else cached)
        rows.append({"post": request.post, "edition": request.edition, "input_tokens": tokens,
                     "shared_tokens": cached, "input_cost_usd": estimate_cost(model, usage, batch=batch),
                     "max_output_cost_usd": estimate_cost(model, Usage(output_tokens=planned.max_tokens), batch=batch)})
    return Estimate(model, exact, batch, price_of(model) is not None, planned.max_tokens, rows)


# ---------------------------------------------------------------------------------------------
# The command.


def run_draft(ws: Workspace, opts: DraftOptions, client: LLMClient | None = None, *,
              view: DraftView | None = None) -> list[Outcome]:
    """What `forge draft` does (see the CLI's help); `client` overrides the backend (tests), `view` shows it."""
    view = view or DraftView()
    planned = plan_drafts(ws, opts)
    generating = not (opts.show_prompt or opts.dry_run)
    for notice in planned.notices:
        if generating or notice.level != "info":  # info: how the drafts will be made, said only when they are
            view.notice(notice)
    if opts.show_prompt:
        view.prompts(planned)
        if not opts.dry_run:
            return []
    if opts.dry_run:
        api = client if client is not None else (make_client("anthropic") if planned.backend == "anthropic" else None)
        view.estimate(dry_run(ws, planned, api, batch=opts.batch))
        return []
    client = client or make_client(planned.backend)
    if opts.batch:
        return run_batch(ws, planned, client, force=opts.force, view=view)
    view.started(planned, client.backend)
    outcomes = generate(ws, planned, client, force=opts.force, view=view)
    view.finished(outcomes, opts.week)
    return outcomes


__all__ = ["DraftOptions", "Estimate", "dry_run", "generate", "plan_drafts", "run_draft"]
