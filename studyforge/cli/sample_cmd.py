"""`forge sample RUN_ID --prompt …`: continue a prompt with a run's saved language model."""

from __future__ import annotations

from typing import Annotated

import typer

from studyforge.cli import state
from studyforge.cli.options import JsonOpt
from studyforge.console import out


def register(app: typer.Typer) -> None:
    app.command("sample")(sample)


def sample(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="the run whose checkpoint to use (`forge runs` lists them)",
                                          show_default=False)],
    prompt: Annotated[str, typer.Option("--prompt", help="text to continue")] = "\n",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="tokens to generate")] = 200,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="0 = greedy")] = 0.8,
    top_k: Annotated[int | None, typer.Option("--top-k", help="sample among the k likeliest tokens")] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", help="nucleus sampling threshold")] = None,
    seed: Annotated[int, typer.Option("--seed", help="sampling seed")] = 0,
    checkpoint: Annotated[str | None, typer.Option("--checkpoint", help="checkpoint name, when the run saved "
                                                   "several")] = None,
    json_: JsonOpt = False,
) -> None:
    """Generate text from a language-model run's checkpoint (greedy, temperature, top-k, top-p)."""
    from studyforge.experiments.language_modeling.sampling import sample_run
    from studyforge.tracking.records import QUICK

    out.json_mode = json_
    ws = state.workspace()
    result = sample_run(ws.runs_dir, run_id, prompt, max_new_tokens, temperature, top_k, top_p, seed, checkpoint)
    if json_:
        out.json({"run_id": result.run_id, "experiment": result.experiment, "checkpoint": ws.relative(result.checkpoint),
                  "preset": result.preset, "prompt": result.prompt, "text": result.text})
        return
    out.print(f"[dim]{result.experiment} · {result.run_id} · {ws.relative(result.checkpoint)}[/]")
    if result.preset == QUICK:
        out.warn("this checkpoint is from a quick-preset run (a smoke test of a few steps): expect noise, not text; "
                 "a default-preset run trains the real model")
    out.print(result.text, markup=False, highlight=False)
