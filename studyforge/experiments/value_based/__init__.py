"""Week 14: value-based RL, from tabular Q-learning to DQN and Rainbow, from scratch.

- `tabular`         Q-learning and SARSA on week 1's gridworlds (their values land on value iteration's V*)
- `replay`          uniform experience replay (ring buffer in torch tensors)
- `nstep`           n-step returns, with correct handling of terminations and time-limit truncations
- `prioritized`     proportional prioritised replay on a sum tree, importance-sampling weights (arXiv 1511.05952)
- `double`          Double-DQN targets (arXiv 1509.06461)
- `dueling`         the dueling value/advantage combination (arXiv 1511.06581)
- `noisy`           factorised-Gaussian noisy linear layers (arXiv 1706.10295)
- `distributional`  C51: support, projection of the distributional Bellman target, cross-entropy (arXiv 1707.06887)
- `networks`        `QNetwork`: MLP or MinAtar torso with any combination of dueling / noisy / C51 heads
- `dqn`             the DQN training loop (arXiv 1312.5602) with six switches = Rainbow (arXiv 1710.02298)
- `runs`            independent runs in parallel processes (the policy-gradient package's `jobs`, for any
                    training function)
- `experiments`     the registered studies `value_based.dqn_variants`, `value_based.rainbow_ablation`,
                    `value_based.sample_efficiency_vs_policy_methods`

Environments, seeding, evaluation, learning-curve statistics and the PPO/A2C it is compared with come from
`studyforge.experiments.policy_gradient`; gridworlds and value iteration from `studyforge.experiments.mdp`.
"""
