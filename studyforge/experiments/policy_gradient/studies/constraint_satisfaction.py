"""`policy_gradient.constraint_satisfaction`: how well trust-region and constrained methods keep their constraints.

Two constraints. The KL of each update against the trust-region radius δ: NPG (Kakade, 2001) trusts its
quadratic model, TRPO (arXiv 1502.05477) and CPO (Achiam et al., arXiv 1705.10528) line-search until the exact
KL ≤ δ, PCPO (Yang et al., arXiv 2010.03152) bounds it only after its projection. And the episode cost against
the limit d on the constrained CartPole, for CPO, PCPO (KL and L2 projections) and PPO-Lagrangian (Ray et al.,
2019); NPG and TRPO ignore the cost and show what an unconstrained learner spends.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, GridPoints, Seeds, Smoothing, Workers, names_in
from studyforge.experiments.policy_gradient import cpo, npg, pcpo, ppo_lagrangian, trpo
from studyforge.experiments.policy_gradient.constrained import ConstrainedConfig
from studyforge.experiments.policy_gradient.cpo import CPOConfig
from studyforge.experiments.policy_gradient.npg import NPGConfig
from studyforge.experiments.policy_gradient.pcpo import PCPOConfig
from studyforge.experiments.policy_gradient.ppo_lagrangian import PPOLagrangianConfig
from studyforge.experiments.policy_gradient.studies.common import THRESHOLDS, group_summary
from studyforge.experiments.policy_gradient.trpo import TRPOConfig
from studyforge.experiments.registry import register
from studyforge.experiments.rl import curves
from studyforge.experiments.rl.envs import CONSTRAINED_CARTPOLE
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.rl.plots import learning_curves, per_update

CONSTRAINT_ALGOS = {"npg": npg.train, "trpo": trpo.train, "cpo": cpo.train, "pcpo_kl": pcpo.train,
                    "pcpo_l2": pcpo.train, "ppo_lagrangian": ppo_lagrangian.train}


class ConstraintConfig(ExperimentConfig):
    band: float = Field(0.2, gt=0, description="half-width of the central band of the constrained CartPole")
    cost_limit: float = Field(25.0, ge=0, description="d: allowed cost (steps outside the band) per episode")
    algorithms: Annotated[list[str], names_in(CONSTRAINT_ALGOS, "algorithms")] = Field(
        default_factory=lambda: list(CONSTRAINT_ALGOS),
        description=f"methods, from {', '.join(CONSTRAINT_ALGOS)} "
                    "(npg and trpo ignore the cost: the unconstrained reference)")
    total_steps: int = Field(100_000, ge=1, description="environment steps per run")
    seeds: Seeds = 3
    constrained: ConstrainedConfig = Field(
        default_factory=ConstrainedConfig,
        description="CPO/PCPO hyperparameters (cost_limit is set from above)")
    trpo: TRPOConfig = Field(default_factory=lambda: TRPOConfig(num_steps=256),
                             description="TRPO hyperparameters")
    npg: NPGConfig = Field(default_factory=lambda: NPGConfig(num_steps=256),
                           description="NPG hyperparameters")
    ppo_lagrangian: PPOLagrangianConfig = Field(
        default_factory=lambda: PPOLagrangianConfig(lagrangian_lr=0.002),
        description="PPO-Lagrangian hyperparameters (cost_limit is set from above)")
    grid_points: GridPoints = 40
    smoothing: Smoothing = 10
    workers: Workers = 2
    presets: ClassVar = {
        "quick": {"total_steps": 2_048, "seeds": 1, "workers": 1, "grid_points": 5,
                  "algorithms": ["trpo", "cpo", "pcpo_kl", "ppo_lagrangian"],
                  "constrained": {"num_steps": 64}, "trpo": {"num_steps": 64},
                  "ppo_lagrangian": {"update_epochs": 2}},
        "full": {"total_steps": 500_000, "seeds": 10},
    }


def _constraint_cfg(cfg: ConstraintConfig, algo: str):
    if algo in ("cpo", "pcpo_kl", "pcpo_l2"):
        values = {**cfg.constrained.model_dump(), "cost_limit": cfg.cost_limit}
        if algo == "cpo":
            return CPOConfig(**values)
        return PCPOConfig(**values, projection="kl" if algo == "pcpo_kl" else "l2")
    if algo == "ppo_lagrangian":
        return cfg.ppo_lagrangian.model_copy(update={"cost_limit": cfg.cost_limit})
    return getattr(cfg, algo)


@register("policy_gradient.constraint_satisfaction", week=4, config=ConstraintConfig,
          headline="cpo.final_cost")
def constraint_satisfaction(ctx, cfg: ConstraintConfig) -> None:
    """How well trust-region and constrained methods keep their constraints.

    Two constraints: the KL of each update against the trust-region radius δ (NPG trusts its quadratic
    model, TRPO and CPO line-search until the exact KL ≤ δ, PCPO bounds it only after its projection), and
    the episode cost against the limit d on the constrained CartPole (a cost of 1 for every step with the
    cart outside |x| ≤ band). NPG and TRPO ignore the cost and show what an unconstrained learner spends.
    """
    env_kwargs = {"band": cfg.band}
    jobs = [Job((algo, s), CONSTRAINT_ALGOS[algo], CONSTRAINED_CARTPOLE, _constraint_cfg(cfg, algo),
                cfg.total_steps, ctx.seed * 1000 + s, kwargs={"env_kwargs": env_kwargs})
            for algo in cfg.algorithms for s in range(cfg.seeds)]
    results = run_jobs(ctx, jobs, cfg.workers, "training runs", lambda j: f"{j.key[0]}/s{j.key[1]}/")
    grid = curves.step_grid(cfg.total_steps, cfg.grid_points)
    cost_groups, return_groups, kl_series, rows = {}, {}, {}, []
    for algo in cfg.algorithms:
        runs = [results[(algo, s)] for s in range(cfg.seeds)]
        cost_groups[algo] = [r.curve(grid, cfg.smoothing, costs=True) for r in runs]
        ctx.save_checkpoint(f"constrained_cartpole.{algo}", runs[0].agent.state_dict())
        return_groups[algo] = [r.curve(grid, cfg.smoothing) for r in runs]
        delta = getattr(_constraint_cfg(cfg, algo), "delta", None)
        entry: dict[str, Any] = {**group_summary(runs, THRESHOLDS[CONSTRAINED_CARTPOLE])}
        final_cost = curves.interval([r.final_cost() for r in runs])
        entry["final_cost"] = final_cost["iqm"]
        entry["final_cost_ci95"] = [final_cost["lo"], final_cost["hi"]]
        # the second half of training: how often an episode broke the limit
        late = np.concatenate([r.episode_costs[r.episode_steps > cfg.total_steps // 2] for r in runs])
        entry["frac_episodes_over_limit_late"] = float((late > cfg.cost_limit).mean()) if len(late) else None
        kls = np.concatenate([r.update_series("losses/kl_moved")[1] for r in runs])
        if len(kls):
            entry["kl_mean"], entry["kl_max"] = float(kls.mean()), float(kls.max())
            entry["kl_p95"] = float(np.percentile(kls, 95))
            if delta is not None:
                kl_series[algo] = [r.update_series("losses/kl_moved") for r in runs]
                entry["delta"] = delta
                entry["frac_updates_kl_over_delta"] = float((kls > delta * (1 + 1e-6)).mean())
        for flag in ("cpo/recovery", "cpo/constraint_active", "pcpo_kl/projected", "pcpo_l2/projected"):
            if flag.split("/")[0] == algo:
                entry[flag.split("/")[1] + "_frac"] = float(np.mean(np.concatenate(
                    [r.update_series(flag)[1] for r in runs])))
        if algo == "ppo_lagrangian":
            entry["final_lambda"] = float(np.mean([r.update_series("lagrangian/lambda")[1][-1]
                                                   for r in runs]))
        ctx.summary(**{algo: entry})
        rows.append({"algorithm": algo, **{k: v for k, v in entry.items() if not isinstance(v, list)}})
    ctx.summary(cost_limit=cfg.cost_limit, band=cfg.band, delta=cfg.constrained.delta)
    ctx.log_table("constraint_satisfaction", rows,
                  caption="Per method: final return and cost (IQM over seeds), share of late episodes over "
                          "the cost limit, KL per update against δ.")
    if kl_series:
        ctx.log_figure("kl_per_update", per_update(
            kl_series, "KL(π_old ‖ π_new) of every update", "mean KL over the batch",
            hline=cfg.constrained.delta, hline_label="δ", logy=True),
            caption="Exact mean KL between consecutive policies, every update of every run; dashed: the "
                    "trust-region radius δ.")
    ctx.log_figure("episode_cost", learning_curves(
        grid, cost_groups, "Episode cost (steps outside the band)", ylabel="cost per episode",
        hline=cfg.cost_limit, hline_label="limit d"),
        caption=f"Cost of training episodes, IQM over {cfg.seeds} seeds with 95% bootstrap bands; dashed: "
                "the limit.")
    ctx.log_figure("episode_return", learning_curves(grid, return_groups, "Episode return"),
                   caption="Return of the same training episodes.")
