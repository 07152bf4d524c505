"""Sampling from a run's saved language model: what `forge sample RUN_ID --prompt …` hands off to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studyforge.errors import ForgeError


@dataclass
class Sample:
    text: str  # the prompt followed by the generated continuation
    prompt: str
    run_id: str
    experiment: str
    checkpoint: Path
    new_tokens: int
    preset: str = "default"  # the run's preset: a `quick` run's model has barely trained


def find_run(runs_dir: Path, run_id: str):
    """The run record whose id is `run_id` (or starts with it, if that is unambiguous).

    Unreadable records elsewhere are skipped; when the one asked for is unreadable, the error says why.
    """
    from studyforge.tracking.records import scan_records

    scan = scan_records(runs_dir)
    records = scan.records
    exact = [r for r in records if r.run_id == run_id]
    matches = exact or [r for r in records if r.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        for bad in scan.unreadable:
            if bad.run_id and bad.run_id.startswith(run_id):
                raise ForgeError(bad.message.split(" — ")[0], hint="restore or delete that run folder")
        raise ForgeError(f"no run with id {run_id!r} under {runs_dir}", hint="`forge runs` lists the run ids")
    raise ForgeError(f"run id {run_id!r} is ambiguous: {', '.join(r.run_id for r in matches)}",
                     hint="give more of the id")


def sample_run(runs_dir: Path, run_id: str, prompt: str, max_new_tokens: int = 200, temperature: float = 0.8,
               top_k: int | None = None, top_p: float | None = None, seed: int = 0,
               checkpoint: str | None = None, device: str = "cpu") -> Sample:
    """Load the run's language-model checkpoint and continue `prompt`."""
    import torch

    from studyforge.experiments.language_modeling.checkpoint import (
        find_checkpoint,
        model_from_checkpoint,
        read_checkpoint,
    )
    from studyforge.experiments.language_modeling.generate import generate

    record = find_run(runs_dir, run_id)
    names = [a.name for a in record.checkpoints]
    if not names and not (record.path / "checkpoints").is_dir():
        raise ForgeError(f"run {record.run_id} ({record.experiment}) saved no checkpoint",
                         hint="sample from a language-model run, e.g. language_modeling.train_small_lm")
    try:
        path = find_checkpoint(record.path, checkpoint)
        ckpt = read_checkpoint(path)
    except FileNotFoundError as exc:
        raise ForgeError(str(exc), hint=f"pick one with --checkpoint NAME (this run has: {', '.join(names)})") from None
    except ValueError as exc:
        raise ForgeError(f"{exc}", hint="only language-model checkpoints can be sampled") from None
    model, tokenizer, _ = model_from_checkpoint(ckpt, device)
    if not prompt:
        raise ForgeError("the prompt is empty", hint='give one with --prompt "…"')
    try:
        ids = tokenizer.encode(prompt)
    except ValueError as exc:
        raise ForgeError(f"cannot encode the prompt: {exc}", hint="this model's vocabulary is its training text's "
                         "characters; use only those") from None
    if max_new_tokens < 0 or temperature < 0 or (top_k is not None and top_k < 1) or \
            (top_p is not None and not 0 < top_p <= 1):
        raise ForgeError("invalid sampling settings", hint="need max-new-tokens ≥ 0, temperature ≥ 0, top-k ≥ 1, "
                         "0 < top-p ≤ 1")
    generator = torch.Generator(device=device).manual_seed(seed)
    out = generate(model, torch.tensor([ids], device=device), max_new_tokens, temperature, top_k, top_p, generator)
    return Sample(tokenizer.decode(out[0].tolist()), prompt, record.run_id, record.experiment, path, max_new_tokens,
                  record.preset)
