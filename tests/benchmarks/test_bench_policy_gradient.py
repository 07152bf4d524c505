"""The PPO claim of `benchmarks/bench_policy_gradient.py` (issue 13, item 14): a share of seeds that solve
CartPole at 100k steps, judged against stable-baselines3's share on the same seeds. A seed's own outcome
depends on the CPU's float path, so the verdict must rest on the counts, never on any one seed."""

from __future__ import annotations

import pytest
import torch

from benchmarks.bench_policy_gradient import SOLVED, Trial, ppo_rows, solved
from studyforge.experiments.policy_gradient import ppo


def _trials(greedy: list[float], wall: float = 10.0) -> list[Trial]:
    return [Trial(seed, wall, g) for seed, g in enumerate(greedy)]


def test_solved_counts_the_seeds_at_or_above_the_line():
    assert SOLVED == 475.0
    assert solved(_trials([500.0, 187.8, 475.0, 474.9])) == 2


def test_verdict_is_our_count_against_the_peers_on_the_same_seeds():
    seven = _trials([500.0] * 7 + [200.0] * 3)
    eight = _trials([500.0] * 8 + [300.0] * 2)
    share = ppo_rows(seven, eight)[0]
    assert (share.ours, share.peer, share.unit, share.ok) == (7, 8, "of 10", False)
    # a worse worst seed does not fail the claim when the count matches the peer's
    assert ppo_rows(_trials([500.0] * 8 + [9.0] * 2), eight)[0].ok is True
    # seeds the peer solves and we do not are allowed, as long as the count holds
    assert ppo_rows(_trials([300.0] * 2 + [500.0] * 8), eight)[0].ok is True


def test_wall_time_target_is_half_the_peers_median():
    ours, peer = _trials([500.0] * 10, wall=4.0), _trials([500.0] * 10, wall=10.0)
    wall = ppo_rows(ours, peer)[2]
    assert (wall.ours, wall.peer, wall.ok) == (4.0, 10.0, True)
    assert ppo_rows(_trials([500.0] * 10, wall=5.1), peer)[2].ok is False


def test_without_the_peer_there_is_no_verdict():
    rows = ppo_rows(_trials([500.0] * 10), None)
    assert all(r.peer is None and r.ok is None for r in rows)


def test_the_peer_must_run_the_same_seeds():
    ours = _trials([500.0] * 3)
    other = [Trial(seed, 10.0, 500.0) for seed in (0, 1, 3)]
    with pytest.raises(ValueError, match="same seeds"):
        ppo_rows(ours, other)


def test_ppo_defaults_weigh_the_value_loss_as_the_zoo_does():
    """The peer runs the zoo's settings, which leave sb3's vf_coef at 0.5 on the *unhalved* MSE
    (`loss = policy_loss + ent_coef·entropy_loss + vf_coef·F.mse_loss(returns, values)`); our value_loss is
    ½ E[(V − R)²], so the same recipe needs c_V = 1. V [1, 2], R [3, 3]: sb3 0.5 · (4 + 1)/2 = 1.25."""
    v, r = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 3.0])
    ours = ppo.PPOConfig().vf_coef * ppo.value_loss(v, v, r, None)
    sb3 = 0.5 * torch.nn.functional.mse_loss(v, r)
    assert float(sb3) == 1.25
    assert float(ours) == float(sb3)
