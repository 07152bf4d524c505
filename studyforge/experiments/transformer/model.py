"""The modular decoder-only transformer: every part chosen by `TransformerConfig`.

One block is a sequence mixer and (usually) a feed-forward sub-layer, each in a residual branch:

    pre-norm  (GPT-2, LLaMA):   x ← x + Mix(Norm(x));   x ← x + FFN(Norm(x))
    post-norm (Vaswani et al.): x ← Norm(x + Mix(x));   x ← Norm(x + FFN(x))
    parallel  (PaLM, arXiv:2204.02311, §2): x ← x + Mix(Norm(x)) + FFN(Norm(x))   (one shared norm)

Post-norm puts a normalisation on the residual path itself, so gradients reaching early layers pass
through every norm; "On Layer Normalization in the Transformer Architecture" (Xiong et al., 2020,
arXiv:2002.04745) shows its gradients near the output are large at initialisation, hence its need for
warm-up and its divergence at learning rates pre-norm tolerates. Pre-norm models end with a final norm.

Mixers: softmax attention (week 3's `MultiHeadAttention`: MHA/GQA/MQA, RoPE, ALiBi, optional QK-norm,
a KV cache), a Mamba selective SSM (`mamba.py`), or RetNet retention (`retnet.py`). Feed-forward: dense
(`ffn.py`, ReLU/GELU/SwiGLU/GeGLU) or mixture of experts (`moe.py`). Embeddings are tied to the output
head by default; positions are learned, sinusoidal, rotary, ALiBi or none.

`model(idx, targets)` returns an `LMOutput` (logits, mean cross-entropy, auxiliary MoE losses);
`model(idx, cache=model.new_cache(...))` runs incrementally, which is what `generate` uses: every mixer
keeps its own state (keys and values, or a recurrent state) between calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from studyforge.experiments.attention.alibi import alibi_bias, alibi_slopes
from studyforge.experiments.attention.multi_head import KVCache, MultiHeadAttention
from studyforge.experiments.attention.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
)
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.ffn import FeedForward
from studyforge.experiments.transformer.mamba import MambaMixer
from studyforge.experiments.transformer.moe import MoEFeedForward
from studyforge.experiments.transformer.norms import make_norm
from studyforge.experiments.transformer.retnet import MultiScaleRetention

# output projections of residual branches, initialised with std/√(2·n_layers) (GPT-2)
RESIDUAL_OUTPUTS = ("o_proj", "w2", "out_proj")


class AttentionMixer(nn.Module):
    """Causal self-attention from week 3, with the configured positions; `cache` is a `KVCache`."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        qk_norm = partial(make_norm, cfg.norm, eps=cfg.norm_eps, bias=cfg.bias) if cfg.qk_norm else None
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.n_kv_heads, bias=cfg.bias,
                                       rope_base=cfg.rope_base if cfg.position == "rope" else None,
                                       qk_norm=qk_norm, fused=True)
        self.alibi = cfg.position == "alibi"
        if self.alibi:
            self.register_buffer("slopes", alibi_slopes(cfg.n_heads), persistent=False)

    def new_state(self, batch: int, max_len: int, dtype, device) -> KVCache:
        return self.attn.new_cache(batch, max_len, dtype, device)

    def forward(self, x: torch.Tensor, state: KVCache | None = None) -> torch.Tensor:
        offset = state.length if state is not None else 0
        t = x.shape[1]
        # ALiBi: −m_h·(i − j) on the logits of query i (at offset + i) and key j
        bias = alibi_bias(self.slopes, t, offset + t, offset) if self.alibi else None
        return self.attn(x, causal=True, cache=state, bias=bias)


class MambaBlockMixer(MambaMixer):
    def __init__(self, cfg: TransformerConfig):
        super().__init__(cfg.d_model, cfg.mamba_d_state, cfg.mamba_expand, cfg.mamba_d_conv, cfg.bias,
                         cfg.mamba_scan)

    def new_state(self, batch: int, max_len: int, dtype, device):
        return super().new_state(batch, dtype, device)


class RetentionMixer(MultiScaleRetention):
    def __init__(self, cfg: TransformerConfig):
        super().__init__(cfg.d_model, cfg.n_heads, cfg.bias, cfg.rope_base, cfg.norm_eps)

    def new_state(self, batch: int, max_len: int, dtype, device):
        return super().new_state(batch, dtype, device)


MIXERS = {"attention": AttentionMixer, "mamba": MambaBlockMixer, "retnet": RetentionMixer}


class Block(nn.Module):
    """One residual block: x (B, T, d) -> (x (B, T, d), auxiliary loss (scalar))."""

    def __init__(self, cfg: TransformerConfig, layer: int):
        super().__init__()
        self.pre, self.parallel = cfg.norm_position == "pre", cfg.parallel
        norm = partial(make_norm, cfg.norm, cfg.d_model, cfg.norm_eps, cfg.bias)
        self.norm1 = norm()
        self.mixer = MIXERS[cfg.mixer](cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.ffn: nn.Module | None = None
        if cfg.is_moe(layer):
            m = cfg.moe
            self.ffn = MoEFeedForward(cfg.d_model, cfg.hidden, cfg.activation, m.n_experts, m.top_k,
                                      m.capacity_factor, m.eval_capacity_factor, m.balance_coef, m.z_loss_coef,
                                      cfg.bias, cfg.dropout)
        elif cfg.has_ffn(layer):
            self.ffn = FeedForward(cfg.d_model, cfg.hidden, cfg.activation, cfg.bias, cfg.dropout)
        # a second norm, unless the block is parallel (PaLM shares one) or has no feed-forward
        self.norm2 = norm() if self.ffn is not None and not self.parallel else None

    def _ffn(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.ffn, MoEFeedForward):
            return self.ffn(x)
        return self.ffn(x), x.new_zeros((), dtype=torch.float32)

    def forward(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, torch.Tensor]:
        zero = x.new_zeros((), dtype=torch.float32)
        if self.ffn is None:  # a mixer-only block (Mamba's)
            if self.pre:
                return x + self.drop(self.mixer(self.norm1(x), state)), zero
            return self.norm1(x + self.drop(self.mixer(x, state))), zero
        if self.parallel:
            h = self.norm1(x) if self.pre else x
            f, aux = self._ffn(h)
            # x + Mix(Norm(x)) + FFN(Norm(x))
            y = x + self.drop(self.mixer(h, state)) + f
            return (y if self.pre else self.norm1(y)), aux
        if self.pre:
            # x ← x + Mix(Norm(x)); x ← x + FFN(Norm(x))
            x = x + self.drop(self.mixer(self.norm1(x), state))
            f, aux = self._ffn(self.norm2(x))
            return x + f, aux
        # x ← Norm(x + Mix(x)); x ← Norm(x + FFN(x))
        x = self.norm1(x + self.drop(self.mixer(x, state)))
        f, aux = self._ffn(x)
        return self.norm2(x + f), aux


@dataclass
class ModelCache:
    """Per-layer mixer states (KV caches or recurrent states) and the number of positions processed."""

    layers: list
    max_len: int
    length: int = 0


@dataclass
class LMOutput:
    logits: torch.Tensor  # (B, T, V)
    loss: torch.Tensor | None = None  # mean cross-entropy in nats per token (None without targets)
    aux_loss: torch.Tensor | None = None  # sum of the MoE layers' balance + z-losses (0 without MoE)
    extras: dict = field(default_factory=dict)


class Transformer(nn.Module):
    """Decoder-only language model built from a `TransformerConfig`."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.config = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos: nn.Module | None = None
        if cfg.mixer == "attention" and cfg.position == "learned":
            self.pos = LearnedPositionalEmbedding(cfg.max_len, cfg.d_model)
        elif cfg.mixer == "attention" and cfg.position == "sinusoidal":
            self.pos = SinusoidalPositionalEncoding(cfg.d_model, cfg.rope_base)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        # pre-norm streams are un-normalised: normalise once before the head (post-norm blocks end normalised)
        self.norm = make_norm(cfg.norm, cfg.d_model, cfg.norm_eps, cfg.bias) if cfg.norm_position == "pre" else None
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.gradient_checkpointing = False
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.split(".")[-2] in RESIDUAL_OUTPUTS and name.endswith("weight"):
                nn.init.normal_(p, std=cfg.init_std / math.sqrt(2 * cfg.n_layers))
        for m in self.modules():
            if isinstance(m, MambaMixer):
                m.reset_dt_bias()
        if cfg.tie_embeddings:
            self.head.weight = self.tok.weight  # W_out = W_embᵀ

    def _init(self, m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=self.config.init_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=self.config.init_std)

    # -- sizes ------------------------------------------------------------------------------------------
    def num_params(self, non_embedding: bool = False, active: bool = False) -> int:
        """Trainable parameters (tied weights once); `non_embedding` leaves out token/position tables,
        `active` counts only k of the N experts of each MoE layer (what one token uses)."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= self.tok.weight.numel()
            if isinstance(self.pos, LearnedPositionalEmbedding):
                total -= self.pos.table.weight.numel()
            if not self.config.tie_embeddings:
                total -= self.head.weight.numel()
        if active:
            for m in self.modules():
                if isinstance(m, MoEFeedForward):
                    per_expert = sum(p.numel() for p in m.experts[0].parameters())
                    total -= (m.n_experts - m.top_k) * per_expert
        return total

    def moe_layers(self) -> list[MoEFeedForward]:
        return [m for m in self.modules() if isinstance(m, MoEFeedForward)]

    # -- running ----------------------------------------------------------------------------------------
    def new_cache(self, batch: int, max_len: int | None = None, dtype=None, device=None) -> ModelCache:
        """Empty per-layer states for incremental decoding of up to `max_len` positions."""
        max_len = max_len or self.config.max_len
        dtype = dtype or self.tok.weight.dtype
        device = device or self.tok.weight.device
        return ModelCache([b.mixer.new_state(batch, max_len, dtype, device) for b in self.blocks], max_len)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: ModelCache | None = None,
                ignore_index: int = -100) -> LMOutput:
        """idx (B, T) token ids -> LMOutput; with `cache`, idx continues the cached positions."""
        x, aux = self.features(idx, cache)
        logits = self.head(x)  # (B, T, V)
        loss = None
        if targets is not None:
            # −(1/BT) Σ log p(y_t | x_≤t), in fp32 whatever the autocast dtype
            loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=ignore_index)
        return LMOutput(logits, loss, aux)

    def features(self, idx: torch.Tensor, cache: ModelCache | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """idx (B, T) -> (the final hidden states (B, T, d), what the LM head reads; the MoE aux loss).

        Week 9's reward models put a scalar head on these instead of the vocabulary head."""
        t = idx.shape[1]
        offset = cache.length if cache is not None else 0
        x = self.tok(idx)  # (B, T, d)
        if self.pos is not None:
            x = x + self.pos(torch.arange(offset, offset + t, device=idx.device))  # + (T, d)
        x = self.drop(x)
        aux = x.new_zeros((), dtype=torch.float32)
        for i, block in enumerate(self.blocks):
            state = cache.layers[i] if cache is not None else None
            if self.gradient_checkpointing and self.training and cache is None:
                # keep only each block's input; recompute its activations during backward
                x, a = checkpoint(block, x, use_reentrant=False)
            else:
                x, a = block(x, state)
            aux = aux + a
        if cache is not None:
            cache.length += t
        if self.norm is not None:
            x = self.norm(x)
        return x, aux
