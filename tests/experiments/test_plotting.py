"""`label_points` names crowded points without a label on another, on a point or across the frame."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from figure_checks import text_problems  # noqa: E402

from studyforge.experiments.plotting import label_points  # noqa: E402

# throughput and loss of twelve transformer variants on one run (loss_vs_throughput): close pairs, and one
# point at the right edge
POINTS = [(389, 4.125), (456, 4.040), (104, 4.002), (353, 3.997), (837, 3.997), (1052, 4.002), (150, 3.986),
          (116, 3.981), (97, 3.975), (664, 3.959), (133, 3.942), (1096, 3.923)]
NAMES = ["post_norm", "mamba", "qk_norm", "baseline", "parallel", "retnet", "relu", "rmsnorm", "moe", "llama",
         "swiglu", "rope"]


def scatter():
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    ax.scatter(*zip(*POINTS, strict=True))
    ax.margins(0.12)
    return fig, ax


def test_naive_annotations_collide_and_placed_ones_do_not():
    fig, ax = scatter()
    for name, xy in zip(NAMES, POINTS, strict=True):
        ax.annotate(name, xy, fontsize=8)
    assert any("overlaps" in p for p in text_problems(fig))
    plt.close(fig)

    fig, ax = scatter()
    labels = label_points(ax, POINTS, NAMES)
    assert [a.get_text() for a in labels] == NAMES
    assert text_problems(fig) == []
    plt.close(fig)


def test_a_second_series_avoids_the_first_and_points_that_are_not_finite_are_skipped():
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0, 1, 2, 3], [11, 9, 7, 5], "o-")
    ax.margins(0.15)
    label_points(ax, [(1, 9), (2, 7), (3, 5)], ["ZabdZabac", "YbdYbac", "XdXac"], color="C0")
    second = label_points(ax, [(1, 9), (2, 7), (3, 5), (4, float("nan"))], ["ZabdZabac", "ZYdZYac", "XdXac", "-"],
                          prefer=["below left", "below right", "above left", "left", "below"], color="C1")
    assert len(second) == 3
    assert text_problems(fig) == []
    plt.close(fig)
