"""Week 15's registered studies, one module each: planning with a model, tabular and learned.

`dyna_q` runs Dyna-Q with n = 0, 5, 50 planning steps on the Dyna Maze (steps per episode averaged over runs,
against Sutton & Barto's Figure 8.2); `dyna_q_plus_shortcut` sets Dyna-Q against Dyna-Q+ on the blocking and
shortcut mazes (Figures 8.4, 8.5: cumulative reward as the world changes); `planning_vs_learning` puts a
learned ensemble dynamics model with MPC (random shooting, CEM) against model-free PPO on CartPole-v1 (env
steps to a return threshold); `model_error_vs_horizon` rolls the learned model out open-loop (prediction error
against the horizon — compounding error — per amount of training data, and whether the ensemble's spread
tracks its error). Summary keys nest as study part → setting → quantity, e.g. `n50.episodes_to_near_optimal`.
Figures are `model_based.plots`.
"""
