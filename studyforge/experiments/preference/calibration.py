"""Calibration of predicted probabilities against outcomes: ECE, reliability bins, Brier score and log loss.

A predictor is calibrated when, among the cases it gives probability p, the event happens a share p of the
time. For a reward model the probability is P(chosen ≻ rejected) = σ(r_c − r_r) (Bradley–Terry) and the
outcome is the gold one, y = 1 when the chosen completion has the larger gold reward (0.5 for a gold tie).

- **Reliability diagram** (DeGroot & Fienberg 1983; Niculescu-Mizil & Caruana 2005): split [0, 1] into
  equal-width bins B_1 … B_M; in each, plot the mean outcome acc_b = mean(y) against the mean probability
  conf_b = mean(p). A calibrated predictor sits on the diagonal.
- **Expected calibration error** (Naeini, Cooper & Hauskrecht 2015; Guo et al. 2017, arXiv:1706.04599,
  eq. 3): the bin-weighted gap  ECE = Σ_b (n_b / N) |acc_b − conf_b|.  It is 0 for a calibrated predictor
  only in the limit: with finite N each bin's acc_b is a sample mean, so expect ~ Σ_b (n_b/N) √(p(1−p)/n_b).
- **Brier score** (Brier 1950): mean (p − y)², a proper scoring rule (calibration and sharpness together).
- **Log loss**: −mean[y log p + (1 − y) log(1 − p)], the Bradley–Terry loss measured against gold.

Pairwise preferences and `symmetric`: a pair can be written either way round — (chosen, rejected) with
(p, y), or (rejected, chosen) with (1 − p, 1 − y) — and the orientation is a choice of presentation, not
a property of the model. When the chosen side is the label-preferred one, most p are above ½ and most y are
1, so the bins below ½ sit empty and the ECE depends on which way the pairs were written. `symmetric=True`
counts every pair both ways: the reliability diagram becomes point-symmetric about (½, ½), every bin that
can be filled is, and the ECE no longer depends on orientation. A pair and its mirror can land in one bin
and partly cancel, so the symmetric ECE is never above the one-way one. N then counts each pair twice.
Brier score and log loss are the same either way.

>>> # two bins: ½ |0.5 − 0.15| + ½ |1 − 0.85|
>>> round(expected_calibration_error([0.1, 0.2, 0.8, 0.9], [0, 1, 1, 1], bins=2), 6)
0.25
"""

from __future__ import annotations

import numpy as np


def _as_arrays(probs, outcomes, symmetric: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """probs and outcomes as flat float64 arrays (lists, arrays or tensors), checked to be in [0, 1];
    with `symmetric`, each pair also read the other way round, (1 − p, 1 − y)."""
    p = _to_numpy(probs)
    y = _to_numpy(outcomes)
    if p.shape != y.shape:
        raise ValueError(f"probs and outcomes differ in shape: {p.shape} vs {y.shape}")
    if p.size == 0:
        raise ValueError("calibration needs at least one (probability, outcome) pair")
    for name, values in (("probs", p), ("outcomes", y)):
        if not np.all((values >= 0.0) & (values <= 1.0)):  # also false for NaN
            raise ValueError(f"{name} must lie in [0, 1] (found {values[~((values >= 0) & (values <= 1))][0]})")
    if symmetric:
        p, y = np.concatenate([p, 1.0 - p]), np.concatenate([y, 1.0 - y])
    return p, y


def _to_numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU or needing grad
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


def reliability_bins(probs, outcomes, bins: int = 10, symmetric: bool = False) -> list[dict]:
    """The reliability diagram's data: one dict per equal-width bin over [0, 1], empty bins included.

    Keys: lo, hi (bin b is [lo, hi), the last one closed at 1), count, mean_prob (conf_b) and frequency
    (acc_b, the mean outcome); the two means are None in an empty bin. The counts sum to N (2N when
    `symmetric`).

    >>> [(b["count"], round(b["mean_prob"], 6), b["frequency"])
    ...  for b in reliability_bins([0.1, 0.2, 0.8, 1.0], [0, 1, 1, 1], bins=2)]
    [(2, 0.15, 0.5), (2, 0.9, 1.0)]
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    p, y = _as_arrays(probs, outcomes, symmetric)
    # bin b holds b/M ≤ p < (b+1)/M; p = 1 joins the last bin
    index = np.minimum(np.floor(p * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    sum_p = np.bincount(index, weights=p, minlength=bins)
    sum_y = np.bincount(index, weights=y, minlength=bins)
    rows = []
    for b in range(bins):
        n = int(count[b])
        rows.append({"lo": b / bins, "hi": (b + 1) / bins, "count": n,
                     "mean_prob": float(sum_p[b] / n) if n else None,
                     "frequency": float(sum_y[b] / n) if n else None})
    return rows


def expected_calibration_error(probs, outcomes, bins: int = 10, symmetric: bool = False) -> float:
    """ECE = Σ_b (n_b / N) |acc_b − conf_b| over `bins` equal-width bins of [0, 1] (see the module docstring
    for `symmetric`, which pairwise preferences want)."""
    rows = reliability_bins(probs, outcomes, bins, symmetric)
    total = sum(row["count"] for row in rows)
    # Σ_b (n_b / N) |acc_b − conf_b|, empty bins weighing 0
    return float(sum(row["count"] / total * abs(row["frequency"] - row["mean_prob"])
                     for row in rows if row["count"]))


def brier_score(probs, outcomes) -> float:
    """mean (p − y)²: 0 for certain and right, 0.25 for always ½.

    >>> brier_score([0.5, 0.5, 1.0], [1, 0, 1])
    0.16666666666666666
    """
    p, y = _as_arrays(probs, outcomes)
    return float(np.mean((p - y) ** 2))


def log_loss(probs, outcomes, eps: float = 1e-12) -> float:
    """−mean[y log p + (1 − y) log(1 − p)], with p clipped to [eps, 1 − eps] so a confident mistake costs
    −log eps (≈ 27.6) instead of infinity.

    >>> round(log_loss([0.5, 0.8], [1, 0]), 6)  # (log 2 − log 0.2) / 2
    1.151293
    """
    p, y = _as_arrays(probs, outcomes)
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))
