"""Week 10: RLHF — PPO and GRPO on our own language models against a learned reward, with a KL leash.

One idea a module:

- `kl.py`         the per-token KL penalty, the k1/k2/k3 estimators, Ziegler et al.'s adaptive KL controller
- `rollout.py`    the policy with a value head, batched KV-cache sampling with a stop token, one rollout batch
- `ppo.py`        per-token rewards, masked token-level GAE, the PPO and GRPO updates (`RLHFTrainer`)
- `best_of_n.py`  best-of-n sampling, its analytic KL, and Gao et al.'s unbiased best-of-n estimator
- `reward.py`     the proxy reward (a week-9 reward model or ensemble, combined), the gold truth, training a proxy
- `studies/`      the week-10 studies (`studies/__init__.py` lists them)

Built on week 7 (`policy_gradient`: GAE, the clipped losses, GRPO's group advantages), week 8
(`transformer`, `language_modeling.generate`), week 4 (`preference_optimization.pairs`) and week 9 (`preference`:
gold rewards, annotators, reward models). Week 12 (`reward_hacking`) optimises the same proxy until it breaks.
"""
