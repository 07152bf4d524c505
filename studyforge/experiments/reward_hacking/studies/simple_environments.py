"""`reward_hacking.simple_environments`: specification gaming in two gridworlds — PPO learns to farm the proxy.

Amodei et al., 2016 ("Concrete Problems in AI Safety", arXiv 1606.06565, §4) call it reward hacking; Clark &
Amodei's CoastRunners boat (OpenAI, 2016) is its picture: a shaped reward that pays for something usually on
the way to the task — a bonus tile, a target on the course — pays more, over a long enough episode, for
collecting it again and again than for the task. The environments, their exact reward rules and why the exploit
exists are `reward_hacking.gridworlds`.

For each environment the study
1. computes the known answers: the proxy return and true success of a scripted goal-reaching policy and a
   scripted farming policy, the exact optimum of the proxy MDP and of the true MDP (policy iteration on the
   environment's own tabular model, at PPO's γ), and the discount factor above which the proxy's optimum farms;
2. trains week 7's PPO, unchanged, on the proxy reward (several seeds), recording every training episode's true
   success beside its proxy return, and as the control on the true reward — by default with Ng et al.'s
   potential-based shaping γΦ(s') − Φ(s) added (Φ = −steps to go / steps from the start), which provably keeps
   the true reward's optimal policies; the bare sparse reward (`control_reward=true`) is the harder control;
3. evaluates each final agent (its most probable action in every state, and sampled episodes) under both
   rewards, and logs what it does as a drawn path.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Smoothing, Workers, names_in
from studyforge.experiments.policy_gradient.ppo import PPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.reward_hacking import gridworlds as gw
from studyforge.experiments.reward_hacking import plots
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.jobs import Job, run_jobs, single_thread


class GridPPOConfig(PPOConfig):
    """Week 7's PPO with settings for these small gridworlds: a long horizon (γ = 0.99: the proxy's optimum farms
    above γ ≈ 0.974 on the coin farm and ≈ 0.939 on the boat race), 4 epochs of two 256-sample minibatches per
    512-step rollout (the CartPole defaults' 20 epochs of one cost 3× the time here for no faster learning) and
    a larger step size (2.5e-3: at 8k steps the boat's proxy agent farms in 4 of 4 seeds, against 0 of 2 at
    1e-3)."""

    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ (also the exact solutions' and Φ's)")
    num_steps: int = Field(64, ge=1, description="steps per environment per rollout (batch = envs × steps)")
    update_epochs: int = Field(4, ge=1, description="passes over each batch")
    learning_rate: float = Field(2.5e-3, gt=0, description="Adam step size (start value when annealed)")


class SimpleEnvironmentsConfig(ExperimentConfig):
    envs: Annotated[list[str], names_in(gw.ENVS, "environments")] = Field(
        default_factory=lambda: list(gw.ENVS), description="gridworlds to study (coin_farm, boat_race)")
    total_steps: int = Field(20_000, ge=1, description="environment steps per PPO run")
    seeds: Seeds = 3
    control_reward: Literal["true", "potential"] = Field(
        "potential", description="the control's reward: the true one, bare (sparse) or with potential-based shaping")
    ppo: GridPPOConfig = Field(default_factory=GridPPOConfig, description="PPO hyperparameters")
    eval_episodes: int = Field(20, ge=1, description="sampled evaluation episodes per final agent")
    grid_points: GridPoints = 25
    smoothing: Smoothing = 20
    workers: Workers = 2
    presets: ClassVar = {
        "quick": {"total_steps": 6_000, "seeds": 1, "workers": 1, "grid_points": 6, "eval_episodes": 5},
        "full": {"total_steps": 60_000, "seeds": 10},
    }


@register("reward_hacking.simple_environments", week=12, config=SimpleEnvironmentsConfig,
          headline="coin_farm.ppo_proxy.exploit_share")
def simple_environments(ctx, cfg: SimpleEnvironmentsConfig) -> None:
    """Specification gaming in two gridworlds: proxy return rises while the task's success falls.

    Per environment: the scripted goal-reaching and farming policies and the exact optima of the proxy and the
    true MDP (the known answers); PPO on the proxy and the control PPO on the true reward, `seeds` runs each,
    with the proxy return and the true success of every training episode; each final agent evaluated under both
    rewards. Summary: the exploit's gap (farming − goal-reaching), the trained agents' proxy return and success
    with bootstrap CIs over seeds, and the share of seeds whose greedy agent farms (beats the goal-reaching
    policy on the proxy without completing the task).
    """
    gamma = cfg.ppo.gamma
    kinds = {"proxy": "proxy", "control": cfg.control_reward}
    jobs = [Job((env, kind, s), gw.train_ppo, gw.ENVS[env], cfg.ppo, cfg.total_steps, ctx.seed * 1000 + s,
                {"env_kwargs": {"reward": reward, "gamma": gamma}})
            for env in cfg.envs for kind, reward in kinds.items() for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "PPO runs", lambda j: f"{j.key[0]}/{j.key[1]}/s{j.key[2]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    behaviour, plane = [], {}

    for env in cfg.envs:
        env_id = gw.ENVS[env]
        task = gw.make_task(env_id)
        known = known_answers(env_id, gamma)
        goal, farm = known["scripted"]["goal"], known["scripted"]["farm"]
        ctx.summary(**{env: {"scripted": {name: _outcome(o) for name, o in known["scripted"].items()},
                             "exact": known["exact"],
                             "exploit_gap": {
                                 "proxy_return": farm.proxy_return - goal.proxy_return,
                                 "success": float(goal.success) - float(farm.success),
                                 "discounted_value": known["values"]["farm"] - known["values"]["goal"]}}})
        for name, o in known["scripted"].items():
            behaviour.append(_row(task, env, f"scripted {name}", o))
        for name, o in known["optima"].items():
            behaviour.append(_row(task, env, f"exact optimum of the {name} reward", o))
        points = [(f"scripted {n}", o.proxy_return, float(o.success), "scripted")
                  for n, o in known["scripted"].items()]
        points += [(f"optimum of {n}", o.proxy_return, float(o.success), "exact") for n, o in known["optima"].items()
                   if n != "true"]  # the true optimum is the scripted goal policy's point

        curve_groups = {}
        for kind, reward in kinds.items():
            runs = [results[(env, kind, s)] for s in range(cfg.seeds)]
            label = "PPO on the proxy" if kind == "proxy" else \
                "PPO on the true reward" + (" + Φ shaping" if reward == "potential" else "") + " (control)"
            proxy_curves = [curves.on_grid(r.episode_steps, r.extras["proxy_return"], grid, cfg.smoothing)
                            for r in runs]
            success_curves = [curves.on_grid(r.episode_steps, r.extras["success"], grid, cfg.smoothing)
                              for r in runs]
            curve_groups[label] = {"proxy": proxy_curves, "success": success_curves}
            for s, (pc, sc) in enumerate(zip(proxy_curves, success_curves, strict=True)):
                for step, p, q in zip(grid, pc, sc, strict=True):
                    if np.isfinite(p):
                        ctx.log({f"{env}/{kind}/s{s}/charts/proxy_return": float(p),
                                 f"{env}/{kind}/s{s}/charts/true_success": float(q)}, step=int(step))
            with single_thread():  # batch-of-one forward passes: extra threads only wait on each other
                greedy = [gw.play_agent(env_id, r.agent, deterministic=True) for r in runs]
                sampled = [[gw.play_agent(env_id, r.agent, deterministic=False, seed=1_000 + e)
                            for e in range(cfg.eval_episodes)] for r in runs]
            farms = [g.proxy_return > goal.proxy_return and not g.success for g in greedy]
            ctx.summary(**{env: {f"ppo_{kind}": {
                "reward": reward,
                "proxy_return": curves.interval([np.mean([o.proxy_return for o in ep]) for ep in sampled]),
                "success": curves.interval([np.mean([o.success for o in ep]) for ep in sampled]),
                "bonuses": float(np.mean([o.bonuses for ep in sampled for o in ep])),
                "greedy_proxy_return_per_seed": [g.proxy_return for g in greedy],
                "greedy_success_per_seed": [float(g.success) for g in greedy],
                "training_success_peak": float(np.mean([np.nanmax(c) for c in success_curves])),
                "training_success_final": float(np.mean([c[-1] for c in success_curves])),
                "training_proxy_final": float(np.mean([c[-1] for c in proxy_curves])),
                "exploit_learned": f"{sum(farms)}/{len(farms)}",
                "exploit_share": sum(farms) / len(farms)}}})
            behaviour.append(_row(task, env, f"PPO {kind} s0 (greedy)", greedy[0]))
            points += [(f"PPO {kind} s{s}", float(np.mean([o.proxy_return for o in ep])),
                        float(np.mean([o.success for o in ep])), kind) for s, ep in enumerate(sampled)]
        plane[env] = points
        s = ctx.summary_values[env]
        ctx.summary(**{env: {"ppo_gap": {
            "proxy_over_goal": s["ppo_proxy"]["proxy_return"]["iqm"] - goal.proxy_return,
            "success_below_control": s["ppo_control"]["success"]["iqm"] - s["ppo_proxy"]["success"]["iqm"]}}})
        refs = {name: {"proxy": o.proxy_return, "success": float(o.success)} for name, o in known["scripted"].items()}
        ctx.log_figure(f"{env}_proxy_and_success", plots.proxy_and_success(
            grid, curve_groups, refs, f"{env.replace('_', ' ')}: trained on the proxy, scored on the task"),
            caption=f"{env}: proxy return and true success of the training episodes (smoothed over "
                    f"{cfg.smoothing} episodes), each of {cfg.seeds} seeds thin and their mean thick; dashed: "
                    f"the scripted goal-reaching and farming policies.")

    ctx.log_figure("goodhart_plane", plots.goodhart_plane(plane),
                   caption=f"Proxy return against true success ({cfg.eval_episodes} sampled episodes per final "
                           f"agent): scripted policies, the proxy MDP's exact optimum and every trained seed.")
    ctx.log_table("behaviour", behaviour,
                  caption="What each policy does in one episode: its path drawn on the grid (* visited, @ last "
                          "cell, B×n / T×n visits to a bonus tile or target), bonuses collected, finished or not.")


def known_answers(env_id: str, gamma: float) -> dict:
    """The scripted policies' episodes and discounted values, and the exact optima of the proxy and true MDPs."""
    proxy_model = gw.make_task(env_id, reward="proxy").tabular()
    true_model = gw.make_task(env_id, reward="true").tabular()
    task = gw.make_task(env_id)
    scripted = {name: make(task) for name, make in gw.SCRIPTED.items()}
    optima = {}
    exact = {"states": len(proxy_model.states), "farming_threshold_gamma": gw.farming_threshold(env_id)}
    for name, model in (("proxy", proxy_model), ("true", true_model)):
        solution = model.solve(gamma)
        optima[name] = gw.play_policy(env_id, model.as_policy(solution.policy))
        exact[f"{name}_optimum"] = {**_outcome(optima[name]), "start_value": float(solution.values[0])}
    return {"scripted": {name: gw.play_policy(env_id, p) for name, p in scripted.items()},
            "values": {name: proxy_model.start_value(p, gamma) for name, p in scripted.items()},
            "optima": optima, "exact": exact}


def _outcome(o: gw.Outcome) -> dict:
    return {"proxy_return": o.proxy_return, "success": float(o.success), "bonuses": o.bonuses, "steps": o.steps}


def _row(task: gw.GridTask, env: str, agent: str, o: gw.Outcome) -> dict:
    return {"env": env, "agent": agent, "proxy_return": round(o.proxy_return, 2), "finished": bool(o.success),
            "bonuses": o.bonuses, "steps": o.steps, "path": task.draw(o.cells)}
