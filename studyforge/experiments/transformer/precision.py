"""Numeric precision of a forward pass: what the trainer (weeks 5 and 8) and the memory profile (week 5) share.

With `precision="bf16"` the forward pass runs under `torch.autocast` with bfloat16 on the CPU or CUDA (autocast
chooses which operations run in bf16); with `"fp32"` nothing changes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The context a forward pass runs under: bf16 autocast on `device`'s type for `"bf16"`, else none."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
