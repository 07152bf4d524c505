"""The rewards RLHF optimises and the truth it is measured against.

- **Proxy** (`ProxyReward`): a week-9 reward model (`preference.reward_model`) scoring prompt ⊕ response — what
  the policy sees. For an ensemble, how its members are combined is a choice (Coste et al. 2023, "Reward Model
  Ensembles Help Mitigate Overoptimization", arXiv 2310.02743): the `mean`, the worst-case `min`, or the
  uncertainty-weighted lower bound `mean − k·std` (their UWO). A `length_penalty` c subtracts c·|y| tokens.
- **Gold** (`GoldScore`): week 9's gold rewards of the decoded response (`gold.GoldRewards`: `style`, the vowel
  share, and `fluency`, the share of real words), and the annotator's utility u = Σ_m w_m·gold_m — the truth
  the proxy was trained to predict. The policy never sees it.
- **The proxy itself** (`train_proxy`): the reference model writes two responses per prompt with the same
  sampler RLHF uses (stop token, padding), a Bradley–Terry `Annotator` labels them by the gold utility, and
  week 9's `fit_reward_model` trains a reward model started from the reference (or `train_ensemble`, several).
  The number of labelled pairs is the knob Gao et al. turn: fewer pairs, a worse proxy, earlier over-optimisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from studyforge.experiments.preference.data import Annotator, Comparisons, PairData
from studyforge.experiments.preference.gold import GoldRewards, weights_vector
from studyforge.experiments.preference.reward_model import (
    RewardEnsemble,
    RewardModel,
    RewardTrainConfig,
    clone_as_reward_model,
    fit_reward_model,
    train_ensemble,
)
from studyforge.experiments.rlhf.rollout import Rollout, sample_responses

Combine = Literal["mean", "min", "mean_minus_std"]


@dataclass
class ProxyReward:
    """score(prompts, responses, lengths) -> (B,): the reward model's reward, ensemble members combined by
    `combine` (`mean_minus_std` uses `k`), minus `length_penalty`·length."""

    model: RewardModel | RewardEnsemble
    combine: Combine = "mean"
    k: float = 1.0
    length_penalty: float = 0.0

    @torch.no_grad()
    def members(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Every member's reward (E, B) (E = 1 for a single model)."""
        if isinstance(self.model, RewardEnsemble):
            return self.model.rewards(prompts, responses)
        return self.model.reward(prompts, responses)[None]

    @torch.no_grad()
    def __call__(self, prompts: torch.Tensor, responses: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        r = self.members(prompts, responses)
        if self.combine == "mean":
            out = r.mean(0)
        elif self.combine == "min":
            out = r.min(0).values
        elif self.combine == "mean_minus_std":
            out = r.mean(0) - self.k * (r.std(0) if len(r) > 1 else torch.zeros_like(r[0]))
        else:
            raise ValueError(f"unknown combine {self.combine!r}")
        return out - self.length_penalty * lengths.to(out.dtype)


@dataclass
class GoldScore:
    """The gold rewards of decoded responses and the utility Σ w_m·gold_m (`weights` over `gold.names`)."""

    gold: GoldRewards
    weights: dict[str, float]
    decode: object  # the tokenizer's decode: list[int] -> str

    def texts(self, responses: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        return [self.decode(r[:n].tolist()) for r, n in zip(responses.cpu(), lengths.cpu().tolist(), strict=True)]

    def scores(self, responses: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gold (B, M), utility (B,))."""
        g = self.gold.score(self.texts(responses, lengths))
        return g, g @ weights_vector(self.gold.names, self.weights)

    def __call__(self, ro: Rollout) -> dict[str, float]:
        """Mean gold figures of a rollout: `gold` (the utility) and `gold_<name>` per objective."""
        g, u = self.scores(ro.responses, ro.lengths)
        return {"gold": float(u.mean()), **{f"gold_{n}": float(g[:, i].mean()) for i, n in enumerate(self.gold.names)}}


@torch.no_grad()
def sample_labelled_pairs(reference, prompts: torch.Tensor, max_new_tokens: int, stop: int | None,
                          gold_score: GoldScore, annotator: Annotator, generator: torch.Generator) -> PairData:
    """Two responses per prompt from `reference` (the RLHF sampler: stop token, padding), gold-scored and
    labelled by `annotator`."""
    ys, lens = [], []
    for _ in range(2):
        r, _, n = sample_responses(reference, prompts, max_new_tokens, generator, stop)
        ys.append(r.cpu())
        lens.append(n.cpu())
    golds = [gold_score.scores(y, n)[0] for y, n in zip(ys, lens, strict=True)]
    comps = Comparisons(prompts.cpu(), torch.stack(ys, 1), torch.stack(golds, 1), gold_score.gold.names)
    label_gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    return annotator.label_pairs(comps, label_gen)


def train_proxy(reference, pairs: PairData, cfg: RewardTrainConfig, seed: int, members: int = 1,
                device: torch.device | str = "cpu", on_step=None) -> RewardModel | RewardEnsemble:
    """A reward model (or an ensemble of `members`) started from `reference`, trained on `pairs` by week 9's loop."""
    if members > 1:
        return train_ensemble(clone_as_reward_model(reference), pairs, cfg, members, seed, device, on_step)
    torch.manual_seed(seed)
    model = RewardModel.from_language_model(reference)
    fit_reward_model(model, pairs, cfg, seed, device, on_step)
    return model
