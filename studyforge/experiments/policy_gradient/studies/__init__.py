"""The registered studies of weeks 4, 6 and 7, one module each: the policy-optimisation arsenal, actor-critic,
PPO.

Week 4: `algorithm_comparison` (REINFORCE, NPG, TRPO, PPO, GRPO on CartPole, Acrobot and a third env: IQM
learning curves with bootstrap bands over seeds), `variance_reduction_ablation` (the REINFORCE ladder from no
baseline to GAE: measured gradient-estimate variance on shared episodes, and learning curves),
`constraint_satisfaction` (KL per update against δ, episode cost against the limit on the constrained
CartPole) and `vtrace_correction` (actor–learner with lagging actors, V-trace vs no correction). Week 6:
`a2c_atari` (A2C on MinAtar Breakout, or ALE) and `a2c_vs_reinforce` (stability and sample efficiency). Week 7:
`ppo_clipping` (clip fraction, KL, ratio histograms, clip-range sensitivity) and `ppo_objective_comparison`
(clipped vs unclipped vs adaptive-KL PPO, TRPO as the reference). `common` holds the solve thresholds and the
summary of one group of seeded runs. Every study trains several independent runs (seeded `ctx.seed · 1000 + i`)
through `rl.jobs.run_jobs`, two at a time by default, and summarises them per group as an interquartile mean
with a bootstrap 95% CI; summary keys nest as env → algorithm → quantity, e.g. `cartpole_v1.ppo.final_return`.
Figures are `policy_gradient.plots` and the RL core's `rl.plots`.
"""
