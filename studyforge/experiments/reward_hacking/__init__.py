"""Week 12: reward hacking and safety — Goodhart's law made visible ("when a measure becomes a target, it ceases
to be a good measure"): an optimiser given a proxy for what we want finds where the proxy and the want part ways.

- `gridworlds`  two small gymnasium environments whose shaped (proxy) reward can be farmed without doing the
                task — a respawning bonus tile beside the road to the goal, and a boat race whose respawning
                targets sit in a lagoon a short loop can circle (CoastRunners) — with their exact tabular models,
                scripted goal-reaching and farming policies, and week 7's PPO recording the true outcome of every
                training episode beside its proxy return
- `plots`       the figures: proxy return and true success against training steps, final agents against the
                scripted policies
- `studies/`    the registered study `reward_hacking.simple_environments`, in its own module
"""
