"""Week 9's registered studies, one module each (shared set-up in `common`):

- `preference_learning_algorithms`  pairwise vs listwise reward models (PL on K-way rankings, BT on implied
                                    pairs, BT on one pair) and their tabular twins against planted strengths;
                                    Elo vs BT-MLE ratings of week-8 snapshots against gold; reward models under
                                    three weightings of the two conflicting golds
- `reward_model_ensembles`          shared vs separate towers, seed and bootstrap ensembles and whether their
                                    disagreement flags errors, calibration, scaling with backbone and data size;
                                    saves the reward model weeks 10–12 load
- `dataset_quality`                 the quality toolkit on synthetic data at known noise rates (does its estimate
                                    track the truth?), robustness to label noise, active elicitation curves;
                                    any file with `--set data=PATH_or_hf:NAME`
- `constitutional_preferences`      an AI judge (Claude, or an offline code judge) labels pairs against a written
                                    constitution: agreement with gold, position bias, cost per 1k labels, reward
                                    models on AI vs gold vs noisy labels, and self-rewarding DPO rounds
"""
