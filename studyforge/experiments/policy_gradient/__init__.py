"""Policy optimization from scratch: the RL core shared by weeks 4, 6, 7 (and reused by later weeks).

The shared core (import these; each is documented where it is defined):

- `envs`        environment factories: gymnasium ids, a vector env with same-step autoreset, the constrained
                CartPole of the week-4 constraint study, MinAtar games, ALE games (with `ale-py`).
- `networks`    orthogonally initialised MLP / MinAtar agents with a categorical policy and value heads.
- `storage`     fixed-length (T, N) rollouts with time-limit bootstrapping, and complete-episode collection.
- `advantages`  `gae`, discounted returns-to-go, `normalize`.
- `vtrace`      IMPALA's V-trace targets.
- `trust_region` flat parameters, Fisher-vector products, conjugate gradient, backtracking line search.
- `evaluation`  N evaluation episodes, deterministic or stochastic.
- `curves`      learning curves on a common grid: interquartile mean and bootstrap confidence bands.
- `core`        `TrainResult`, the metric recorder every algorithm logs through, seeding.
- `constrained` the linearised constrained problem and the loop shared by CPO and PCPO.
- `jobs`        many seeded runs of a study, in parallel processes; replaying their logs into a study.
- `plots`       the studies' figures.

One module per algorithm, each readable top to bottom: `reinforce`, `npg`, `trpo`, `ppo`, `a2c`, `grpo`,
`cpo`, `pcpo`, `ppo_lagrangian`, `impala` (with `impala_processes` for real actor processes). The registered
studies are in `experiments`.
"""
