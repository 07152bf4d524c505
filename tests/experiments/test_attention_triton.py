"""The Triton FlashAttention-2 kernels against SDPA: on CUDA if present, else under TRITON_INTERPRET=1.

`triton` is optional: without it these tests skip. Triton reads the interpreter flag when it decorates
kernels — its own standard library (`tl.zeros`, …) included — so on a CPU-only machine the flag is set
here, before triton is first imported, and left set for the rest of the session.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch
import torch.nn.functional as F

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu":
    if "triton" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("triton was imported before TRITON_INTERPRET=1 could be set: run this file on its own",
                    allow_module_level=True)
    os.environ["TRITON_INTERPRET"] = "1"

pytest.importorskip("triton", reason="triton is not installed (optional extra): Triton kernel tests skipped")


@pytest.fixture(scope="module")
def tf():
    from studyforge.experiments.attention import triton_flash

    return triton_flash


@pytest.mark.parametrize(
    "b,h,t_q,t_k,d,causal",
    [(1, 2, 37, 37, 16, False), (1, 2, 37, 37, 16, True), (2, 1, 33, 50, 24, False), (1, 1, 50, 33, 32, True),
     (1, 1, 16, 16, 64, True), (1, 1, 100, 100, 16, True), (1, 1, 70, 45, 16, False)],
)
def test_triton_flash_forward_and_gradients_equal_sdpa(tf, b, h, t_q, t_k, d, causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(b, h, t, d, generator=g).to(DEVICE).requires_grad_() for t in (t_q, t_k, t_k))
    d_out = torch.randn(b, h, t_q, d, generator=g).to(DEVICE)
    ours = tf.triton_flash_attention(q, k, v, causal=causal)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)
    for g_ours, g_ref in zip(torch.autograd.grad(ours, (q, k, v), d_out), torch.autograd.grad(ref, (q, k, v), d_out),
                             strict=True):
        torch.testing.assert_close(g_ours, g_ref, atol=1e-4, rtol=1e-4)


def test_triton_flash_accepts_strided_inputs_and_rejects_bad_shapes(tf):
    x = torch.randn(1, 24, 3, 2, 16, device=DEVICE)  # (B, T, 3, H, D) as a fused qkv projection lays it out
    q, k, v = (x[:, :, i].transpose(1, 2) for i in range(3))  # non-contiguous (B, H, T, D) views
    torch.testing.assert_close(tf.triton_flash_attention(q, k, v, causal=True),
                               F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError):
        tf.triton_flash_attention(q[0], k[0], v[0])


@pytest.mark.skipif(DEVICE != "cuda", reason="bf16/fp16 kernels are compiled for the GPU only")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("t_q,t_k,d,causal", [(1000, 1000, 128, True), (1000, 1000, 64, False), (300, 777, 96, False),
                                              (4096, 4096, 128, True)])
def test_triton_flash_half_precision_on_cuda_matches_an_fp32_reference(tf, dtype, t_q, t_k, d, causal):
    """The compiled, autotuned kernels at realistic sizes (ragged blocks, a head dim that is not a power of 2)."""
    g = torch.Generator(device="cuda").manual_seed(t_q + d)
    q, k, v = (torch.randn(2, 3, t, d, device="cuda", generator=g).to(dtype).requires_grad_() for t in (t_q, t_k, t_k))
    d_out = torch.randn(2, 3, t_q, d, device="cuda", generator=g).to(dtype)
    ours = tf.triton_flash_attention(q, k, v, causal=causal)
    grads = torch.autograd.grad(ours, (q, k, v), d_out)
    q32, k32, v32 = (t.detach().double().requires_grad_() for t in (q, k, v))
    ref = F.scaled_dot_product_attention(q32, k32, v32, is_causal=causal)
    ref_grads = torch.autograd.grad(ref, (q32, k32, v32), d_out.double())
    for name, a, b in zip(("out", "dq", "dk", "dv"), (ours, *grads), (ref, *ref_grads), strict=True):
        rel = ((a.double() - b).norm() / b.norm()).item()  # bf16 operands: ~3e-3 expected, NaN never passes
        assert rel < 2e-2, f"{name}: relative error {rel:.2e}"
