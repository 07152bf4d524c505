"""The figure check used by the smoke test finds each kind of defect it claims to, and passes a clean figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from figure_checks import text_elements, text_problems  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def clean_figure():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    for ax in axes:
        ax.plot([0, 1, 2], [1, 3, 2], label="a line")
        ax.set(xlabel="step", ylabel="value", title="A panel")
        ax.legend(loc="lower right")
    axes[0].annotate("peak", (1, 3), xytext=(5, -15), textcoords="offset points")
    fig.suptitle("Two panels")
    return fig


def test_a_clean_figure_has_no_problems():
    assert text_problems(clean_figure()) == []


def test_overlapping_tick_labels_are_found():
    fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
    ax.plot(range(12), range(12))
    ax.set_xticks(range(12), [f"label number {i}" for i in range(12)])
    problems = text_problems(fig)
    assert any("xtick 'label number 0'" in p and "overlaps xtick 'label number 1'" in p for p in problems), problems


def test_overlapping_texts_and_a_legend_are_found():
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0, 1], [0, 1], label="a long legend entry")
    ax.legend(loc="upper left")
    ax.text(0.05, 0.9, "a note under the legend", transform=ax.transAxes)
    problems = text_problems(fig)
    assert any("text 'a note under the legend'" in p and "legend" in p for p in problems), problems


def test_a_label_running_into_the_next_panel_is_found():
    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    fig.subplots_adjust(wspace=0.05)
    axes[1].set_ylabel("a label between the panels")
    axes[1].set_yticks([0, 1], ["zero", "one"])
    problems = text_problems(fig)
    assert any("runs into the plot axes 0" in p for p in problems), problems


def test_an_annotation_crossing_the_frame_and_the_canvas_is_found():
    fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.annotate("a long note at the last point", (1, 1), xytext=(-5, -5), textcoords="offset points")
    ax.set_title("a title far too long for this small figure to hold")
    problems = text_problems(fig)
    assert any("annotation 'a long note" in p and "crosses its plot's frame" in p for p in problems), problems
    assert any("title 'a title far" in p and "outside the canvas" in p for p in problems), problems


def test_an_annotation_hidden_by_annotation_clip_is_not_counted():
    fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.set_xlim(0, 1)
    ax.annotate("off the plot, never drawn", (5, 0.5))
    assert text_problems(fig) == []


def test_slanted_tick_labels_are_measured_by_their_own_rectangles():
    """At 45° the axis-aligned boxes of neighbouring labels overlap although the labels do not; crowd them
    and they do."""
    def slanted(n: int):
        fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
        ax.bar(range(n), range(n))
        ax.set_xticks(range(n), [f"tokenizer_{i}" for i in range(n)], rotation=45, ha="right")
        return fig

    readable = slanted(12)
    assert text_problems(readable) == []
    boxes = [e.bbox for e in text_elements(readable, readable.canvas.get_renderer()) if e.kind == "xtick"]
    assert boxes[0].overlaps(boxes[1])  # what an axis-aligned check would have flagged
    problems = text_problems(slanted(40))
    assert any("xtick 'tokenizer_0'" in p and "overlaps xtick 'tokenizer_1'" in p for p in problems), problems
