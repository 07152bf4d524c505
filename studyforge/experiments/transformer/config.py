"""The modular transformer's configuration: every swappable part is one field.

`TransformerConfig` is a pydantic model (unknown keys are rejected), stored verbatim in every checkpoint
so a model can be rebuilt from its file alone. Presets are data:

    TransformerConfig.preset("gpt2", vocab_size=65)    pre-LayerNorm, GELU (4d), learned positions, tied
    TransformerConfig.preset("llama", vocab_size=65)   pre-RMSNorm, SwiGLU (8d/3 rounded), RoPE, no biases

The LLaMA conventions ("LLaMA: Open and Efficient Foundation Language Models", Touvron et al., 2023,
arXiv:2302.13971): RMSNorm before each sub-layer, SwiGLU feed-forward whose hidden width is 2/3 of 4d
rounded up to a multiple of `ffn_multiple_of` (so the three matrices cost what GELU's two do at 4d), rotary
positions, no bias anywhere.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Norm = Literal["layernorm", "rmsnorm"]
Activation = Literal["relu", "gelu", "swiglu", "geglu"]
Mixer = Literal["attention", "mamba", "retnet"]
Position = Literal["none", "sinusoidal", "learned", "rope", "alibi"]
GATED = ("swiglu", "geglu")


def gated_hidden(d_model: int, multiple_of: int) -> int:
    """LLaMA's SwiGLU width: 2/3 of 4d, rounded up to a multiple of `multiple_of`.

    >>> gated_hidden(4096, 256)   # LLaMA-7B's feed-forward width
    11008
    >>> gated_hidden(128, 8)      # 8·128/3 = 341.3 -> 344
    344
    """
    # h = ⌈(2/3 · 4d) / m⌉ · m
    hidden = int(2 * 4 * d_model / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class MoEConfig(BaseModel):
    """Mixture-of-experts feed-forward settings (see moe.py)."""

    model_config = ConfigDict(extra="forbid")

    n_experts: int = Field(4, ge=1, description="number of expert feed-forward networks N")
    top_k: int = Field(1, ge=1, description="experts each token is sent to (1: Switch, 2: GShard/Mixtral)")
    capacity_factor: float = Field(1.25, gt=0, description="expert capacity = ⌈factor · k · tokens / N⌉ "
                                   "while training; tokens beyond it are dropped (passed on by the residual)")
    eval_capacity_factor: float | None = Field(None, description="capacity factor in eval mode; None: no "
                                               "capacity limit (no token is dropped at inference)")
    balance_coef: float = Field(0.01, ge=0, description="α of the Switch load-balancing loss α·N·Σ fᵢ·Pᵢ")
    z_loss_coef: float = Field(1e-3, ge=0, description="β of the router z-loss β·mean(logsumexp(logits)²)")
    every: int = Field(1, ge=1, description="use an MoE feed-forward in every `every`-th block (dense elsewhere)")


class TransformerConfig(BaseModel):
    """A decoder-only language model, part by part."""

    model_config = ConfigDict(extra="forbid")

    vocab_size: int = Field(65, ge=2, description="number of token ids")
    max_len: int = Field(64, ge=1, description="context length trained at (learned positions' table size; "
                         "generation crops its context to it)")
    d_model: int = Field(128, ge=2, description="residual stream width d")
    n_layers: int = Field(4, ge=1, description="number of blocks")
    n_heads: int = Field(4, ge=1, description="attention (or retention) heads")
    n_kv_heads: int | None = Field(None, description="key/value heads for grouped-query attention (None: all)")
    mixer: Mixer = Field("attention", description="sequence mixer of each block: softmax attention, a "
                         "Mamba selective state space, or RetNet retention")
    position: Position = Field("learned", description="positional encoding (attention mixer only; Mamba "
                               "and RetNet carry position in their recurrences)")
    rope_base: float = Field(10000.0, gt=0, description="RoPE's θ (also RetNet's rotation base)")
    norm: Norm = Field("layernorm", description="LayerNorm or RMSNorm")
    norm_position: Literal["pre", "post"] = Field("pre", description="pre-norm x + f(norm(x)) or post-norm "
                                                  "norm(x + f(x)) (the original Transformer)")
    qk_norm: bool = Field(False, description="normalise queries and keys per head before attention")
    norm_eps: float = Field(1e-5, gt=0, description="ε inside the normalisations")
    activation: Activation = Field("gelu", description="feed-forward non-linearity; swiglu/geglu are gated")
    ffn_hidden: int | None = Field(None, description="feed-forward hidden width (None: 4d for relu/gelu, "
                                   "gated_hidden(d, ffn_multiple_of) for swiglu/geglu)")
    ffn_multiple_of: int = Field(256, ge=1, description="rounding of the default gated hidden width")
    parallel: bool = Field(False, description="PaLM's parallel block x + attn(norm(x)) + ffn(norm(x))")
    ffn: Literal["dense", "moe"] = Field("dense", description="dense feed-forward or mixture of experts")
    moe: MoEConfig = Field(default_factory=MoEConfig, description="mixture-of-experts settings (ffn=moe)")
    mamba_d_state: int = Field(16, ge=1, description="Mamba: state size N per channel")
    mamba_expand: int = Field(2, ge=1, description="Mamba: inner width = expand · d")
    mamba_d_conv: int = Field(4, ge=1, description="Mamba: causal depthwise convolution width")
    mamba_scan: Literal["parallel", "sequential"] = Field("parallel", description="Mamba: which scan computes "
                                                          "the recurrence during training (same result)")
    mamba_ffn: bool = Field(False, description="Mamba blocks also get a feed-forward sub-layer (the Mamba "
                            "paper's blocks have none; its MLP is inside the mixer)")
    tie_embeddings: bool = Field(True, description="output head shares the token embedding matrix")
    bias: bool = Field(False, description="biases in linear layers and LayerNorm")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on embeddings and sub-layer outputs")
    init_std: float = Field(0.02, gt=0, description="std of the normal weight init; output projections get "
                            "init_std/√(2·n_layers) (GPT-2)")

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "gpt2": {"norm": "layernorm", "activation": "gelu", "position": "learned", "norm_position": "pre"},
        "llama": {"norm": "rmsnorm", "activation": "swiglu", "position": "rope", "norm_position": "pre",
                  "bias": False},
    }

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TransformerConfig:
        if name not in cls.presets:
            raise ValueError(f"unknown architecture preset {name!r}; known: {', '.join(cls.presets)}")
        return cls(**{**cls.presets[name], **overrides})

    @model_validator(mode="after")
    def _check(self) -> TransformerConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads={self.n_heads} must divide d_model={self.d_model}")
        kv = self.n_kv_heads or self.n_heads
        if self.n_heads % kv:
            raise ValueError(f"n_kv_heads={kv} must divide n_heads={self.n_heads}")
        if (self.position == "rope" or self.mixer == "retnet") and (self.d_model // self.n_heads) % 2:
            raise ValueError("RoPE and RetNet need an even head width d_model / n_heads")
        if self.ffn == "moe" and self.moe.top_k > self.moe.n_experts:
            raise ValueError(f"top_k={self.moe.top_k} exceeds n_experts={self.moe.n_experts}")
        return self

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def hidden(self) -> int:
        """The feed-forward hidden width actually used."""
        if self.ffn_hidden is not None:
            return self.ffn_hidden
        return gated_hidden(self.d_model, self.ffn_multiple_of) if self.activation in GATED else 4 * self.d_model

    def has_ffn(self, layer: int) -> bool:
        return self.mixer != "mamba" or self.mamba_ffn

    def is_moe(self, layer: int) -> bool:
        return self.ffn == "moe" and self.has_ffn(layer) and (layer + 1) % self.moe.every == 0
