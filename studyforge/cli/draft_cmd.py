"""`forge draft WEEK`: draft the week's posts (both editions) from its notes and results, for review."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import WeekArg


def register(app: typer.Typer) -> None:
    app.command("draft")(draft)


def draft(
    week: WeekArg,
    post: Annotated[str, typer.Option("--post", "-p", help="the post's number in the week (1, 2), its slug, or all")] = "all",
    edition: Annotated[str, typer.Option("--edition", help="scientist | manager | all (the plan's editions)")] = "all",
    backend: Annotated[str, typer.Option(help="auto | anthropic | offline: auto is anthropic when ANTHROPIC_API_KEY "
                                              "is set, else offline")] = "auto",
    model: Annotated[str | None, typer.Option(help="Claude model id (default: drafting.model in curriculum.yaml, "
                                                   "else the newest Sonnet the SDK knows)", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count the tokens and estimate the cost; generate nothing")] = False,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="print the rendered prompts; send nothing")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace the current version even if you edited or "
                                                        "approved it (its text is backed up under .forge/backups/; "
                                                        "default: write the new draft beside it as a candidate)")] = False,
    allow_missing_results: Annotated[bool, typer.Option("--allow-missing-results",
                                                        help="draft even if the week has no completed runs")] = False,
    allow_quick: Annotated[bool, typer.Option("--allow-quick", help="draft from quick-preset (smoke-test) runs when "
                                              "an experiment has no other (recorded in the front matter)")] = False,
    batch: Annotated[bool, typer.Option("--batch", help="send every draft through the Message Batches API (half "
                                                        "price, may take hours; run again to resume waiting)")] = False,
) -> None:
    """Draft WEEK's posts for human review: drafts/weekNN/<slug>.<edition>.md, every number checked."""
    from studyforge.cli.draft_view import TerminalView
    from studyforge.curriculum import parse_week
    from studyforge.drafting.pipeline import DraftOptions, run_draft

    ws = state.workspace(writes=dry_run or not show_prompt)  # --dry-run logs its count
    number = parse_week(week, ws.curriculum)
    run_draft(ws, DraftOptions(week=number, post=post, edition=edition, backend=backend, model=model,
                               dry_run=dry_run, show_prompt=show_prompt, force=force,
                               allow_missing_results=allow_missing_results, allow_quick=allow_quick, batch=batch),
              view=TerminalView(ws))
