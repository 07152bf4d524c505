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
def make_pairs(reference, decode, prompts: torch.Tensor, completion_len: int, bt_scale: float,
               generator: torch.Generator, batch_size: int = 256) -> PreferencePairs:
    """Two completions per prompt sampled from `reference` (temperature 1), scored by `vowel_share` of
    `decode(ids)`, labelled by a Bradley–Terry annotator with scale `bt_scale` (`generator` draws the labels
    and the samples, so the data are reproducible)."""
    from studyforge.experiments.language_modeling.generate import generate

    reference.eval()
    first, second = [], []
    for lo in range(0, len(prompts), batch_size):
        p = prompts[lo:lo + batch_size]
        for out in (first, second):
            out.append(generate(reference, p, completion_len, temperature=1.0, generator=generator)[:, p.shape[1]:])
    y1, y2 = torch.cat(first), torch.cat(second)
    r1 = torch.tensor([vowel_share(decode(row.tolist())) for row in y1])
    r2 = torch.tensor([vowel_share(decode(row.tolist())) for row in y2])
    # P(y₁ ≻ y₂) = σ(s (r₁ − r₂))
    first_wins = torch.rand(len(prompts), generator=generator, device=generator.device).cpu() < torch.sigmoid(
        bt_scale * (r1 - r2))
    pick = first_wins[:, None].to(y1.device)
    chosen, rejected = torch.where(pick, y1, y2), torch.where(pick, y2, y1)
    ref_c = torch.cat([completion_logps(reference, prompts[lo:lo + batch_size], chosen[lo:lo + batch_size])
                       for lo in range(0, len(prompts), batch_size)])
    ref_r = torch.cat([completion_logps(reference, prompts[lo:lo + batch_size], rejected[lo:lo + batch_size])
                       for lo in range(0, len(prompts), batch_size)])
    return PreferencePairs(prompts.cpu(), chosen.cpu(), rejected.cpu(), ref_c.cpu(), ref_r.cpu(),
                           torch.where(first_wins, r1, r2), torch.where(first_wins, r2, r1))
