"""Week 10's studies (one module each; `common.py` is the reference, gold truth and proxy every study shares):

- `ppo_text_generation`   PPO against a learned reward: the training dynamics, the cost of an update, fixed β
                          against the adaptive KL controller
"""
