"""What the week-5 and week-8 studies share: train one model with live logging, and read its curves.

`train_logged(ctx, data, model_cfg, train_cfg, name, bar)` runs the `Trainer` and logs every
`log_every`-th step as `<name>/loss`, `<name>/grad_norm`, `<name>/lr` (and the evaluations as
`<name>/val_loss`, `<name>/val_ppl`), advances the study's progress bar, stops early on a non-finite loss,
and returns a `TrainResult` with the curves and the summary figures of the run.

A run counts as failed (`diverged`) when its loss stops being finite, or when its final validation loss
is not at least `FAILED_MARGIN` nats below the unigram model's (it learned nothing about order).

Gradient-norm spikes: a step whose gradient norm exceeds `factor` times the median of the previous
`window` steps (the kind of event that precedes a loss spike in large-model training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from studyforge.experiments.language_modeling.data import TokenData
from studyforge.experiments.language_modeling.trainer import TrainConfig, Trainer
from studyforge.experiments.transformer.config import TransformerConfig

FAILED_MARGIN = 0.1  # nats per token


def grad_spikes(norms: list[float], window: int = 50, factor: float = 4.0) -> int:
    """Steps whose gradient norm exceeds `factor` × the median of the previous `window` norms.

    >>> grad_spikes([1.0] * 10 + [9.0] + [1.0] * 5, window=5)
    1
    """
    count = 0
    for t in range(window, len(norms)):
        if norms[t] > factor * float(np.median(norms[t - window:t])):
            count += 1
    return count


def unigram_loss(data: TokenData) -> float:
    """Cross-entropy (nats) of the validation tokens under the training unigram distribution: what a model
    that ignores context scores; a language model above it has learned nothing about order."""
    counts = torch.bincount(data.train, minlength=data.vocab_size).double() + 1.0  # add-one for unseen tokens
    logp = (counts / counts.sum()).log()
    return float(-logp[data.val].mean())


def finite_or_none(x: float | None) -> float | None:
    """JSON-safe number: `finite_or_none(float("nan"))` -> None, `finite_or_none(2.0)` -> 2.0."""
    return x if x is not None and math.isfinite(x) else None


def smooth(values: list[float], alpha: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction: `smooth([1, 1, 1])` -> [1.0, 1.0, 1.0]."""
    out, avg = [], 0.0
    for i, v in enumerate(values):
        avg = alpha * avg + (1 - alpha) * v
        out.append(avg / (1 - alpha ** (i + 1)))
    return out


@dataclass
class TrainResult:
    name: str
    trainer: Trainer
    evals: list[dict[str, float]] = field(default_factory=list)
    diverged: bool = False

    @property
    def history(self) -> list[dict[str, float]]:
        return self.trainer.history

    @property
    def losses(self) -> list[float]:
        return [r["loss"] for r in self.history]

    @property
    def grad_norms(self) -> list[float]:
        return [r["grad_norm"] for r in self.history]

    @property
    def final(self) -> dict[str, float]:
        return self.evals[-1] if self.evals else {}

    def tokens_per_s(self, skip: int = 3) -> float:
        """Training throughput over the steps after the first `skip` (which include one-off set-up costs)."""
        rows = self.history[skip:] or self.history
        seconds = sum(r["step_time_s"] for r in rows)
        return len(rows) * self.trainer.cfg.batch_size * self.trainer.seq_len / max(seconds, 1e-9)

    def summary(self) -> dict[str, Any]:
        """Headline figures of the run (a diverged run's losses are None)."""
        model = self.trainer.model
        val = finite_or_none(self.final.get("val_loss"))
        return {"val_loss": val, "val_ppl": None if val is None else math.exp(min(val, 50.0)),
                "train_loss": finite_or_none(self.final.get("train_loss")),
                "params": model.num_params(), "params_non_embedding": model.num_params(non_embedding=True),
                "params_active": model.num_params(active=True), "tokens_per_s": self.tokens_per_s(),
                "grad_spikes": grad_spikes(self.grad_norms), "max_grad_norm": max(self.grad_norms, default=0.0),
                "steps": self.trainer.step, "diverged": self.diverged}


def train_logged(ctx, data: TokenData, model_cfg: TransformerConfig, train_cfg: TrainConfig, name: str, bar=None,
                 log_every: int = 10, on_step=None) -> TrainResult:
    """Train one model, logging to `ctx` under `name/…`; stops early if the loss stops being finite."""
    trainer = Trainer(model_cfg, train_cfg, data, ctx.device)
    result = TrainResult(name, trainer)
    while trainer.step < train_cfg.steps:
        row = trainer.train_step()
        if on_step is not None:
            on_step(trainer, row)
        if trainer.step % log_every == 0 or trainer.step == train_cfg.steps:
            ctx.log({f"{name}/loss": row["loss"], f"{name}/grad_norm": row["grad_norm"], f"{name}/lr": row["lr"],
                     **{f"{name}/{k}": v for k, v in row.items() if k.startswith("moe")}}, step=trainer.step)
        if bar is not None:
            bar.advance(1, loss=round(row["loss"], 3))
        if not math.isfinite(row["loss"]):
            result.diverged = True
            if bar is not None:
                bar.advance(train_cfg.steps - trainer.step)
            break
        evaluate_now = train_cfg.eval_every and trainer.step % train_cfg.eval_every == 0
        if evaluate_now or trainer.step == train_cfg.steps:
            ev = {"step": trainer.step, "tokens": trainer.tokens_seen, **trainer.evaluate()}
            result.evals.append(ev)
            ctx.log({f"{name}/val_loss": ev["val_loss"], f"{name}/val_ppl": ev["val_ppl"],
                     f"{name}/train_eval_loss": ev["train_loss"]}, step=trainer.step)
    if result.diverged:
        result.evals.append({"step": trainer.step, "tokens": trainer.tokens_seen, "val_loss": float("nan"),
                             "train_loss": float("nan"), "val_ppl": float("inf")})
    elif result.final and result.final["val_loss"] > unigram_loss(data) - FAILED_MARGIN:
        result.diverged = True  # finite, but hardly better than a unigram model: training failed
    return result


def reference_model(ctx, data: TokenData, path: str | None, *, max_len: int, d_model: int, n_layers: int,
                    n_heads: int, steps: int, bar=None, name: str = "reference"):
    """(model, tokenizer) for the weeks that start from a trained language model (4, 9, 10, ...).

    With `path` (a week-8 run folder or a `.pt` checkpoint), `load_model` reads it and its context must hold
    `max_len` tokens. Without, a Llama-style model of the given size is trained here on `data` for `steps`
    steps with `train_logged` (logged under `name/…`, its validation loss and size in the summary)."""
    if path:
        from studyforge.experiments.language_modeling.checkpoint import load_model

        model, tokenizer, _ = load_model(path, ctx.torch_device)
        if model.config.max_len < max_len:
            raise ValueError(f"{name} context {model.config.max_len} < prompt_len + completion_len "
                             f"({max_len}): lower them with --set")
        return model, tokenizer
    model_cfg = TransformerConfig.preset("llama", vocab_size=data.vocab_size, max_len=max_len, d_model=d_model,
                                         n_layers=n_layers, n_heads=n_heads, ffn_multiple_of=32)
    train_cfg = TrainConfig(steps=steps, batch_size=16, lr=1e-3, warmup=min(100, steps // 10), eval_every=0,
                            eval_windows=50, seed=ctx.seed)
    result = train_logged(ctx, data, model_cfg, train_cfg, name, bar)
    ctx.summary(**{name: {"val_loss": result.final["val_loss"], "params": result.trainer.model.num_params()}})
    return result.trainer.model, data.tokenizer
