"""Peak memory of one call, measured from the allocator rather than estimated.

On the CPU, `torch.profiler` with `profile_memory=True` records one event per tensor allocation and free
of the CPU allocator (its size in bytes, negative for a free). Summing them in time order gives the bytes
held by tensors allocated inside the call, at every instant; the maximum is the call's peak. Tensors that
existed before the call (the inputs) are not counted; the returned output is (it is still alive at the
end). Python objects and allocator caching are not counted — for attention, where the memory that matters
is the score matrix, this is the honest figure. On CUDA, `torch.cuda.max_memory_allocated` gives the same
quantity directly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (Kineto prints a line to it when a profile starts and stops)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by a non-file (e.g. captured)
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def peak_memory(fn: Callable[[], Any], device: str | torch.device = "cpu") -> tuple[Any, int]:
    """(fn(), peak bytes of tensors allocated during the call and not yet freed)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        result = fn()
        torch.cuda.synchronize()
        return result, torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr():
        prof.start()
    try:
        result = fn()
    finally:
        with _quiet_stderr():
            prof.stop()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for event in events:
        live += event.nbytes()  # + on allocation, − on free
        peak = max(peak, live)
    return result, peak
