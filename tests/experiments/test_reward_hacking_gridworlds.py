"""Week 12's gridworlds (`reward_hacking.gridworlds`) and the study `reward_hacking.simple_environments`.

Known answers: the reward rules stepped by hand; the scripted policies' returns computed in the module docstring
(coin farm: goal 10.1 in 9 steps, farm 23.0 from 33 bonuses; boat race: lap 9.6 in 14 steps, loop 37.0 from 47
targets); the exact optima of the proxy and the true MDPs; Ng et al.'s potential-shaping identity
V*_shaped = V*_true − Φ; and the discount factor where farming starts to pay, solved by hand for the coin farm.
"""

from __future__ import annotations

import doctest

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.reward_hacking import gridworlds as gw
from studyforge.experiments.reward_hacking.studies import simple_environments as ex
from studyforge.tracking.context import RunContext

UP, RIGHT, DOWN, LEFT = range(4)
# (scripted goal-reaching, scripted farming): proxy return, steps, bonuses — the module docstring's arithmetic
EXPECTED = {gw.FARM_ID: {"goal": (10.1, 9, 1), "farm": (23.0, 100, 33)},
            gw.BOAT_ID: {"goal": (9.6, 14, 1), "farm": (37.0, 100, 47)}}


def steps(env_id: str, actions: list[int]) -> list[tuple[float, dict, bool]]:
    """(reward, info, terminated) of each action from a fresh episode of `env_id`."""
    env = gym.make(env_id)
    env.reset(seed=0)
    out = []
    for a in actions:
        _, reward, terminated, _, info = env.step(a)
        out.append((reward, info, terminated))
    return out


def test_the_module_examples_hold():
    assert doctest.testmod(gw).failed == 0


def test_coin_farm_pays_for_standing_on_the_bonus_every_third_step_and_for_the_goal():
    # S → (0,1) → (0,2) → (1,2) → B(2,2): the bonus on arrival; three pushes into the edge: the third one pays
    # again (k = 3); then B → (2,3) → (2,4) → (1,4) → (0,4) → G
    actions = [RIGHT, RIGHT, DOWN, DOWN] + [DOWN] * 3 + [RIGHT, RIGHT, UP, UP, RIGHT]
    got = steps(gw.FARM_ID, actions)
    proxy = [round(r, 6) for r, _, _ in got]
    assert proxy == [-0.1, -0.1, -0.1, 0.9, -0.1, -0.1, 0.9, -0.1, -0.1, -0.1, -0.1, 9.9]
    assert [info["bonus"] for _, info, _ in got] == [0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    assert [info["true_reward"] for _, info, _ in got] == [0.0] * 11 + [1.0]
    assert [term for _, _, term in got] == [False] * 11 + [True]
    assert got[-1][1]["success"] == 1.0 and all(info["proxy_reward"] == r for r, info, _ in got)


def test_coin_farm_observation_is_the_cell_and_the_bonus_timer_one_hot():
    env = gw.CoinFarm()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (14 + 4,) and obs.dtype == np.float32
    assert np.flatnonzero(obs).tolist() == [0, 14]  # cell 0 (S), B's timer 0
    for a in [RIGHT, RIGHT, DOWN, DOWN]:
        obs, *_ = env.step(a)
    assert np.flatnonzero(obs).tolist() == [env.cell("B"), 14 + 3]  # on B, just collected: timer 3


def test_boat_race_counts_the_lap_only_clockwise_and_pays_targets_only_when_entered():
    # counter-clockwise: F → (3,0) → (3,1) → checkpoint 2 before checkpoint 1 does not count; back into F: no lap
    ccw = steps(gw.BOAT_ID, [DOWN, RIGHT, RIGHT, LEFT, LEFT, UP])
    assert not any(term for _, _, term in ccw) and all(info["true_reward"] == 0 for _, info, _ in ccw)
    # the clockwise lap of the docstring: checkpoint 1 at step 5, the target T(1,4) at step 7, F at step 14
    lap = steps(gw.BOAT_ID, [UP, UP, RIGHT, RIGHT, RIGHT, RIGHT, DOWN, DOWN, DOWN, LEFT, LEFT, LEFT, LEFT, UP])
    assert [round(r, 6) for r, _, _ in lap] == [-0.1] * 6 + [0.9] + [-0.1] * 6 + [9.9]
    assert lap[-1][2] and lap[-1][1]["true_reward"] == 1.0
    # to the lagoon, T(1,4) → (1,5) → T(2,5): both pay; then four pushes right into the edge on T(2,5): its
    # timer runs out, but a boat sitting on a target collects nothing; → (2,4) → T(1,4) again: pays
    farm = steps(gw.BOAT_ID, [UP, UP, RIGHT, RIGHT, RIGHT, RIGHT, DOWN, RIGHT, DOWN] + [RIGHT] * 4 + [LEFT, UP])
    assert [info["bonus"] for _, info, _ in farm] == [0] * 6 + [1, 0, 1] + [0] * 4 + [0, 1]


def test_the_time_limit_truncates_at_100_steps():
    env = gym.make(gw.FARM_ID)
    env.reset(seed=0)
    for t in range(gw.TIME_LIMIT):
        _, _, terminated, truncated, _ = env.step(LEFT)  # S is in the corner: never moves
        assert not terminated and truncated == (t == gw.TIME_LIMIT - 1)


@pytest.mark.parametrize("env_id", list(gw.ENVS.values()))
def test_scripted_farming_beats_goal_reaching_on_the_proxy_and_loses_on_success(env_id):
    task = gw.make_task(env_id)
    goal = gw.play_policy(env_id, gw.goal_policy(task))
    farm = gw.play_policy(env_id, gw.farm_policy(task))
    for name, o in (("goal", goal), ("farm", farm)):
        proxy, n_steps, bonuses = EXPECTED[env_id][name]
        assert o.proxy_return == pytest.approx(proxy) and o.steps == n_steps and o.bonuses == bonuses, name
    assert farm.proxy_return > goal.proxy_return
    assert goal.success and goal.true_return == 1.0 and not farm.success and farm.true_return == 0.0


@pytest.mark.parametrize("env_id", list(gw.ENVS.values()))
def test_the_exact_proxy_optimum_farms_and_the_true_optimum_finishes(env_id):
    gamma = 0.99
    task = gw.make_task(env_id)
    proxy_model, true_model = (gw.make_task(env_id, reward=r).tabular() for r in ("proxy", "true"))
    proxy_opt, true_opt = proxy_model.solve(gamma), true_model.solve(gamma)
    assert proxy_opt.converged and true_opt.converged
    farmed = gw.play_policy(env_id, proxy_model.as_policy(proxy_opt.policy))
    finished = gw.play_policy(env_id, true_model.as_policy(true_opt.policy))
    assert not farmed.success and farmed.proxy_return == pytest.approx(EXPECTED[env_id]["farm"][0])
    assert finished.success and finished.steps == EXPECTED[env_id]["goal"][1]
    # the scripted farm is optimal for the proxy (ties aside), the scripted goal policy for the true reward
    v_farm = proxy_model.start_value(gw.farm_policy(task), gamma)
    v_goal = proxy_model.start_value(gw.goal_policy(task), gamma)
    assert proxy_opt.values[0] == pytest.approx(v_farm, abs=1e-9) and v_farm > v_goal
    assert true_opt.values[0] == pytest.approx(true_model.start_value(gw.goal_policy(task), gamma), abs=1e-9)
    # true reward 1 after the shortest completion, d steps: V*(start) = γ^(d − 1)
    assert true_opt.values[0] == pytest.approx(gamma ** (EXPECTED[env_id]["goal"][1] - 1))


@pytest.mark.parametrize("env_id", list(gw.ENVS.values()))
def test_potential_shaping_shifts_the_true_values_by_the_potential(env_id):
    """Ng, Harada & Russell (1999): with F = γΦ(s') − Φ(s), V*_shaped(s) = V*_true(s) − Φ(s) in every state,
    and the shaped optimum still completes the task by the shortest route."""
    gamma = 0.99
    task = gw.make_task(env_id, reward="potential", gamma=gamma)
    shaped, true = task.tabular(), gw.make_task(env_id, reward="true").tabular()
    assert shaped.states == true.states
    v_shaped, v_true = shaped.solve(gamma).values, true.solve(gamma).values
    phi = np.array([task.potential(s) for s in shaped.states] + [0.0])
    np.testing.assert_allclose(v_shaped, v_true - phi, atol=1e-9)
    done = gw.play_policy(env_id, shaped.as_policy(shaped.solve(gamma).policy), reward="potential", gamma=gamma)
    assert done.success and done.steps == EXPECTED[env_id]["goal"][1]
    # the shaping sums to γ^T Φ(s_T) − Φ(s_0) = 0 over an episode that completes the task
    rewards = [r for r, _, _ in steps_under(env_id, gw.goal_policy(task), reward="potential", gamma=gamma)]
    assert sum(gamma ** t * r for t, r in enumerate(rewards)) == pytest.approx(gamma ** (len(rewards) - 1))


def steps_under(env_id: str, policy, **env_kwargs) -> list[tuple[float, dict, bool]]:
    env = gym.make(env_id, **env_kwargs)
    env.reset(seed=0)
    out, done = [], False
    while not done:
        _, reward, terminated, truncated, info = env.step(policy(env.unwrapped.state))
        out.append((reward, info, terminated))
        done = terminated or truncated
    return out


def test_farming_starts_to_pay_at_the_hand_solved_discount():
    """Coin farm: finishing (bonus at step 4, goal at step 9) is worth 10γ⁸ + γ³ − 0.1(1 − γ⁹)/(1 − γ), standing on
    B γ³/(1 − γ³) − 0.1/(1 − γ); they are equal at γ* ≈ 0.97363 (brentq), and the exact optimum switches there."""
    from scipy.optimize import brentq

    def finish_minus_farm(g: float) -> float:
        return (10 * g**8 + g**3 - 0.1 * (1 - g**9) / (1 - g)) - (g**3 / (1 - g**3) - 0.1 / (1 - g))

    by_hand = brentq(finish_minus_farm, 0.9, 0.99)
    assert by_hand == pytest.approx(0.97363, abs=1e-5)
    assert gw.farming_threshold(gw.FARM_ID) == pytest.approx(by_hand, abs=1e-3)
    for env_id in gw.ENVS.values():
        threshold = gw.farming_threshold(env_id)
        model = gw.make_task(env_id).tabular()
        for gamma, farms in ((threshold - 0.005, False), (threshold + 0.005, True)):
            outcome = gw.play_policy(env_id, model.as_policy(model.solve(gamma).policy))
            assert outcome.success != farms, (env_id, gamma)


@pytest.mark.parametrize("env_id", list(gw.ENVS.values()))
@pytest.mark.parametrize("reward", gw.REWARDS)
def test_the_environments_pass_gymnasiums_checker(env_id, reward):
    env = gym.make(env_id, reward=reward)
    check_env(env.unwrapped, skip_render_check=True)


def test_ppo_records_the_true_outcome_of_every_training_episode():
    """The environments' own episode log lines up with PPO's recorded episodes (the proxy return both saw)."""
    cfg = PPOConfig(num_envs=4, num_steps=64, update_epochs=1)
    result = gw.train_ppo(gw.FARM_ID, cfg, total_steps=1_024, seed=0)
    n = len(result.episode_returns)
    assert n >= 4 and all(len(result.extras[k]) == n for k in ("success", "true_return", "proxy_return", "bonuses"))
    np.testing.assert_allclose(result.extras["proxy_return"], result.episode_returns, atol=1e-6)
    np.testing.assert_array_equal(result.extras["success"], result.extras["true_return"])
    # an episode that ended before the time limit reached the goal; one that failed ran the full 100 steps
    assert (result.extras["success"][result.episode_lengths < gw.TIME_LIMIT] == 1).all()
    assert (result.episode_lengths[result.extras["success"] == 0] == gw.TIME_LIMIT).all()
    true_run = gw.train_ppo(gw.FARM_ID, cfg, total_steps=1_024, seed=0, env_kwargs={"reward": "true"})
    np.testing.assert_allclose(true_run.extras["true_return"], true_run.episode_returns)


def test_quick_study_shows_the_exploit(tmp_path):
    """The quick preset (seed 0, one seed, 6k steps a run): each proxy-trained agent, acting greedily, farms —
    more proxy return than the goal-reaching policy, no success. (At 6k steps the farm agent's sampled policy is
    mostly still finishing while its greedy one farms; of seeds 0–3 the greedy agent farms in seeds 0 and 1 on
    the coin farm and 0 and 3 on the boat race — the exploit is still being learned.)"""
    cfg = ex.SimpleEnvironmentsConfig.from_preset("quick")
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ex.simple_environments(ctx, cfg)
    s = ctx.summary_values
    for env in gw.ENVS:
        e = s[env]
        assert set(e) == {"scripted", "exact", "exploit_gap", "ppo_proxy", "ppo_control", "ppo_gap"}
        assert e["exploit_gap"]["proxy_return"] > 0 and e["exploit_gap"]["success"] == 1.0
        assert e["exact"]["proxy_optimum"]["success"] == 0.0 and e["exact"]["true_optimum"]["success"] == 1.0
        goal = e["scripted"]["goal"]["proxy_return"]
        assert e["ppo_proxy"]["greedy_proxy_return_per_seed"][0] > goal, env
        assert e["ppo_proxy"]["greedy_success_per_seed"] == [0.0] and e["ppo_proxy"]["exploit_share"] == 1.0
        for kind in ("ppo_proxy", "ppo_control"):
            assert {"iqm", "lo", "hi", "values"} <= set(e[kind]["proxy_return"]) and 0 <= e[kind]["success"]["iqm"] <= 1
    assert {f.name for f in ctx.figures} == {"coin_farm_proxy_and_success", "boat_race_proxy_and_success",
                                             "goodhart_plane"}
    assert [t.name for t in ctx.tables] == ["behaviour"]
