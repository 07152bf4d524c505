"""What `forge draft` shows as it happens, as hooks the pipeline and --batch call; the CLI renders them.

The drafting code computes and calls these with data (a notice, a job, an outcome, the dry run's
estimate); cli/draft_view.py draws them on the terminal. `DraftView` itself shows nothing: it is what
tests and the benchmark get when they call `run_draft` or `run_batch` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studyforge.notices import Notice

if TYPE_CHECKING:
    from studyforge.drafting.finish import Job, Outcome, Planned
    from studyforge.drafting.pipeline import Estimate


class DraftView:
    def notice(self, notice: Notice) -> None:
        """A line about the run (a missing run, the offline backend, a failed batch request)."""

    def prompts(self, planned: Planned) -> None:
        """--show-prompt: the rendered prompts, not sent."""

    def estimate(self, estimate: Estimate) -> None:
        """--dry-run: each request's tokens and cost, nothing generated."""

    def started(self, planned: Planned, backend: str) -> None:
        """Before the first call: the week, how many drafts, from what."""

    @contextmanager
    def streaming(self, job: Job, backend: str) -> Iterator[Callable[[str], None]]:
        """While `job`'s reply streams in: yields the callback that gets each piece of text."""
        yield lambda delta: None

    def drafted(self, outcome: Outcome) -> None:
        """A draft was written: where, what it cost, its check problems."""

    def finished(self, outcomes: list[Outcome], week: int) -> None:
        """Every draft was written."""

    def batch_submitted(self, batch_id: str, requests: int, state: Path) -> None:
        """--batch: the batch was sent; its state is saved in `state`."""

    def batch_resumed(self, state: dict[str, Any]) -> None:
        """--batch: a saved, unfinished batch is waited for again instead of being submitted anew."""

    @contextmanager
    def waiting(self, batch_id: str, requests: int) -> Iterator[Callable[[dict[str, Any]], None]]:
        """--batch: while polling; yields the callback that gets each `client.batch_status(...)`."""
        yield lambda status: None

    def batch_done(self, batch_id: str, outcomes: list[Outcome], failures: int, week: int) -> None:
        """--batch: every result was read."""
