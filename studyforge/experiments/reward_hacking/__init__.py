"""Week 12: reward hacking and safety — Goodhart's law made visible ("when a measure becomes a target, it ceases
to be a good measure"): an optimiser given a proxy for what we want finds where the proxy and the want part ways.

- `gridworlds`        two small gymnasium environments whose shaped (proxy) reward can be farmed without doing
                      the task — a respawning bonus tile beside the road to the goal, and a boat race whose
                      respawning targets sit in a lagoon a short loop can circle (CoastRunners) — with their exact
                      tabular models, scripted goal-reaching and farming policies, and week 7's PPO recording the
                      true outcome of every training episode beside its proxy return
- `overoptimization`  Gao, Schulman & Hilton's functional forms R_BoN(d) = d(α − βd), R_RL(d) = d(α − β log d),
                      their least-squares fits and peaks, best-of-n curves, statistics of exploited text
- `plots`             the figures of every week-12 study
- `studies/`          the registered studies, one module each (`studies/__init__.py` lists them)

The language-model studies stand on week 10 (`rlhf`: the PPO trainer, best-of-n, the proxy/gold world of
`rlhf.studies.common`) and week 9 (`preference`: gold rewards, annotators, reward models and ensembles).
"""
