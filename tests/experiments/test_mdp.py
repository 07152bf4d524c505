"""Week 1: tabular dynamic programming against known answers (Sutton & Barto), gymnasium's own tables and
rollouts, and each other (value iteration, policy iteration and their variants must share one fixed point)."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studyforge.errors import ForgeError
from studyforge.experiments.mdp import envs as envlib
from studyforge.experiments.mdp import tabular as T
from studyforge.tracking.context import RunContext

# S&B Example 4.1 / Figure 4.1: v_k of the equiprobable random policy, synchronous sweeps, γ = 1 (row-major)
BOOK_K = {
    1: [0.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 0.0],
    2: [0.0, -1.7, -2.0, -2.0, -1.7, -2.0, -2.0, -2.0, -2.0, -2.0, -2.0, -1.7, -2.0, -2.0, -1.7, 0.0],
    3: [0.0, -2.4, -2.9, -3.0, -2.4, -2.9, -3.0, -2.9, -2.9, -3.0, -2.9, -2.4, -3.0, -2.9, -2.4, 0.0],
    10: [0.0, -6.1, -8.4, -9.0, -6.1, -7.7, -8.4, -8.4, -8.4, -8.4, -7.7, -6.1, -9.0, -8.4, -6.1, 0.0],
}
BOOK_INF = [0, -14, -20, -22, -14, -18, -20, -20, -20, -20, -18, -14, -22, -20, -14, 0]
# V* of the 4×4 gridworld with γ = 1: minus the number of steps to the nearest terminal corner
BOOK_OPTIMAL = [0, -1, -2, -3, -1, -2, -3, -2, -2, -3, -2, -1, -3, -2, -1, 0]

ENVS = {key: envlib.make(key) for key in envlib.ENV_KEYS}
STEP_COST = ("sb_gridworld", "cliffwalking", "windy_gridworld", "windy_gridworld_stochastic", "maze")
CASES = [(key, g) for key in envlib.ENV_KEYS for g in (0.9, 0.99)] + [(key, 1.0) for key in STEP_COST]


def _independent_random_policy_values() -> np.ndarray:
    """Example 4.1 solved from scratch, without our MDP code: (I − P_π) v = −1 on the 14 inner states."""
    inner = list(range(1, 15))
    A = np.eye(14)
    for i, s in enumerate(inner):
        r, c = divmod(s, 4)
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            r2, c2 = (r + dr, c + dc) if 0 <= r + dr < 4 and 0 <= c + dc < 4 else (r, c)
            s2 = 4 * r2 + c2
            if s2 in inner:
                A[i, inner.index(s2)] -= 0.25
    v = np.zeros(16)
    v[1:15] = np.linalg.solve(A, -np.ones(14))
    return v


# ----------------------------------------------------------------------------------------------- S&B 4.1


def test_example_4_1_linear_system_is_the_books_table():
    exact = _independent_random_policy_values()
    np.testing.assert_allclose(exact, BOOK_INF, atol=1e-9)  # the fixed point is integral
    env = envlib.sb_gridworld()
    ours = T.evaluate_policy_exact(env.mdp, T.uniform_policy(env.mdp), 1.0)
    np.testing.assert_allclose(ours, exact, atol=1e-9)


@pytest.mark.parametrize("in_place", [False, True])
def test_example_4_1_iterative_evaluation_converges_to_the_book(in_place):
    env = envlib.sb_gridworld()
    sol = T.evaluate_policy(env.mdp, T.uniform_policy(env.mdp), 1.0, theta=1e-10, in_place=in_place)
    assert sol.converged
    assert np.round(sol.values).tolist() == BOOK_INF
    np.testing.assert_allclose(sol.values, _independent_random_policy_values(), atol=1e-6)
    # S&B Figure 4.1, last row: the greedy policy with respect to v_random is optimal
    policy_values = T.evaluate_policy_exact(env.mdp, sol.policy, 1.0)
    np.testing.assert_allclose(policy_values, BOOK_OPTIMAL, atol=1e-9)


@pytest.mark.parametrize("k", sorted(BOOK_K))
def test_figure_4_1_values_after_k_synchronous_sweeps(k):
    env = envlib.sb_gridworld()
    sol = T.evaluate_policy(env.mdp, T.uniform_policy(env.mdp), 1.0, theta=0.0, max_sweeps=k)
    assert sol.iterations == k and not sol.converged
    np.testing.assert_allclose(sol.values, BOOK_K[k], atol=0.05 + 1e-9)  # the book prints one decimal


def test_sb_gridworld_optimal_values_and_sweeps():
    env = envlib.sb_gridworld()
    sol = T.value_iteration(env.mdp, 1.0)
    assert sol.values.tolist() == BOOK_OPTIMAL
    # values propagate one cell per sweep from the corners: 3 sweeps to settle, one to see no change
    assert sol.iterations == 4 and sol.history[-1].residual == 0.0


# ----------------------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("key,gamma", CASES)
def test_value_and_policy_iteration_agree_on_every_env(key, gamma):
    mdp = ENVS[key].mdp
    vi = T.value_iteration(mdp, gamma, theta=1e-11)
    pi = T.policy_iteration(mdp, gamma)
    assert vi.converged and pi.converged
    np.testing.assert_allclose(vi.values, pi.values, atol=1e-6)
    # both greedy policies are optimal: evaluating either gives V*
    for sol in (vi, pi):
        np.testing.assert_allclose(T.evaluate_policy_exact(mdp, sol.policy, gamma), pi.values, atol=1e-6)
    others = [T.value_iteration(mdp, gamma, theta=1e-11, in_place=True),
              T.modified_policy_iteration(mdp, gamma, k=5, theta=1e-11)]
    if gamma < 1:  # with γ = 1 the first (random-policy) evaluation can take ~10⁵ sweeps
        others.append(T.modified_policy_iteration(mdp, gamma, k=None, theta=1e-11))
    for sol in others:
        assert sol.converged
        np.testing.assert_allclose(sol.values, pi.values, atol=1e-6)


@pytest.mark.parametrize("key", ["frozenlake8x8", "cliffwalking", "maze"])
def test_in_place_and_synchronous_reach_the_same_fixed_point(key):
    mdp = ENVS[key].mdp
    sync = T.value_iteration(mdp, 0.95, theta=1e-12)
    gs = T.value_iteration(mdp, 0.95, theta=1e-12, in_place=True)
    np.testing.assert_allclose(gs.values, sync.values, atol=1e-9)
    assert gs.iterations <= sync.iterations  # Gauss–Seidel never needs more sweeps here
    policy = sync.policy
    e_sync = T.evaluate_policy(mdp, policy, 0.95, theta=1e-12)
    e_gs = T.evaluate_policy(mdp, policy, 0.95, theta=1e-12, in_place=True)
    np.testing.assert_allclose(e_gs.values, e_sync.values, atol=1e-9)
    np.testing.assert_allclose(e_sync.values, T.evaluate_policy_exact(mdp, policy, 0.95), atol=1e-9)


@pytest.mark.parametrize("key", ["frozenlake4x4", "frozenlake8x8", "cliffwalking", "maze"])
def test_modified_policy_iteration_limits(key):
    mdp = ENVS[key].mdp
    gamma = 0.99
    pi = T.policy_iteration(mdp, gamma)
    # k = ∞: evaluation to convergence is policy iteration — same improvements, same policy, same values
    mpi_inf = T.modified_policy_iteration(mdp, gamma, k=None, theta=1e-12)
    assert mpi_inf.iterations == pi.iterations
    assert np.array_equal(mpi_inf.policy, pi.policy)
    np.testing.assert_allclose(mpi_inf.values, pi.values, atol=1e-7)
    assert [h.policy_changes for h in mpi_inf.history] == [h.policy_changes for h in pi.history]
    # k = 1: one sweep of the greedy policy is one value-iteration sweep
    vi = T.value_iteration(mdp, gamma, theta=1e-10)
    mpi_1 = T.modified_policy_iteration(mdp, gamma, k=1, theta=1e-10)
    assert abs(mpi_1.iterations - vi.iterations) <= 1
    np.testing.assert_allclose(mpi_1.values, vi.values, atol=1e-7)


def test_policy_iteration_counts_and_history():
    mdp = ENVS["frozenlake4x4"].mdp
    pi = T.policy_iteration(mdp, 0.99)
    assert pi.history[-1].policy_changes == 0 and pi.eval_sweeps == 0
    vi = T.value_iteration(mdp, 0.99)
    assert vi.eval_sweeps == vi.iterations and pi.iterations < 10 < vi.iterations
    residuals = vi.curve("residual")
    assert residuals[-1] < 1e-10 <= residuals[-2]
    # the residual of value iteration shrinks at least by the factor γ per sweep (a γ-contraction)
    assert np.all(residuals[1:] <= 0.99 * residuals[:-1] + 1e-15)
    assert np.all(np.diff(vi.curve("wall_time")) >= 0)


# --------------------------------------------------------------------------------------- gamma = 1, bad input


def test_improper_policy_with_gamma_one_is_reported():
    mdp = ENVS["sb_gridworld"].mdp
    always_up = np.zeros(16, dtype=int)  # the top row bumps into the wall forever
    with pytest.raises(ValueError, match="singular|ill-conditioned"):
        T.evaluate_policy_exact(mdp, always_up, 1.0)
    sol = T.evaluate_policy(mdp, always_up, 1.0, max_sweeps=200)
    assert not sol.converged and sol.iterations == 200
    assert T.value_iteration(mdp, 1.0, max_sweeps=2).converged is False


def test_tabular_mdp_validation_and_terminal_states():
    P = np.zeros((2, 1, 2))
    P[:, 0, 0] = 0.5
    with pytest.raises(ValueError, match="probability"):
        T.TabularMDP(P, np.zeros_like(P), np.zeros(2, bool))
    P = np.full((2, 1, 2), 0.5)
    R = np.ones_like(P)
    mdp = T.TabularMDP(P, R, np.array([False, True]))
    assert mdp.P[1, 0].tolist() == [0.0, 1.0] and mdp.R[1].sum() == 0  # absorbing, zero reward
    # v(0) = 1 + γ/2 v(0)  =>  v(0) = 1 / (1 − γ/2)
    np.testing.assert_allclose(T.value_iteration(mdp, 0.9, theta=1e-13).values, [1 / 0.55, 0.0], atol=1e-10)
    with pytest.raises(ValueError):
        T.value_iteration(mdp, 1.5)


# ------------------------------------------------------------------------------------------- gymnasium


@pytest.mark.parametrize("map_name", ["4x4", "8x8"])
def test_frozenlake_model_matches_gymnasium_table(map_name):
    env = ENVS[f"frozenlake{map_name}"]
    raw = gym.make("FrozenLake-v1", map_name=map_name, is_slippery=True).unwrapped
    desc = "".join(ch.decode() for row in raw.desc for ch in row)
    assert env.mdp.terminal.tolist() == [ch in "HG" for ch in desc]
    for s in range(len(desc)):
        for a in range(4):
            outcomes = raw.P[s][a]
            assert sum(p for p, *_ in outcomes) == pytest.approx(1.0)
            if desc[s] in "HG":
                continue
            expected_p, expected_r = np.zeros(len(desc)), 0.0
            for p, s2, r, _ in outcomes:
                expected_p[s2] += p
                expected_r += p * r
            np.testing.assert_allclose(env.mdp.P[s, a], expected_p, atol=1e-12)
            assert env.mdp.r_sa[s, a] == pytest.approx(expected_r)
    np.testing.assert_allclose(env.mdp.P.sum(axis=2), 1.0, atol=1e-12)
    # slippery: every move from a frozen tile has three outcomes of probability 1/3 (before merging)
    assert all(len(raw.P[s][a]) == 3 for s in range(len(desc)) if desc[s] in "SF" for a in range(4))


def test_frozenlake_4x4_optimal_policy_succeeds_about_74_percent():
    env = ENVS["frozenlake4x4"]
    policy = T.value_iteration(env.mdp, 0.99).policy
    exact = env.success_probability(policy)  # within gymnasium's 100-step limit, from the model
    assert exact == pytest.approx(0.74, abs=0.01)
    measured = env.rollout_success(policy, episodes=2000, seed=7)
    # 2000 Bernoulli(0.74) trials: standard error ≈ 0.0098; four of them either side
    assert abs(measured - exact) < 0.04
    assert 0.70 <= measured <= 0.78
    assert env.rollout_success(policy, 50, seed=3) == env.rollout_success(policy, 50, seed=3)  # seeded


def test_cliffwalking_optimal_return_is_minus_13():
    env = ENVS["cliffwalking"]
    sol = T.value_iteration(env.mdp, 1.0)
    assert sol.values[env.start_state] == -13.0
    real = gym.make(envlib._cliff_id())
    obs, _ = real.reset(seed=0)
    total, done, steps = 0.0, False, 0
    while not done and steps < 100:
        obs, r, terminated, truncated, _ = real.step(int(sol.policy[obs]))
        total, done, steps = total + r, terminated or truncated, steps + 1
    assert terminated and total == -13.0  # the greedy policy walks the cliff edge in the real env
    # with γ < 1 the same path is worth Σ_{t<13} −γ^t
    gamma = 0.9
    discounted = T.value_iteration(env.mdp, gamma).values[env.start_state]
    assert discounted == pytest.approx(-(1 - gamma**13) / (1 - gamma))


# -------------------------------------------------------------------------------------------------- maze


def _next(env, rc, action):
    """The one next cell (row, col) of a deterministic move."""
    s2 = int(env.mdp.P[env.index[rc], action].argmax())
    assert env.mdp.P[env.index[rc], action, s2] == 1.0
    return tuple(int(x) for x in env.cells[s2])


UP, RIGHT, DOWN, LEFT = range(4)


def test_maze_wind_moves_the_agent_as_documented():
    env = envlib.maze([
        ".  .  .  .  G",
        ".  .  #  .  .",
        ".  ^2 .  >  .",
        "S  .  .  .  .",
    ])
    # move first, then the wind of the cell left behind: from (2,1) east to (2,2), then 2 north — but (1,2)
    # is a wall, so the wind stops at once
    assert _next(env, (2, 1), RIGHT) == (2, 2)
    # west to (2,0), then blown north twice
    assert _next(env, (2, 1), LEFT) == (0, 0)
    # north to (1,1), blown one cell to (0,1), then stopped by the edge
    assert _next(env, (2, 1), UP) == (0, 1)
    # eastward wind of strength 1 from (2,3): down to (3,3), pushed east to (3,4)
    assert _next(env, (2, 3), DOWN) == (3, 4)
    # moving into a wall or off the grid leaves the agent in place (no wind on (1,1))
    assert _next(env, (1, 1), RIGHT) == (1, 1) and _next(env, (3, 0), LEFT) == (3, 0)
    # cells entered by the wind do not blow again: (2,3)'s wind acts only when leaving (2,3)
    assert _next(env, (2, 2), RIGHT) == (2, 3)
    assert env.mdp.terminal[env.index[(0, 4)]] and (1, 2) not in env.index


def test_stochastic_wind_spreads_strength_k_minus_1_to_k_plus_1():
    env = envlib.maze([".  .  .  .", ".  .  .  G", "S  ^  .  ."], stochastic_wind=True)
    row = env.mdp.P[env.index[(2, 1)], RIGHT]  # to (2,2), then pushed north 0, 1 or 2 cells
    for cell in ((2, 2), (1, 2), (0, 2)):
        assert row[env.index[cell]] == pytest.approx(1 / 3)


def test_windy_gridworld_shortest_episode_is_15_steps():
    env = envlib.windy_gridworld()
    sol = T.value_iteration(env.mdp, 1.0)
    assert sol.values[env.start_state] == -15.0  # S&B Example 6.5
    assert env.rollout_success(sol.policy, 20, seed=0) == 1.0


def test_layout_errors():
    with pytest.raises(ValueError, match="token"):
        envlib.parse_layout(["S x G"])
    with pytest.raises(ValueError, match="exactly one S"):
        envlib.parse_layout([". . G"])
    with pytest.raises(ValueError, match="equal length"):
        envlib.parse_layout(["S .", ". . G"])


# --------------------------------------------------------------------------------------------- property


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 7), st.integers(1, 4), st.floats(0.0, 0.95), st.booleans(), st.integers(0, 2**31 - 1))
def test_random_mdps_value_and_policy_iteration_agree(n_states, n_actions, gamma, tie_heavy, seed):
    rng = np.random.default_rng(seed)
    if tie_heavy:  # deterministic moves and rewards in {−1, 0, 1}: many exactly tied actions
        P = np.zeros((n_states, n_actions, n_states))
        rows, cols = np.indices((n_states, n_actions))
        P[rows, cols, rng.integers(n_states, size=(n_states, n_actions))] = 1.0
        R = rng.integers(-1, 2, size=P.shape).astype(np.float64)
    else:
        P = rng.dirichlet(np.full(n_states, 0.5), size=(n_states, n_actions))  # (S, A, S)
        R = rng.normal(size=(n_states, n_actions, n_states))
    terminal = rng.random(n_states) < 0.25
    mdp = T.TabularMDP(P, R, terminal)
    vi = T.value_iteration(mdp, gamma, theta=1e-12)
    pi = T.policy_iteration(mdp, gamma)
    assert vi.converged and pi.converged
    np.testing.assert_allclose(vi.values, pi.values, atol=1e-6)
    np.testing.assert_allclose(T.value_iteration(mdp, gamma, theta=1e-12, in_place=True).values, pi.values,
                               atol=1e-6)
    np.testing.assert_allclose(T.modified_policy_iteration(mdp, gamma, k=3, theta=1e-12).values, pi.values,
                               atol=1e-6)
    # V* satisfies the Bellman optimality equation and dominates every deterministic policy's value
    np.testing.assert_allclose(mdp.q_values(pi.values, gamma).max(axis=1), pi.values, atol=1e-9)
    random_policy = rng.integers(n_actions, size=n_states)
    assert np.all(T.evaluate_policy_exact(mdp, random_policy, gamma) <= pi.values + 1e-9)
    assert np.all(pi.values[terminal] == 0.0)


# ---------------------------------------------------------------------------------------------- studies


def _figure_names(ctx: RunContext) -> list[str]:
    return [figure.name for figure in ctx.figures]


def _table_rows(ctx: RunContext, name: str) -> list[dict[str, str]]:
    """The rows of a table as the run record keeps them (tables/<name>.csv: every value a string)."""
    with open(ctx.out_dir / "tables" / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _metric_rows(ctx: RunContext) -> list[dict]:
    return [json.loads(line) for line in (ctx.out_dir / "metrics.jsonl").read_text().splitlines()]


def test_comparison_study_quick_summary_has_the_known_answers(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from studyforge.experiments.mdp.studies import value_vs_policy_iteration as ex

    cfg = ex.CompareConfig.from_preset("quick")
    ctx = RunContext(out_dir=tmp_path, config=cfg, seed=1)
    ex.value_vs_policy_iteration(ctx, cfg)
    s = ctx.summary_values
    assert s["sb_gridworld_random_policy_values"] == BOOK_INF
    assert s["vi_pi_max_abs_diff"] <= 1e-6
    fl = s["frozenlake8x8"]["gamma0_99"]
    assert len(fl["optimal_values"]) == 64 and fl["optimal_values"][63] == 0.0
    assert fl["sweeps"]["policy_iteration"] < fl["sweeps"]["value_iteration"]
    assert set(fl["sweeps"]) == set(fl["success_rate"]) >= {"value_iteration", "policy_iteration"}
    assert 0.5 < fl["success_rate"]["value_iteration"] < 0.8
    assert s["sb_gridworld"]["gamma1"]["optimal_values"] == BOOK_OPTIMAL
    assert s["cliffwalking"]["gamma0_99"]["success_rate"]["value_iteration"] == 1.0
    from studyforge.experiments.registry import get

    node = s
    headline = get("mdp.value_vs_policy_iteration").headline
    for part in headline.split("."):
        node = node[part]
    assert isinstance(node, float)
    rows = _table_rows(ctx, "algorithm_comparison")
    assert {r["env"] for r in rows} == set(cfg.envs) and all(r["converged"] == "True" for r in rows)
    assert any(name.startswith("convergence_frozenlake8x8") for name in _figure_names(ctx))


def test_solver_study_quick_draws_every_env(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from studyforge.experiments.mdp.studies import gridworld_solver as ex

    cfg = ex.SolverConfig.from_preset("quick")
    ctx = RunContext(out_dir=tmp_path, config=cfg, seed=0)
    ex.gridworld_solver(ctx, cfg)
    assert {f"value_heatmap_{k}" for k in cfg.envs} <= set(_figure_names(ctx))
    assert "convergence_value_iteration" in _figure_names(ctx)
    assert ctx.summary_values["cliffwalking"]["start_value"] == -13.0
    assert ctx.summary_values["sb_gridworld"]["optimal_values"] == BOOK_OPTIMAL
    assert np.round(ctx.summary_values["sb_gridworld_random_policy_values"]).tolist() == BOOK_INF
    assert 0.3 < ctx.summary_values["frozenlake8x8"]["start_value"] < 0.5
    assert any("convergence/frozenlake8x8/residual" in m for m in _metric_rows(ctx))


def test_study_configs_reject_bad_settings():
    from studyforge.experiments.mdp.studies.gridworld_solver import SolverConfig
    from studyforge.experiments.mdp.studies.value_vs_policy_iteration import CompareConfig

    with pytest.raises(ForgeError, match=r"unknown environments \['nowhere'\]; known: sb_gridworld, frozenlake4x4, "):
        CompareConfig.from_preset("default", {"envs": '["nowhere"]'})
    assert SolverConfig.from_preset("quick", {"envs": "[]"}).envs == []  # no environment: an empty run, allowed
    with pytest.raises(ForgeError, match=r"unknown algorithms \[\]; known: value_iteration, "):
        CompareConfig.from_preset("quick", {"algorithms": "[]"})  # but at least one solver
    with pytest.raises(ForgeError, match="cost per step"):
        CompareConfig.from_preset("default", {"gammas": "[0.9, 1.0]"})  # FrozenLake with γ = 1
    with pytest.raises(ForgeError, match="gamma"):
        SolverConfig.from_preset("quick", {"gamma": "abc"})
    with pytest.raises(ForgeError, match="maze"):
        SolverConfig.from_preset("quick", {"maze_layout": '["S . x G"]'})
    for preset in ("quick", "default", "full"):
        CompareConfig.from_preset(preset)
        SolverConfig.from_preset(preset)
