"""Week 15: model-based RL — Dyna with a tabular model, and planning with a learned neural model.

- `mazes`         Sutton & Barto's Dyna Maze (Example 8.1), blocking and shortcut mazes (Examples 8.2, 8.3), in
                  week 1's maze format with the book's +1-at-the-goal reward
- `dyna`          tabular Dyna-Q and Dyna-Q+ (S&B §8.2–8.3), static and changing mazes
- `dynamics`      an ensemble of small MLPs predicting the state change (arXiv 1708.02596, 1802.10592,
                  1805.12114), batched as one network; open-loop rollouts
- `mpc`           model-predictive control by random shooting and the cross-entropy method, and the full
                  model-based loop (random data → fit → plan an episode → refit)
- `plots`         the figures of these studies
- `studies/`      the registered studies, one module each: `model_based.dyna_q`, `model_based.dyna_q_plus_shortcut`,
                  `model_based.planning_vs_learning`, `model_based.model_error_vs_horizon`
"""
