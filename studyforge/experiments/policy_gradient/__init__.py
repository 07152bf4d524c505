"""Policy optimization from scratch: weeks 4, 6 and 7's algorithms and studies.

Environments, evaluation, learning curves, the training-run result and the process pool for a study's
runs are the RL core, `studyforge.experiments.rl`. What the algorithms here share:

- `networks`    orthogonally initialised MLP / MinAtar agents with a categorical policy and value heads.
- `storage`     fixed-length (T, N) rollouts with time-limit bootstrapping.
- `advantages`  `gae`, discounted returns-to-go, `normalize`.
- `vtrace`      IMPALA's V-trace targets.
- `trust_region` flat parameters, Fisher-vector products, conjugate gradient, backtracking line search.
- `core`        learning-rate schedules, explained variance, gradient clipping.
- `constrained` the linearised constrained problem and the loop shared by CPO and PCPO.
- `plots`       the figures only these studies draw (interval bars, ratio histograms, gradient variance,
                return against policy lag).

One module per algorithm, each readable top to bottom: `reinforce`, `npg`, `trpo`, `ppo`, `a2c`, `grpo`,
`cpo`, `pcpo`, `ppo_lagrangian`, `impala` (with `impala_processes` for real actor processes). The registered
studies are in `studies/`, one module each.
"""
