"""Positional encodings: known values from the papers, and the invariances they are built for."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from studyforge.experiments.attention.alibi import alibi_bias, alibi_slopes
from studyforge.experiments.attention.positional import LearnedPositionalEmbedding, sinusoidal_table
from studyforge.experiments.attention.relative import RelativePositionAttention, relative_buckets
from studyforge.experiments.attention.rope import apply_rope, apply_rope_complex, rope_angles

TOL = dict(atol=1e-5, rtol=1e-5)


def test_sinusoidal_known_values_and_offset_only_dot_products():
    pe = sinusoidal_table(torch.arange(50), 8)
    assert pe[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    # PE(m, 2i) = sin(m / 10000^(2i/d)), PE(m, 2i+1) = cos(...)
    assert pe[3, 2].item() == pytest.approx(math.sin(3 / 10000 ** (2 / 8)), abs=1e-6)
    assert pe[3, 5].item() == pytest.approx(math.cos(3 / 10000 ** (4 / 8)), abs=1e-6)
    # PE(m)·PE(n) = Σ cos((m − n) ω_i): depends only on the offset
    assert (pe[10] @ pe[17]).item() == pytest.approx((pe[30] @ pe[37]).item(), abs=1e-5)


def test_learned_positions_clamp_or_raise_beyond_the_table():
    pe = LearnedPositionalEmbedding(4, 6)
    out = pe(torch.arange(7))
    assert torch.equal(out[4:], pe.table.weight[3].expand(3, 6))
    with pytest.raises(IndexError):
        LearnedPositionalEmbedding(4, 6, clamp=False)(torch.arange(5))


def test_rope_frequencies_and_pair_rotation_known_answer():
    # θ_p = 10000^(−2p/D): for D = 8 the last pair turns at 10000^(−6/8)
    assert rope_angles(torch.tensor([1]), 8)[0, 3].item() == pytest.approx(10000 ** (-6 / 8), rel=1e-6)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    out = apply_rope(x, torch.tensor([2]))[0, 0, 0]
    a0, a1 = 2.0, 2.0 * 10000 ** (-2 / 4)  # angles of pairs (x0, x1) and (x2, x3) at position 2
    expected = [1 * math.cos(a0) - 2 * math.sin(a0), 1 * math.sin(a0) + 2 * math.cos(a0),
                3 * math.cos(a1) - 4 * math.sin(a1), 3 * math.sin(a1) + 4 * math.cos(a1)]
    assert out.tolist() == pytest.approx(expected, abs=1e-6)
    assert torch.equal(apply_rope(x, torch.tensor([0])), x)


def test_real_rope_equals_complex_rope():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 50, 16, generator=g)
    torch.testing.assert_close(apply_rope(x, torch.arange(50)), apply_rope_complex(x, torch.arange(50)), **TOL)
    positions = torch.randint(0, 4000, (2, 50), generator=g)  # per-sequence positions (B, T)
    torch.testing.assert_close(apply_rope(x, positions), apply_rope_complex(x, positions), atol=1e-4, rtol=1e-4)
    assert torch.allclose(apply_rope(x, positions).norm(dim=-1), x.norm(dim=-1), atol=1e-4)  # a rotation


@settings(max_examples=40, deadline=None)
@given(m=st.integers(0, 500), n=st.integers(0, 500), shift=st.integers(-400, 400), seed=st.integers(0, 2**16))
def test_rope_scores_depend_only_on_the_relative_offset(m, n, shift, seed):
    """⟨R_m q, R_n k⟩ = ⟨R_{m+s} q, R_{n+s} k⟩ for every shift s (positions kept non-negative)."""
    shift = max(shift, -min(m, n))
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(1, 1, 1, 32, generator=g, dtype=torch.float64), torch.randn(1, 1, 1, 32, generator=g,
                                                                                 dtype=torch.float64)

    def score(a: int, b: int) -> float:
        return float((apply_rope(q, torch.tensor([a])) * apply_rope(k, torch.tensor([b]))).sum())

    assert score(m, n) == pytest.approx(score(m + shift, n + shift), abs=1e-4)


def test_rope_rotation_depends_on_the_absolute_position_not_just_the_offset():
    """The invariance above is not trivial: a single rotated vector does change with its position."""
    q = torch.randn(1, 1, 1, 16, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(apply_rope(q, torch.tensor([3])), apply_rope(q, torch.tensor([4])))


def test_alibi_slopes_from_the_paper():
    assert alibi_slopes(8).tolist() == [1 / 2**k for k in range(1, 9)]  # 1/2, 1/4, ..., 1/256
    assert alibi_slopes(16).tolist() == pytest.approx([2 ** (-0.5 * k) for k in range(1, 17)])
    # non-power-of-two: the 8 slopes of 8 heads, then every other slope of 16 heads
    assert alibi_slopes(12).tolist() == pytest.approx([1 / 2**k for k in range(1, 9)] + [2**-0.5, 2**-1.5,
                                                                                        2**-2.5, 2**-3.5])
    assert alibi_slopes(1).tolist() == [2**-8]


def test_alibi_bias_is_minus_slope_times_distance():
    bias = alibi_bias(alibi_slopes(4), 5, 7, offset=2)  # query i at position i + 2
    assert bias.shape == (4, 5, 7)
    assert bias[0, 1, 0].item() == pytest.approx(-0.25 * 3)  # slope 1/4, distance |1 + 2 − 0|
    assert bias[3, 4, 6].item() == 0.0


def test_shaw_relative_buckets_clip_offsets():
    b = relative_buckets(4, 6, max_distance=2)
    assert b[0].tolist() == [2, 3, 4, 4, 4, 4] and b[3].tolist() == [0, 0, 1, 2, 3, 4]


@pytest.mark.parametrize("causal", [False, True])
def test_shaw_attention_matches_its_formula(causal):
    """e_ij = q_i·(k_j + a^K_ij)/√d, z_i = Σ_j α_ij (v_j + a^V_ij), computed naively."""
    torch.manual_seed(0)
    att = RelativePositionAttention(head_dim=8, max_distance=3)
    q, k, v = (torch.randn(2, 2, 9, 8) for _ in range(3))
    out = att(q, k, v, causal=causal)
    idx = relative_buckets(9, 9, 3)
    a_k, a_v = att.w_k[idx], att.w_v[idx]  # (T, T, d)
    scores = (q @ k.transpose(-2, -1) + torch.einsum("bhid,ijd->bhij", q, a_k)) / math.sqrt(8)
    if causal:
        scores = scores.masked_fill(~torch.ones(9, 9).tril().bool(), -math.inf)
    alpha = scores.softmax(-1)
    expected = alpha @ v + torch.einsum("bhij,ijd->bhid", alpha, a_v)
    torch.testing.assert_close(out, expected, **TOL)
    with torch.no_grad():  # no relative terms: plain scaled dot-product attention
        att.w_k.zero_()
        att.w_v.zero_()
    torch.testing.assert_close(att(q, k, v, causal=causal), F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                               **TOL)
