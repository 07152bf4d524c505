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
- `plots`           the figures only these studies draw (greedy-evaluation curves, the cliff walk, ablation bars)
- `studies/`        the registered studies, one module each: `value_based.dqn_variants`,
                    `value_based.rainbow_ablation`, `value_based.sample_efficiency_vs_policy_methods`

Environments, evaluation, learning-curve statistics and the process pool of a study's runs come from the RL
core, `studyforge.experiments.rl`; the PPO and A2C it is compared with from `studyforge.experiments.policy_gradient`;
gridworlds and value iteration from `studyforge.experiments.mdp`.
"""
