"""The rollout benchmark (`benchmarks/bench_rollout.py`, issue 16) at a tiny size, in seconds.

Our side needs nothing beyond torch, so it runs in CI's `make test` (the dev extra has no `transformers`): the
sampler generates batch × N tokens, and cached generation gives the tokens uncached generation gives. With
`transformers` installed (the bench extra), the peer is checked too: HF GPT-2's weights copied into our GPT-2
preset give the same logits, and from the same seed both `generate`s sample the same tokens — so the timing
compares identical work.
"""

from __future__ import annotations

import pytest
import torch

from benchmarks.bench_rollout import Size, copy_gpt2_weights, hf_model, measure, our_model, rows

TINY = Size("tiny", d_model=16, n_layers=2, n_heads=2, batch=4, prompt=5, new=7, vocab=11)


def test_our_sampler_is_timed_and_its_cache_agrees_with_no_cache():
    m = measure(TINY, rounds=2, with_peer=False, with_llama=True)
    assert m.tokens_per_s > 0 and m.uncached_tokens_per_s > 0 and m.llama_tokens_per_s > 0
    assert m.new_tokens == TINY.batch * TINY.new
    assert m.cache_mismatches == 0 and m.cache_logit_gap < 1e-4
    assert m.peer_tokens_per_s is None
    by_name = {r.what.strip(): r for r in rows(m)}
    assert by_name["tokens ≠ uncached generation's (same seed)"].ok is True


def test_a_broken_cache_would_be_caught(monkeypatch):
    """The cache check can fail: a cache that forgets every key but the newest changes the tokens."""
    from studyforge.experiments.attention import multi_head

    def forgetful(self, k, v):
        self.length += k.shape[2]
        return k, v  # attends to the newest position only

    monkeypatch.setattr(multi_head.KVCache, "append", forgetful)
    m = measure(TINY, rounds=1, with_peer=False)
    assert m.cache_mismatches > 0 and m.cache_logit_gap > 0.1


def test_gpt2_weights_copied_into_ours_give_the_same_function():
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf, ours = hf_model(TINY), our_model(TINY)
    with torch.no_grad():  # move every weight off its init (LayerNorms start at 1 and 0) so each copy matters
        for p in hf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    copy_gpt2_weights(hf, ours)
    assert ours.num_params() == sum(p.numel() for p in hf.parameters())
    x = torch.randint(0, TINY.vocab, (3, TINY.context))
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, hf(input_ids=x).logits, atol=1e-5, rtol=1e-5)


def test_both_sides_generate_the_same_tokens_and_are_timed():
    pytest.importorskip("transformers")
    m = measure(TINY, rounds=2)
    assert m.tokens_per_s > 0 and m.peer_tokens_per_s > 0
    assert m.peer_params == m.params
    assert m.peer_new_tokens == m.new_tokens == TINY.batch * TINY.new
    assert m.peer_mismatches == 0 and m.peer_logit_gap < 1e-4
    verdicts = {r.what.strip(): r.ok for r in rows(m)}
    assert verdicts["tokens ≠ HF's (same weights and seed)"] and verdicts[f"parameters (ours {m.params:,})"]
