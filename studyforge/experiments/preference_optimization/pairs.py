"""Preference data for a language model, with a reward we know: completions, log-probabilities, labels.

Real preference datasets need a download and a large model; the known-answer version used here keeps the
mechanics and makes every claim checkable. The reference (SFT) model — week 8's transformer — writes two
completions per prompt; a *known* reward scores them (`vowel_share`: the share of letters that are
vowels, a property of style the model can change without forgetting how to spell), and a Bradley–Terry
annotator with scale s labels the pair: P(y₁ ≻ y₂) = σ(s · (r(y₁) − r(y₂))). So preference accuracy can be
measured against the labels *and* against the truth, and "did alignment work" is the true reward of new
samples against their KL from the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

VOWELS = set("aeiouAEIOU")


def vowel_share(text: str) -> float:
    """Share of letters that are vowels: `vowel_share("Hello, world")` -> 0.3; 0.0 with no letters."""
    letters = [c for c in text if c.isalpha()]
    return sum(c in VOWELS for c in letters) / len(letters) if letters else 0.0


def completion_logps(model, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
    """Σ_t log π(y_t | x, y_<t) for each row: prompts (B, P), completions (B, C) -> (B,) (fp32).

    One forward pass over [x; y] without its last token; the logits at positions P−1 … P+C−2 predict the
    completion's tokens. Gradients flow when the caller has them on."""
    seq = torch.cat([prompts, completions], dim=1)
    logits = model(seq[:, :-1]).logits[:, prompts.shape[1] - 1:].float()  # (B, C, V)
    return F.log_softmax(logits, dim=-1).gather(-1, completions[..., None]).squeeze(-1).sum(-1)


@dataclass
class PreferencePairs:
    """Prompts (N, P), chosen and rejected completions (N, C), their reference log-probs (N,) and true
    rewards (N,), all on the CPU. `chosen` is the annotator's (sampled) choice, not necessarily the
    completion with the higher true reward."""

    prompts: torch.Tensor
    chosen: torch.Tensor
    rejected: torch.Tensor
    ref_chosen: torch.Tensor
    ref_rejected: torch.Tensor
    reward_chosen: torch.Tensor
    reward_rejected: torch.Tensor

    def __len__(self) -> int:
        return len(self.prompts)

    def batch(self, idx: torch.Tensor) -> PreferencePairs:
        return PreferencePairs(*(t[idx] for t in (self.prompts, self.chosen, self.rejected, self.ref_chosen,
                                                  self.ref_rejected, self.reward_chosen, self.reward_rejected)))

    @property
    def label_agrees_with_truth(self) -> float:
        """Share of labels that pick the completion with the higher true reward (ties count half)."""
        diff = self.reward_chosen - self.reward_rejected
        return float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean())


@torch.no_grad()
def sample_completions(model, prompts: torch.Tensor, k: int, completion_len: int, generator: torch.Generator,
                       batch_size: int = 256, temperature: float = 1.0) -> torch.Tensor:
    """k completions per prompt sampled from `model`: prompts (N, P) -> completions (N, k, C).

    The prompts go in chunks of `batch_size`; within a chunk the k samples are drawn one after another
    (so k = 2 draws exactly what week 4's pairs always drew from the same generator)."""
    from studyforge.experiments.language_modeling.generate import generate

    model.eval()
    chunks = []
    for lo in range(0, len(prompts), batch_size):
        p = prompts[lo:lo + batch_size]
        chunks.append(torch.stack([generate(model, p, completion_len, temperature=temperature,
                                            generator=generator)[:, p.shape[1]:] for _ in range(k)], dim=1))
    return torch.cat(chunks)


def bradley_terry_choice(reward_first: torch.Tensor, reward_second: torch.Tensor, scale: float,
                         generator: torch.Generator) -> torch.Tensor:
    """A Bradley–Terry annotator: True where the first completion is preferred, drawn with probability
    σ(scale · (r₁ − r₂)) (`scale` = inf: always the higher reward, a tie going to the second). (N,) bool."""
    u = torch.rand(len(reward_first), generator=generator, device=generator.device).cpu()
    if scale == float("inf"):
        return reward_first > reward_second
    return u < torch.sigmoid(scale * (reward_first - reward_second))


def sample_prompts(data, tokenizer, split: str, n: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """n random windows of a `TokenData` split as prompts (n, length), encoded with `tokenizer` (the
    reference's; windows it cannot encode are skipped)."""
    text = data.text(split)
    out = []
    for _ in range(100 * n):
        if len(out) == n:
            break
        start = int(torch.randint(0, max(1, len(text) - 4 * length), (1,), generator=generator))
        try:
            ids = tokenizer.encode(text[start:start + 4 * length])[:length]
        except ValueError:
            continue
        if len(ids) == length:
            out.append(ids)
    if len(out) < n:
        raise ValueError(f"only {len(out)} of {n} {split} prompts of {length} tokens could be encoded with the "
                         "reference's tokenizer: use a corpus_path in the reference model's alphabet")
    return torch.tensor(out)


@torch.no_grad()
def sequence_logps(model, prompts: torch.Tensor, completions: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """`completion_logps` in chunks of `batch_size`, without gradients: (N,)."""
    return torch.cat([completion_logps(model, prompts[lo:lo + batch_size], completions[lo:lo + batch_size])
                      for lo in range(0, len(prompts), batch_size)])


@torch.no_grad()
def make_pairs(reference, decode, prompts: torch.Tensor, completion_len: int, bt_scale: float,
               generator: torch.Generator, batch_size: int = 256) -> PreferencePairs:
    """Two completions per prompt sampled from `reference` (temperature 1), scored by `vowel_share` of
    `decode(ids)`, labelled by a Bradley–Terry annotator with scale `bt_scale` (`generator` draws the labels
    and the samples, so the data are reproducible)."""
    ys = sample_completions(reference, prompts, 2, completion_len, generator, batch_size)
    y1, y2 = ys[:, 0], ys[:, 1]
    r1 = torch.tensor([vowel_share(decode(row.tolist())) for row in y1])
    r2 = torch.tensor([vowel_share(decode(row.tolist())) for row in y2])
    first_wins = bradley_terry_choice(r1, r2, bt_scale, generator)  # P(y₁ ≻ y₂) = σ(s (r₁ − r₂))
    return pairs_from_choice(reference, prompts, y1, y2, first_wins, r1, r2, batch_size)


def pairs_from_choice(reference, prompts: torch.Tensor, y1: torch.Tensor, y2: torch.Tensor,
                      first_wins: torch.Tensor, r1: torch.Tensor, r2: torch.Tensor,
                      batch_size: int = 256) -> PreferencePairs:
    """`PreferencePairs` from two completions per prompt and a label (`first_wins`), with the reference's
    log-probs of each (what DPO and its relatives need); r₁, r₂ are the true rewards."""
    pick = first_wins[:, None].to(y1.device)
    chosen, rejected = torch.where(pick, y1, y2), torch.where(pick, y2, y1)
    ref_c = sequence_logps(reference, prompts, chosen, batch_size)
    ref_r = sequence_logps(reference, prompts, rejected, batch_size)
    return PreferencePairs(prompts.cpu(), chosen.cpu(), rejected.cpu(), ref_c.cpu(), ref_r.cpu(),
                           torch.where(first_wins, r1, r2), torch.where(first_wins, r2, r1))
