"""The language-model checkpoint format, and `load_model` for everything that uses a trained model.

A checkpoint is one `torch.save`d dict (format id `studyforge.lm/1`):

    format          "studyforge.lm/1"
    model_config    TransformerConfig.model_dump(): rebuilds the architecture with no other input
    model           the model's state_dict (fp32, CPU tensors; the tied head appears under both names)
    tokenizer       {"kind": "char", "chars": [...]}  or
                    {"kind": "bpe", "vocab": {id: hex bytes}, "merges": [[hex a, hex b], ...]}
    train_config    TrainConfig.model_dump() (how it was trained)
    step            optimizer steps taken; tokens_seen: training tokens consumed
    data            {"source": corpus path or the offline fallback, "sha256_16": text hash, "position": step}
    metrics         optional: {"val_loss": ..., "val_ppl": ...} at save time
  and, in a *training* checkpoint (the trainer's `save`/`state_dict(include_optimizer=True)`), also
    optimizer, scheduler   their state_dicts (ZeRO shards consolidated)
    rng             one dict per rank: python, numpy, torch and CUDA generator states
    world_size, history    ranks at save time; the per-step training metrics so far

Studies save model checkpoints through `ctx.save_checkpoint(name, ...)`, i.e. into
`runs/weekNN/<experiment>/<run-id>/checkpoints/<name>.pt`. Later weeks load them with

    model, tokenizer, config = load_model("runs/week08/language_modeling.train_small_lm/<run-id>")
    ids = generate(model, torch.tensor([tokenizer.encode("ROMEO:")]), 100, temperature=0.8)
    print(tokenizer.decode(ids[0]))

`load_model` takes a `.pt` file or a run folder (then the checkpoint named `model`, or the only one, or
the one named by `name`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from studyforge.experiments.language_modeling.data import tokenizer_from_dict
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer

FORMAT = "studyforge.lm/1"


def find_checkpoint(path: str | Path, name: str | None = None, default: str = "model") -> Path:
    """The checkpoint file at `path`, or inside run folder `path` (its checkpoints/ folder): the one named `name`,
    else the only one, else the one named `default` (week 9's reward models: "reward_model")."""
    path = Path(path)
    if path.is_file():
        return path
    folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    if not folder.is_dir():
        raise FileNotFoundError(f"no checkpoint file or run folder at {path}")
    files = sorted(folder.glob("*.pt"))
    if name is not None:
        matches = [f for f in files if f.stem == name]
        if not matches:
            raise FileNotFoundError(f"no checkpoint named {name!r} in {folder} (have: {[f.stem for f in files]})")
        return matches[0]
    if len(files) == 1:
        return files[0]
    for f in files:
        if f.stem == default:
            return f
    if not files:
        raise FileNotFoundError(f"no checkpoints in {folder}")
    raise FileNotFoundError(f"several checkpoints in {folder}: {[f.stem for f in files]}; pick one by name")


def read_checkpoint(path: str | Path, name: str | None = None) -> dict[str, Any]:
    ckpt = torch.load(find_checkpoint(path, name), map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint")
    return ckpt


def model_from_checkpoint(ckpt: dict[str, Any], device: str | torch.device = "cpu"):
    """(model in eval mode, tokenizer, TransformerConfig) from a loaded checkpoint dict."""
    config = TransformerConfig.model_validate(ckpt["model_config"])
    model = Transformer(config)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), tokenizer_from_dict(ckpt["tokenizer"]), config


def load_model(path: str | Path, device: str | torch.device = "cpu", name: str | None = None):
    """(model, tokenizer, config) from a checkpoint file or a run folder; see the module docstring."""
    return model_from_checkpoint(read_checkpoint(path, name), device)


def export(model: Transformer, tokenizer, train_config: dict | None = None, step: int = 0, tokens_seen: int = 0,
           data: dict | None = None, metrics: dict | None = None) -> dict[str, Any]:
    """A model-only checkpoint dict (no optimizer state), ready for `ctx.save_checkpoint`."""
    return {"format": FORMAT, "model_config": model.config.model_dump(mode="json"),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "tokenizer": tokenizer.to_dict(), "train_config": train_config or {}, "step": step,
            "tokens_seen": tokens_seen, "data": data or {}, "metrics": metrics or {}}
