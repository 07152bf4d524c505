"""Week 3's registered studies, one module per study: `variants_vs_reference` (every variant against torch's
SDPA: the error of each exact one, and how Performer and Linformer converge with size), `memory_and_speed`
(peak memory and time against sequence length, with log-log complexity slopes), `length_extrapolation` (one
small character-level LM per positional encoding, evaluated at 1×, 2×, 4×, 8× its training length) and
`pattern_analysis` (a trained model's attention maps, per-head entropy and distance, head importance and the
pruning curve); `common` holds the corpus the two language-model studies read, `attention.plots` the figures.
"""
