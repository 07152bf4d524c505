"""Autoregressive generation: greedy, temperature, top-k and nucleus (top-p) sampling, with a KV cache.

A language model gives p(x_t | x_<t); generation draws x_t from it, appends it, and repeats. The draw:

    greedy        x_t = argmax p                                   (temperature 0)
    temperature   p_τ ∝ exp(logits / τ)                            τ < 1 sharpens, τ > 1 flattens
    top-k         keep the k most likely tokens, renormalise       (Fan et al., 2018, arXiv:1805.04833)
    top-p         keep the smallest set whose probability ≥ p      ("The Curious Case of Neural Text
                                                                    Degeneration", Holtzman et al., 2019,
                                                                    arXiv:1904.09751)

With the cache, each step feeds only the newest token: attention layers append its key and value to
their `KVCache`, recurrent mixers (Mamba, RetNet) advance their state, so a step costs O(context) instead
of re-running the whole prefix. The model sees at most `config.max_len` tokens, as in training: past that,
the context is cropped to the last `max_len` tokens (nanoGPT's rule) and the cache is rebuilt from them, so
cached and uncached generation give the same tokens.
"""

from __future__ import annotations

import torch

from studyforge.experiments.transformer.model import Transformer


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set logits outside the top-k / top-p set to −∞: (B, V) -> (B, V).

    >>> filter_logits(torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])), top_p=0.7).isfinite().tolist()
    [[True, True, False, False]]
    >>> filter_logits(torch.tensor([[1.0, 3.0, 2.0]]), top_k=2).tolist()
    [[-inf, 3.0, 2.0]]
    """
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1, None]  # (B, 1): the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # drop a token if the tokens before it already reach p (so the first token always stays)
        before = probs.cumsum(dim=-1) - probs
        drop_sorted = before >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token ids (B,) from the last position's logits (B, V); temperature 0 is greedy."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    # p_τ ∝ exp(logits / τ), restricted to the top-k / top-p set
    probs = filter_logits(logits.float() / temperature, top_k, top_p).softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(model: Transformer, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True, return_logits: bool = False):
    """Continue idx (B, T) by `max_new_tokens` tokens -> (B, T + max_new_tokens) [and step logits (B, N, V)].

    `generator` makes sampling reproducible (it must live on the model's device).
    """
    was_training = model.training
    model.eval()
    limit = model.config.max_len
    cache = None
    step_logits = []
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = model(idx[:, -limit:]).logits[:, -1]  # (B, V): recompute the whole (cropped) context
        elif cache is None or cache.length + 1 > limit:
            # (re)build the cache from the last `limit` tokens
            cache = model.new_cache(idx.shape[0], limit)
            logits = model(idx[:, -limit:], cache=cache).logits[:, -1]
        else:
            logits = model(idx[:, -1:], cache=cache).logits[:, -1]  # only the newest token
        step_logits.append(logits.float())
        nxt = sample_next(logits, temperature, top_k, top_p, generator)  # (B,)
        idx = torch.cat([idx, nxt[:, None]], dim=1)
    model.train(was_training)
    if return_logits:
        return idx, torch.stack(step_logits, dim=1) if step_logits else None
    return idx
