"""Lion and Adafactor (from scratch) against their update rules and torch's Adafactor; the schedule."""

from __future__ import annotations

import math

import pytest
import torch

from studyforge.experiments.transformer.optim import Adafactor, Lion, build_optimizer, state_bytes
from studyforge.experiments.transformer.schedule import WarmupCosine, warmup_cosine

torch.set_num_threads(1)


def test_lion_update_rule_by_hand():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = Lion([p], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    grads = [torch.tensor([0.3, -0.1, 0.0]), torch.tensor([-1.0, 0.2, 0.4])]
    theta, m = [1.0, -2.0, 0.5], [0.0, 0.0, 0.0]
    for g in grads:
        p.grad = g.clone()
        opt.step()
        for i, gi in enumerate(g.tolist()):
            c = 0.9 * m[i] + 0.1 * gi  # c_t = β₁ m + (1 − β₁) g
            sign = (c > 0) - (c < 0)
            theta[i] = theta[i] - 0.1 * (sign + 0.5 * theta[i])  # θ − lr (sign(c) + λθ)
            m[i] = 0.99 * m[i] + 0.01 * gi  # m = β₂ m + (1 − β₂) g
        assert p.tolist() == pytest.approx(theta, abs=1e-6)
    assert opt.state[p]["exp_avg"].tolist() == pytest.approx(m, abs=1e-7)


def test_adafactor_equals_torch_adafactor():
    """Paper-faithful Adafactor (relative steps, t^−0.8 decay, update clipping) against torch.optim.Adafactor."""
    g = torch.Generator().manual_seed(0)
    w0, b0 = torch.randn(6, 5, generator=g), torch.randn(5, generator=g)
    ours_p = [torch.nn.Parameter(w0.clone()), torch.nn.Parameter(b0.clone())]
    ref_p = [torch.nn.Parameter(w0.clone()), torch.nn.Parameter(b0.clone())]
    ours = Adafactor(ours_p, lr=1e-2, eps=(1e-30, 1e-3), relative_step=True)
    ref = torch.optim.Adafactor(ref_p, lr=1e-2, eps=(1e-30, 1e-3), beta2_decay=-0.8, d=1.0)
    for _ in range(6):
        grads = [torch.randn(6, 5, generator=g), torch.randn(5, generator=g)]
        for ps, opt in ((ours_p, ours), (ref_p, ref)):
            for p, gr in zip(ps, grads, strict=True):
                p.grad = gr.clone()
            opt.step()
    for a, b in zip(ours_p, ref_p, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_adafactor_factored_moment_is_exact_for_rank_one_squares():
    # G² = a bᵀ (rank one) is reproduced exactly by R Cᵀ / 1ᵀR
    p = torch.nn.Parameter(torch.zeros(3, 4))
    opt = Adafactor([p], lr=1.0, eps=(0.0, 1e-3), relative_step=False, clip_threshold=1e9)
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 4.0, 9.0, 16.0])
    grad = torch.outer(a.sqrt(), b.sqrt())
    p.grad = grad.clone()
    opt.step()
    # β̂₂ at t = 1 is 0, so V̂ = G² and the update is G/|G| = sign(G): every entry moves by −lr
    torch.testing.assert_close(p.data, -torch.ones(3, 4))
    assert state_bytes(opt) == (3 + 4) * 4  # row and column sums only
    adam = build_optimizer("adamw", [torch.nn.Parameter(torch.zeros(3, 4))], 1e-3, (0.9, 0.99))
    adam.param_groups[0]["params"][0].grad = torch.ones(3, 4)
    adam.step()
    assert state_bytes(adam) == 2 * 12 * 4


def test_warmup_cosine_schedule():
    assert warmup_cosine(0, 1.0, 0.1, 10, 100) == pytest.approx(0.1)
    assert warmup_cosine(9, 1.0, 0.1, 10, 100) == pytest.approx(1.0)
    mid = warmup_cosine(55, 1.0, 0.1, 10, 100)  # halfway through the decay: (max + min) / 2
    assert mid == pytest.approx(0.55)
    assert warmup_cosine(100, 1.0, 0.1, 10, 100) == pytest.approx(0.1)
    assert warmup_cosine(500, 1.0, 0.1, 10, 100) == 0.1
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 2.0}], lr=2.0)
    sched = WarmupCosine(opt, warmup=4, decay_steps=20, min_ratio=0.1)
    lrs = []
    for _ in range(25):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([2.0 * warmup_cosine(s, 1.0, 0.1, 4, 20) for s in range(25)])
    assert not math.isnan(sum(lrs))
