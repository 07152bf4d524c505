"""Week 14's registered studies, one module each: from tabular Q-learning to DQN and Rainbow, and against the
policy methods.

`dqn_variants` is the bridge from week 1 (tabular Q-learning and SARSA against value iteration's V*, S&B's
cliff), then DQN and each improvement added alone on CartPole-v1 and on one MinAtar game; `rainbow_ablation`
is the Rainbow agent with one component removed at a time (Hessel et al., Figure 3), and plain DQN;
`sample_efficiency_vs_policy_methods` sets DQN against weeks 4–7's PPO and A2C (their code, their tuned
CartPole settings) on the same environment and step budget. `common` holds the solve thresholds and the
evaluation-based summary of a DQN variant's seeds. Runs are seeded `ctx.seed · 1000 + i` and run two at a time
(`rl.jobs.run_jobs`). DQN agents are judged by their *evaluation* returns (the greedy policy, 20 fresh episodes
every `eval_every` steps): "solved" is the first evaluation with a mean ≥ 475, CartPole-v1's threshold. Sample
efficiency across algorithm families is read off the training episodes instead (every method has those): the
env steps at which the mean return of the last 10 training episodes first reaches a level
(`rl.curves.steps_to_threshold`). Summary keys nest as env → variant → quantity:
`cartpole_v1.double.first_solved_step`. Figures are `value_based.plots` and the RL core's `rl.plots`.
"""
