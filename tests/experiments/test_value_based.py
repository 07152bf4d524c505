"""Week 14: tabular Q-learning against week 1's V*, and each DQN/Rainbow component against known answers —
the sum tree's sampling law, hand-computed Double-DQN and C51 targets, n-step returns, dueling and noisy
layers — plus the training loop's replay bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from studyforge.experiments.mdp import envs as mdp_envs
from studyforge.experiments.mdp import tabular as dp
from studyforge.experiments.value_based import distributional as c51
from studyforge.experiments.value_based import dqn as dqn_mod
from studyforge.experiments.value_based.double import q_target
from studyforge.experiments.value_based.dueling import dueling_combine
from studyforge.experiments.value_based.networks import QNetwork
from studyforge.experiments.value_based.noisy import NoisyLinear
from studyforge.experiments.value_based.nstep import NStepAccumulator
from studyforge.experiments.value_based.prioritized import PrioritizedReplayBuffer, SumTree
from studyforge.experiments.value_based.replay import Batch, ReplayBuffer
from studyforge.experiments.value_based.tabular import train_tabular

torch.set_num_threads(1)

# V* of S&B's 4×4 gridworld with γ = 1: minus the steps to the nearest terminal corner (Figure 4.1, k = ∞
# column of the greedy policy; also week 1's test)
BOOK_OPTIMAL = [0, -1, -2, -3, -1, -2, -3, -2, -2, -3, -2, -1, -3, -2, -1, 0]


# ------------------------------------------------------------------------------------------------ tabular


def test_q_learning_reaches_week1_value_iteration_v_star():
    env = mdp_envs.sb_gridworld()
    v_star = dp.value_iteration(env.mdp, 1.0).values
    np.testing.assert_allclose(v_star, BOOK_OPTIMAL, atol=1e-9)
    res = train_tabular(env, "q_learning", 1500, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    np.testing.assert_allclose(res.values, v_star, atol=1e-3)


def test_q_learning_reaches_v_star_on_the_windy_gridworld_start():
    env = mdp_envs.windy_gridworld()
    v_star = dp.value_iteration(env.mdp, 1.0).values
    res = train_tabular(env, "q_learning", 400, alpha=0.5, gamma=1.0, epsilon=0.1, seed=1)
    # S&B Example 6.5: the optimal episode takes 15 steps
    assert v_star[env.start_state] == -15.0
    assert abs(res.values[env.start_state] - v_star[env.start_state]) < 1e-2


def test_sarsa_is_safer_than_q_learning_on_the_cliff():
    """S&B Figure 6.4: online return per episode, SARSA ≈ −25 and Q-learning ≈ −50 with ε = 0.1."""
    env = mdp_envs.cliffwalking()
    late = {}
    for algo in ("sarsa", "q_learning"):
        rets = [train_tabular(env, algo, 300, alpha=0.5, gamma=1.0, epsilon=0.1, seed=s).episode_returns[-100:]
                for s in range(4)]
        late[algo] = float(np.mean(rets))
    assert -35 < late["sarsa"] < -17
    assert -65 < late["q_learning"] < -38
    # Q-learning's greedy path is the optimal one along the cliff edge (13 steps → return −13)
    res = train_tabular(env, "q_learning", 300, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    assert res.values[env.start_state] == pytest.approx(-13.0, abs=1e-6)


# --------------------------------------------------------------------------------------- prioritised replay


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=37), st.data())
def test_sum_tree_find_matches_cumulative_sum_search(priorities, data):
    tree = SumTree(len(priorities))
    p = np.array(priorities)
    tree.update(np.arange(len(p)), p)
    assert tree.total == pytest.approx(p.sum())
    u = np.array(data.draw(st.lists(st.floats(0.0, 0.999999), min_size=1, max_size=20))) * p.sum()
    expected = np.searchsorted(np.cumsum(p), u, side="right")
    np.testing.assert_array_equal(tree.find(u), np.minimum(expected, len(p) - 1))


def test_sum_tree_update_with_duplicate_indices_keeps_sums_consistent():
    tree = SumTree(5)
    tree.update(np.array([0, 1, 2, 3, 4]), np.ones(5))
    tree.update(np.array([2, 2, 4]), np.array([7.0, 7.0, 0.5]))
    assert tree.total == pytest.approx(1 + 1 + 7 + 1 + 0.5)
    np.testing.assert_allclose(tree.get(np.arange(5)), [1, 1, 7, 1, 0.5])


def _buffer_with_priorities(priorities: np.ndarray, alpha: float = 1.0) -> PrioritizedReplayBuffer:
    buf = PrioritizedReplayBuffer(len(priorities), (1,), alpha=alpha, eps=0.0)
    for _i in range(len(priorities)):
        buf.add(np.zeros(1), 0, 0.0, np.zeros(1), False, 1.0)
    buf.update_priorities(np.arange(len(priorities)), priorities)
    return buf


@pytest.mark.parametrize("stratified", [False, True])
def test_prioritized_sampling_is_proportional_chi_square(stratified):
    priorities = np.arange(1, 11, dtype=np.float64)  # P(i) = i / 55
    buf = _buffer_with_priorities(priorities)
    rng = np.random.default_rng(1234)
    counts = np.zeros(10)
    for _ in range(2000):
        np.add.at(counts, buf.sample_indices(32, rng, stratified=stratified), 1)
    expected = counts.sum() * priorities / priorities.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    # the same test rejects the uniform law: it can fail
    assert stats.chisquare(counts, np.full(10, counts.sum() / 10)).pvalue < 1e-12


def test_prioritized_alpha_and_importance_weights_by_hand():
    # priorities |δ| = [1, 3], α = 0.5: p^α = [1, √3]; P = [1, √3]/(1+√3); N = 2, β = 1
    buf = _buffer_with_priorities(np.array([1.0, 3.0]), alpha=0.5)
    np.testing.assert_allclose(buf.tree.get(np.arange(2)), [1.0, np.sqrt(3.0)])
    batch = buf.sample(64, np.random.default_rng(0), beta=1.0)
    probs = np.array([1.0, np.sqrt(3.0)]) / (1 + np.sqrt(3.0))
    w = (2 * probs) ** -1.0
    w = w / w.max()  # only scales updates down: the rarer transition gets weight 1
    np.testing.assert_allclose(batch.weights.numpy(), w[batch.indices], rtol=1e-6)
    assert set(batch.indices.tolist()) == {0, 1}


def test_uniform_replay_ring_buffer_overwrites_oldest():
    buf = ReplayBuffer(3, (1,))
    for i in range(5):
        buf.add(np.array([i]), 0, float(i), np.array([i + 1]), False, 1.0)
    assert len(buf) == 3
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0]


# ---------------------------------------------------------------------------------------- targets by hand


def test_double_dqn_target_hand_computed():
    # two transitions, 3 actions; online picks argmax [0.5, 2, 1] -> 1 and [3, 1, 0] -> 0
    q_online = torch.tensor([[0.5, 2.0, 1.0], [3.0, 1.0, 0.0]])
    q_target_net = torch.tensor([[4.0, 1.0, 2.0], [0.5, 5.0, 1.0]])
    rewards, dones, discounts = torch.tensor([1.0, -1.0]), torch.tensor([0.0, 0.0]), torch.tensor([0.9, 0.9])
    # Double: y = r + γ Q_target(s', argmax Q_online) = [1 + 0.9·1, −1 + 0.9·0.5]
    np.testing.assert_allclose(q_target(q_online, q_target_net, rewards, dones, discounts, double=True),
                               [1.9, -0.55], atol=1e-6)
    # DQN: y = r + γ max Q_target = [1 + 0.9·4, −1 + 0.9·5]
    np.testing.assert_allclose(q_target(q_online, q_target_net, rewards, dones, discounts, double=False),
                               [4.6, 3.5], atol=1e-6)
    # a terminal transition never bootstraps
    y = q_target(q_online, q_target_net, rewards, torch.tensor([1.0, 1.0]), discounts, double=True)
    np.testing.assert_allclose(y, [1.0, -1.0])


def test_td_loss_priorities_are_absolute_td_errors():
    torch.manual_seed(0)
    online, target = QNetwork((3,), 2, (8,)), QNetwork((3,), 2, (8,))
    obs, nxt = torch.randn(5, 3), torch.randn(5, 3)
    batch = Batch(obs, torch.tensor([0, 1, 1, 0, 1]), torch.randn(5), nxt, torch.tensor([0, 1, 0, 0, 0.0]),
                  torch.full((5,), 0.97), np.arange(5), torch.ones(5))
    losses, prios = dqn_mod.td_loss(online, target, batch, double=True)
    with torch.no_grad():
        y = q_target(online(nxt), target(nxt), batch.rewards, batch.dones, batch.discounts, double=True)
        q = online(obs)[torch.arange(5), batch.actions]
    np.testing.assert_allclose(prios, (y - q).abs(), atol=1e-6)
    np.testing.assert_allclose(losses.detach(), torch.nn.functional.smooth_l1_loss(q, y, reduction="none"), atol=1e-6)


def test_c51_projection_hand_example():
    atoms = c51.support(0.0, 2.0, 3)
    m = c51.project(torch.tensor([[0.2, 0.5, 0.3]]), torch.tensor([0.5]), torch.tensor([0.0]), torch.tensor([1.0]),
                    atoms)
    np.testing.assert_allclose(m[0], [0.1, 0.35, 0.55], atol=1e-6)
    # γ = 0.5, R = 1 (not terminal): atoms 1, 1.5, 2 -> mass [0, 0.2 + 0.25, 0.25 + 0.3]
    m = c51.project(torch.tensor([[0.2, 0.5, 0.3]]), torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([0.5]),
                    atoms)
    np.testing.assert_allclose(m[0], [0.0, 0.45, 0.55], atol=1e-6)
    # terminal: all mass on R = 1.25 -> 0.75 on atom 1, 0.25 on atom 2
    m = c51.project(torch.tensor([[0.2, 0.5, 0.3]]), torch.tensor([1.25]), torch.tensor([1.0]), torch.tensor([0.5]),
                    atoms)
    np.testing.assert_allclose(m[0], [0.0, 0.75, 0.25], atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 51), st.floats(-5, 5), st.floats(0.0, 1.0), st.booleans())
def test_c51_projection_preserves_mass_and_unclipped_mean(seed, n_atoms, reward, gamma, done):
    g = torch.Generator().manual_seed(seed)
    atoms = c51.support(-10.0, 10.0, n_atoms, dtype=torch.float64)
    probs = torch.rand(4, n_atoms, generator=g, dtype=torch.float64)
    probs = probs / probs.sum(-1, keepdim=True)
    r = torch.full((4,), reward, dtype=torch.float64)
    d = torch.full((4,), float(done), dtype=torch.float64)
    disc = torch.full((4,), gamma, dtype=torch.float64)
    m = c51.project(probs, r, d, disc, atoms)
    assert (m >= -1e-12).all()
    np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-9)
    shifted = r[:, None] + (disc * (1 - d))[:, None] * atoms
    if bool(((shifted >= -10) & (shifted <= 10)).all()):
        # linear interpolation keeps the mean: E[Φ T Z] = R + γ (1 − done) E[Z]
        np.testing.assert_allclose((m * atoms).sum(-1), (probs * shifted).sum(-1), atol=1e-9)


# --------------------------------------------------------------------------------------- n-step, dueling, noisy


def test_n_step_accumulator_sums_and_episode_ends():
    acc = NStepAccumulator(n=3, gamma=0.5, num_envs=1)
    o = [np.array([float(t)]) for t in range(6)]
    assert acc.push(0, o[0], 0, 1.0, o[1], False, False) == []
    assert acc.push(0, o[1], 1, 2.0, o[2], False, False) == []
    (t0,) = acc.push(0, o[2], 0, 4.0, o[3], False, False)
    assert (t0.reward, float(t0.next_obs[0]), t0.discount, t0.done) == (1 + 0.5 * 2 + 0.25 * 4, 3.0, 0.125, False)
    # termination after the next step: the two pending steps are flushed with 2- and 1-step sums
    out = acc.push(0, o[3], 1, 8.0, o[4], True, False)
    assert [(t.reward, t.discount, t.done) for t in out] == [(2 + 0.5 * 4 + 0.25 * 8, 0.125, True),
                                                             (4 + 0.5 * 8, 0.25, True), (8.0, 0.5, True)]
    # truncation bootstraps (done = False) from the final observation with γ^k
    acc.push(0, o[0], 0, 1.0, o[1], False, False)
    out = acc.push(0, o[1], 0, 1.0, o[5], False, True)
    assert [(t.reward, t.discount, t.done, float(t.next_obs[0])) for t in out] == [(1.5, 0.25, False, 5.0),
                                                                                   (1.0, 0.5, False, 5.0)]


def test_dueling_advantages_have_zero_mean_and_value_is_the_mean_q():
    v = torch.randn(6, 1)
    a = torch.randn(6, 4)
    q = dueling_combine(v, a)
    np.testing.assert_allclose(q.mean(1), v.squeeze(1), atol=1e-6)
    np.testing.assert_allclose(q - q.mean(1, keepdim=True), a - a.mean(1, keepdim=True), atol=1e-6)


def test_noisy_linear_init_noise_and_eval_mode():
    torch.manual_seed(0)
    layer = NoisyLinear(16, 4, sigma0=0.5)
    np.testing.assert_allclose(layer.weight_sigma.detach(), 0.5 / 4.0)  # σ_0/√p, p = 16
    assert layer.weight_mu.abs().max() <= 0.25  # U[−1/√p, 1/√p]
    x = torch.randn(3, 16)
    y1 = layer(x)
    layer.reset_noise()
    assert not torch.allclose(y1, layer(x))
    layer.eval()
    np.testing.assert_allclose(layer(x).detach(), torch.nn.functional.linear(x, layer.weight_mu, layer.bias_mu).detach())
    # factorised noise: ε^w = f(ε_out) f(ε_in)^T has rank one
    assert torch.linalg.matrix_rank(torch.outer(layer.eps_out, layer.eps_in)) == 1


@pytest.mark.parametrize("obs_shape", [(4,), (4, 10, 10)])
@pytest.mark.parametrize("dueling,noisy,atoms", [(False, False, 1), (True, True, 51), (True, False, 1),
                                                  (False, True, 11)])
def test_q_network_shapes_and_distributional_q(obs_shape, dueling, noisy, atoms):
    net = QNetwork(obs_shape, 3, (32,), dueling=dueling, noisy=noisy, n_atoms=atoms, v_min=-1, v_max=1)
    obs = torch.randn(5, *obs_shape)
    out = net(obs)
    assert out.shape == ((5, 3, atoms) if atoms > 1 else (5, 3))
    q = net.q_values(obs)
    assert q.shape == (5, 3)
    if atoms > 1:
        assert torch.allclose(net.log_probs(obs).exp().sum(-1), torch.ones(5, 3))
        assert (q >= -1 - 1e-6).all() and (q <= 1 + 1e-6).all()
    actions, logp = net.act(obs)
    assert actions.shape == (5,) and torch.equal(actions, q.argmax(-1))


def test_zoo_cartpole_network_is_sb3s_mlp():
    net = QNetwork((4,), 2, (256, 256))
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(256, 4), (256,), (256, 256), (256,), (2, 256), (2,)]


def test_rainbow_ablation_arms_switch_exactly_one_component():
    arms = dqn_mod.rainbow_ablation(dqn_mod.DQNConfig())
    full = arms["rainbow"].components()
    assert all(full.values())
    for name in dqn_mod.COMPONENTS:
        comps = arms[f"no_{name}"].components()
        assert [k for k, v in comps.items() if not v] == [name]
    assert not any(arms["dqn"].components().values())


def test_epsilon_schedule():
    cfg = dqn_mod.DQNConfig()
    assert dqn_mod.epsilon_at(0, 50_000, cfg) == 1.0
    assert dqn_mod.epsilon_at(4_000, 50_000, cfg) == pytest.approx(0.52)
    assert dqn_mod.epsilon_at(30_000, 50_000, cfg) == pytest.approx(0.04)


# ------------------------------------------------------------------------------------------ the DQN loop


def test_dqn_loop_stores_consistent_transitions_and_reports(monkeypatch):
    """Every stored one-step transition's s' is the next stored s (unless the episode ended), rewards are
    CartPole's +1, and only terminations cut the bootstrap. (Guards against the vector env's in-place
    observation buffer aliasing s and s'.)"""
    stored = []

    class Recording(ReplayBuffer):
        def add(self, obs, action, reward, next_obs, done, discount):
            stored.append((np.array(obs), reward, np.array(next_obs), done, discount))
            return super().add(obs, action, reward, next_obs, done, discount)

    monkeypatch.setattr(dqn_mod, "ReplayBuffer", Recording)
    cfg = dqn_mod.DQNConfig(learning_starts=100, train_freq=50, gradient_steps=2, hidden=[16], batch_size=8)
    result = dqn_mod.train("CartPole-v1", cfg, total_steps=400, seed=3, eval_every=400, eval_episodes=2,
                           solve_threshold=475)
    assert len(stored) >= 390 and result.env_steps == 400
    for (o, r, o2, done, disc), (o_next, *_rest) in zip(stored, stored[1:], strict=False):
        assert r == 1.0 and disc == pytest.approx(0.99)
        assert not np.allclose(o, o2)
        if not done:
            np.testing.assert_array_equal(o2, o_next)
    assert sum(d for *_x, d, _ in stored) == len(result.episode_returns)  # no time limit hit in 400 steps
    assert result.episode_returns.sum() == result.episode_lengths.sum()
    assert [e[0] for e in result.extras["evals"]] == [400]
    assert result.extras["solved_at"] is None


def test_rainbow_loop_runs_and_evaluates_greedily():
    cfg = dqn_mod.with_components(dqn_mod.DQNConfig(learning_starts=64, train_freq=32, gradient_steps=2,
                                                    hidden=[16, 16], batch_size=8), **dqn_mod.RAINBOW)
    result = dqn_mod.train("CartPole-v1", cfg, total_steps=200, seed=0, eval_every=100, eval_episodes=2)
    assert [e[0] for e in result.extras["evals"]] == [100, 200]
    assert result.extras["components"] == {k: True for k in dqn_mod.COMPONENTS}
    assert result.agent.training  # back in training mode after the evaluations


@pytest.mark.parametrize("field", ["variants", "minatar_variants"])
@pytest.mark.parametrize(("value", "unknown"), [("[]", []), ('["dqn", "duelling"]', ["duelling"])])
def test_variant_lists_refuse_unknown_and_empty_names_in_the_words_they_always_used(field, value, unknown):
    from studyforge.errors import ForgeError
    from studyforge.experiments.value_based.studies.dqn_variants import VARIANTS, VariantsConfig

    with pytest.raises(ForgeError) as err:
        VariantsConfig.from_preset("quick", {field: value})
    assert f"{field}=" in err.value.message
    assert f"unknown or no variants {unknown}; known: {', '.join(VARIANTS)}" in err.value.message
