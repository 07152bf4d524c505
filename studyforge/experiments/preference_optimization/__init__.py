"""Week 4, second half: preference optimization from human-style comparisons, without a reward model.

- `losses`       DPO (with conservative label smoothing), IPO, SimPO and KTO, each from its paper's equation,
                 on sequence log-probabilities (arXiv:2305.18290, 2310.12036, 2405.14734, 2402.01306)
- `bandit`       the known answers: DPO's optimum π_ref·exp(r/β) and IPO's π_ref·exp((p(y ≻ μ) − ½)/τ) on a
                 K-response bandit, reached by minimising the losses as written
- `pairs`        preference data for week 8's language models: completions sampled from the reference,
                 scored by a known reward, labelled by a Bradley–Terry annotator; sequence log-probs
- `plots`        the study's figure: ranking over training, implicit rewards, reward against KL
- `studies/`     the registered study `preference_optimization.method_comparison`, in its own module
"""
