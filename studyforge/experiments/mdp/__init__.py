"""Week 1: MDP fundamentals — tabular dynamic programming, from scratch.

- `tabular`      finite MDPs as (S, A, S′) arrays; iterative policy evaluation (synchronous and in-place),
                 value iteration (synchronous and Gauss–Seidel), Howard's policy iteration, modified policy
                 iteration (Sutton & Barto ch. 3–4; Bellman 1957; Howard 1960; Puterman & Shin 1978)
- `envs`         S&B's 4×4 gridworld (Example 4.1), FrozenLake 4×4/8×8 and CliffWalking from gymnasium's own
                 transition tables, and mazes with walls and wind (S&B's windy gridworld, Example 6.5)
- `plots`        value heatmaps with greedy-policy arrows; convergence curves
- `studies`      the registered studies, one module each: `gridworld_solver`, `value_vs_policy_iteration`
"""
