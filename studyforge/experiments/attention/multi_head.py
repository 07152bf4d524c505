"""Multi-head, multi-query and grouped-query attention, with a KV cache for incremental decoding.

Multi-head attention ("Attention Is All You Need", arXiv:1706.03762) runs H attentions side by side on
H slices of the model width and concatenates them. Decoding one token at a time re-reads every cached
key and value at every step, so the size of the KV cache — not arithmetic — bounds decoding speed.
Multi-query attention ("Fast Transformer Decoding: One Write-Head is All You Need", Shazeer, 2019,
arXiv:1911.02150) keeps H query heads but a single key/value head; grouped-query attention ("GQA:
Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints", Ainslie et al., 2023,
arXiv:2305.13245) interpolates with G key/value heads, each shared by a group of H/G query heads:

    n_kv_heads = H:  multi-head        n_kv_heads = 1:  multi-query        1 < n_kv_heads < H:  grouped

The cache shrinks by H / n_kv_heads. Here a group's queries are laid out as (G, H/G) so the shared key and
value heads broadcast over the group instead of being copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from studyforge.experiments.attention.dot_product import scaled_dot_product_attention
from studyforge.experiments.attention.masks import causal_mask, combine
from studyforge.experiments.attention.rope import apply_rope


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far, in preallocated buffers of `max_len` positions."""

    k: torch.Tensor  # (B, n_kv_heads, max_len, head_dim)
    v: torch.Tensor  # (B, n_kv_heads, max_len, head_dim)
    length: int = 0  # number of positions filled

    @classmethod
    def empty(cls, batch: int, n_kv_heads: int, max_len: int, head_dim: int, dtype=torch.float32, device=None):
        shape = (batch, n_kv_heads, max_len, head_dim)
        return cls(torch.zeros(shape, dtype=dtype, device=device), torch.zeros(shape, dtype=dtype, device=device))

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, n_kv, T, hd) after the cached ones; return all keys and values so far."""
        end = self.length + k.shape[2]
        if end > self.k.shape[2]:
            raise ValueError(f"KV cache full: {end} positions needed, {self.k.shape[2]} allocated")
        self.k[:, :, self.length : end] = k
        self.v[:, :, self.length : end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]  # (B, n_kv, T_cached, hd) each

    def nbytes(self) -> int:
        return self.k.numel() * self.k.element_size() * 2


def _grouped(t: torch.Tensor | None, n_heads: int, n_kv_heads: int) -> torch.Tensor | None:
    """A mask or bias broadcastable to (B, H, Tq, Tk) -> broadcastable to (B, G, H/G, Tq, Tk)."""
    if t is None:
        return None
    while t.dim() < 4:
        t = t[None]
    if t.shape[-3] == n_heads:
        return t.unflatten(-3, (n_kv_heads, n_heads // n_kv_heads))
    return t.unsqueeze(-3)  # a single head dimension: broadcast over groups and group members


class MultiHeadAttention(nn.Module):
    """Self-attention with `n_heads` query heads and `n_kv_heads` key/value heads (default: all).

    `rope_base` applies rotary embeddings (rope.py) to queries and keys at their absolute positions.
    `qk_norm(head_dim)`, if given, builds a normalisation applied to every query and key head before RoPE
    (QK-norm, Dehghani et al., arXiv:2302.05442). `fused=True` computes the attention with torch's
    `F.scaled_dot_product_attention` (same result, fused kernels) whenever no weights or head mask are asked
    for; the week-5 transformer uses both.
    """

    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int | None = None, bias: bool = False,
                 rope_base: float | None = None, qk_norm: Callable[[int], nn.Module] | None = None,
                 fused: bool = False):
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if d_model % n_heads or n_heads % n_kv_heads:
            raise ValueError(f"need n_heads | d_model and n_kv_heads | n_heads, got {d_model=}, {n_heads=}, "
                             f"{n_kv_heads=}")
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, d_model // n_heads
        self.rope_base = rope_base
        self.q_proj = nn.Linear(d_model, n_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d_model, n_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, n_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)
        self.fused = fused
        if qk_norm is not None:
            self.q_norm, self.k_norm = qk_norm(self.head_dim), qk_norm(self.head_dim)

    def new_cache(self, batch: int, max_len: int, dtype=torch.float32, device=None) -> KVCache:
        return KVCache.empty(batch, self.n_kv_heads, max_len, self.head_dim, dtype, device)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
        bias: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> (B, T, C) [and weights (B, H, T, Tk)].

        mask: boolean, broadcastable to (B, H, T, Tk), True = attend. causal: query i (at position
        cache.length + i) sees keys up to its own position. cache: appended to, then attended over.
        bias: additive logits, broadcastable to (B, H, T, Tk) (e.g. ALiBi). head_mask: (H,) gates
        multiplying each head's output (0 removes the head; used by the head-importance analysis).
        """
        b, t, c = x.shape
        h, g, hd = self.n_heads, self.n_kv_heads, self.head_dim
        offset = cache.length if cache is not None else 0
        q = self.q_proj(x).view(b, t, h, hd).transpose(1, 2)  # (B, H, T, hd)
        k = self.k_proj(x).view(b, t, g, hd).transpose(1, 2)  # (B, G, T, hd)
        v = self.v_proj(x).view(b, t, g, hd).transpose(1, 2)  # (B, G, T, hd)
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rope_base is not None:
            positions = torch.arange(offset, offset + t, device=x.device)
            q, k = apply_rope(q, positions, self.rope_base), apply_rope(k, positions, self.rope_base)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, G, Tk, hd), Tk = offset + T
        t_k = k.shape[2]
        if self.fused and not return_weights and head_mask is None:
            return self.o_proj(self._fused(q, k, v, mask, causal, offset, bias).transpose(1, 2).reshape(b, t, c))
        mask = combine(mask, causal_mask(t, t_k, offset, x.device) if causal else None)
        # each key/value head g serves the H/G query heads of its group: (B, G, H/G, T, hd)
        q = q.view(b, g, h // g, t, hd)
        out, weights = scaled_dot_product_attention(
            q, k[:, :, None], v[:, :, None], mask=_grouped(mask, h, g), bias=_grouped(bias, h, g),
            return_weights=True,
        )  # (B, G, H/G, T, hd), (B, G, H/G, T, Tk)
        out = out.reshape(b, h, t, hd)
        if head_mask is not None:
            out = out * head_mask.view(1, h, 1, 1).to(out.dtype)
        y = self.o_proj(out.transpose(1, 2).reshape(b, t, c))  # (B, T, C): heads side by side
        return (y, weights.reshape(b, h, t, t_k)) if return_weights else y

    def _fused(self, q, k, v, mask, causal, offset, bias) -> torch.Tensor:
        """torch's SDPA on q (B, H, T, hd), k and v (B, G, Tk, hd) -> (B, H, T, hd); same maths as above."""
        t, t_k = q.shape[2], k.shape[2]
        if self.n_kv_heads != self.n_heads:  # each key/value head serves the H/G query heads of its group
            k = k.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
        plain_causal = causal and mask is None and bias is None and offset == 0 and t == t_k
        mask = None if plain_causal else combine(mask, causal_mask(t, t_k, offset, q.device) if causal else None)
        if bias is not None:  # additive logits: masked positions get −∞ on top of the bias
            bias = bias.to(q.dtype)
            mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=plain_causal)
