"""Preference-optimization losses, each written from its paper's equation, on sequence log-probabilities.

Notation (per example): x a prompt, y_w the preferred ("chosen") completion, y_l the rejected one,
log π(y|x) the summed log-probability of a completion's tokens under the policy being trained, and
log π_ref(y|x) the same under the frozen reference (usually the SFT model the policy starts from). Every
function takes these as tensors of shape (B,) and returns the mean loss with the diagnostics worth logging.

- DPO  (Rafailov et al. 2023, arXiv:2305.18290, eq. 7). With the log-ratio h = [log π(y_w) − log π_ref(y_w)]
       − [log π(y_l) − log π_ref(y_l)]:   L = −log σ(β h).
       The implicit reward is r̂(x, y) = β (log π(y|x) − log π_ref(y|x)). `label_smoothing` ε gives the
       "conservative DPO" variant for labels flipped with probability ε: −(1 − ε) log σ(β h) − ε log σ(−β h).
- IPO  (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences",
       arXiv:2310.12036, eq. 17):   L = (h − 1/(2τ))².  A squared loss pulls h to a finite target, so the
       policy cannot run off to deterministic preferences the way DPO's can when the data has no ties.
       (TRL averages log-probs over tokens for IPO; this follows the paper: summed log-probs.)
- SimPO (Meng et al. 2024, arXiv:2405.14734, eq. 6): reference-free, length-normalised, with a margin γ:
       L = −log σ( β/|y_w| · log π(y_w|x) − β/|y_l| · log π(y_l|x) − γ ).
- KTO  (Ethayarajh et al. 2024, arXiv:2402.01306, eq. 8): unpaired labels. With r(x, y) = log π(y|x) −
       log π_ref(y|x) and a reference point z₀ = max(0, KL(π ‖ π_ref)) estimated on mismatched pairs (x, y')
       and not differentiated through,
       v(x, y) = λ_D σ(β (r − z₀)) for a desirable y,  λ_U σ(β (z₀ − r)) for an undesirable one,
       L = E[λ_y − v(x, y)].

>>> import torch
>>> z = torch.zeros(2)
>>> round(float(dpo_loss(z, z, z, z, beta=0.1).loss), 6)  # h = 0: −log σ(0) = log 2
0.693147
>>> round(float(ipo_loss(z, z, z, z, tau=0.5).loss), 6)  # (0 − 1/(2·0.5))² = 1
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PreferenceLoss:
    """The mean loss (differentiable) and per-example diagnostics (detached): the implicit rewards of the
    chosen and rejected completions (what each method's loss ranks) and their margin."""

    loss: torch.Tensor
    chosen_reward: torch.Tensor  # (B,)
    rejected_reward: torch.Tensor  # (B,)

    @property
    def margin(self) -> torch.Tensor:
        return self.chosen_reward - self.rejected_reward

    @property
    def accuracy(self) -> float:
        """Share of pairs whose chosen completion has the larger implicit reward (ties count half; paired
        losses only — KTO's two slots hold different examples)."""
        return ranking_accuracy(self.margin)


def ranking_accuracy(margin: torch.Tensor) -> float:
    """Share of positive margins, ties counting half: a policy equal to its reference scores 0.5, not 0."""
    return float(((margin > 0).float() + 0.5 * (margin == 0).float()).mean())


def log_ratio_difference(policy_chosen, policy_rejected, ref_chosen, ref_rejected) -> torch.Tensor:
    """h = [log π(y_w) − log π_ref(y_w)] − [log π(y_l) − log π_ref(y_l)], shape (B,)."""
    return (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float = 0.1,
             label_smoothing: float = 0.0) -> PreferenceLoss:
    """DPO: −log σ(β h) (conservative with `label_smoothing` ε > 0)."""
    h = log_ratio_difference(policy_chosen, policy_rejected, ref_chosen, ref_rejected)
    losses = -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    return PreferenceLoss(losses.mean(), (beta * (policy_chosen - ref_chosen)).detach(),
                          (beta * (policy_rejected - ref_rejected)).detach())


def ipo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, tau: float = 0.1) -> PreferenceLoss:
    """IPO: (h − 1/(2τ))²; implicit rewards reported as the log-ratios themselves."""
    h = log_ratio_difference(policy_chosen, policy_rejected, ref_chosen, ref_rejected)
    losses = (h - 1.0 / (2.0 * tau)) ** 2
    return PreferenceLoss(losses.mean(), (policy_chosen - ref_chosen).detach(),
                          (policy_rejected - ref_rejected).detach())


def simpo_loss(policy_chosen, policy_rejected, chosen_length, rejected_length, beta: float = 2.0,
               gamma: float = 1.0) -> PreferenceLoss:
    """SimPO: −log σ(β·mean log π(y_w) − β·mean log π(y_l) − γ); no reference model."""
    chosen = beta * policy_chosen / chosen_length
    rejected = beta * policy_rejected / rejected_length
    losses = -F.logsigmoid(chosen - rejected - gamma)
    return PreferenceLoss(losses.mean(), chosen.detach(), rejected.detach())


def kto_reference_point(policy_mismatched: torch.Tensor, ref_mismatched: torch.Tensor) -> torch.Tensor:
    """z₀: the batch estimate of KL(π ‖ π_ref) from completions paired with other examples' prompts,
    clamped at 0 and detached (the paper does not back-propagate through it)."""
    return (policy_mismatched - ref_mismatched).mean().clamp(min=0).detach()


def kto_loss(policy_logps, ref_logps, desirable: torch.Tensor, reference_point: torch.Tensor, beta: float = 0.1,
             lambda_desirable: float = 1.0, lambda_undesirable: float = 1.0) -> PreferenceLoss:
    """KTO on unpaired examples: `desirable` (B,) bool. Rewards are reported per class (the chosen slot
    holds the desirable examples' β·r, the rejected slot the undesirable ones')."""
    r = policy_logps - ref_logps
    value = torch.where(desirable, lambda_desirable * torch.sigmoid(beta * (r - reference_point)),
                        lambda_undesirable * torch.sigmoid(beta * (reference_point - r)))
    weight = torch.where(desirable, torch.full_like(r, lambda_desirable), torch.full_like(r, lambda_undesirable))
    rewards = (beta * r).detach()
    return PreferenceLoss((weight - value).mean(), rewards[desirable], rewards[~desirable])
