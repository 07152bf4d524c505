"""Week 3: the attention landscape, from scratch.

One module per idea, each checked against `torch.nn.functional.scaled_dot_product_attention`:

- `masks`           boolean masks (True = may attend): causal, padding, sliding window, local blocks
- `dot_product`     scaled dot-product attention (Vaswani et al., arXiv:1706.03762)
- `additive`        additive attention (Bahdanau et al., arXiv:1409.0473)
- `multiplicative`  multiplicative attention (Luong et al., arXiv:1508.04025)
- `multi_head`      multi-head / multi-query / grouped-query attention with a KV cache
                    (arXiv:1706.03762, 1911.02150, 2305.13245)
- `sliding_window`  banded attention computed band by band (Longformer, arXiv:2004.05150; Mistral)
- `local`           blocked local attention (each block sees itself and the blocks before it)
- `sparse`          block-sparse patterns: Longformer (window + global), BigBird (window + global + random,
                    arXiv:2007.14062), and attention computed only on the active blocks
- `performer`       FAVOR+ with positive orthogonal random features (arXiv:2009.14794)
- `linformer`       low-rank E/F projections of keys and values (arXiv:2006.04768)
- `flash`           FlashAttention-2 in pure PyTorch: tiled online softmax, O(T) memory, recomputing backward
                    (arXiv:2205.14135, 2307.08691)
- `triton_flash`    the same algorithm as Triton kernels (optional: needs `triton`; imported only on use)
- `positional`      sinusoidal and learned absolute positions; `relative` (Shaw et al., arXiv:1803.02155);
                    `rope` (RoFormer, arXiv:2104.09864, real and complex forms); `alibi` (arXiv:2108.12409)
- `analysis`        entropy, mean attention distance, head importance and pruning curves
- `profiling`       peak memory of a call, from the allocator's own events
- `catalogue`       every variant behind one `fn(q, k, v)` signature, with timing/memory measurement
- `model`, `data`   a small character-level language model and its corpus, for the week's studies
- `studies`         the registered studies, one module each (variants vs reference, memory and speed,
                    length extrapolation, pattern analysis); `plots` draws their figures (attention maps too)

Nothing here imports `triton`; `triton_flash` does, and is imported only by code that asks for it.
"""
