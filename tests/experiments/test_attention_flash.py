"""FlashAttention in pure PyTorch: forward, gradients and memory against SDPA and naive attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from studyforge.experiments.attention.dot_product import scaled_dot_product_attention
from studyforge.experiments.attention.flash import flash_attention, flash_forward
from studyforge.experiments.attention.profiling import peak_memory

TOL = dict(atol=1e-5, rtol=1e-5)


def leaves(*shapes, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype).requires_grad_() for s in shapes]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    "t_q,t_k,block_q,block_k",
    [(37, 37, 16, 16), (37, 37, 8, 5), (100, 100, 32, 48), (1, 1, 16, 16), (23, 61, 7, 16), (61, 23, 16, 7),
     (33, 33, 64, 64)],
)
def test_flash_forward_and_gradients_equal_sdpa(causal, t_q, t_k, block_q, block_k):
    q, k, v = leaves((2, 3, t_q, 16), (2, 3, t_k, 16), (2, 3, t_k, 16))
    d_out = torch.randn(2, 3, t_q, 16, generator=torch.Generator().manual_seed(1))
    ours = flash_attention(q, k, v, causal=causal, block_q=block_q, block_k=block_k)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, ref, **TOL)
    for g_ours, g_ref in zip(torch.autograd.grad(ours, (q, k, v), d_out), torch.autograd.grad(ref, (q, k, v), d_out),
                             strict=True):
        torch.testing.assert_close(g_ours, g_ref, **TOL)


def test_flash_with_custom_scale_and_different_value_width():
    q, k, v = leaves((1, 2, 19, 8), (1, 2, 27, 8), (1, 2, 27, 5))
    ours = flash_attention(q, k, v, block_q=4, block_k=6, scale=0.77)
    ref = F.scaled_dot_product_attention(q, k, v, scale=0.77)
    torch.testing.assert_close(ours, ref, **TOL)
    ours.square().sum().backward()
    grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    ref.square().sum().backward()
    for g, t in zip(grads, (q, k, v), strict=True):
        torch.testing.assert_close(g, t.grad, **TOL)


def test_flash_gradcheck_float64():
    q, k, v = leaves((1, 1, 9, 4), (1, 1, 9, 4), (1, 1, 9, 4), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda q, k, v: flash_attention(q, k, v, True, 4, 3), (q, k, v))


def test_flash_logsumexp_is_the_softmax_normaliser():
    q, k, v = leaves((1, 2, 21, 8), (1, 2, 21, 8), (1, 2, 21, 8))
    _, lse = flash_forward(q.detach(), k.detach(), v.detach(), True, 8, 8, 8**-0.5)
    scores = (q @ k.transpose(-2, -1) * 8**-0.5).masked_fill(~torch.ones(21, 21).tril().bool(), float("-inf"))
    torch.testing.assert_close(lse, scores.logsumexp(-1).detach(), **TOL)


def test_flash_bfloat16_close_to_fp32_reference():
    q, k, v = leaves((1, 2, 40, 16), (1, 2, 40, 16), (1, 2, 40, 16))
    ours = flash_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), causal=True, block_q=16, block_k=16)
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), F.scaled_dot_product_attention(q, k, v, is_causal=True),
                               atol=2e-2, rtol=2e-2)


def test_flash_memory_is_far_below_naive_attention():
    q, k, v = (torch.randn(1, 1, 1024, 64) for _ in range(3))
    _, naive = peak_memory(lambda: scaled_dot_product_attention(q, k, v))
    _, flash = peak_memory(lambda: flash_attention(q, k, v, block_q=64, block_k=64))
    assert naive >= 2 * 1024 * 1024 * 4  # at least scores and weights: two (T, T) fp32 matrices
    assert flash * 8 <= naive, (flash, naive)
