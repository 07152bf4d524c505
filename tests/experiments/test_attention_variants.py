"""Week 3 attention variants against torch's scaled_dot_product_attention (and each other)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from studyforge.experiments.attention.additive import AdditiveAttention
from studyforge.experiments.attention.dot_product import scaled_dot_product_attention
from studyforge.experiments.attention.linformer import LinformerSelfAttention
from studyforge.experiments.attention.local import local_attention
from studyforge.experiments.attention.masks import (
    causal_mask,
    local_block_mask,
    padding_mask,
    sliding_window_mask,
)
from studyforge.experiments.attention.multi_head import MultiHeadAttention
from studyforge.experiments.attention.multiplicative import MultiplicativeAttention
from studyforge.experiments.attention.performer import (
    orthogonal_random_features,
    performer_attention,
)
from studyforge.experiments.attention.sparse import (
    bigbird_layout,
    bigbird_mask,
    block_sparse_attention,
    expand_layout,
    longformer_mask,
)

TOL = dict(atol=1e-5, rtol=1e-5)


def qkv(b=2, h=3, t_q=37, t_k=37, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, h, t_q, d, generator=g), torch.randn(b, h, t_k, d, generator=g),
            torch.randn(b, h, t_k, d, generator=g))


# --- scaled dot-product ---------------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("t_q,t_k", [(37, 37), (1, 1), (13, 29), (29, 13)])
def test_dot_product_equals_sdpa(causal, t_q, t_k):
    q, k, v = qkv(t_q=t_q, t_k=t_k)
    ours = scaled_dot_product_attention(q, k, v, causal=causal)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=causal), **TOL)


def test_dot_product_padding_mask_bias_and_scale_equal_sdpa():
    q, k, v = qkv(t_q=23, t_k=23)
    keep = padding_mask(torch.tensor([23, 9]), 23)  # (B, 1, 1, T): second sequence has 14 padding keys
    bias = torch.randn(3, 23, 23)
    ours = scaled_dot_product_attention(q, k, v, mask=keep, causal=True, bias=bias, scale=0.3)
    sdpa_mask = (keep & causal_mask(23)).float().log() + bias  # −inf where masked, + bias elsewhere
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=sdpa_mask, scale=0.3), **TOL)
    # padded keys get exactly zero weight
    _, w = scaled_dot_product_attention(q, k, v, mask=keep, return_weights=True)
    assert w[1, :, :, 9:].abs().max() == 0 and torch.allclose(w.sum(-1), torch.ones(2, 3, 23))


def test_masks_known_entries():
    assert causal_mask(3, 5, offset=2).int().tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    assert padding_mask(torch.tensor([1]), 3).flatten().tolist() == [True, False, False]


# --- additive and multiplicative ----------------------------------------------------------------------


def test_additive_attention_matches_its_formula_elementwise():
    torch.manual_seed(0)
    att = AdditiveAttention(d_query=5, d_key=3, d_hidden=4)
    query, keys, values = torch.randn(2, 4, 5), torch.randn(2, 6, 3), torch.randn(2, 6, 7)
    mask = torch.ones(2, 1, 6, dtype=torch.bool)
    mask[1, :, 4:] = False
    ctx, w = att(query, keys, values, mask)
    W, U, v = att.w_query.weight, att.w_key.weight, att.v.weight[0]
    for b in range(2):
        for i in range(4):
            e = torch.stack([v @ torch.tanh(W @ query[b, i] + U @ keys[b, j]) for j in range(6)])  # e_ij
            e[~mask[b, 0]] = -math.inf
            alpha = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
            torch.testing.assert_close(w[b, i], alpha, **TOL)
            torch.testing.assert_close(ctx[b, i], alpha @ values[b], **TOL)


def test_luong_dot_and_general_are_unscaled_dot_product_attention():
    torch.manual_seed(0)
    query, keys, values = torch.randn(2, 5, 8), torch.randn(2, 9, 8), torch.randn(2, 9, 4)
    ctx, _ = MultiplicativeAttention(8, 8, "dot")(query, keys, values)
    torch.testing.assert_close(ctx, F.scaled_dot_product_attention(query, keys, values, scale=1.0), **TOL)
    general = MultiplicativeAttention(8, 8, "general")
    ctx, _ = general(query, keys, values)  # h_tᵀ W_a h̄_s = (W_aᵀ h_t)ᵀ h̄_s
    expected = F.scaled_dot_product_attention(query @ general.w_a, keys, values, scale=1.0)
    torch.testing.assert_close(ctx, expected, **TOL)


def test_luong_concat_is_bahdanau_with_stacked_projections():
    torch.manual_seed(0)
    concat = MultiplicativeAttention(6, 4, "concat", d_hidden=5)
    additive = AdditiveAttention(6, 4, 5)
    with torch.no_grad():  # W_a [h_t; h̄_s] = W_a[:, :dq] h_t + W_a[:, dq:] h̄_s
        additive.w_query.weight.copy_(concat.w_a.weight[:, :6])
        additive.w_key.weight.copy_(concat.w_a.weight[:, 6:])
        additive.v.weight.copy_(concat.v_a.weight)
    query, keys, values = torch.randn(3, 2, 6), torch.randn(3, 7, 4), torch.randn(3, 7, 2)
    torch.testing.assert_close(concat(query, keys, values)[0], additive(query, keys, values)[0], **TOL)


# --- multi-head / grouped-query / multi-query ----------------------------------------------------------


def _torch_mha_from(ours: MultiHeadAttention, d_model: int, n_heads: int) -> torch.nn.MultiheadAttention:
    ref = torch.nn.MultiheadAttention(d_model, n_heads, bias=False, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.out_proj.weight.copy_(ours.o_proj.weight)
    return ref


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_equals_torch_multihead_attention(causal):
    torch.manual_seed(0)
    ours = MultiHeadAttention(24, 4, n_kv_heads=4)
    ref = _torch_mha_from(ours, 24, 4)
    x = torch.randn(2, 19, 24)
    keep = padding_mask(torch.tensor([19, 11]), 19)
    expected, _ = ref(x, x, x, key_padding_mask=~keep[:, 0, 0], attn_mask=~causal_mask(19) if causal else None,
                      need_weights=False)
    torch.testing.assert_close(ours(x, mask=keep, causal=causal), expected, **TOL)


@pytest.mark.parametrize("n_kv_heads", [1, 2])
def test_grouped_query_equals_multi_head_with_shared_kv_weights(n_kv_heads):
    """GQA with G kv heads = MHA whose kv projections repeat each kv head for its H/G query heads."""
    torch.manual_seed(0)
    d, h = 32, 4
    gqa = MultiHeadAttention(d, h, n_kv_heads=n_kv_heads)
    mha = MultiHeadAttention(d, h)
    hd = d // h
    with torch.no_grad():
        mha.q_proj.weight.copy_(gqa.q_proj.weight)
        mha.o_proj.weight.copy_(gqa.o_proj.weight)
        for proj_mha, proj_gqa in ((mha.k_proj, gqa.k_proj), (mha.v_proj, gqa.v_proj)):
            per_kv_head = proj_gqa.weight.view(n_kv_heads, hd, d)
            proj_mha.weight.copy_(per_kv_head.repeat_interleave(h // n_kv_heads, dim=0).reshape(d, d))
    x = torch.randn(2, 17, d)
    torch.testing.assert_close(gqa(x, causal=True), mha(x, causal=True), **TOL)
    assert gqa.new_cache(1, 10).nbytes() * (h // n_kv_heads) == mha.new_cache(1, 10).nbytes()


@pytest.mark.parametrize("n_kv_heads,rope", [(4, None), (2, 10000.0), (1, None)])
def test_kv_cache_decoding_equals_full_recompute(n_kv_heads, rope):
    torch.manual_seed(0)
    att = MultiHeadAttention(32, 4, n_kv_heads=n_kv_heads, rope_base=rope)
    x = torch.randn(2, 15, 32)
    full = att(x, causal=True)
    cache = att.new_cache(batch=2, max_len=15)
    pieces = [att(x[:, :6], causal=True, cache=cache)]  # prefill 6 tokens, then one at a time
    pieces += [att(x[:, t : t + 1], causal=True, cache=cache) for t in range(6, 15)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, **TOL)
    assert cache.length == 15
    with pytest.raises(ValueError, match="full"):
        att(x[:, :1], cache=cache)


def test_gqa_with_alibi_style_per_head_bias_matches_reference():
    torch.manual_seed(0)
    att = MultiHeadAttention(16, 4, n_kv_heads=2)
    x = torch.randn(1, 9, 16)
    bias = torch.randn(4, 9, 9)
    _, w = att(x, bias=bias, causal=True, return_weights=True)
    q = att.q_proj(x).view(1, 9, 4, 4).transpose(1, 2)
    k = att.k_proj(x).view(1, 9, 2, 4).transpose(1, 2).repeat_interleave(2, dim=1)
    expected = (q @ k.transpose(-2, -1) / 2 + bias).masked_fill(~causal_mask(9), -math.inf).softmax(-1)
    torch.testing.assert_close(w, expected, **TOL)


# --- sliding window, local, block-sparse -----------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [1, 4, 7, 64])
def test_sliding_window_equals_masked_sdpa(causal, window):
    from studyforge.experiments.attention.sliding_window import sliding_window_attention

    q, k, v = qkv(t_q=41, t_k=41)
    mask = sliding_window_mask(41, window, causal)
    ours = sliding_window_attention(q, k, v, window, causal, chunk=6)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)


def test_sliding_window_mask_matches_definition():
    m = sliding_window_mask(20, 5, causal=True)
    assert m[10, 6] and m[10, 10] and not m[10, 5] and not m[10, 11]  # 0 <= i − j < 5
    m = sliding_window_mask(20, 6)
    assert m[10, 7] and m[10, 13] and not m[10, 6] and not m[10, 14]  # |i − j| <= 3
    i, j = torch.meshgrid(torch.arange(20), torch.arange(20), indexing="ij")
    assert torch.equal(sliding_window_mask(20, 6), (i - j).abs() <= 3)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block,look_back", [(4, 1), (5, 0), (5, 2), (64, 1)])
def test_local_attention_equals_masked_sdpa(causal, block, look_back):
    q, k, v = qkv(t_q=37, t_k=37)
    mask = local_block_mask(37, block, causal, look_back)
    ours = local_attention(q, k, v, block, causal, look_back)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)


def test_local_block_mask_entries():
    m = local_block_mask(12, 4, causal=True, look_back=1)  # blocks {0..3} {4..7} {8..11}
    assert m[9, 4] and m[9, 9] and not m[9, 3] and not m[9, 10]
    m = local_block_mask(12, 4, causal=False, look_back=1)
    assert m[5, 0] and m[5, 11] and m[0, 7] and not m[0, 8]


def test_longformer_mask_entries():
    m = longformer_mask(16, 4, global_tokens=[0, 9])
    assert m[5, 3] and m[5, 7] and not m[5, 2] and not m[5, 8]  # window: |i − j| <= 2
    assert m[0].all() and m[9].all() and m[:, 0].all() and m[:, 9].all()  # global rows and columns
    assert not m[14, 5] and m[14, 9]


def test_bigbird_layout_window_global_and_seeded_random_blocks():
    nb = 12
    layout = bigbird_layout(nb, window_blocks=3, n_global=2, n_random=2, seed=7)
    assert layout[:2].all() and layout[:, :2].all()  # global blocks
    for r in range(2, nb):
        window = {c for c in (r - 1, r, r + 1) if 0 <= c < nb}
        assert all(layout[r, c] for c in window)
        extra = set(layout[r].nonzero().flatten().tolist()) - window - {0, 1}
        assert len(extra) == min(2, nb - len(window | {0, 1}))  # exactly n_random random blocks
    assert torch.equal(layout, bigbird_layout(nb, 3, 2, 2, seed=7))
    assert not torch.equal(layout, bigbird_layout(nb, 3, 2, 2, seed=8))
    mask = bigbird_mask(45, 4, 3, 2, 2, seed=7)
    assert mask.shape == (45, 45) and torch.equal(mask, expand_layout(layout, 4, 45))
    assert mask[17, 20] == layout[4, 5] and mask[44, 0]


def test_block_sparse_attention_equals_masked_sdpa():
    q, k, v = qkv(t_q=45, t_k=45)
    layout = bigbird_layout(12, 3, 1, 2, seed=3)
    ours = block_sparse_attention(q, k, v, layout, block=4)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=expand_layout(layout, 4, 45))
    torch.testing.assert_close(ours, expected, **TOL)
    layout = longformer_mask(45, 4, [0])  # a token-level pattern is a layout with block 1
    ours = block_sparse_attention(q, k, v, layout, block=1)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=layout), **TOL)


# --- Performer and Linformer ----------------------------------------------------------------------------


def test_orthogonal_random_features_are_orthogonal_within_blocks():
    w = orthogonal_random_features(40, 16, torch.Generator().manual_seed(0))
    assert w.shape == (40, 16)
    block = w[:16] / w[:16].norm(dim=1, keepdim=True)
    torch.testing.assert_close(block @ block.T, torch.eye(16), atol=1e-5, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_performer_error_decreases_with_more_features(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 64, 16, generator=g) * 0.6 for _ in range(3))
    exact = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    errors = []
    for m in (8, 64, 512):
        per_seed = [(performer_attention(q, k, v, orthogonal_random_features(m, 16, torch.Generator().manual_seed(s)),
                                         causal) - exact).pow(2).mean().sqrt() for s in range(5)]
        errors.append(float(torch.stack(per_seed).mean()))
    assert errors[0] > 1.5 * errors[1] > 1.5 * 1.5 * errors[2], errors
    assert errors[2] < 0.05


def test_causal_performer_row_equals_noncausal_on_the_prefix():
    q, k, v = qkv(b=1, h=1, t_q=12, t_k=12)
    omega = orthogonal_random_features(32, 16, torch.Generator().manual_seed(1))
    causal = performer_attention(q, k, v, omega, causal=True)
    for i in (0, 5, 11):
        prefix = performer_attention(q[..., i : i + 1, :], k[..., : i + 1, :], v[..., : i + 1, :], omega)
        torch.testing.assert_close(causal[..., i : i + 1, :], prefix, atol=1e-5, rtol=1e-4)


def test_linformer_shapes_and_identity_projection_is_exact_attention():
    torch.manual_seed(0)
    lin = LinformerSelfAttention(d_model=16, n_heads=2, max_len=32, k=8)
    x = torch.randn(3, 20, 16)
    y, w = lin(x, return_weights=True)
    assert y.shape == (3, 20, 16) and w.shape == (3, 2, 20, 8)  # scores are (T, k), not (T, T)
    with pytest.raises(ValueError):
        lin(torch.randn(1, 33, 16))
    exact = LinformerSelfAttention(d_model=16, n_heads=2, max_len=20, k=20)
    with torch.no_grad():  # E = F = I: no compression, so this must be plain multi-head attention
        exact.e.copy_(torch.eye(20))
        exact.f.copy_(torch.eye(20))
    q, k, v = exact.qkv(x).view(3, 20, 3, 2, 8).permute(2, 0, 3, 1, 4)
    expected = exact.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(3, 20, 16))
    torch.testing.assert_close(exact(x), expected, **TOL)


def test_sliding_window_memory_grows_linearly_not_quadratically():
    from studyforge.experiments.attention.profiling import peak_memory
    from studyforge.experiments.attention.sliding_window import sliding_window_attention

    def peak(t: int) -> int:
        q, k, v = (torch.randn(1, 1, t, 32) for _ in range(3))
        return peak_memory(lambda: sliding_window_attention(q, k, v, 64))[1]

    assert peak(4096) < 2.5 * peak(2048)  # a (T, T) intermediate would make this 4×


@pytest.mark.parametrize("module", ["masks", "rope", "alibi", "positional", "relative", "sparse", "analysis",
                                    "catalogue"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"studyforge.experiments.attention.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_study_configs_name_unknown_variants_and_encodings():
    """The studies' name lists say what is unknown and what is known; an empty list stays allowed (as before
    the shared `names_in` check replaced the studies' own validators)."""
    from studyforge.errors import ForgeError
    from studyforge.experiments.attention.studies.length_extrapolation import ExtrapolationConfig
    from studyforge.experiments.attention.studies.memory_and_speed import MemorySpeedConfig

    with pytest.raises(ForgeError, match=r"unknown variants \['flashy'\]; known: sdpa, dot_product, additive, "):
        MemorySpeedConfig.from_preset("quick", {"variants": '["flash", "flashy"]'})
    with pytest.raises(ForgeError, match=r"unknown encodings \['xpos'\]; known: none, sinusoidal, learned, "):
        ExtrapolationConfig.from_preset("quick", {"encodings": '["rope", "xpos"]'})
    assert MemorySpeedConfig.from_preset("quick", {"variants": "[]"}).variants == []
    assert ExtrapolationConfig.from_preset("quick", {"encodings": "[]"}).encodings == []
