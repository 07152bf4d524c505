"""Week 5's registered studies, one module per study: `architecture_ablation` (one character-level LM per
swapped part: pre/post norm — also at a learning rate where post-norm fails —, RMSNorm, QK-norm, SwiGLU,
ReLU, parallel blocks, LLaMA, MoE, Mamba, RetNet), `moe_routing` (top-1 MoE with and without the Switch
balance loss against a dense model), `memory_compute_profile` (parameters, FLOPs per token against 6N,
activation memory with and without checkpointing, fp32/bf16), `optimizer_comparison` (AdamW vs Lion vs
Adafactor over a small learning-rate sweep) and `width_vs_depth` (equal parameters, shallow-wide to
deep-narrow); `common` holds the corpus, base model and budget the training studies share,
`transformer.plots` the figures.
"""
