"""Week 9: the preference-learning landscape — ranking models, reward models with uncertainty, active
elicitation, AI feedback and the quality of preference data, every figure measured against a truth.

- `gold`           the known truths: gold rewards written in code (`style` = vowel share, week 4's reward;
                   `fluency` = real words of the corpus), which partly conflict
- `data`           K completions per prompt from a week-8 model, gold-scored; Bradley–Terry and Plackett–Luce
                   annotators with a known noise level and injected flips; `PairData`, `RankingData`
- `ranking`        Bradley–Terry (margin, reward centering, label smoothing) and Plackett–Luce losses; Elo in
                   Chatbot Arena's battle format; BT maximum-likelihood ratings with bootstrap intervals
- `calibration`    expected calibration error, reliability bins, Brier score, log loss
- `reward_model`   a scalar head on a week-8 transformer: shared or separate towers, the one training loop,
                   ensembles, batched scoring, `studyforge.rm/1` checkpoints and `load_reward_model`
- `tabular`        BT / PL scores fitted per item to planted strengths: pairwise vs listwise without a network
- `arena`          week-8 checkpoints battle, judged on a gold reward; Elo vs BT-MLE against the truth
- `elicitation`    pool-based active learning: random, ensemble disagreement, predictive entropy, BALD
- `judge`          a written constitution (templates/constitution.md), Claude as judge through the project's
                   client, the offline code judge, position bias and cost per 1,000 labels
- `formats`        HH-RLHF, TRL (prompt/chosen/rejected) and KTO (prompt/completion/label) files, local or
                   `hf:NAME`, streamed; writers for the same formats
- `quality`        the dataset-quality toolkit behind `forge prefs inspect`: duplicates (MinHash LSH), length
                   bias, agreement, estimated label noise, per-source statistics, in one streaming pass
- `plots`          the studies' figures
- `studies/`       the four registered studies, one module each

Weeks 10–12 use this week's reward models as their proxies:

    from studyforge.experiments.preference.reward_model import load_reward_model
    rm, tokenizer, meta = load_reward_model("runs/week09/preference.reward_model_ensembles/<run-id>")
    rewards = rm.reward(prompts, completions)          # (B,) — an ensemble's mean; rm.rewards(...) per member
"""
