"""`forge draft WEEK --batch`: every selected draft through the Message Batches API, at half the price.

    submit   one batch with a request per post and edition; the batch id and what each request is for
             are saved at once in `.forge/batches/weekNN-<batch id>.json`
    poll     the batch's request counts, with a progress bar, until it has ended
    write    each result as it is read from the results stream: checked, written (never over a
             human's edits) and logged; the state file records it, so nothing is written twice

Ctrl-C while polling (or a closed laptop) loses nothing: the batch keeps running at Anthropic, and
`forge draft WEEK --batch` again finds the saved state and resumes polling instead of submitting anew.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studyforge.drafting.calllog import CallLog
from studyforge.drafting.finish import Job, Outcome, Planned, finish
from studyforge.drafting.llm import LLMError, LLMRequest, LLMResponse
from studyforge.drafting.prompts import PromptBuilder
from studyforge.drafting.view import DraftView
from studyforge.errors import ForgeError
from studyforge.notices import Notice
from studyforge.tracking.io import write_json_atomic
from studyforge.workspace import Workspace

POLL_SECONDS = 30.0


def state_dir(ws: Workspace) -> Path:
    return ws.forge_dir / "batches"


def pending_batch(ws: Workspace, week: int) -> tuple[Path, dict[str, Any]] | None:
    """The saved state of `week`'s unfinished batch, if there is one (the newest)."""
    folder = state_dir(ws)
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob(f"week{week:02d}-*.json"), reverse=True):
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ForgeError(f"{path}: unreadable batch state ({exc})",
                             hint="delete it to submit a new batch (the old one's results are then not fetched)") from None
        if not state.get("completed"):
            return path, state
    return None


def run_batch(ws: Workspace, planned: Planned, client: Any, *, force: bool = False,
              poll_seconds: float | None = None, sleep: Callable[[float], None] = time.sleep,
              view: DraftView | None = None) -> list[Outcome]:
    """Submit (or resume) the week's batch, wait for it, and write each result as it is read."""
    view = view or DraftView()
    week = planned.ctx.week.week
    poll = POLL_SECONDS if poll_seconds is None else poll_seconds
    found = pending_batch(ws, week)
    jobs = {(j.post.slug, j.edition): j for j in planned.jobs}
    if found:
        path, state = found
        view.batch_resumed(state)
        builder = None
        for item in state["items"].values():  # a resume may select fewer posts than were submitted
            key = (item["post"], item["edition"])
            if key not in jobs:
                builder = builder or PromptBuilder(ws, planned.ctx)
                w = planned.ctx.week
                post = next((p for p in w.posts if p.slug == item["post"]), None)
                edition = next((e for e in planned.ctx.curriculum.editions if e.id == item["edition"]), None)
                if post is None or edition is None:
                    raise ForgeError(f"{path}: post {item['post']!r} / edition {item['edition']!r} is no longer in "
                                     "the curriculum", hint="delete the file to forget that batch")
                prompt = builder.build(post, edition)
                jobs[key] = Job(prompt, LLMRequest.from_prompt(prompt, state["model"], planned.max_tokens))
        changed = [k for k, item in state["items"].items()
                   if jobs[(item["post"], item["edition"])].request.hash != item["prompt_hash"]]
        if changed:
            view.notice(Notice("warning", f"the notes, results or templates changed since the batch was submitted "
                                          f"({len(changed)} request(s)): the drafts are written from what was "
                                          "submitted, checked against today's facts"))
    else:
        items, requests = {}, []
        for i, job in enumerate(planned.jobs):
            cid = f"p{i:02d}-{job.edition}"[:64]
            items[cid] = {"post": job.post.slug, "edition": job.edition, "prompt_hash": job.request.hash,
                          "done": False, "draft": None, "error": None}
            requests.append((cid, job.request))
        batch_id = client.submit_batch(requests)
        state = {"batch_id": batch_id, "week": week, "model": planned.model, "force": force,
                 "submitted": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "items": items,
                 "completed": None}
        path = state_dir(ws) / f"week{week:02d}-{batch_id}.json"
        write_json_atomic(path, state)
        view.batch_submitted(batch_id, len(requests), path)

    try:
        _wait(client, state, poll, sleep, view)
    except KeyboardInterrupt:
        raise ForgeError(f"stopped waiting for batch {state['batch_id']} (Ctrl-C); it keeps running at Anthropic",
                         hint=f"run `forge draft week{week} --batch` again to resume and write the results",
                         exit_code=130) from None

    log = CallLog(ws.forge_dir / "llm-log.db")
    outcomes, failures = [], 0
    for cid, result in client.batch_results(state["batch_id"]):
        item = state["items"].get(cid)
        if item is None or item["done"]:
            continue
        job = jobs[(item["post"], item["edition"])]
        if isinstance(result, LLMResponse):
            outcome = finish(ws, planned, job, result, client.backend, force=force or state.get("force", False),
                             log=log, batch=True)
            view.drafted(outcome)
            outcomes.append(outcome)
            item.update(done=True, draft=ws.relative(outcome.path))
        else:
            failures += 1
            assert isinstance(result, LLMError)
            view.notice(Notice("error", f"{job.request.label}: {result.message}"))
            log.record(week=week, post=job.post.slug, edition=job.edition, backend=client.backend, model=state["model"],
                       kind="batch", prompt_hash=item["prompt_hash"], outcome="error", error=result.message[:500])
            item.update(done=True, error=result.message)
        write_json_atomic(path, state)  # each result is recorded as soon as it is written
    if all(item["done"] for item in state["items"].values()):
        state["completed"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        write_json_atomic(path, state)
    view.batch_done(state["batch_id"], outcomes, failures, week)
    if failures and not outcomes:
        raise LLMError(f"every request of batch {state['batch_id']} failed", hint="draft again without --batch")
    return outcomes


def _wait(client: Any, state: dict[str, Any], poll: float, sleep: Callable[[float], None], view: DraftView) -> None:
    """Poll the batch until it has ended; the view shows each status as it comes."""
    with view.waiting(state["batch_id"], len(state["items"])) as show:
        while True:
            status = client.batch_status(state["batch_id"])
            show(status)
            if status["status"] == "ended":
                return
            sleep(poll)
