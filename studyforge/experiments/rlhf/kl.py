"""KL to the reference policy: the per-token penalty, its estimators, and the adaptive KL controller.

RLHF keeps the policy π near the reference (SFT) model π_ref by paying a penalty on the log-ratio of every
sampled token (Jaques et al. 2017; Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences",
arXiv 1909.08593, eq. 2; InstructGPT, Ouyang et al. 2022, arXiv 2203.02155, eq. 2):

    R(x, y) = r_φ(x, y) − β · log(π(y|x) / π_ref(y|x)),   log π(y|x) = Σ_t log π(y_t | x, y_<t)

so with per-token rewards the penalty of token t is −β·(log π(y_t|·) − log π_ref(y_t|·)), and the reward
model's score arrives on the last token. Over samples y ~ π the summed log-ratio is an unbiased estimate of
KL(π ‖ π_ref). Per token, with ρ = π_ref / π at the sampled token (Schulman, "Approximating KL divergence",
2020):

    k1 = −log ρ                 unbiased, can be negative on a single sample (high variance)
    k2 = ½ (log ρ)²             biased, low variance, always ≥ 0
    k3 = (ρ − 1) − log ρ        unbiased, always ≥ 0 — what GRPO (DeepSeekMath) puts in its loss

**The adaptive controller** (Ziegler et al. 2019, §2.2): β is steered so that the measured KL tracks a target
KL_target — a proportional controller with its error clipped to ±0.2:

    e_t = clip(KL_t / KL_target − 1, −0.2, 0.2),    β_{t+1} = β_t · (1 + K_β · e_t),   K_β = n_steps / horizon

where n_steps is the number of samples (episodes) in the batch that measured KL_t and `horizon` is how many
samples it takes to move β by a factor of about e. Worked example: β 0.1, target 6, horizon 10000, a batch
of 512 samples measured KL 12 → e = clip(1, ±0.2) = 0.2, β ← 0.1 · (1 + 0.0512 · 0.2) = 0.101024.
"""

from __future__ import annotations

import torch


def log_ratio(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """log π − log π_ref per token (k1): what −β multiplies in the per-token penalty.

    >>> log_ratio(torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])).tolist()
    [0.5, -1.0]
    """
    return logp - ref_logp


def kl_penalty(logp: torch.Tensor, ref_logp: torch.Tensor, beta: float) -> torch.Tensor:
    """The per-token KL reward −β·(log π − log π_ref): logp, ref_logp (B, T) -> (B, T)."""
    return -beta * log_ratio(logp, ref_logp)


def k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k3 = ρ − 1 − log ρ with ρ = π_ref/π per token (≥ 0; exactly 0 where π = π_ref).

    >>> round(float(k3(torch.tensor(0.0), torch.log(torch.tensor(2.0)))), 4)
    0.3069
    """
    log_rho = ref_logp - logp
    return log_rho.exp() - 1 - log_rho


def k2(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k2 = ½ (log π − log π_ref)² per token."""
    return 0.5 * (logp - ref_logp) ** 2


class FixedKLController:
    """β that never changes (the `update` of a fixed coefficient does nothing)."""

    def __init__(self, kl_coef: float):
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> float:
        return self.value


class AdaptiveKLController:
    """Ziegler et al.'s proportional controller: β grows while KL is above `target`, shrinks below it.

    >>> c = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    >>> round(c.update(12.0, 512), 6)
    0.101024
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: float):
        if target <= 0 or horizon <= 0:
            raise ValueError("the adaptive KL controller needs target > 0 and horizon > 0")
        self.value = float(init_kl_coef)
        self.target = float(target)
        self.horizon = float(horizon)

    def update(self, current_kl: float, n_steps: int) -> float:
        # e = clip(KL / KL_target − 1, −0.2, 0.2);  β ← β (1 + e · n / horizon)
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
        return self.value
