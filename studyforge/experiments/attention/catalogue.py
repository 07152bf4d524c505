"""Every attention variant behind one signature, `fn(q, k, v) -> out`, for side-by-side measurement.

Used by the memory-and-speed study and by `benchmarks/bench_attention.py`. Each entry names its expected
complexity in sequence length and the longest length at which running it is reasonable on a CPU (the
additive score tensor, (T, T, hidden), runs out of memory long before the others).

All entries are non-causal self-attention on q, k, v of shape (B, H, T, D): Linformer has no causal form,
and the same setting for all keeps the comparison fair.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from studyforge.experiments.attention.dot_product import scaled_dot_product_attention
from studyforge.experiments.attention.flash import flash_attention
from studyforge.experiments.attention.local import local_attention
from studyforge.experiments.attention.performer import orthogonal_random_features, performer_attention
from studyforge.experiments.attention.profiling import peak_memory
from studyforge.experiments.attention.sliding_window import sliding_window_attention
from studyforge.experiments.attention.sparse import bigbird_layout, block_sparse_attention

AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Variant:
    name: str
    make: Callable[[int, int, torch.device], AttentionFn]  # (T, D, device) -> fn(q, k, v)
    complexity: str  # expected growth of memory in T
    max_len: int = 1 << 30


def _additive(t: int, d: int, device) -> AttentionFn:
    """Bahdanau scores on q, k directly (hidden = D): vᵀ tanh(q_i + k_j), for its (T, T, D) memory."""
    w = torch.randn(d, device=device) / math.sqrt(d)

    def fn(q, k, v):
        scores = torch.tanh(q[..., :, None, :] + k[..., None, :, :]) @ w  # (B, H, T, T)
        return scores.softmax(-1) @ v

    return fn


def _linformer(t: int, d: int, device, k_proj: int = 256) -> AttentionFn:
    g = torch.Generator().manual_seed(0)
    e = (torch.randn(min(k_proj, t), t, generator=g) / math.sqrt(k_proj)).to(device)
    f = (torch.randn(min(k_proj, t), t, generator=g) / math.sqrt(k_proj)).to(device)
    return lambda q, k, v: scaled_dot_product_attention(q, e @ k, f @ v)


def _performer(t: int, d: int, device, n_features: int = 256) -> AttentionFn:
    omega = orthogonal_random_features(n_features, d, torch.Generator().manual_seed(0)).to(device)
    return lambda q, k, v: performer_attention(q, k, v, omega)


def _bigbird(t: int, d: int, device, block: int = 64) -> AttentionFn:
    layout = bigbird_layout(math.ceil(t / block), window_blocks=3, n_global=1, n_random=1, seed=0)
    return lambda q, k, v: block_sparse_attention(q, k, v, layout, block)


_ALL = [
    Variant("sdpa", lambda t, d, dev: F.scaled_dot_product_attention, "torch reference"),
    Variant("dot_product", lambda t, d, dev: scaled_dot_product_attention, "O(T²)"),
    Variant("additive", _additive, "O(T²·D)", max_len=512),
    Variant("flash", lambda t, d, dev: flash_attention, "O(T)"),
    Variant("sliding_window", lambda t, d, dev: lambda q, k, v: sliding_window_attention(q, k, v, 128), "O(T·w)"),
    Variant("local", lambda t, d, dev: lambda q, k, v: local_attention(q, k, v, 128), "O(T·b)"),
    Variant("bigbird", _bigbird, "O(T·b)"),
    Variant("performer", _performer, "O(T·m)"),
    Variant("linformer", _linformer, "O(T·k)"),
]
VARIANTS: dict[str, Variant] = {variant.name: variant for variant in _ALL}


@dataclass
class Measurement:
    variant: str
    length: int
    seconds: float  # best of `repeat` forward passes
    peak_bytes: int  # peak memory of one forward pass (profiling.peak_memory)


def measure(name: str, length: int, batch: int = 1, heads: int = 1, head_dim: int = 64,
            device: str | torch.device = "cpu", repeat: int = 3, seed: int = 0) -> Measurement:
    """Time (best of `repeat`) and peak memory of one forward pass of variant `name` at `length`."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, length, head_dim, generator=g).to(device) for _ in range(3))
    fn = VARIANTS[name].make(length, head_dim, device)
    with torch.no_grad():
        if device.type == "cuda":
            # one call first: cuBLAS creates its workspace (tens of MiB, kept for the process) on first use,
            # which would otherwise be charged to whichever variant happens to be measured first
            fn(q, k, v)
        _, peak = peak_memory(lambda: fn(q, k, v), device)
        best = math.inf
        for _ in range(repeat):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn(q, k, v)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    return Measurement(name, length, best, peak)


def loglog_slope(lengths, values) -> float:
    """Least-squares slope of log(value) on log(length): 1 for linear growth, 2 for quadratic.

    >>> round(loglog_slope([100, 200, 400], [3e4, 1.2e5, 4.8e5]), 6)
    2.0
    """
    x, y = np.log(np.asarray(lengths, float)), np.log(np.asarray(values, float))
    return float(np.polyfit(x, y, 1)[0])


def linear_fit(lengths, values) -> tuple[float, float, float]:
    """(intercept a, slope b, R²) of the least-squares line value = a + b·length.

    >>> a, b, r2 = linear_fit([1, 2, 3], [5, 7, 9]); (round(a, 6), round(b, 6), round(r2, 6))
    (3.0, 2.0, 1.0)
    """
    x, y = np.asarray(lengths, float), np.asarray(values, float)
    b, a = np.polyfit(x, y, 1)
    residual = y - (a + b * x)
    r2 = 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())
    return float(a), float(b), r2
