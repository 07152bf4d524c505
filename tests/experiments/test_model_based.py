"""Week 15: the chapter-8 mazes against week 1's value iteration, Dyna-Q's planning advantage (seeded), the
random-walk first episode against its exact expectation, Dyna-Q+ on the shortcut maze, the ensemble model
on a system it can represent exactly, and the MPC planners on a toy model with a known best plan."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from studyforge.experiments.mdp import envs as mdp_envs
from studyforge.experiments.mdp import tabular as dp
from studyforge.experiments.model_based import dyna, mazes
from studyforge.experiments.model_based.dynamics import DynamicsEnsemble, EnsembleLinear, fit, rollout
from studyforge.experiments.model_based.mpc import CEM, RandomShooting, cartpole_reward, score_sequences
from studyforge.experiments.model_based.studies.dyna_q import epsilon_greedy_floor, random_walk_first_episode

torch.set_num_threads(1)


def _shortest(layout: list[str]) -> float:
    env = mdp_envs.maze(layout, step_reward=-1.0)
    return -dp.value_iteration(env.mdp, 1.0).values[env.start_state]


# ------------------------------------------------------------------------------------------------- mazes


def test_maze_layouts_have_the_books_path_lengths():
    assert _shortest(mazes.DYNA_MAZE) == 14  # S&B Example 8.1
    # blocking maze: around the right end of the wall, then around the left end after the change
    assert _shortest(mazes.BLOCKING_BEFORE) == 10
    assert _shortest(mazes.BLOCKING_AFTER) == 16
    # shortcut maze: the long way round the left, then the new gap on the right
    assert _shortest(mazes.SHORTCUT_BEFORE) == 16
    assert _shortest(mazes.SHORTCUT_AFTER) == 10


def test_goal_reward_maze_and_grid_tables_agree_with_week1_model():
    env = mazes.dyna_maze()
    world = dyna.MazeWorld.from_env(env)
    cols = env.shape[1]
    assert world.start == 2 * cols + 0
    assert world.goal[0 * cols + 8] and sum(world.goal) == 1
    succ = env.mdp.P.argmax(axis=2)
    for s, (r, c) in enumerate(env.cells):
        for a in range(4):
            r2, c2 = env.cells[succ[s, a]]
            reward, nxt, terminal = world.step(r * cols + c, a)
            assert nxt == r2 * cols + c2
            assert reward == (1.0 if env.goal[succ[s, a]] and not env.goal[s] else 0.0)


# ------------------------------------------------------------------------------------------------- Dyna-Q


def _episodes_to_near_optimal(n: int, runs: int = 5, episodes: int = 40) -> int:
    """Figure 8.2's reading: the first episode (from the 2nd) whose run-averaged length is within 20% of the
    ε-greedy optimal policy's expected length (exploration keeps every ε-greedy curve above 14)."""
    env = mazes.dyna_maze()
    world = dyna.MazeWorld.from_env(env)
    lengths = [dyna.run_episodes(world, dyna.DynaQ(world.n_cells, 4, n, seed=100 + s), episodes)[0]
               for s in range(runs)]
    avg = np.mean(lengths, axis=0)
    hit = np.flatnonzero(avg[1:] <= 1.2 * epsilon_greedy_floor(env, 0.1))
    return int(hit[0]) + 2 if len(hit) else episodes + 1


def test_dyna_q_with_planning_reaches_the_14_step_path_in_fewer_episodes():
    n0, n50 = _episodes_to_near_optimal(0), _episodes_to_near_optimal(50)
    # S&B Figure 8.2: about 25 episodes without planning, about 3 with n = 50
    assert n50 <= 5
    assert n0 >= n50 + 10, (n0, n50)


def test_first_episode_is_a_random_walk_with_the_exact_expected_length():
    """Q ≡ 0 and random tie-breaking make episode 1 a uniform random walk: its mean length over many runs
    matches the exact expectation from week 1's policy evaluation (868.7 steps)."""
    expected = random_walk_first_episode(mazes.dyna_maze())
    assert expected == pytest.approx(868.725, abs=1e-2)
    world = dyna.MazeWorld.from_env(mazes.dyna_maze())
    lengths = [dyna.run_episodes(world, dyna.DynaQ(world.n_cells, 4, 0, seed=s), 1)[0][0] for s in range(300)]
    se = np.std(lengths) / np.sqrt(len(lengths))
    assert abs(np.mean(lengths) - expected) < 4 * se


def test_epsilon_greedy_floor_is_above_the_shortest_path():
    env = mazes.dyna_maze()
    assert epsilon_greedy_floor(env, 0.0) == pytest.approx(14.0)
    assert 14.0 < epsilon_greedy_floor(env, 0.1) < 20.0


def test_dyna_q_plus_finds_the_shortcut_and_dyna_q_does_not():
    before = dyna.MazeWorld.from_env(mazes.shortcut_maze())
    after = dyna.MazeWorld.from_env(mazes.shortcut_maze(after=True))
    found = {}
    for kappa in (0.0, 1e-3):
        paths = []
        for seed in range(3):
            agent = dyna.DynaQ(before.n_cells, 4, 50, alpha=1.0, kappa=kappa, seed=seed)
            dyna.run_changing([(0, before), (1500, after)], agent, 4500)
            paths.append(agent.greedy_path_length(after))
        found[kappa] = sum(p == 10 for p in paths)
    assert found[1e-3] >= 2 and found[0.0] == 0, found


# ---------------------------------------------------------------------------------------- dynamics model


def test_ensemble_linear_is_e_independent_linear_layers():
    layer = EnsembleLinear(3, 4, 2)
    x = torch.randn(3, 5, 4)
    y = layer(x)
    for e in range(3):
        torch.testing.assert_close(y[e], x[e] @ layer.weight[e] + layer.bias[e])


def test_ensemble_learns_a_linear_system_and_rollouts_compound():
    rng = np.random.default_rng(0)
    A = np.array([[1.0, 0.1], [0.0, 0.98]])
    obs = rng.uniform(-1, 1, size=(3000, 2))
    act = rng.uniform(-1, 1, size=(3000, 1))
    nxt = obs @ A.T + 0.1 * np.concatenate([np.zeros_like(act), act], axis=1)
    model = DynamicsEnsemble(2, 1, ensemble=3, hidden=(32,), discrete=False)
    fit(model, obs, act, nxt, epochs=60, seed=0)
    with torch.no_grad():
        pred = model(torch.as_tensor(obs[:200], dtype=torch.float32).expand(3, -1, -1),
                     torch.as_tensor(act[:200], dtype=torch.float32).expand(3, -1, -1))
    err = (pred - torch.as_tensor(nxt[:200], dtype=torch.float32)).abs().max()
    assert err < 0.05
    # open-loop rollout shapes; error never shrinks much as the horizon grows on this stable system
    s0 = torch.as_tensor(obs[:50], dtype=torch.float32)
    acts = torch.as_tensor(rng.uniform(-1, 1, size=(50, 10, 1)), dtype=torch.float32)
    out = rollout(model, s0, acts)
    assert out.shape == (3, 50, 10, 2)
    truth = [s0.numpy()]
    for h in range(10):
        truth.append(truth[-1] @ A.T + 0.1 * np.concatenate([np.zeros((50, 1)), acts[:, h].numpy()], axis=1))
    truth = torch.as_tensor(np.stack(truth[1:], axis=1), dtype=torch.float32)
    errs = (out.mean(0) - truth).pow(2).mean((0, 2)).sqrt()
    assert errs[-1] > errs[0]


# ----------------------------------------------------------------------------------------------- MPC


def test_cartpole_reward_termination_matches_gymnasium():
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    agree = 0
    for ep in range(20):
        obs, _ = env.reset(seed=ep)
        done = False
        while not done:
            a = int(rng.integers(2))
            nxt, r, terminated, truncated, _ = env.step(a)
            ours_r, ours_done = cartpole_reward(torch.as_tensor(obs), torch.tensor(a), torch.as_tensor(nxt))
            assert bool(ours_done) == terminated and float(ours_r) == r
            agree += 1
            obs, done = nxt, terminated or truncated
    assert agree > 100


class _ToyModel:
    """A 1-D 'model': s' = s + (a − 0.5), identical for every member; the best plan always takes action 1."""

    ensemble = 2

    def __call__(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return s + (a.float() - 0.5).unsqueeze(-1)


def _toy_reward(s, a, s2):
    # r = s', done once s' < −2 (a plan of mostly 0s dies)
    return s2[..., 0], s2[..., 0] < -2


def test_score_sequences_counts_rewards_until_predicted_termination():
    seqs = torch.tensor([[1, 1, 1], [0, 0, 0, ], [0, 0, 0]])[:2]
    # from s = 0: [1,1,1] -> s' = .5, 1, 1.5 -> 3.0; [0,0,0] -> −.5, −1, −1.5 -> −3.0
    scores = score_sequences(_ToyModel(), _toy_reward, np.zeros(1), seqs)
    torch.testing.assert_close(scores, torch.tensor([3.0, -3.0]))
    # from s = −1.6 the all-0 plan terminates after the first step (s' = −2.1): only that reward counts
    scores = score_sequences(_ToyModel(), _toy_reward, np.array([-1.6]), torch.tensor([[0, 0, 0]]))
    torch.testing.assert_close(scores, torch.tensor([-2.1]))


@pytest.mark.parametrize("planner_cls", [RandomShooting, CEM])
def test_planners_pick_the_first_action_of_the_best_plan(planner_cls):
    gen = torch.Generator().manual_seed(0)
    planner = planner_cls(2, 8, 64, gen)
    score = lambda seqs: score_sequences(_ToyModel(), _toy_reward, np.zeros(1), seqs)  # noqa: E731
    assert all(planner.plan(score) == 1 for _ in range(5))
    if planner_cls is CEM:
        # the refitted distribution concentrates on action 1 (kept at ≥ ½·0.9 + ¼ after the warm-start blend;
        # the last step is new and uniform)
        assert (planner.probs[:-1, 1] > 0.7).all() and planner.probs[-1, 1] == 0.5
