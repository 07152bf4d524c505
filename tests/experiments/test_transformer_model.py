"""Week 5's modular transformer: parts against their formulas, causality, caches, and the two-form mixers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from studyforge.experiments.transformer.config import TransformerConfig, gated_hidden
from studyforge.experiments.transformer.ffn import FeedForward
from studyforge.experiments.transformer.mamba import (
    LinearScan,
    MambaMixer,
    parallel_scan,
    selective_scan,
    sequential_scan,
)
from studyforge.experiments.transformer.model import AttentionMixer, Transformer
from studyforge.experiments.transformer.moe import MoEFeedForward, capacity, dispatch_positions
from studyforge.experiments.transformer.norms import LayerNorm, RMSNorm
from studyforge.experiments.transformer.retnet import (
    MultiScaleRetention,
    decay_mask,
    retention_gammas,
    retention_parallel,
    retention_recurrent,
)

torch.set_num_threads(1)


def small(**kw) -> TransformerConfig:
    return TransformerConfig(**{"vocab_size": 23, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_len": 16, **kw})


# -- parts against their formulas -------------------------------------------------------------------------


def test_rmsnorm_matches_formula_and_torch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, generator=g) * 3 + 1
    norm = RMSNorm(8, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 8))
    # RMSNorm(x)_i = x_i / √((1/d) Σ_j x_j² + ε) · g_i, written out element by element
    x0 = x[1, 2]
    rms = math.sqrt(sum(v * v for v in x0.tolist()) / 8 + 1e-6)
    expected = [v / rms * w for v, w in zip(x0.tolist(), norm.weight.tolist(), strict=True)]
    assert norm(x)[1, 2].tolist() == pytest.approx(expected, rel=1e-5)
    reference = torch.nn.RMSNorm(8, eps=1e-6)
    with torch.no_grad():
        reference.weight.copy_(norm.weight)
    torch.testing.assert_close(norm(x), reference(x))
    assert norm(x.bfloat16()).dtype == torch.bfloat16  # computed in fp32, cast back
    # LayerNorm without bias equals torch's with a zero bias
    torch.testing.assert_close(LayerNorm(8)(x), F.layer_norm(x, (8,)))


def test_swiglu_and_geglu_match_their_formulas():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 6, generator=g)
    for act, gate in (("swiglu", lambda z: z * torch.sigmoid(z)),
                      ("geglu", lambda z: 0.5 * z * (1 + torch.erf(z / math.sqrt(2))))):
        ffn = FeedForward(6, 10, act)
        w1, w2, w3 = ffn.w1.weight, ffn.w2.weight, ffn.w3.weight
        # FFN(x) = W₂ (σ(W₁x) ⊙ W₃x)
        expected = (gate(x @ w1.T) * (x @ w3.T)) @ w2.T
        torch.testing.assert_close(ffn(x), expected, atol=1e-6, rtol=1e-5)
    relu = FeedForward(6, 10, "relu")
    torch.testing.assert_close(relu(x), torch.clamp(x @ relu.w1.weight.T, min=0) @ relu.w2.weight.T)


def test_llama_hidden_width_and_presets():
    assert gated_hidden(4096, 256) == 11008  # LLaMA-7B
    assert gated_hidden(5120, 256) == 13824  # LLaMA-13B
    llama = TransformerConfig.preset("llama", d_model=4096, n_heads=32)
    assert (llama.norm, llama.activation, llama.position, llama.bias, llama.hidden) == \
        ("rmsnorm", "swiglu", "rope", False, 11008)
    # three matrices at 8d/3 cost what two at 4d do
    assert 3 * gated_hidden(192, 1) == pytest.approx(2 * 4 * 192, abs=3)
    with pytest.raises(ValueError):
        TransformerConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError):
        TransformerConfig(bogus=1)


def test_rope_attention_equals_direct_rotation_formula():
    """The attention mixer with RoPE against softmax((R_m q)·(R_n k)/√d) V written with explicit 2×2 rotations."""
    torch.manual_seed(0)
    cfg = small(position="rope", n_heads=2, d_model=8)
    mixer = AttentionMixer(cfg)
    x = torch.randn(1, 5, 8)
    att = mixer.attn
    q = (x @ att.q_proj.weight.T).view(5, 2, 4)
    k = (x @ att.k_proj.weight.T).view(5, 2, 4)
    v = (x @ att.v_proj.weight.T).view(5, 2, 4)

    def rotate(vec, m):  # pairs (x_2p, x_2p+1) turned by m·θ_p, θ_p = 10000^(−2p/D)
        out = []
        for p in range(2):
            a = m * 10000 ** (-2 * p / 4)
            rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            out.append(rot @ vec[2 * p: 2 * p + 2])
        return torch.cat(out)

    heads = []
    for h in range(2):
        qr = torch.stack([rotate(q[m, h], m) for m in range(5)])
        kr = torch.stack([rotate(k[n, h], n) for n in range(5)])
        scores = qr @ kr.T / 2.0  # √4
        scores = scores.masked_fill(torch.triu(torch.ones(5, 5, dtype=torch.bool), 1), float("-inf"))
        heads.append(scores.softmax(-1) @ v[:, h])
    expected = torch.cat(heads, dim=-1) @ att.o_proj.weight.T
    torch.testing.assert_close(mixer(x)[0], expected, atol=1e-5, rtol=1e-4)


def test_week3_attention_fused_path_equals_naive_path():
    torch.manual_seed(0)
    from studyforge.experiments.attention.alibi import alibi_bias, alibi_slopes
    from studyforge.experiments.attention.multi_head import MultiHeadAttention

    for n_kv in (4, 2):
        att = MultiHeadAttention(32, 4, n_kv, rope_base=10000.0, qk_norm=lambda d: RMSNorm(d))
        x = torch.randn(2, 9, 32)
        bias = alibi_bias(alibi_slopes(4), 9)
        for kwargs in ({"causal": True}, {"causal": True, "bias": bias}, {"causal": False}):
            att.fused = True
            fused = att(x, **kwargs)
            att.fused = False
            torch.testing.assert_close(fused, att(x, **kwargs), atol=1e-5, rtol=1e-5)


# -- whole model: causality and caches --------------------------------------------------------------------

VARIANTS = {
    "gpt2": {},
    "llama_gqa": {"norm": "rmsnorm", "activation": "swiglu", "position": "rope", "n_kv_heads": 2, "ffn_multiple_of": 8},
    "alibi_qknorm_post": {"position": "alibi", "qk_norm": True, "norm_position": "post"},
    "sinusoidal_parallel": {"position": "sinusoidal", "parallel": True, "activation": "geglu"},
    "moe_top2": {"ffn": "moe", "moe": {"n_experts": 4, "top_k": 2}},
    "mamba": {"mixer": "mamba", "mamba_d_state": 4},
    "retnet": {"mixer": "retnet"},
}


@pytest.mark.parametrize("name", VARIANTS)
def test_changing_a_future_token_leaves_earlier_logits_unchanged(name):
    torch.manual_seed(0)
    model = Transformer(small(**VARIANTS[name])).eval()
    idx = torch.randint(0, 23, (2, 12))
    for j in (3, 11):
        changed = idx.clone()
        changed[:, j] = (changed[:, j] + 5) % 23
        a, b = model(idx).logits, model(changed).logits
        torch.testing.assert_close(a[:, :j], b[:, :j], atol=1e-5, rtol=0)
        assert not torch.allclose(a[:, j:], b[:, j:])  # and the change is seen from j on


@pytest.mark.parametrize("name", VARIANTS)
def test_kv_cache_generation_equals_full_recomputation(name):
    from studyforge.experiments.language_modeling.generate import generate

    torch.manual_seed(1)
    model = Transformer(small(**VARIANTS[name])).eval()
    prompt = torch.randint(0, 23, (2, 5))
    # 20 new tokens: past max_len = 16, so the cropped-context path is exercised too
    cached, logits_c = generate(model, prompt, 20, temperature=0, use_cache=True, return_logits=True)
    full, logits_f = generate(model, prompt, 20, temperature=0, use_cache=False, return_logits=True)
    assert torch.equal(cached, full)
    torch.testing.assert_close(logits_c, logits_f, atol=1e-4, rtol=1e-4)
    # the incremental forward itself: the prompt then one token at a time == one pass
    cache = model.new_cache(2, 16)
    steps = [model(full[:, :5], cache=cache).logits] + [model(full[:, t:t + 1], cache=cache).logits
                                                         for t in range(5, 16)]
    torch.testing.assert_close(torch.cat(steps, 1), model(full[:, :16]).logits, atol=1e-5, rtol=1e-4)


def test_checkpointed_blocks_give_the_same_gradients():
    torch.manual_seed(0)
    model = Transformer(small(ffn="moe", dropout=0.1))
    idx = torch.randint(0, 23, (3, 16))

    def grads(checkpointing: bool):
        model.zero_grad()
        model.gradient_checkpointing = checkpointing
        torch.manual_seed(5)  # the same dropout masks (non-reentrant checkpointing replays the RNG)
        out = model(idx, idx)
        (out.loss + out.aux_loss).backward()
        return [p.grad.clone() for p in model.parameters()]

    for a, b in zip(grads(False), grads(True), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_parameter_counts():
    dense = Transformer(small())
    d, L, V, T = 32, 2, 23, 16
    # per block: 4d² attention + 8d² feed-forward + 2 norm gains d; plus final norm, tied embeddings, positions
    assert dense.num_params(non_embedding=True) == L * (12 * d * d + 2 * d) + d
    assert dense.num_params() == dense.num_params(non_embedding=True) + V * d + T * d
    moe = Transformer(small(ffn="moe", moe={"n_experts": 4, "top_k": 1}))
    # active parameters: one expert per token, plus the router (4 experts × d per layer)
    assert moe.num_params(active=True) == dense.num_params() + L * 4 * d


# -- Mamba: sequential == parallel ------------------------------------------------------------------------


def test_scan_known_answer_and_gradients():
    a = torch.tensor([[0.5, 0.5, 0.5, 2.0]])
    b = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert parallel_scan(a, b).tolist() == [[1.0, 1.5, 1.75, 4.5]]
    assert sequential_scan(a, b, torch.tensor([2.0])).tolist() == [[2.0, 2.0, 2.0, 5.0]]
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 9, 3, generator=g, dtype=torch.double).requires_grad_()
    b = torch.randn(2, 9, 3, generator=g, dtype=torch.double).requires_grad_()
    h0 = torch.randn(2, 3, generator=g, dtype=torch.double).requires_grad_()
    for mode in ("sequential", "parallel"):
        assert torch.autograd.gradcheck(lambda a, b, h0, mode=mode: LinearScan.apply(a, b, h0, mode), (a, b, h0))


@settings(max_examples=15, deadline=None)
@given(t=st.integers(1, 40), seed=st.integers(0, 1000))
def test_parallel_scan_equals_sequential_scan(t, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, t, 3, 4, generator=g)
    b = torch.randn(2, t, 3, 4, generator=g)
    h0 = torch.randn(2, 3, 4, generator=g)
    torch.testing.assert_close(parallel_scan(a, b, h0), sequential_scan(a, b, h0), atol=1e-5, rtol=1e-5)


def test_selective_scan_parallel_equals_sequential_with_gradients():
    g = torch.Generator().manual_seed(0)
    b, t, e, n = 2, 33, 6, 4
    inputs = [torch.randn(b, t, e, generator=g), F.softplus(torch.randn(b, t, e, generator=g)),
              -torch.rand(e, n, generator=g) * 3, torch.randn(b, t, n, generator=g), torch.randn(b, t, n, generator=g),
              torch.randn(e, generator=g)]
    results = {}
    for mode in ("sequential", "parallel"):
        leaves = [x.clone().requires_grad_() for x in inputs]
        y, h_last = selective_scan(*leaves, mode=mode)
        (y.square().sum() + h_last.sum()).backward()
        results[mode] = [y, h_last] + [x.grad for x in leaves]
    for s, p in zip(results["sequential"], results["parallel"], strict=True):
        torch.testing.assert_close(s, p, atol=1e-4, rtol=1e-4)
    # and the reference recurrence written out for one channel: h_t = exp(Δ_t a) h_{t−1} + Δ_t u_t B_t
    u, delta, A, B, C, D = inputs
    h = torch.zeros(n)
    for step in range(t):
        h = torch.exp(delta[0, step, 1] * A[1]) * h + delta[0, step, 1] * u[0, step, 1] * B[0, step]
    y_last = (C[0, -1] * h).sum() + D[1] * u[0, -1, 1]
    assert results["sequential"][0][0, -1, 1].item() == pytest.approx(y_last.item(), rel=1e-4, abs=1e-5)


def test_mamba_mixer_parallel_equals_sequential_and_recurrent():
    torch.manual_seed(0)
    mixer = MambaMixer(16, d_state=4)
    x = torch.randn(2, 10, 16)
    torch.testing.assert_close(mixer(x, scan="parallel"), mixer(x, scan="sequential"), atol=1e-5, rtol=1e-5)
    state = mixer.new_state(2)
    pieces = [mixer(x[:, :4], state)] + [mixer(x[:, t:t + 1], state) for t in range(4, 10)]
    torch.testing.assert_close(torch.cat(pieces, 1), mixer(x), atol=1e-5, rtol=1e-5)


# -- RetNet: parallel == recurrent ------------------------------------------------------------------------


def test_retention_parallel_equals_recurrent():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 17, 8, generator=g) for _ in range(3))
    gammas = retention_gammas(3)
    assert decay_mask(torch.tensor([0.9]), 3)[0, 2, 0].item() == pytest.approx(0.81)
    rec, state = retention_recurrent(q, k, v, gammas)
    torch.testing.assert_close(retention_parallel(q, k, v, gammas), rec, atol=1e-4, rtol=1e-4)
    # S_T = Σ_m γ^(T−1−m) K_mᵀ V_m
    s = sum(gammas[1] ** (16 - m) * torch.outer(k[0, 1, m], v[0, 1, m]) for m in range(17))
    torch.testing.assert_close(state[0, 1], s, atol=1e-4, rtol=1e-4)
    layer = MultiScaleRetention(24, 3)
    x = torch.randn(2, 11, 24, generator=g)
    torch.testing.assert_close(layer(x, form="parallel"), layer(x, form="recurrent"), atol=1e-5, rtol=1e-4)
    st_ = layer.new_state(2)
    pieces = [layer(x[:, :3], st_)] + [layer(x[:, t:t + 1], st_) for t in range(3, 11)]
    torch.testing.assert_close(torch.cat(pieces, 1), layer(x), atol=1e-5, rtol=1e-4)


# -- MoE ----------------------------------------------------------------------------------------------------


def _forced_moe(n_experts=4, top_k=1, factor=1.0):
    moe = MoEFeedForward(8, 16, "gelu", n_experts, top_k, capacity_factor=factor, balance_coef=0.01,
                         z_loss_coef=0.001)
    return moe


def test_moe_capacity_drops_and_counts_overflow():
    assert capacity(8, 4, 1, 1.0) == 2 and capacity(10, 4, 2, 1.25) == 7
    torch.manual_seed(0)
    moe = _forced_moe()
    with torch.no_grad():  # a router that sends every token to expert 2
        moe.router.weight.zero_()
        moe.router.weight[2, 0] = 10.0
    x = torch.randn(1, 8, 8)
    x[..., 0] = 1.0
    y, _ = moe.train()(x)
    # 8 tokens, 4 experts, factor 1: 2 slots each; expert 2 serves tokens 0 and 1, the other 6 are dropped
    assert moe.last_stats["dropped"].item() == 6
    probs = (x[0] @ moe.router.weight.T).softmax(-1)
    kept = moe.experts[2](x[0, :2]) * probs[:2, 2:3]
    torch.testing.assert_close(y[0, :2], kept)
    assert torch.equal(y[0, 2:], torch.zeros(6, 8))  # dropped tokens: nothing from the MoE (residual only)
    assert moe.last_stats["load"].tolist() == [0.0, 0.0, 1.0, 0.0]
    # in eval mode there is no capacity limit: nothing dropped
    moe.eval()(x)
    assert moe.last_stats["dropped"].item() == 0


def test_moe_dispatch_order_first_choices_first():
    # tokens 0 and 1 choose experts (0, then 1), token 2 chooses (1, then 0): first choices are served first
    slots = dispatch_positions(torch.tensor([[0, 1], [0, 1], [1, 0]]), 2)
    assert slots.tolist() == [[0, 1], [1, 2], [0, 2]]
    # with ⌈2/3 · k=2 · 3 tokens / 2 experts⌉ = 2 slots, the second choices of tokens 1 and 2 overflow
    assert capacity(3, 2, 2, 2 / 3) == 2
    assert (slots >= 2).tolist() == [[False, False], [False, True], [False, True]]


def test_balance_and_z_loss_equal_the_formulas():
    torch.manual_seed(3)
    moe = _forced_moe(n_experts=4, top_k=2, factor=None)
    x = torch.randn(2, 5, 8)
    _, aux = moe.train()(x)
    logits = x.reshape(10, 8) @ moe.router.weight.T
    probs = logits.softmax(-1)
    top = probs.topk(2, -1).indices
    # f_i: fraction of the 20 assignments routed to i; P_i: mean router probability of i
    f = [sum(int(i in row) for row in top.tolist()) / 20 for i in range(4)]
    p = [probs[:, i].mean().item() for i in range(4)]
    balance = 4 * sum(fi * pi for fi, pi in zip(f, p, strict=True))
    z = sum(math.log(sum(math.exp(v) for v in row)) ** 2 for row in logits.tolist()) / 10
    assert moe.last_stats["balance_loss"].item() == pytest.approx(balance, rel=1e-5)
    assert moe.last_stats["z_loss"].item() == pytest.approx(z, rel=1e-5)
    assert aux.item() == pytest.approx(0.01 * balance + 0.001 * z, rel=1e-5)
    # uniform routing is the minimum, α·N·Σ (1/N)(1/N) = α
    from studyforge.experiments.transformer.moe import balance_loss

    uniform = torch.full((8, 4), 0.25)
    assert balance_loss(uniform, torch.arange(8)[:, None] % 4, 4).item() == pytest.approx(1.0)
