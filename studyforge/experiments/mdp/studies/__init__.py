"""Week 1's registered studies, one module per study: `gridworld_solver` (value iteration on every environment:
value heatmaps with greedy-policy arrows, convergence curves, the optimal values) and
`value_vs_policy_iteration` (synchronous and in-place value iteration, policy iteration with exact and
iterative evaluation, modified policy iteration: sweeps, evaluation sweeps, wall time, greedy-policy success
rate), on the shared environment choice of `common`; their figures are drawn by `mdp.plots`.
"""
