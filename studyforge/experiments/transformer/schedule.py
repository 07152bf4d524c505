"""Learning-rate schedule: linear warm-up, then cosine decay to a floor (GPT-3, nanoGPT).

"SGDR: Stochastic Gradient Descent with Warm Restarts" (Loshchilov & Hutter, 2016, arXiv:1608.03983)
introduced the cosine decay used (without restarts) by most language-model training since GPT-3:

    lr(s) = lr_max · (s + 1) / W                                         s < W   (warm-up)
    lr(s) = lr_min + ½ (lr_max − lr_min) (1 + cos(π (s − W) / (S − W)))  W ≤ s ≤ S
    lr(s) = lr_min                                                        s > S

Warm-up matters most for post-norm transformers and adaptive optimizers, whose first steps are the
largest relative to the weights (Xiong et al., arXiv:2002.04745).
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


def warmup_cosine(step: int, lr_max: float, lr_min: float, warmup: int, decay_steps: int) -> float:
    """The learning rate at `step` (0-based).

    >>> [round(warmup_cosine(s, 1.0, 0.1, 2, 6), 3) for s in range(8)]
    [0.5, 1.0, 1.0, 0.868, 0.55, 0.232, 0.1, 0.1]
    """
    if step < warmup:
        # lr_max · (s + 1) / W
        return lr_max * (step + 1) / warmup
    if step > decay_steps:
        return lr_min
    progress = (step - warmup) / max(1, decay_steps - warmup)
    # lr_min + ½ (lr_max − lr_min)(1 + cos π·progress)
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * progress))


class WarmupCosine(LRScheduler):
    """`warmup_cosine` as a torch scheduler (its state — the step — is saved with checkpoints).

    Every parameter group follows the same curve scaled by its initial lr relative to the first group's.
    """

    def __init__(self, optimizer: Optimizer, warmup: int, decay_steps: int, min_ratio: float = 0.1,
                 last_epoch: int = -1):
        self.warmup, self.decay_steps, self.min_ratio = warmup, decay_steps, min_ratio
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = warmup_cosine(self.last_epoch, 1.0, self.min_ratio, self.warmup, self.decay_steps)
        return [base * factor for base in self.base_lrs]
