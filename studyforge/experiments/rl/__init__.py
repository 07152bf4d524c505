"""The RL core: what every reinforcement-learning week shares (weeks 4, 6, 7, 14, 15; 10 and 12 next).

An algorithm package (`policy_gradient`, `value_based`, `model_based`, …) holds its algorithms and its studies
and imports the rest from here; nothing here imports an algorithm package.

- `envs`        one factory for every environment id (gymnasium, the constrained CartPole of week 4, MinAtar,
                ALE), and the vector env with same-step autoreset the rollouts step.
- `episodes`    complete episodes of a list of environments under one policy (batched forward passes).
- `evaluation`  N fresh evaluation episodes of a final agent, greedy or sampled; the random policy's return.
- `training`    what a training function shares around its loop: the `AlgoConfig` base, the `Recorder` of
                episodes and update diagnostics, the `TrainResult` it returns.
- `curves`      learning curves on a common step grid: interquartile mean, bootstrap confidence bands, steps
                to a return threshold.
- `plots`       the figures against environment steps: learning curves with bands, per-update diagnostics.
- `jobs`        a study's many independent, seeded runs: one `Job`, one runner (`run_jobs`) with a process
                pool and a progress bar, replaying each run into `ctx.log`.

Seeding is `studyforge.tracking.context.seed_everything` (the runner's own, which every training function calls
first with its run's seed); a study's runs are seeded `ctx.seed · 1000 + i`. Summary-key names
(`env_key`, `num_key`, `gamma_key`) are `studyforge.experiments.keys`, shared with the other topics.
"""
