"""Reward-model over-optimisation: how the gold reward of a policy optimised against a proxy rises, peaks and falls
with the distance travelled from the reference — Gao, Schulman & Hilton, 2022, "Scaling Laws for Reward Model
Overoptimization", arXiv 2210.10760.

Their setup, which weeks 9–12 reproduce in small: a *gold* reward labels pairs (here week 9's gold utility
u = style + fluency through a Bradley–Terry annotator), a *proxy* reward model is trained on those labels, a
policy is optimised against the proxy, and the gold reward of what it writes is measured. Optimisation is
measured by the distance from the reference (initial) policy,

    d = √KL(π ‖ π_ref)

with KL in nats per response: for best-of-n it is known in closed form, KL_BoN = log n − (n − 1)/n
(`rlhf.best_of_n.best_of_n_kl`); for RL it is measured (the mean k1 sum over fresh responses). The gold score
R(d) is taken relative to the reference's, so R(0) = 0, and the paper finds two functional forms (§3.1):

    best-of-n:  R_BoN(d) = d (α_bon − β_bon · d)
    RL:         R_RL(d)  = d (α_RL − β_RL · log d)

Both are linear in (α, β), so least squares is one linear solve (`fit_overoptimization`): the design columns
are (d, −d²) for BoN and (d, −d log d) for RL (d log d → 0 at d = 0). Where β > 0 the curve is concave and
peaks where dR/dd = 0:

    BoN:  α − 2β d = 0              ⇒  d* = α / (2β),        R(d*) = α² / (4β)
    RL:   α − β (log d + 1) = 0     ⇒  d* = exp(α/β − 1),     R(d*) = β d*

(`peak_bon`, `peak_rl`). β ≤ 0 means the fitted gold never turns down (no peak in the form's range); a BoN fit
with α ≤ 0 < β peaks at d = 0 (the proxy never helped).

**Proxy and gold on one axis.** A reward model's scores have units of their own (Bradley–Terry fixes only
differences, and a weak model shrinks them), so the proxy is put on the gold's scale by matching spreads on the
reference's own samples: with N samples per prompt, k = sd_w(r) / sd_w(u), the ratio of the within-prompt
standard deviations (pooled over prompts; `units_per_gold`), and the proxy's *belief* about a gain is
(r − r_ref)/k (`proxy_in_gold_units`). A perfect proxy r = a·u + c(x) (any scale a, any per-prompt constant) has
k = a, and its belief is exactly the gold gain. A proxy r = u + noise believes more than it delivers: for
jointly Gaussian scores, selecting on r moves the gold by ρ times the belief, ρ the proxy–gold correlation —
Gao et al.'s regressional Goodhart (§4.1). The proxy–gold gap is that belief minus the measured gold gain.

**What an exploit looks like** (`text_stats`): a policy that games a proxy rewarding long, vowel-rich
responses writes without stopping, in vowel runs and repeated fragments; the share of responses that never
emit the stop token, the vowel share, the longest vowel run and the share of repeated character n-grams
describe it next to the reference's text.

>>> fit = fit_overoptimization([0.0, 1.0, 2.0, 3.0], [0.0, 0.9, 1.6, 2.1], "bon")
>>> round(fit.alpha, 3), round(fit.beta, 3), round(fit.d_peak, 2)
(1.0, 0.1, 5.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from studyforge.experiments.preference_optimization.pairs import vowel_share

Method = Literal["bon", "rl"]
VOWELS = frozenset("aeiou")


# -------------------------------------------------------------------------------------------------
# The functional forms, their peaks and the least-squares fit.


def r_bon(d, alpha: float, beta: float):
    """R_BoN(d) = d (α − β d) (d a float or an array)."""
    d = np.asarray(d, dtype=float)
    return d * (alpha - beta * d)


def r_rl(d, alpha: float, beta: float):
    """R_RL(d) = d (α − β log d), with d log d = 0 at d = 0."""
    d = np.asarray(d, dtype=float)
    return d * alpha - beta * _d_log_d(d)


def _d_log_d(d: np.ndarray) -> np.ndarray:
    # d · log d, continuous at 0 (its limit)
    return np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0)), 0.0)


def peak_bon(alpha: float, beta: float) -> tuple[float, float] | None:
    """(d*, R(d*)) of R_BoN: d* = α/(2β), R = α²/(4β); clipped to (0, 0) when α ≤ 0; None when β ≤ 0.

    >>> peak_bon(1.0, 0.25)
    (2.0, 1.0)
    """
    if beta <= 0:
        return None
    if alpha <= 0:
        return 0.0, 0.0
    return alpha / (2 * beta), alpha**2 / (4 * beta)


def peak_rl(alpha: float, beta: float) -> tuple[float, float] | None:
    """(d*, R(d*)) of R_RL: d* = exp(α/β − 1), R = β d*; None when β ≤ 0 or d* overflows (> e^50).

    >>> d, r = peak_rl(1.0, 0.5)
    >>> round(d, 4), round(r, 4)
    (2.7183, 1.3591)
    """
    if beta <= 0 or alpha / beta - 1 > 50:
        return None
    d = math.exp(alpha / beta - 1)
    return d, beta * d


@dataclass
class Fit:
    """A fitted functional form: coefficients, R² (1 − SS_res/SS_tot) and the peak (None when there is none)."""

    method: Method
    alpha: float
    beta: float
    r2: float
    d_peak: float | None
    gold_peak: float | None
    points: int

    def predict(self, d):
        return (r_bon if self.method == "bon" else r_rl)(d, self.alpha, self.beta)

    def as_dict(self) -> dict:
        return asdict(self)


def fit_overoptimization(d: Sequence[float], gold: Sequence[float], method: Method) -> Fit:
    """Least-squares (α, β) of R_BoN or R_RL to gold gains `gold` (relative to the reference, so R(0) = 0) at
    distances `d`: min Σ (R(d_i) − g_i)², linear in (α, β) — the design columns are (d, −d²) or (d, −d log d).
    R² = 1 − SS_res / SS_tot with SS_tot = Σ (g − ḡ)² (NaN when every g is equal)."""
    d = np.asarray(d, dtype=float)
    g = np.asarray(gold, dtype=float)
    if d.shape != g.shape or d.ndim != 1:
        raise ValueError("d and gold must be 1-D and of one length")
    if len(d) < 2:
        raise ValueError("fitting two coefficients needs at least two points")
    if np.any(d < 0):
        raise ValueError("d = √KL cannot be negative")
    # R = α·d − β·(d²  or  d log d)
    second = d**2 if method == "bon" else _d_log_d(d)
    design = np.stack([d, -second], axis=1)  # (n, 2)
    (alpha, beta), *_ = np.linalg.lstsq(design, g, rcond=None)
    residual = g - design @ np.array([alpha, beta])
    ss_tot = float(((g - g.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / ss_tot if ss_tot > 0 else math.nan
    peak = (peak_bon if method == "bon" else peak_rl)(float(alpha), float(beta))
    return Fit(method, float(alpha), float(beta), r2, None if peak is None else peak[0],
               None if peak is None else peak[1], len(d))


# -------------------------------------------------------------------------------------------------
# Best-of-n curves and the proxy on the gold's scale.


def within_prompt_sd(x: torch.Tensor) -> float:
    """√(mean over prompts of each prompt's sample variance (N − 1 in the denominator)) of x (B, N): the spread
    of responses to one prompt, without the differences between prompts.

    >>> within_prompt_sd(torch.tensor([[0.0, 2.0], [10.0, 14.0]]))
    2.23606797749979
    """
    return float(x.double().var(dim=1).mean().sqrt())


def units_per_gold(proxy: torch.Tensor, gold: torch.Tensor) -> float:
    """k = sd_w(proxy) / sd_w(gold) on the reference's samples (B, N): proxy units per gold unit.

    >>> units_per_gold(torch.tensor([[3.0, 7.0]]), torch.tensor([[0.25, 0.75]]))
    8.0
    """
    return within_prompt_sd(proxy) / within_prompt_sd(gold)


def proxy_in_gold_units(proxy, reference_proxy: float, units: float):
    """(r − r_ref) / k: the proxy's belief about the gold gain, k from `units_per_gold`.

    >>> proxy_in_gold_units(3.0, 1.0, 20.0)
    0.1
    """
    return (proxy - reference_proxy) / units


def bon_grid(n_max: int) -> list[int]:
    """n = 1, 2, 3, 4, 6, 8, 12, 16, … (powers of two and their halfway points 1.5·2^k) up to n_max, which is
    always included: even steps in log n, where the d of best-of-n moves.

    >>> bon_grid(20)
    [1, 2, 3, 4, 6, 8, 12, 16, 20]
    """
    ns = {1, n_max}
    k = 1
    while k <= n_max:
        ns.add(k)
        if k + k // 2 <= n_max and k >= 2:
            ns.add(k + k // 2)
        k *= 2
    return sorted(ns)


# -------------------------------------------------------------------------------------------------
# Describing the text of an exploit.


def repeated_ngram_share(seq: Sequence, n: int = 3) -> float:
    """Share of a sequence's n-grams that repeat an n-gram seen earlier in it (0.0 with no n-gram).

    "abcabc" has the 3-grams abc, bca, cab, abc: one repeat of four.

    >>> repeated_ngram_share("abcabc", 3), repeated_ngram_share("aaaa", 2), repeated_ngram_share("ab", 3)
    (0.25, 0.6666666666666666, 0.0)
    """
    grams = [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]
    seen: set[tuple] = set()
    repeats = 0
    for g in grams:
        repeats += g in seen
        seen.add(g)
    return repeats / len(grams) if grams else 0.0


def longest_vowel_run(text: str) -> int:
    """The longest run of consecutive vowel letters (a, e, i, o, u; case-insensitive).

    >>> longest_vowel_run("Beautiful queue"), longest_vowel_run("rhythm")
    (4, 0)
    """
    best = run = 0
    for c in text.lower():
        run = run + 1 if c in VOWELS else 0
        best = max(best, run)
    return best


def text_stats(texts: Sequence[str], stop: str | None, n: int = 3) -> dict[str, float]:
    """What a set of responses looks like: the share that never emit `stop` (run to the length limit), mean
    length in characters, vowel share, longest vowel run and share of repeated character n-grams (means over
    responses).

    >>> s = text_stats(["abc\\n", "aaaaaa"], stop="\\n")
    >>> s["no_stop_share"], s["mean_chars"], s["longest_vowel_run"]
    (0.5, 5.0, 3.5)
    """
    if not texts:
        raise ValueError("no texts to describe")
    k = len(texts)
    return {"no_stop_share": sum(stop is None or stop not in t for t in texts) / k,
            "mean_chars": sum(len(t) for t in texts) / k,
            "vowel_share": sum(vowel_share(t) for t in texts) / k,
            "longest_vowel_run": sum(longest_vowel_run(t) for t in texts) / k,
            f"repeated_{n}gram_share": sum(repeated_ngram_share(t, n) for t in texts) / k}
