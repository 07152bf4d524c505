"""`value_based.rainbow_ablation`: the Rainbow agent with each of its six components removed in turn.

Hessel et al. (arXiv 1710.02298, Figure 3) found on Atari that prioritised replay and multi-step returns matter
most, distributional RL next, noisy nets and dueling less, Double DQN least. The same ablation on CartPole,
scored by sample efficiency (the area under the greedy-evaluation curve), with plain DQN as the floor.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from studyforge.experiments.config import ExperimentConfig, Seeds, Workers
from studyforge.experiments.keys import env_key
from studyforge.experiments.registry import register
from studyforge.experiments.rl.jobs import Job, run_jobs
from studyforge.experiments.value_based import dqn, plots
from studyforge.experiments.value_based.dqn import DQNConfig, rainbow_ablation
from studyforge.experiments.value_based.studies.common import SOLVED, dqn_summary


class AblationConfig(ExperimentConfig):
    env_id: str = Field("CartPole-v1", description="environment")
    total_steps: int = Field(25_000, ge=1, description="environment steps per run (Rainbow solves CartPole "
                                                       "by ~25k; most arms cost ~3× DQN per step)")
    seeds: Seeds = 1
    dqn: DQNConfig = Field(default_factory=DQNConfig, description="base hyperparameters (zoo CartPole DQN)")
    arms: list[str] = Field(default_factory=lambda: ["rainbow", "no_double", "no_dueling", "no_prioritized",
                                                     "no_n_step", "no_noisy", "no_distributional", "dqn"],
                            description="rainbow, no_<component> for each component, dqn")
    eval_every: int = Field(2_500, ge=1, description="env steps between evaluations")
    eval_episodes: int = Field(20, ge=1, description="episodes per evaluation")
    workers: Workers = 2

    presets: ClassVar = {
        "quick": {"total_steps": 1_000, "arms": ["rainbow", "no_noisy", "dqn"], "eval_every": 1_000,
                  "eval_episodes": 2, "workers": 1,
                  "dqn": {"learning_starts": 400, "train_freq": 200, "gradient_steps": 4, "hidden": [32, 32]}},
        "full": {"seeds": 5, "total_steps": 100_000, "eval_every": 5_000},
    }


@register("value_based.rainbow_ablation", week=14, config=AblationConfig,
          headline="cartpole_v1.rainbow.mean_eval_return")
def rainbow_ablation_study(ctx, cfg: AblationConfig) -> None:
    """Rainbow ablation: the full agent, then each of its six components removed in turn, and plain DQN.

    Hessel et al.'s Figure 3 on Atari found prioritised replay and multi-step returns the most important,
    distributional next, noisy nets and dueling smaller, Double the least. Here on CartPole each arm is
    scored by its mean evaluation return over training (area under the greedy-evaluation curve, a
    sample-efficiency measure), its final evaluation and the step it first solved the task; `drop_vs_rainbow`
    is how much removing the component costs.
    """
    all_arms = rainbow_ablation(cfg.dqn)
    unknown = [a for a in cfg.arms if a not in all_arms]
    if unknown:
        from studyforge.errors import ForgeError

        raise ForgeError(f"unknown ablation arms {unknown}", hint=f"use: {', '.join(all_arms)}")
    seeds = [ctx.seed * 1000 + i for i in range(cfg.seeds)]
    threshold = SOLVED.get(cfg.env_id)
    ek = env_key(cfg.env_id)
    jobs = [Job((ek, arm, f"s{s}"), dqn.train, cfg.env_id, all_arms[arm], cfg.total_steps, s,
                {"eval_every": cfg.eval_every, "eval_episodes": cfg.eval_episodes, "solve_threshold": threshold})
            for arm in cfg.arms for s in seeds]
    results = run_jobs(ctx, jobs, cfg.workers, "Rainbow ablation", every=2048)
    by_arm = {arm: [results[(ek, arm, f"s{s}")] for s in seeds] for arm in cfg.arms}
    summary = {arm: dqn_summary(rs, threshold) for arm, rs in by_arm.items()}
    if "rainbow" in summary:
        ref = summary["rainbow"]["mean_eval_return"]
        for _arm, s in summary.items():
            s["drop_vs_rainbow"] = ref - s["mean_eval_return"]
    ctx.summary(**{ek: summary})
    ctx.log_table("rainbow_ablation", [{"arm": a, **{k: v for k, v in s.items() if not isinstance(v, list)}}
                                       for a, s in summary.items()],
                  caption="Rainbow with one component removed: mean/final evaluation return, solve step.")
    ctx.log_figure("ablation_evaluation_curves", plots.evaluation_curves(
        by_arm, cfg.total_steps, f"{cfg.env_id}: Rainbow ablation (greedy evaluation)", threshold),
        caption="Greedy-policy evaluation return of each ablation arm against env steps.")
    ctx.log_figure("ablation_auc", plots.ablation_auc(summary, cfg.env_id),
                   caption="Sample efficiency per arm: evaluation return averaged over every evaluation of the run.")
