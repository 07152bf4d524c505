"""Rollouts for RLHF: a policy with a value head, batched sampling with the KV cache, and everything PPO and
GRPO need about each sampled response.

**The policy** (`PolicyWithValue`) is a week-8 `Transformer` — a copy of the reference (SFT) model — with a
scalar value head on its final hidden states (`Transformer.features`), as TRL's
`AutoModelForCausalLMWithValueHead` does: one trunk, two heads. With causal attention the hidden state at
position p has read tokens ≤ p, so one forward pass over prompt ⊕ response gives, for every response token
y_t, both log π(y_t | x, y_<t) (the LM head at the position before it) and V(s_t), the value of the state in
which y_t is chosen.

**Responses** are sampled by week 8's `generate` (KV cache, temperature sampling) for `max_new_tokens` and end
at the first `stop` token (a newline by default: a response is one line), which is kept; every position after
it is padding, filled with the stop token again so that the padded sequence is a deterministic function of
the response (the reward model, which reads the last position, then sees the same text however long the
padding) and masked out of every loss. A response that never stops is cut at `max_new_tokens`.

**A rollout** (`collect`) is, for a batch of prompts: the responses, their lengths and mask, the policy's
log-probs and values, the reference's log-probs (one forward pass each), and the reward function's score of
each response — everything the update needs, computed once under `no_grad`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from studyforge.experiments.language_modeling.generate import generate
from studyforge.experiments.transformer.model import Transformer

# score(prompts (B, P), responses (B, T), lengths (B,)) -> (B,) — the reward model (or any scalar reward)
ScoreFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class PolicyWithValue(nn.Module):
    """A language model with a value head: `forward(seq)` -> (logits (B, L, V), values (B, L))."""

    def __init__(self, lm: Transformer):
        super().__init__()
        self.lm = lm
        self.config = lm.config
        self.value_head = nn.Linear(lm.config.d_model, 1)
        nn.init.zeros_(self.value_head.weight)  # V ≡ 0 at the start: no made-up baseline
        nn.init.zeros_(self.value_head.bias)

    @classmethod
    def from_reference(cls, reference: Transformer) -> PolicyWithValue:
        """A trainable copy of `reference` (which stays frozen) with a fresh value head."""
        lm = copy.deepcopy(reference).requires_grad_(True)
        return cls(lm).to(next(reference.parameters()).device)

    def forward(self, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.lm.features(seq)  # (B, L, d)
        return self.lm.head(h), self.value_head(h.float()).squeeze(-1)


def response_mask(responses: torch.Tensor, stop: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (B, T) bool, lengths (B,)): a response runs up to and including its first `stop` token.

    >>> m, n = response_mask(torch.tensor([[5, 0, 7, 0], [5, 6, 7, 8]]), stop=0)
    >>> m.int().tolist(), n.tolist()
    ([[1, 1, 0, 0], [1, 1, 1, 1]], [2, 4])
    """
    b, t = responses.shape
    if stop is None:
        return torch.ones(b, t, dtype=torch.bool, device=responses.device), torch.full((b,), t,
                                                                                     device=responses.device)
    is_stop = responses == stop
    # position of the first stop (T when there is none); the response keeps it
    first = torch.where(is_stop.any(1), is_stop.int().argmax(1), torch.full((b,), t, device=responses.device))
    lengths = (first + 1).clamp(max=t)
    mask = torch.arange(t, device=responses.device)[None] < lengths[:, None]
    return mask, lengths


def pad_after_stop(responses: torch.Tensor, mask: torch.Tensor, stop: int | None) -> torch.Tensor:
    """Responses with every position after the stop token set to `stop` (the padding convention)."""
    return responses if stop is None else responses.masked_fill(~mask, stop)


@torch.no_grad()
def sample_responses(model: Transformer, prompts: torch.Tensor, max_new_tokens: int, generator: torch.Generator,
                     stop: int | None = None, temperature: float = 1.0,
                     batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(responses (B, T) padded after the stop, mask (B, T), lengths (B,)) sampled from `model` with the KV cache."""
    out = []
    for lo in range(0, len(prompts), batch_size):
        p = prompts[lo:lo + batch_size]
        out.append(generate(model, p, max_new_tokens, temperature=temperature, generator=generator)[:, p.shape[1]:])
    responses = torch.cat(out)
    mask, lengths = response_mask(responses, stop)
    return pad_after_stop(responses, mask, stop), mask, lengths


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(logits) at `tokens`: logits (B, T, V), tokens (B, T) -> (B, T) fp32."""
    return F.log_softmax(logits.float(), dim=-1).gather(-1, tokens[..., None]).squeeze(-1)


def response_slice(prompt_len: int, response_len: int) -> slice:
    """Positions of a prompt ⊕ response sequence whose outputs predict the response tokens."""
    return slice(prompt_len - 1, prompt_len + response_len - 1)


def policy_outputs(policy: PolicyWithValue, prompts: torch.Tensor,
                   responses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log π(y_t|·) (B, T), V(s_t) (B, T), logits (B, T, V)) of the responses, in one forward pass."""
    seq = torch.cat([prompts, responses], dim=1)
    logits, values = policy(seq[:, :-1])
    where = response_slice(prompts.shape[1], responses.shape[1])
    logits = logits[:, where]
    return token_logprobs(logits, responses), values[:, where], logits


@torch.no_grad()
def reference_logprobs(reference: Transformer, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """log π_ref(y_t | x, y_<t): (B, T)."""
    seq = torch.cat([prompts, responses], dim=1)
    logits = reference(seq[:, :-1]).logits[:, response_slice(prompts.shape[1], responses.shape[1])]
    return token_logprobs(logits, responses)


@dataclass
class Rollout:
    """One batch of sampled responses and what the update needs about them (all (B, …), no gradients)."""

    prompts: torch.Tensor  # (B, P)
    responses: torch.Tensor  # (B, T), padded with the stop token after the stop
    mask: torch.Tensor  # (B, T) bool: real response tokens
    lengths: torch.Tensor  # (B,)
    logprobs: torch.Tensor  # (B, T) log π_old(y_t|·)
    ref_logprobs: torch.Tensor  # (B, T) log π_ref(y_t|·)
    values: torch.Tensor  # (B, T) V_old(s_t)
    scores: torch.Tensor  # (B,) the reward function's score of each response
    stats: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompts)

    def kl(self) -> torch.Tensor:
        """Per-sequence KL estimate Σ_t (log π_old − log π_ref) over real tokens (k1): (B,)."""
        return ((self.logprobs - self.ref_logprobs) * self.mask).sum(1)


@torch.no_grad()
def collect(policy: PolicyWithValue, reference: Transformer, prompts: torch.Tensor, max_new_tokens: int,
            score: ScoreFn, generator: torch.Generator, stop: int | None = None) -> Rollout:
    """Sample one response per prompt from the policy (temperature 1: the log-probs PPO's ratio uses are those
    of the distribution actually sampled) and gather log-probs, values, reference log-probs and scores. Repeat
    a prompt G times (`prompts.repeat_interleave(G, 0)`) for GRPO's groups."""
    policy.eval()
    responses, mask, lengths = sample_responses(policy.lm, prompts, max_new_tokens, generator, stop)
    logprobs, values, _ = policy_outputs(policy, prompts, responses)
    ref = reference_logprobs(reference, prompts, responses)
    scores = score(prompts, responses, lengths).float()
    return Rollout(prompts, responses, mask, lengths, logprobs, ref, values, scores)
