"""One trainer for every language model of the plan: single process or data-parallel through `torchrun`.

What a step does, top to bottom (`Trainer.train_step`):

1. take this rank's rows of the step's global batch (`TokenData.step_batch`: a function of (seed, step)),
2. forward under autocast (bf16 on CPU or CUDA when `precision="bf16"`; the loss is computed in fp32),
   with activation checkpointing if asked (each block keeps only its input, recomputes the rest in
   backward — "Training Deep Nets with Sublinear Memory Cost", Chen et al., 2016, arXiv:1604.06174),
3. backward of cross-entropy + the MoE auxiliary losses; under DDP the gradients are averaged across
   ranks during backward, so every rank holds the gradient of the *global* batch's mean loss,
4. clip the global gradient norm, step the optimizer (AdamW, Lion or Adafactor — `transformer.optim`),
   step the warm-up + cosine schedule.

Distributed data parallel: launched as `torchrun --nproc_per_node W -m studyforge.experiments.
language_modeling.launch spec.json`, each process joins a process group (gloo on CPU, NCCL on GPU) and
wraps the model in `DistributedDataParallel`. With `zero=True` the optimizer is torch's
`ZeroRedundancyOptimizer` ("ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
Rajbhandari et al., 2019, arXiv:1910.02054, stage 1): each rank keeps the optimizer state of 1/W of the
parameters, updates only those, and broadcasts them. Since every rank takes its share of the same
global batch, W processes compute what one process computes on the whole batch (up to the order of
floating-point sums) — a test checks it. Dropout masks differ per rank (each rank seeds its own stream),
and MoE balance losses are computed per rank, so those two are the exceptions.

Checkpoints (`state_dict` / `save` / `load`) hold everything a run needs to continue exactly: model,
optimizer (consolidated from the ZeRO shards), scheduler, step (= the data position), and the RNG states
of python, numpy and torch (every rank's) — resuming reproduces the uninterrupted loss curve bit for bit
on the CPU. The format is described in `checkpoint.py`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field

from studyforge.experiments.language_modeling.checkpoint import FORMAT, export
from studyforge.experiments.language_modeling.data import TokenData
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer
from studyforge.experiments.transformer.optim import build_optimizer, optimizer_class, parameter_groups
from studyforge.experiments.transformer.precision import autocast
from studyforge.experiments.transformer.schedule import WarmupCosine


class TrainConfig(BaseModel):
    """How to train (the model's shape lives in `TransformerConfig`)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(2000, ge=0, description="optimizer steps")
    batch_size: int = Field(12, ge=1, description="global batch: sequences per step, over all ranks")
    seq_len: int | None = Field(None, description="tokens per sequence (None: the model's max_len)")
    optimizer: Literal["adamw", "lion", "adafactor"] = Field("adamw", description="which optimizer")
    lr: float = Field(1e-3, gt=0, description="peak learning rate")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="final learning rate as a fraction of the peak")
    warmup: int = Field(100, ge=0, description="linear warm-up steps")
    decay_steps: int | None = Field(None, description="steps until the cosine reaches the floor (None: steps)")
    betas: tuple[float, float] = Field((0.9, 0.99), description="β₁, β₂ (Adafactor uses β₁ only)")
    weight_decay: float = Field(0.1, ge=0, description="decoupled weight decay on matrices")
    grad_clip: float | None = Field(1.0, description="clip the global gradient norm to this (None: off)")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16 runs forward/backward under autocast")
    grad_checkpointing: bool = Field(False, description="recompute block activations in backward")
    zero: bool = Field(False, description="shard optimizer state across ranks (ZeroRedundancyOptimizer)")
    eval_every: int = Field(250, ge=0, description="evaluate every this many steps (0: only at the end)")
    eval_windows: int = Field(200, ge=1, description="validation windows per evaluation (fixed set)")
    eval_batch_size: int = Field(50, ge=1, description="windows per forward pass during evaluation")
    seed: int = Field(0, description="seed of the initialisation, the batches and dropout")


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """Trains a `Transformer` on `TokenData`; `fit()` runs to `cfg.steps`, `train_step()` one step."""

    def __init__(self, model_cfg: TransformerConfig, cfg: TrainConfig, data: TokenData,
                 device: str | torch.device = "cpu", model: Transformer | None = None):
        self.model_cfg, self.cfg, self.data = model_cfg, cfg, data
        self.device = torch.device(device)
        self.rank, self.world = _rank_world()
        if model_cfg.vocab_size < data.vocab_size:
            raise ValueError(f"model vocab_size={model_cfg.vocab_size} < tokenizer's {data.vocab_size}")
        self.seq_len = cfg.seq_len or model_cfg.max_len
        if cfg.batch_size % self.world:
            raise ValueError(f"batch_size={cfg.batch_size} must divide evenly over {self.world} ranks")
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.model = (model or Transformer(model_cfg)).to(self.device)
        self.model.gradient_checkpointing = cfg.grad_checkpointing
        self.ddp = None
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            # experts that receive no token in a step have no gradient: let DDP look for them
            self.ddp = DistributedDataParallel(self.model, device_ids=[self.device.index]
                                               if self.device.type == "cuda" else None,
                                               find_unused_parameters=bool(self.model.moe_layers()))
        # dropout: a distinct stream per rank
        torch.manual_seed(cfg.seed * 1_009 + 1 + self.rank)
        random.seed(cfg.seed + self.rank)
        np.random.seed((cfg.seed + self.rank) % 2**32)
        groups = parameter_groups(self.model, cfg.weight_decay)
        if cfg.zero and self.world > 1:
            from torch.distributed.optim import ZeroRedundancyOptimizer

            cls, extra = optimizer_class(cfg.optimizer)
            kwargs = {"beta1": cfg.betas[0]} if cfg.optimizer == "adafactor" else {"betas": cfg.betas}
            self.optimizer = ZeroRedundancyOptimizer(groups, optimizer_class=cls, lr=cfg.lr, **kwargs, **extra)
        else:
            self.optimizer = build_optimizer(cfg.optimizer, groups, cfg.lr, cfg.betas)
        self.scheduler = WarmupCosine(self.optimizer, cfg.warmup, cfg.decay_steps or cfg.steps, cfg.min_lr_ratio)
        self.step = 0
        self.tokens_seen = 0
        self.history: list[dict[str, float]] = []  # one row per step: step, loss, lr, grad_norm, …
        self._eval_set: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- training -------------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One optimizer step; returns the step's metrics (loss averaged over ranks)."""
        cfg, model = self.cfg, self.ddp or self.model
        model.train()
        start = time.perf_counter()
        x, y = self.data.step_batch(cfg.seed, self.step, cfg.batch_size, self.seq_len, self.rank, self.world)
        x, y = x.to(self.device), y.to(self.device)
        with autocast(self.device, cfg.precision):
            out = model(x, y)
        # L = cross-entropy + Σ_MoE layers (α·L_balance + β·L_z)
        (out.loss + out.aux_loss).backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        if cfg.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        else:
            grad_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        loss = out.loss.detach().float()
        if self.world > 1:
            dist.all_reduce(loss, op=dist.ReduceOp.SUM)
            loss /= self.world
        self.step += 1
        self.tokens_seen += cfg.batch_size * self.seq_len
        row = {"step": self.step, "loss": loss.item(), "aux_loss": float(out.aux_loss.detach()), "lr": lr,
               "grad_norm": float(grad_norm), "step_time_s": time.perf_counter() - start}
        for i, moe in enumerate(self.model.moe_layers()):
            s = moe.last_stats
            row[f"moe{i}.dropped_fraction"] = float(s["dropped"]) / max(1, int(s["assignments"]))
            row[f"moe{i}.balance_loss"] = float(s["balance_loss"])
        self.history.append(row)
        return row

    def fit(self, steps: int | None = None, on_step: Callable[[dict], None] | None = None,
            on_eval: Callable[[dict], None] | None = None) -> list[dict[str, float]]:
        """Train until step `steps` (default cfg.steps), evaluating every `eval_every` steps and at the end."""
        target = self.cfg.steps if steps is None else steps
        while self.step < target:
            row = self.train_step()
            if on_step is not None:
                on_step(row)
            if on_eval is not None and ((self.cfg.eval_every and self.step % self.cfg.eval_every == 0)
                                        or self.step == target):
                on_eval({"step": self.step, "tokens": self.tokens_seen, **self.evaluate()})
        return self.history

    # -- evaluation -----------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, splits: tuple[str, ...] = ("train", "val")) -> dict[str, float]:
        """Mean cross-entropy (nats/token) and perplexity on a fixed set of windows per split."""
        out = {}
        for split in splits:
            if split not in self._eval_set:
                self._eval_set[split] = self.data.eval_windows(split, self.cfg.eval_windows, self.seq_len)
            x, y = self._eval_set[split]
            loss = evaluate_loss(self.model, x, y, self.cfg.eval_batch_size, self.device, self.cfg.precision)
            # perplexity = exp(mean cross-entropy)
            out[f"{split}_loss"], out[f"{split}_ppl"] = loss, math.exp(min(loss, 50.0))
        return out

    # -- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self, include_optimizer: bool = True) -> dict[str, Any]:
        """The checkpoint (see checkpoint.py). Collective under DDP: every rank must call it."""
        rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        rng_per_rank = [rng]
        opt_state = None
        if include_optimizer:
            if self.world > 1:
                rng_per_rank = [None] * self.world
                dist.all_gather_object(rng_per_rank, rng)
            if hasattr(self.optimizer, "consolidate_state_dict"):  # ZeRO: gather the shards on rank 0
                self.optimizer.consolidate_state_dict(to=0)
                opt_state = self.optimizer.state_dict() if self.is_main else None
            else:
                opt_state = self.optimizer.state_dict()
        ckpt = export(self.model, self.data.tokenizer, self.cfg.model_dump(mode="json"), self.step, self.tokens_seen,
                      {"source": self.data.source, "sha256_16": self.data.sha256, "position": self.step})
        if include_optimizer:
            ckpt.update(optimizer=opt_state, scheduler=self.scheduler.state_dict(), rng=rng_per_rank,
                        world_size=self.world, history=list(self.history))
        return ckpt

    def save(self, path: str | Path, include_optimizer: bool = True) -> Path | None:
        """Write the checkpoint atomically (rank 0 writes; every rank must call it under DDP)."""
        import io

        from studyforge.tracking.io import write_bytes_atomic

        ckpt = self.state_dict(include_optimizer)
        if not self.is_main:
            return None
        buf = io.BytesIO()
        torch.save(ckpt, buf)
        write_bytes_atomic(Path(path), buf.getvalue())
        return Path(path)

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Continue from a checkpoint written by `state_dict` (model, optimizer, schedule, step, RNG)."""
        if ckpt.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} checkpoint (format={ckpt.get('format')!r})")
        self.model.load_state_dict(ckpt["model"])
        if ckpt.get("optimizer") is not None:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self.step, self.tokens_seen = ckpt["step"], ckpt.get("tokens_seen", 0)
        self.history = list(ckpt.get("history", []))
        rngs = ckpt.get("rng") or []
        if len(rngs) == self.world:
            rng = rngs[self.rank]
            random.setstate(rng["python"])
            np.random.set_state(rng["numpy"])
            torch.set_rng_state(rng["torch"])
            if rng["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])

    def load(self, path: str | Path) -> None:
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))


@torch.no_grad()
def evaluate_loss(model: Transformer, x: torch.Tensor, y: torch.Tensor, batch_size: int = 50,
                  device: str | torch.device = "cpu", precision: str = "fp32") -> float:
    """Mean cross-entropy (nats per token) of `model` on windows x → y (N, T), in batches."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    total, count = 0.0, 0
    for lo in range(0, len(x), batch_size):
        xb, yb = x[lo: lo + batch_size].to(device), y[lo: lo + batch_size].to(device)
        with autocast(device, precision):
            loss = model(xb, yb).loss
        total, count = total + loss.item() * yb.numel(), count + yb.numel()
    model.train(was_training)
    return total / count
