"""Known answers and properties of the policy-gradient core: GAE, V-trace, time-limit bootstrapping, PPO's
loss pieces, the Fisher-vector product and conjugate gradient, TRPO's KL bound, CPO/PCPO's step solvers."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from studyforge.experiments.policy_gradient import ppo
from studyforge.experiments.policy_gradient.advantages import discounted_returns, gae, reward_to_go
from studyforge.experiments.policy_gradient.cpo import cpo_direction
from studyforge.experiments.policy_gradient.grpo import group_advantages
from studyforge.experiments.policy_gradient.networks import Agent, MLPAgent, categorical_kl, entropy, log_prob
from studyforge.experiments.policy_gradient.storage import RolloutCollector
from studyforge.experiments.policy_gradient.trpo import trpo_step
from studyforge.experiments.policy_gradient.trust_region import (
    conjugate_gradient,
    fisher_vector_product,
    flat_params,
    set_flat_params,
)
from studyforge.experiments.policy_gradient.vtrace import vtrace
from studyforge.experiments.rl.curves import bootstrap_ci, iqm, on_grid, smoothed
from studyforge.experiments.rl.envs import final_values, make_env, make_vector_env
from studyforge.experiments.rl.episodes import run_episodes
from studyforge.experiments.rl.training import Recorder

torch.set_num_threads(1)


# -- GAE ----------------------------------------------------------------------------------------------------

def test_gae_hand_computed_with_episode_boundary():
    # one env, γ = 0.9, λ = 0.8; an episode ends after step 1 (dones[2] = 1: obs 2 starts a new episode)
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [1.5]])
    dones = torch.tensor([[0.0], [0.0], [1.0]])
    adv, ret = gae(rewards, values, dones, next_value=torch.tensor([2.0]), next_done=torch.tensor([0.0]),
                   gamma=0.9, lam=0.8)
    # δ_2 = 3 + 0.9·2 − 1.5 = 3.3                  Â_2 = 3.3
    # δ_1 = 2 + 0 − 1.0 = 1.0 (terminal)           Â_1 = 1.0 (the trace stops at the boundary)
    # δ_0 = 1 + 0.9·1.0 − 0.5 = 1.4                Â_0 = 1.4 + 0.9·0.8·1.0 = 2.12
    assert adv[:, 0].tolist() == pytest.approx([2.12, 1.0, 3.3])
    assert ret[:, 0].tolist() == pytest.approx([2.62, 2.0, 4.8])


def test_gae_two_envs_and_next_done():
    rewards = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    values = torch.zeros(2, 2)
    dones = torch.zeros(2, 2)
    # env 0 continues past the rollout (bootstraps V = 10); env 1's episode ended on the last step
    adv, _ = gae(rewards, values, dones, torch.tensor([10.0, 10.0]), torch.tensor([0.0, 1.0]), 0.5, 1.0)
    # env 0: Â_1 = 1 + 0.5·10 = 6, Â_0 = 1 + 0.5·6 = 4;  env 1: Â_1 = 1, Â_0 = 1 + 0.5·1 = 1.5
    np.testing.assert_allclose(adv.numpy(), [[4.0, 1.5], [6.0, 1.0]])


def test_gae_limits_are_td_error_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    T, N = 7, 3
    rewards, values = torch.randn(T, N, generator=g), torch.randn(T, N, generator=g)
    dones = (torch.rand(T, N, generator=g) < 0.3).float()
    nv, nd = torch.randn(N, generator=g), torch.tensor([0.0, 1.0, 0.0])
    adv0, _ = gae(rewards, values, dones, nv, nd, 0.9, 0.0)
    next_values = torch.cat([values[1:], nv[None]])
    not_done = 1 - torch.cat([dones[1:], nd[None]])
    assert torch.allclose(adv0, rewards + 0.9 * next_values * not_done - values)
    adv1, ret1 = gae(rewards, values, dones, nv, nd, 0.9, 1.0)
    assert torch.allclose(ret1, discounted_returns(rewards, dones, nv, nd, 0.9), atol=1e-6)


def test_reward_to_go_and_group_advantages_examples():
    assert reward_to_go(torch.tensor([1.0, 1.0, 1.0]), 0.5).tolist() == [1.75, 1.5, 1.0]
    assert reward_to_go(torch.tensor([1.0]), 0.5, bootstrap=4.0).tolist() == [3.0]
    np.testing.assert_allclose(group_advantages(torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])).numpy(),
                               [[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], atol=1e-6)


# -- V-trace -------------------------------------------------------------------------------------------------

def vtrace_by_definition(log_rhos, discounts, rewards, values, bootstrap, rho_bar, pg_rho_bar):
    """The paper's definition, summed term by term: v_s = V(x_s) + Σ_t γ^{t−s} (Π_{i<t} c_i) ρ_t δ_t."""
    T, B = rewards.shape
    rhos = np.exp(log_rhos)
    clipped = rhos if rho_bar is None else np.minimum(rho_bar, rhos)
    cs = np.minimum(1.0, rhos)
    v_ext = np.concatenate([values, bootstrap[None]], axis=0)
    vs = np.zeros((T, B))
    for b in range(B):
        for s in range(T):
            total = values[s, b]
            for t in range(s, T):
                # γ^{t−s} with per-step discounts: Π_{i=s}^{t−1} γ_i, and the traces Π_{i=s}^{t−1} c_i
                disc = np.prod(discounts[s:t, b])
                trace = np.prod(cs[s:t, b])
                delta = clipped[t, b] * (rewards[t, b] + discounts[t, b] * v_ext[t + 1, b] - values[t, b])
                total += disc * trace * delta
            vs[s, b] = total
    vs_next = np.concatenate([vs[1:], bootstrap[None]], axis=0)
    pg_rhos = rhos if pg_rho_bar is None else np.minimum(pg_rho_bar, rhos)
    return vs, pg_rhos * (rewards + discounts * vs_next - values)


@pytest.mark.parametrize("rho_bar,pg_rho_bar", [(1.0, 1.0), (2.0, 0.5), (None, None)])
def test_vtrace_matches_the_papers_definition(rho_bar, pg_rho_bar):
    rng = np.random.default_rng(1)
    T, B = 6, 3
    log_rhos = rng.normal(0, 0.8, size=(T, B))
    discounts = 0.9 * (rng.random((T, B)) > 0.2)  # zeros where an episode ended
    rewards, values, bootstrap = rng.normal(size=(T, B)), rng.normal(size=(T, B)), rng.normal(size=B)
    want_vs, want_adv = vtrace_by_definition(log_rhos, discounts, rewards, values, bootstrap, rho_bar,
                                             pg_rho_bar)
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    vs, adv = vtrace(t(log_rhos), t(discounts), t(rewards), t(values), t(bootstrap), rho_bar, pg_rho_bar)
    np.testing.assert_allclose(vs.numpy(), want_vs, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(adv.numpy(), want_adv, rtol=1e-10, atol=1e-10)


def test_vtrace_on_policy_is_the_n_step_return():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    discounts = torch.full((3, 1), 0.5)
    vs, _ = vtrace(torch.zeros(3, 1), discounts, rewards, torch.zeros(3, 1), torch.tensor([8.0]))
    # v_2 = 3 + 0.5·8 = 7, v_1 = 2 + 0.5·7 = 5.5, v_0 = 1 + 0.5·5.5 = 3.75
    assert vs[:, 0].tolist() == pytest.approx([3.75, 5.5, 7.0])


# -- time limits ---------------------------------------------------------------------------------------------

class Counter(gym.Env):
    """obs = [t]; reward 1 per step; terminates at `end` (never, if None)."""

    def __init__(self, end: int | None = None):
        self.end = end
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        terminated = self.end is not None and self.t >= self.end
        return np.array([self.t], dtype=np.float32), 1.0, terminated, False, {}


class ObsValueAgent(Agent):
    """π uniform; V(s) = 10·s (so a bootstrap from the reset obs would read 0, from the final obs 10·t)."""

    has_critic = True

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1, 2))

    def logits(self, obs):
        return obs[:, :1] * self.w

    def value(self, obs):
        return 10.0 * obs[:, 0]


def _collector(env_fn, steps, bootstrap=True):
    envs = gym.vector.SyncVectorEnv([env_fn], copy=False, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    return RolloutCollector(envs, ObsValueAgent(), steps, gamma=0.5, seed=0, recorder=Recorder(),
                            bootstrap_truncated=bootstrap)


def test_truncated_episode_is_bootstrapped_from_its_final_observation():
    ro = _collector(lambda: gym.wrappers.TimeLimit(Counter(), 3), 4).collect()
    # steps 0, 1, 2 then the time limit: the last step's reward gets γ·V(s_final) = 0.5·10·3 = 15
    assert ro.rewards[:, 0].tolist() == [1.0, 1.0, 16.0, 1.0]
    assert ro.dones[:, 0].tolist() == [0.0, 0.0, 0.0, 1.0]  # obs 3 is the first of a new episode
    assert ro.terminals[:, 0].tolist() == [0.0, 0.0, 0.0, 0.0]
    # through GAE with λ = 1 the truncated step's target is r + γ V(s_final), not r
    adv, ret = gae(ro.rewards, ro.values, ro.dones, ro.next_value, ro.next_done, 0.5, 1.0)
    assert ret[2, 0] == pytest.approx(1.0 + 0.5 * 30.0)


def test_terminated_episode_is_not_bootstrapped_and_flag_disables_bootstrap():
    ro = _collector(lambda: gym.wrappers.TimeLimit(Counter(end=2), 50), 3).collect()
    assert ro.rewards[:, 0].tolist() == [1.0, 1.0, 1.0]
    assert ro.terminals[:, 0].tolist() == [0.0, 1.0, 0.0]
    ro = _collector(lambda: gym.wrappers.TimeLimit(Counter(), 2), 3, bootstrap=False).collect()
    assert ro.rewards[:, 0].tolist() == [1.0, 1.0, 1.0]


def test_vector_env_autoreset_mode_and_episode_records():
    envs = make_vector_env("CartPole-v1", 2)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    rec = Recorder()
    collector = RolloutCollector(envs, MLPAgent(4, 2), 200, 0.99, seed=3, recorder=rec)
    ro = collector.collect()
    assert ro.obs.shape == (200, 2, 4) and collector.global_step == 400
    # the stored first observation is the reset one, not the env's reused buffer after 200 steps
    first, _ = make_env("CartPole-v1").reset(seed=3)
    np.testing.assert_array_equal(ro.obs[0, 0].numpy(), first)
    # episodic returns are raw rewards (CartPole: the length), never the bootstrapped ones
    assert rec.episode_returns and rec.episode_returns == [float(n) for n in rec.episode_lengths]


def test_constrained_cartpole_cost_and_final_info():
    env = make_env("ConstrainedCartPole-v1", band=0.05)
    env.reset(seed=0)
    costs = []
    done = False
    while not done:
        obs, _, term, trunc, info = env.step(1)  # always push right: the cart leaves the band
        costs.append(info["cost"])
        assert info["cost"] == float(abs(obs[0]) > 0.05)
        done = term or trunc
    assert 0 < sum(costs) < len(costs)
    # a finished sub-env's last-step info lives in final_info under same-step autoreset
    infos = {"cost": np.array([0.0, 1.0]), "_cost": np.array([False, True]),
             "final_info": {"cost": np.array([1.0, 0.0]), "_cost": np.array([True, False])}}
    assert final_values(infos, "cost", np.array([True, False])).tolist() == [1.0, 1.0]


def test_run_episodes_same_seed_same_start():
    envs = [make_env("CartPole-v1") for _ in range(3)]
    eps = run_episodes(envs, MLPAgent(4, 2), [7, 7, 8])
    assert torch.equal(eps[0].obs[0], eps[1].obs[0]) and not torch.equal(eps[0].obs[0], eps[2].obs[0])
    assert all(len(e) == len(e.actions) == len(e.logprobs) for e in eps)


# -- distributions and PPO's loss pieces ---------------------------------------------------------------------

def test_categorical_helpers_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    p, q = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    a = torch.tensor([0, 2, 1, 1, 0])
    dp, dq = torch.distributions.Categorical(logits=p), torch.distributions.Categorical(logits=q)
    assert torch.allclose(log_prob(p, a), dp.log_prob(a))
    assert torch.allclose(entropy(p), dp.entropy())
    assert torch.allclose(categorical_kl(p, q), torch.distributions.kl_divergence(dp, dq), atol=1e-6)


def test_ppo_loss_pieces_hand_computed():
    ratio, adv = torch.tensor([1.5, 0.5, 0.9, 1.1]), torch.tensor([1.0, 1.0, -2.0, -2.0])
    # min(r Â, clip(r) Â): min(1.5, 1.2)=1.2; min(0.5, 0.8)=0.5; min(−1.8, −1.8)=−1.8; min(−2.2, −2.2)=−2.2
    assert float(ppo.clipped_surrogate_loss(ratio, adv, 0.2)) == pytest.approx(-(1.2 + 0.5 - 1.8 - 2.2) / 4)
    # a negative advantage with a small ratio is clipped from below: min(0.5·(−1), 0.8·(−1)) = −0.8
    low = ppo.clipped_surrogate_loss(torch.tensor([0.5]), torch.tensor([-1.0]), 0.2)
    assert float(low) == pytest.approx(0.8)
    assert float(ppo.value_loss(torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([3.0]), None)) == 0.5
    assert float(ppo.value_loss(torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([3.0]), 0.5)) == 3.125
    # approx. KL k3 = (r − 1) − log r: r = 2 -> 1 − ln 2
    assert float(ppo.approx_kl(torch.log(torch.tensor([2.0])))) == pytest.approx(1 - math.log(2))
    assert float(ppo.clip_fraction(torch.tensor([0.7, 1.0, 1.3, 1.1]), 0.2)) == 0.5
    kl = torch.tensor([0.1, 0.3])
    assert float(ppo.kl_penalty_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]), kl, 2.0)) == \
        pytest.approx(-((1 - 0.2) + (2 - 0.6)) / 2)
    assert ppo.adapt_beta(1.0, 0.001, 0.01) == 0.5
    assert ppo.adapt_beta(1.0, 0.02, 0.01) == 2.0
    assert ppo.adapt_beta(1.0, 0.01, 0.01) == 1.0


# -- second-order machinery ----------------------------------------------------------------------------------

def test_conjugate_gradient_solves_spd_system():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(6, 6))
    A = torch.tensor(M @ M.T + np.eye(6))
    b = torch.tensor(rng.normal(size=6))
    x = conjugate_gradient(lambda v: A @ v, b, iters=20)
    assert torch.allclose(x, torch.linalg.solve(A, b), atol=1e-8)


def _tiny_policy_batch(seed=0):
    torch.manual_seed(seed)
    agent = MLPAgent(4, 3, hidden=(8,))
    obs = torch.randn(64, 4)
    actions = torch.randint(0, 3, (64,))
    return agent, obs, actions


def test_fisher_vector_product_is_the_hessian_of_the_kl():
    agent, obs, _ = _tiny_policy_batch()
    params = agent.policy_parameters()
    with torch.no_grad():
        old = agent.logits(obs)
    theta0 = flat_params(params)

    def kl_at(theta):
        set_flat_params(params, theta)
        return categorical_kl(old, agent.logits(obs)).mean()

    fvp = fisher_vector_product(lambda: categorical_kl(old, agent.logits(obs)).mean(), params, damping=0.0)
    v = torch.randn_like(theta0)
    # a central finite difference of ∇KL along v approximates H v
    eps = 1e-3
    grads = []
    for sign in (1, -1):
        set_flat_params(params, theta0 + sign * eps * v)
        kl = categorical_kl(old, agent.logits(obs)).mean()
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(kl, params)]))
    set_flat_params(params, theta0)
    hv = (grads[0] - grads[1]) / (2 * eps)
    assert torch.allclose(fvp(v), hv, rtol=1e-2, atol=1e-5)
    assert kl_at(theta0).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("delta", [0.001, 0.01, 0.05])
def test_trpo_step_satisfies_the_kl_bound(delta):
    agent, obs, actions = _tiny_policy_batch(1)
    adv = torch.randn(64, generator=torch.Generator().manual_seed(2))
    before = flat_params(agent.policy_parameters())
    info = trpo_step(agent, obs, actions, adv, delta, damping=0.0)
    assert info["accepted"] == 1.0
    assert 0 < info["kl"] <= delta
    # the quadratic model aims at δ: the full step's exact KL is of that order
    assert delta / 3 < info["kl_full_step"] < 3 * delta
    assert not torch.equal(before, flat_params(agent.policy_parameters()))
    assert info["improvement"] > 0


def test_cpo_direction_solves_the_qcqp():
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        M = rng.normal(size=(4, 4))
        H = M @ M.T + 0.5 * np.eye(4)
        g, b, c, delta = rng.normal(size=4), rng.normal(size=4), 0.3 * rng.normal(), 0.05
        v, w = np.linalg.solve(H, g), np.linalg.solve(H, b)
        a, bc, case = cpo_direction(float(g @ v), float(g @ w), float(b @ w), c, delta)
        x = a * v + bc * w
        seen.add(case)
        if case == "recovery":
            # no feasible point in the trust region: the step minimises the cost on its boundary
            assert c > math.sqrt(2 * delta * (b @ w)) - 1e-9
            assert 0.5 * x @ H @ x == pytest.approx(delta)
            continue
        cons = [{"type": "ineq", "fun": lambda y, c=c, b=b: -(c + b @ y)},
                {"type": "ineq", "fun": lambda y, H=H, d=delta: d - 0.5 * y @ H @ y}]
        best = scipy_opt.minimize(lambda y, g=g: -g @ y, np.zeros(4), constraints=cons, method="SLSQP",
                                  options={"ftol": 1e-12, "maxiter": 500})
        assert c + b @ x <= 1e-6 and 0.5 * x @ H @ x <= delta + 1e-6
        assert g @ x >= g @ best.x - 1e-5
    assert seen == {"trpo", "dual", "recovery"}


def test_pcpo_projection_lands_on_the_constraint():
    from studyforge.experiments.policy_gradient.constrained import LinearisedProblem
    from studyforge.experiments.policy_gradient.pcpo import PCPOConfig, pcpo_step

    rng = np.random.default_rng(3)
    M = rng.normal(size=(3, 3))
    H = torch.tensor(M @ M.T + np.eye(3))
    g, b = torch.tensor(rng.normal(size=3)), torch.tensor(rng.normal(size=3))
    v, w = torch.linalg.solve(H, g), torch.linalg.solve(H, b)
    for projection in ("kl", "l2"):
        param = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
        c = 0.5  # over the limit: the reward step must be projected back
        problem = LinearisedProblem([param], torch.zeros(3, dtype=torch.float64), v, w, float(g @ v),
                                    float(g @ w), float(b @ w), c, b, lambda: 0.0, lambda: 0.0, lambda: 0.0)
        info = pcpo_step(problem, PCPOConfig(delta=0.01, projection=projection))
        x = param.detach()
        assert info["projected"] == 1.0
        assert float(c + b @ x) == pytest.approx(0.0, abs=1e-9)


# -- curves ---------------------------------------------------------------------------------------------

def test_curve_helpers():
    from scipy import stats

    x = np.random.default_rng(0).normal(size=(9, 4))
    np.testing.assert_allclose(iqm(x), stats.trim_mean(x, 0.25, axis=0))
    lo, hi = bootstrap_ci(x)
    assert np.all(lo <= iqm(x)) and np.all(iqm(x) <= hi)
    assert smoothed(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    out = on_grid(np.array([10, 20]), np.array([1.0, 3.0]), np.array([5, 15, 25]), window=1)
    assert np.isnan(out[0]) and out[1:].tolist() == [1.0, 3.0]


def test_week4_third_environment_is_lunar_lander_and_trains():
    """Box2D is a dependency, so the comparison's third env is LunarLander-v3, and PPO runs on it."""
    from studyforge.experiments.policy_gradient.studies.algorithm_comparison import (
        ComparisonConfig,
        third_env,
    )

    assert third_env() == "LunarLander-v3"
    assert ComparisonConfig().envs == ["CartPole-v1", "Acrobot-v1", "LunarLander-v3"]
    result = ppo.train("LunarLander-v3", ppo.PPOConfig(num_envs=2, num_steps=64, update_epochs=1),
                       total_steps=512, seed=0)
    assert result.env_steps == 512
    assert result.agent.logits(torch.zeros(3, 8)).shape == (3, 4)  # 8 observations, 4 engines


@pytest.mark.parametrize(("study", "field", "known"), [
    ("algorithm_comparison", "algorithms", "ALGORITHMS"),
    ("variance_reduction_ablation", "variants", "VARIANTS"),
    ("constraint_satisfaction", "algorithms", "CONSTRAINT_ALGOS"),
])
def test_study_name_lists_refuse_unknown_and_empty_with_the_known_names(study, field, known):
    import importlib

    from studyforge.errors import ForgeError
    from studyforge.experiments import registry

    names = list(getattr(importlib.import_module(f"studyforge.experiments.policy_gradient.studies.{study}"), known))
    config = registry.get(f"policy_gradient.{study}").config
    for value, unknown in (("[]", []), (f'["{names[0]}", "nope"]', ["nope"])):
        with pytest.raises(ForgeError) as err:
            config.from_preset("quick", {field: value})
        assert f"unknown {field} {unknown}; known: {', '.join(names)}" in err.value.message
    assert getattr(config.from_preset("quick", {field: f'["{names[-1]}"]'}), field) == [names[-1]]
