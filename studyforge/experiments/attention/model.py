"""A small decoder-only language model with a choice of positional encoding, for the week's studies.

Pre-LayerNorm GPT blocks (nanoGPT's layout: x + attn(ln(x)), x + mlp(ln(x))) whose attention takes its
position information in one of six ways — the subject of the length-extrapolation study:

    none        no position signal at all (a causal mask alone leaks some order: NoPE)
    sinusoidal  fixed sin/cos vectors added to the token embeddings       (positional.py)
    learned     a trained table of `max_len` vectors added to the embeddings (clamped beyond it)
    shaw        clipped relative keys and values inside attention         (relative.py)
    rope        queries and keys rotated by their positions               (rope.py)
    alibi       a per-head linear distance penalty on the logits          (alibi.py)

Every head's output is multiplied by a gate from `head_mask` (n_layers, n_heads), so the analysis toolkit
can remove heads without touching the weights.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from studyforge.experiments.attention.alibi import alibi_bias, alibi_slopes
from studyforge.experiments.attention.dot_product import scaled_dot_product_attention
from studyforge.experiments.attention.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
)
from studyforge.experiments.attention.relative import RelativePositionAttention
from studyforge.experiments.attention.rope import apply_rope

Position = Literal["none", "sinusoidal", "learned", "shaw", "rope", "alibi"]
POSITIONS: tuple[str, ...] = ("none", "sinusoidal", "learned", "shaw", "rope", "alibi")


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, position: Position, shaw_max_distance: int):
        super().__init__()
        self.n_heads, self.head_dim, self.position = n_heads, d_model // n_heads, position
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)
        if position == "shaw":
            self.relative = RelativePositionAttention(self.head_dim, shaw_max_distance)
        if position == "alibi":
            self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def forward(self, x: torch.Tensor, head_mask: torch.Tensor | None = None):
        """x (B, T, C) -> (B, T, C), attention weights (B, H, T, T)."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (B, H, T, hd)
        if self.position == "shaw":
            out, weights = self.relative(q, k, v, causal=True, return_weights=True)
        else:
            bias = None
            if self.position == "rope":
                positions = torch.arange(t, device=x.device)
                q, k = apply_rope(q, positions), apply_rope(k, positions)
            elif self.position == "alibi":
                bias = alibi_bias(self.slopes, t)  # (H, T, T)
            out, weights = scaled_dot_product_attention(q, k, v, causal=True, bias=bias, return_weights=True)
        if head_mask is not None:
            out = out * head_mask.view(1, -1, 1, 1)  # ξ_h · head_h
        return self.proj(out.transpose(1, 2).reshape(b, t, c)), weights


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, position: Position, shaw_max_distance: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, position, shaw_max_distance)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor, head_mask: torch.Tensor | None = None):
        a, weights = self.attn(self.ln1(x), head_mask)
        x = x + a
        return x + self.mlp(self.ln2(x)), weights


class TinyLM(nn.Module):
    """Character-level causal LM: `model(idx, targets)` -> (logits, loss, attention maps per layer)."""

    def __init__(self, vocab_size: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 position: Position = "rope", max_len: int = 128, shaw_max_distance: int = 16):
        super().__init__()
        if position not in POSITIONS:
            raise ValueError(f"unknown position encoding {position!r}; known: {', '.join(POSITIONS)}")
        self.position, self.n_layers, self.n_heads = position, n_layers, n_heads
        self.tok = nn.Embedding(vocab_size, d_model)
        if position == "sinusoidal":
            self.pos = SinusoidalPositionalEncoding(d_model)
        elif position == "learned":
            self.pos = LearnedPositionalEmbedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, position, shaw_max_distance) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.register_buffer("head_mask", torch.ones(n_layers, n_heads), persistent=False)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, head_mask: torch.Tensor | None = None):
        """idx (B, T) -> logits (B, T, V), mean cross-entropy against targets (or None), [(B, H, T, T)] * L."""
        head_mask = self.head_mask if head_mask is None else head_mask
        x = self.tok(idx)  # (B, T, C)
        if self.position in ("sinusoidal", "learned"):
            x = x + self.pos(torch.arange(idx.shape[1], device=idx.device))  # + (T, C)
        maps = []
        for layer, block in enumerate(self.blocks):
            x, weights = block(x, head_mask[layer])
            maps.append(weights)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss, maps


def train(model: TinyLM, corpus, steps: int, batch_size: int, length: int, lr: float, generator: torch.Generator,
          on_step=None, warmup: int = 20) -> list[float]:
    """AdamW on random windows of `length` training characters, linear warm-up then cosine decay to lr/10,
    gradients clipped at norm 1. Calls `on_step(step, loss)` after every step; returns the losses."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses = []
    model.train()
    for step in range(steps):
        # lr_t: linear warm-up, then cosine from lr to lr/10
        progress = max(0.0, (step - warmup) / max(1, steps - warmup))
        factor = min(1.0, (step + 1) / warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))
        for group in opt.param_groups:
            group["lr"] = lr * factor
        x, y = corpus.batch("train", batch_size, length, generator)
        _, loss, _ = model(x.to(model.head.weight.device), y.to(model.head.weight.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def evaluate(model: TinyLM, x: torch.Tensor, y: torch.Tensor, head_mask: torch.Tensor | None = None,
             batch_size: int = 16, per_position: bool = False):
    """Mean cross-entropy (nats per character) of `model` on windows x → y (N, T), in batches.

    With `per_position`, also the mean loss at each position (T,) — where a model past its training length
    goes wrong shows up there."""
    device = model.head.weight.device
    total, count = 0.0, 0
    position_sum = torch.zeros(x.shape[1])
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size].to(device), y[start : start + batch_size].to(device)
        logits, _, _ = model(xb, head_mask=None if head_mask is None else head_mask.to(device))
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view_as(yb).float().cpu()
        total, count = total + float(loss.sum()), count + loss.numel()
        position_sum += loss.sum(0)
    mean = total / count
    return (mean, position_sum / len(x)) if per_position else mean
