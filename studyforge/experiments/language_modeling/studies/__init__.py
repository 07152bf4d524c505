"""Week 8's registered studies, one module per study: `train_small_lm` (one LLaMA-style model on characters or
week 2's BPE: loss and perplexity curves, bits per character, samples at several temperatures with quality
measures, saved as the run's `model` checkpoint for later weeks and `forge sample`),
`perplexity_vs_model_size` (≥ 4 sizes on the same tokens: perplexity against parameters, with a power-law
fit, and against training tokens) and `exposure_bias` (teacher forcing vs free running, scored token by
token by a larger judge model); `common` holds the corpus, model and budget they share,
`language_modeling.plots` the figures.
"""
