"""The per-step training loop every pairwise preference-optimization method shares (week 4; week 9's
self-rewarding rounds reuse it for their DPO steps).

    for step in 1..steps:  batch ← `batch_size` pairs drawn with replacement by `order`
                           L ← batch_loss(batch)            (DPO, IPO, SimPO, KTO: `losses.py`)
                           θ ← AdamW(θ, clip(∇L, grad_clip))  with a linear warm-up over `warmup` steps

The loss is a callable, so the loop knows nothing of any method; the caller logs what it wants from
`on_step(step, loss_out, grad_norm)` (held-out evaluation, progress).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from studyforge.experiments.preference_optimization.losses import PreferenceLoss
from studyforge.experiments.preference_optimization.pairs import PreferencePairs


def train_policy(policy: torch.nn.Module, train: PreferencePairs, batch_loss: Callable[[PreferencePairs], PreferenceLoss],
                 *, steps: int, batch_size: int, lr: float, order: torch.Generator, warmup: int = 10,
                 grad_clip: float = 1.0,
                 on_step: Callable[[int, PreferenceLoss, float], None] | None = None) -> torch.nn.Module:
    """Train `policy` in place for `steps` AdamW steps (no weight decay) on batches of `train`; returns it.

    `order` draws the batch indices, so two calls with equally seeded generators see the same batches."""
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    for step in range(1, steps + 1):
        policy.train()
        idx = torch.randint(0, len(train), (batch_size,), generator=order)
        out = batch_loss(train.batch(idx))
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip)
        opt.step()
        sched.step()
        if on_step is not None:
            on_step(step, out, float(grad_norm))
    return policy
