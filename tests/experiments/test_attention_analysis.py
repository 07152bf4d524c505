"""The analysis toolkit and the week's small model: known answers and equivalences."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from studyforge.experiments.attention.analysis import (
    attention_entropy,
    gradient_head_importance,
    head_importance,
    least_important_first,
    mean_attention_distance,
    pruning_curve,
)
from studyforge.experiments.attention.data import CharCorpus
from studyforge.experiments.attention.model import POSITIONS, TinyLM
from studyforge.experiments.attention.plots import attention_maps

matplotlib.use("Agg")


def test_entropy_uniform_and_one_hot():
    weights = torch.stack([torch.full((5, 5), 0.2), torch.eye(5)])  # head 0 uniform, head 1 one-hot
    ent = attention_entropy(weights[None])  # (1, H=2, 5, 5)
    assert ent.tolist() == pytest.approx([math.log(5), 0.0], abs=1e-6)


def test_mean_attention_distance_known_answers():
    t = 6
    causal_uniform = torch.ones(t, t).tril()
    causal_uniform = causal_uniform / causal_uniform.sum(-1, keepdim=True)  # row i: mean distance i / 2
    previous_token = torch.diag(torch.ones(t - 1), -1)
    previous_token[0, 0] = 1.0  # query 0 has only itself
    dist = mean_attention_distance(torch.stack([torch.eye(t), causal_uniform, previous_token]))
    assert dist.tolist() == pytest.approx([0.0, sum(i / 2 for i in range(t)) / t, (t - 1) / t], abs=1e-6)


def test_attention_map_grid_has_one_panel_per_layer_and_head():
    fig = attention_maps([torch.rand(3, 4, 4), torch.rand(3, 4, 4)], tokens=list("abcd"), title="x")
    assert len(fig.axes) == 6
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_head_importance_and_pruning_curve_on_a_known_loss():
    cost = torch.tensor([[0.5, 0.1, 0.3], [0.0, 0.7, 0.2]])  # loss grows by cost[h] when head h is removed

    def eval_loss(mask: torch.Tensor) -> float:
        return float(1.0 + ((1 - mask) * cost).sum())

    base, importance = head_importance(eval_loss, 2, 3)
    assert base == 1.0 and torch.allclose(importance, cost)
    order = least_important_first(importance)
    assert order[:2] == [(1, 0), (0, 1)]
    curve = pruning_curve(eval_loss, order, 2, 3)
    assert [r["heads_removed"] for r in curve] == list(range(7))
    assert curve[-1]["loss"] == pytest.approx(1.0 + float(cost.sum()))
    assert all(a["loss"] <= b["loss"] for a, b in zip(curve, curve[1:], strict=False))
    grad = gradient_head_importance(lambda m: ((1 - m) * cost).sum() + (m * m * cost).sum(), 2, 3)
    assert torch.allclose(grad, cost)  # |∂/∂ξ (−ξ c + ξ² c)| at ξ = 1 is c


@pytest.mark.parametrize("position", POSITIONS)
def test_tiny_lm_is_causal_for_every_position_encoding(position):
    torch.manual_seed(0)
    model = TinyLM(vocab_size=11, d_model=16, n_layers=2, n_heads=2, position=position, max_len=12,
                   shaw_max_distance=3)
    x = torch.randint(0, 11, (2, 12))
    y = x.clone()
    y[:, 7:] = (y[:, 7:] + 1) % 11  # change only the future
    logits_x, _, maps = model(x)
    logits_y, _, _ = model(y)
    torch.testing.assert_close(logits_x[:, :7], logits_y[:, :7])
    assert not torch.allclose(logits_x[:, 7:], logits_y[:, 7:])
    assert len(maps) == 2 and maps[0].shape == (2, 2, 12, 12)
    assert maps[0].triu(1).abs().max() == 0  # no weight on future keys


def test_head_mask_equals_zeroing_that_heads_output_projection():
    torch.manual_seed(0)
    model = TinyLM(vocab_size=11, d_model=16, n_layers=2, n_heads=4, position="alibi")
    x = torch.randint(0, 11, (2, 10))
    mask = torch.ones(2, 4)
    mask[1, 2] = 0.0
    masked, _, _ = model(x, head_mask=mask)
    with torch.no_grad():
        model.blocks[1].attn.proj.weight[:, 8:12] = 0.0  # head 2 of layer 1 feeds input columns 8..11
    zeroed, _, _ = model(x)
    torch.testing.assert_close(masked, zeroed)


def test_char_corpus_round_trip_and_windows():
    corpus = CharCorpus("hello world, hello attention\n" * 20, "inline")
    assert corpus.decode(corpus.encode("hello")) == "hello"
    x, y = corpus.windows("train", 16, max_windows=4)
    assert x.shape == y.shape == (4, 16) and torch.equal(x[0, 1:], y[0, :-1])
    xb, yb = corpus.batch("val", 3, 8, torch.Generator().manual_seed(0))
    assert xb.shape == (3, 8) and torch.equal(xb[:, 1:], yb[:, :-1])


def test_random_windows_reach_the_last_start():
    """Starts run 0 … N − length − 1, the last included (the split's final char is a target too), and a split of
    exactly length + 1 chars gives its one window."""
    corpus = CharCorpus("abcdefgh" + "abcdef", "test", val_fraction=6 / 14)  # train 'abcdefgh', val 'abcdef'
    seen = set()
    for step in range(40):
        x, y = corpus.batch("train", 4, 5, torch.Generator().manual_seed(step))
        for xr, yr in zip(x, y, strict=True):
            start = "abcdefgh".index(corpus.decode(xr)[0])
            seen.add(start)
            assert (corpus.decode(xr), corpus.decode(yr)) == ("abcdefgh"[start:start + 5], "abcdefgh"[start + 1:start + 6])
    assert seen == {0, 1, 2}  # 8 chars, windows of 5 + 1: the last start is 2
    x, y = corpus.batch("val", 2, 5, torch.Generator().manual_seed(0))
    assert corpus.decode(x[0]) == "abcde" and corpus.decode(y[0]) == "bcdef"
    with pytest.raises(ValueError, match="shorter than one window"):
        corpus.batch("val", 2, 6, torch.Generator().manual_seed(0))


def test_the_offline_corpus_is_the_same_whatever_the_process_did_before():
    """The fallback corpus (week 3 without a text file) must not depend on the process's history: it told
    docstrings apart by id(), and a reused id dropped a text (872,054-873,544 chars after three different
    first statements)."""
    import subprocess
    import sys

    script = ("{}\nimport hashlib\nfrom studyforge.experiments.attention.data import stdlib_docstring_corpus\n"
              "print(hashlib.sha256(stdlib_docstring_corpus().encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script.format(first)], capture_output=True, text=True,
                              check=True).stdout for first in ("pass", "x = [str(i) for i in range(10000)]")}
    assert len(digests) == 1
