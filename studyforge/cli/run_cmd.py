"""`forge run WEEK`: run a week's experiments with live progress and a closing results table."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt, WeekArg, choice
from studyforge.console import out
from studyforge.experiments.config import PRESETS
from studyforge.tracking.wandb_sink import MODES

DEVICES = ("auto", "cpu", "cuda")


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    week: WeekArg,
    experiment: Annotated[list[str] | None, typer.Option("--experiment", "-e", metavar="ID",
                                                         help="run only this experiment id (repeatable)")] = None,
    preset: Annotated[str, typer.Option(help=f"{' | '.join(PRESETS)}: seconds (a smoke test), minutes on a CPU, "
                                             "paper scale")] = "default",
    seed: Annotated[int, typer.Option(help="first seed")] = 0,
    seeds: Annotated[int, typer.Option(help="number of seeds (seed, seed+1, …); reports mean ± 95% CI")] = 1,
    set_: Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE",
                                                   help="override a config value (repeatable)")] = None,
    device: Annotated[str, typer.Option(help=f"{' | '.join(DEVICES)}: auto takes cuda when there is one")] = "auto",
    wandb: Annotated[str, typer.Option(help=f"{' | '.join(MODES)}: auto is online with an API key, "
                                            "else offline")] = "auto",
    json_: JsonOpt = False,
) -> None:
    """Run WEEK's experiments for real: record each run under runs/ and track it in W&B."""
    from studyforge.curriculum import parse_week
    from studyforge.display import outcome_lines, outcomes_table, run_progress
    from studyforge.experiments.config import parse_overrides
    from studyforge.runner import RunRequest, execute, plan, resolve_device
    from studyforge.tracking.wandb_sink import resolve_mode

    out.json_mode = json_
    choice("--device", device, DEVICES)
    choice("--wandb", wandb, MODES)
    ws = state.workspace(writes=True)
    number = parse_week(week, ws.curriculum)
    req = RunRequest(week=number, experiments=experiment or [], preset=preset, seed=seed, seeds=seeds,
                     overrides=parse_overrides(set_ or []), device=device, wandb=wandb)
    planned = plan(ws, req)
    resolve_device(device), resolve_mode(wandb)  # no CUDA here, or online without a key: say so before the header
    title = ws.curriculum.week(number).title
    out.print(f"[bold]Week {number}: {title}[/] — {len(planned)} experiment(s), preset {preset}, "
              f"seed{'s' if seeds > 1 else ''} {seed}{f'..{seed + seeds - 1}' if seeds > 1 else ''}")
    with run_progress() as reporter_for:
        outcomes = execute(ws, req, planned, reporter_for)
    out.print(outcomes_table(outcomes, out.width))
    for line in outcome_lines(outcomes, ws):
        out.print(line, soft_wrap=True)
    _wandb_note(outcomes, ws)
    if json_:
        out.json([{**o.record.model_dump(mode="json"), "path": ws.relative(o.record.path),
                   "summary": o.record.summary()} for o in outcomes])
    failed = [o.study.id for o in outcomes if not o.ok]
    if failed:
        out.error(f"{len(failed)} experiment(s) failed: {', '.join(failed)} (see run.json in each record)")
        raise typer.Exit(1)


def _wandb_note(outcomes, ws) -> None:
    modes = {o.record.wandb.mode for o in outcomes}
    urls = [u for o in outcomes for u in o.record.wandb.urls]
    dirs = [d for o in outcomes for d in o.record.wandb.dirs]
    if "online" in modes and urls:
        out.print("W&B: " + "  ".join(urls))
    elif "offline" in modes and dirs:
        out.print(f"W&B (offline): {len(dirs)} run(s) saved under wandb/; upload them later with\n"
                  f"  [bold]wandb sync {ws.relative(ws.root / 'wandb')}/offline-run-*[/]")
    elif modes == {"disabled"}:
        out.info("W&B: disabled for this run (local records only)")
