"""Week 5: a modular transformer whose parts are swapped by configuration, and the optimizers to train it.

One module per idea:

- `config`     `TransformerConfig` (pydantic, extra="forbid"): every swappable part is one field; presets
               `gpt2` and `llama`; `gated_hidden` (LLaMA's 8d/3 rounding)
- `norms`      LayerNorm (arXiv:1607.06450) and RMSNorm (arXiv:1910.07467)
- `ffn`        ReLU/GELU feed-forward and the gated SwiGLU/GeGLU (arXiv:2002.05202)
- `moe`        top-k mixture of experts with capacity, dropped-token counting, the Switch balance loss
               (arXiv:2101.03961) and the router z-loss (arXiv:2202.08906)
- `mamba`      a Mamba-style selective state-space mixer (arXiv:2312.00752): sequential and parallel
               (Hillis–Steele) scans with a hand-written backward, and an O(1)-per-token recurrent state
- `retnet`     multi-scale retention (arXiv:2307.08621), parallel and recurrent forms
- `model`      blocks (pre/post norm, sequential/parallel) and the decoder-only `Transformer`; attention,
               RoPE, ALiBi, positions and the KV cache come from week 3 (`experiments.attention`)
- `optim`      Lion (arXiv:2302.06675) and Adafactor (arXiv:1804.04235) from scratch, AdamW, weight-decay groups
- `schedule`   linear warm-up + cosine decay
- `studies`    the registered studies, one module each (ablation, MoE routing, memory/compute profile,
               optimizers, width vs depth); `plots` draws their figures

Training, data, generation and checkpoints live in `experiments.language_modeling`, shared with week 8
and the later weeks that use these models.
"""
