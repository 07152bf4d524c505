"""Week 3 (issue 6): attention memory and speed, ours against PyTorch's SDPA.

CPU (always):
- Peak memory of one forward pass at T = 4096, d = 64, one head, fp32: `flash_attention` (pure-PyTorch
  FlashAttention-2) against naive attention (`dot_product`, which materialises the (T, T) scores and
  weights). Target: flash ≤ 1/8 of naive.
- Flash's memory at T = 2k … 32k: a straight-line fit memory = a + b·T (target R² ≥ 0.999, i.e. linear)
  with b compared to the (D + 1)·4 bytes per token that O and the log-sum-exp need; the log-log slopes of
  flash and naive are printed beside it (the constant block buffers pull flash's below 1 at short lengths).
- Forward time of every variant against SDPA at a few lengths (informational: Python-loop variants are
  not meant to beat a fused kernel on the CPU).

How memory is measured (`studyforge/experiments/attention/profiling.py`): `torch.profiler` with
`profile_memory=True` logs every CPU-allocator allocation and free during the call; their running sum
is the bytes held by tensors created inside the call, and its maximum is the peak. Inputs allocated
before the call are not counted, the output is. This is the allocator's own accounting, not an estimate.

GPU (only when CUDA and triton are available): the Triton FlashAttention-2 kernels at T = 4096, head dim
128, causal, bf16, against SDPA restricted to its flash backend, measured side by side in one run:
forward TFLOP/s (target ≥ 0.8× SDPA) and backward TFLOP/s (target ≥ 0.6×). FLOPs are counted the
FlashAttention way: 4·B·H·T²·D for the forward (halved when causal), 2.5× that for the backward.
"""

from __future__ import annotations

import torch

from benchmarks.common import Row, report
from studyforge.experiments.attention.catalogue import VARIANTS, linear_fit, loglog_slope, measure

MB = 1024 * 1024


def cpu_memory_rows() -> list[Row]:
    flash = measure("flash", 4096, head_dim=64, repeat=1)
    naive = measure("dot_product", 4096, head_dim=64, repeat=1)
    sdpa = measure("sdpa", 4096, head_dim=64, repeat=1)
    rows = [
        Row("peak memory T=4096: flash_attention", flash.peak_bytes / MB, "MiB",
            naive.peak_bytes / MB, "naive attention", "≤ 1/8 of naive",
            ok=flash.peak_bytes * 8 <= naive.peak_bytes),
        Row("peak memory T=4096: torch SDPA (info)", sdpa.peak_bytes / MB, "MiB",
            naive.peak_bytes / MB, "naive attention"),
    ]
    lengths = [2048, 4096, 8192, 16384, 32768]
    flash_mem = [measure("flash", t, head_dim=64, repeat=1).peak_bytes for t in lengths]
    naive_lengths = [1024, 2048, 4096, 8192]
    naive_mem = [measure("dot_product", t, head_dim=64, repeat=1).peak_bytes for t in naive_lengths]
    a, b, r2 = linear_fit(lengths, flash_mem)
    rows += [
        Row("flash memory 2k–32k: R² of a + b·T", r2, "", target="≥ 0.999 (linear)", ok=r2 >= 0.999),
        Row("  fitted b", b, "B/token", peer=(64 + 1) * 4, peer_name="O + logsumexp, fp32",
            target="≈ (D+1)·4"),
        Row("  fitted a (block buffers)", a / MB, "MiB"),
        Row("log-log memory slope: flash", loglog_slope(lengths, flash_mem), "",
            peer=loglog_slope(naive_lengths, naive_mem), peer_name="naive, 1k–8k", target="≤ 1 vs 2"),
    ]
    return rows


def cpu_speed_rows(lengths=(256, 1024, 2048)) -> list[Row]:
    rows = []
    for t in lengths:
        ref = measure("sdpa", t, heads=4, head_dim=64).seconds
        for name, variant in VARIANTS.items():
            if name == "sdpa" or t > variant.max_len:
                continue
            ours = measure(name, t, heads=4, head_dim=64).seconds
            rows.append(Row(f"T={t} {name}", ours * 1e3, "ms", ref * 1e3, "SDPA"))
    return rows


def gpu_rows() -> list[Row]:
    import triton.testing
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from studyforge.experiments.attention.triton_flash import triton_flash_attention

    card = torch.cuda.get_device_name()
    b, h, t, d = 4, 16, 4096, 128
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(b, h, t, d, device="cuda", dtype=torch.bfloat16, generator=g).requires_grad_()
               for _ in range(3))
    d_out = torch.randn(b, h, t, d, device="cuda", dtype=torch.bfloat16, generator=g)
    fwd_flops = 4 * b * h * t * t * d / 2  # causal: half the score matrix

    def sdpa(q, k, v):
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    def ours(q, k, v):
        return triton_flash_attention(q, k, v, causal=True)

    # correctness first, against an fp32 reference (SDPA's math backend on upcast inputs), for both
    def rel_errors(fn, reference: list[torch.Tensor]) -> list[float]:
        out = fn(q, k, v)
        return [((a.float() - r).norm() / r.norm()).item()
                for a, r in zip((out, *torch.autograd.grad(out, (q, k, v), d_out)), reference, strict=True)]

    q32, k32, v32 = (x.detach().float().requires_grad_() for x in (q, k, v))
    with sdpa_kernel(SDPBackend.MATH):
        ref = torch.nn.functional.scaled_dot_product_attention(q32, k32, v32, is_causal=True)
    reference = [ref.detach(), *torch.autograd.grad(ref, (q32, k32, v32), d_out.float())]
    errors = {"triton": rel_errors(ours, reference), "sdpa": rel_errors(sdpa, reference)}
    del q32, k32, v32, ref, reference

    results = {}
    for name, fn in (("triton", ours), ("sdpa", sdpa)):
        fwd_ms = triton.testing.do_bench(lambda fn=fn: fn(q, k, v), return_mode="median")
        out = fn(q, k, v)
        bwd_ms = triton.testing.do_bench(lambda out=out: out.backward(d_out, retain_graph=True),
                                         grad_to_none=[q, k, v], return_mode="median")
        results[name] = (fwd_ms, bwd_ms)
    (tf_fwd, tf_bwd), (sd_fwd, sd_bwd) = results["triton"], results["sdpa"]

    def tflops(flops: float, ms: float) -> float:
        return flops / ms / 1e9

    what = f"[{card}] T=4096 d=128 causal bf16, B=4 H=16"
    rows = [
        Row(f"{what}: Triton forward", tflops(fwd_flops, tf_fwd), "TFLOP/s", tflops(fwd_flops, sd_fwd),
            "SDPA flash", "≥ 0.8× SDPA", ok=sd_fwd >= 0.8 * tf_fwd),
        Row(f"{what}: Triton backward", tflops(2.5 * fwd_flops, tf_bwd), "TFLOP/s", tflops(2.5 * fwd_flops, sd_bwd),
            "SDPA flash", "≥ 0.6× SDPA", ok=sd_bwd >= 0.6 * tf_bwd),
        Row("  forward time (median)", tf_fwd, "ms", sd_fwd, "SDPA flash"),
        Row("  backward time (median)", tf_bwd, "ms", sd_bwd, "SDPA flash"),
    ]
    for i, name in enumerate(("out", "dq", "dk", "dv")):
        rows.append(Row(f"  ‖{name} − fp32 ref‖ / ‖ref‖", errors["triton"][i], "", errors["sdpa"][i], "SDPA flash",
                        "bf16 rounding (< 1e-2)", ok=errors["triton"][i] < 1e-2))
    return rows


def main(gpu_only: bool = False) -> bool:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ok = True
    if not gpu_only:
        ok = report("Attention peak memory (CPU, fp32, d=64, 1 head; issue 6)", cpu_memory_rows())
        ok = report("Attention forward time (CPU, fp32, B=1 H=4 d=64; informational)", cpu_speed_rows()) and ok
    try:
        import triton  # noqa: F401
    except ImportError:
        triton = None
    if torch.cuda.is_available() and triton is not None:
        ok = report("Triton FlashAttention-2 vs SDPA flash backend (GPU)", gpu_rows()) and ok
    else:
        print("GPU section skipped: needs CUDA and triton (this machine: "
              f"cuda={torch.cuda.is_available()}, triton={'yes' if triton is not None else 'no'})")
    return ok


if __name__ == "__main__":
    import sys

    # `python -m benchmarks.bench_attention gpu`: the GPU section alone
    raise SystemExit(0 if main(gpu_only=sys.argv[1:] == ["gpu"]) else 1)
