"""Aggregating several seeds: mean ± 95% confidence interval (Student's t), per summary value."""

from __future__ import annotations

import math
from typing import Any


def mean_ci(values: list[float], confidence: float = 0.95) -> dict[str, Any]:
    """`[1.0, 2.0, 3.0]` -> `{"mean": 2.0, "std": 1.0, "ci95": 2.484, "n": 3, "values": [...]}`.

    The half-width is t_{(1+c)/2, n-1} · s / √n with s the sample standard deviation; n = 1 has no interval.
    """
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "std": None, "ci95": None, "n": n, "values": list(values)}
    from scipy import stats

    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    # half-width = t · s / √n
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95": half, "n": n, "values": list(values)}


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}, "c": 2}` -> `{"a.b": 1, "c": 2}` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def aggregate(per_seed: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary of means, stats) over the seeds' summaries.

    Numbers present in every seed become their mean (with a stats entry); anything else is taken from
    the first seed. Nested dicts are aggregated leaf by leaf.
    """
    first = per_seed[0]
    stats: dict[str, Any] = {}

    def merge(template: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in template.items():
            here = (*path, str(key))
            if isinstance(value, dict):
                out[key] = merge(value, here)
                continue
            values = [_get(s, here) for s in per_seed]
            if all(is_number(v) for v in values):
                entry = mean_ci([float(v) for v in values])
                stats[".".join(here)] = entry
                out[key] = entry["mean"]
            else:
                out[key] = value
        return out

    return merge(first, ()), stats


def _get(summary: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = summary
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
