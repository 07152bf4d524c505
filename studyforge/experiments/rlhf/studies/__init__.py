"""Week 10's studies (one module each; `common.py` is the reference, gold truth and proxy every study shares):

- `ppo_text_generation`   PPO against a learned reward: the training dynamics, held-out gains, samples, the cost of
                          an update, fixed β against the adaptive KL controller
- `kl_reward_tradeoff`    the KL–reward frontier: PPO at a sweep of fixed β and with the adaptive KL controller, proxy
                          and gold on held-out prompts against KL (one point per (β, update)), the frontier and its
                          peak
- `algorithm_comparison`  PPO vs GRPO vs best-of-n at equal KL; PPO without the KL penalty, with a tiny β and
                          without the value warm start (with text samples and degeneracy measures); the cost of an
                          update or a best-of-n response
"""
