"""Statistics over seeds (`tracking/stats.py`): the mean and Student-t 95% interval, and nested summaries aggregated."""

from __future__ import annotations

import pytest

from studyforge.tracking.stats import aggregate, mean_ci


def test_mean_ci_matches_student_t():
    stats = mean_ci([1.0, 2.0, 3.0])
    # t_{0.975, 2} = 4.302653; s = 1; half-width = 4.302653 / sqrt(3)
    assert stats["mean"] == 2.0 and stats["n"] == 3
    assert stats["ci95"] == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    summary, per_key = aggregate([{"a": 1.0, "b": {"c": 2}, "s": "x"}, {"a": 3.0, "b": {"c": 4}, "s": "y"}])
    assert summary == {"a": 2.0, "b": {"c": 3.0}, "s": "x"}
    assert per_key["b.c"]["values"] == [2.0, 4.0]
