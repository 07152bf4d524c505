"""Does a figure read cleanly? Its text elements, measured by the renderer that draws them.

`text_problems(fig)` lays the figure out and returns one line per defect, empty when there is none:

- two text elements overlap (titles, axis labels, tick labels, offset texts, annotations and other texts,
  legends taken whole, suptitles and other figure texts);
- a text element runs into another plot's frame (a y-label over the neighbouring panel);
- a text anchored inside a plot crosses that plot's frame (an annotation cut by a spine);
- a text element falls outside the canvas (the figure's own area: a figure must lay itself out, with
  `layout="constrained"` or `tight_layout()`, rather than count on `savefig(bbox_inches="tight")`).

Boxes are `get_window_extent(renderer)` once the figure is laid out for drawing, in display pixels; a
rotated text is measured by its own rotated rectangle (its axis-aligned box would also cover the gaps
between slanted tick labels). Two boxes collide when they share more than `tolerance` pixels across
every direction that separates them (glyph boxes include a little padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox


@dataclass(frozen=True, eq=False)
class Element:
    """One piece of text the reader sees: what it is, what it says, which plot it belongs to, where it is."""

    kind: str  # title, xlabel, ylabel, xtick, ytick, offset, text, annotation, legend, figure text, ...
    text: str
    owner: int | None  # index of its Axes in fig.axes; None for the figure's own texts and legends
    bbox: Bbox  # axis-aligned box, display pixels
    corners: np.ndarray  # (4, 2) corners of the (possibly rotated) text rectangle, display pixels
    anchored_inside: bool = False  # a text or annotation whose anchor lies inside its plot

    def describe(self, fig: Figure) -> str:
        where = "figure" if self.owner is None else _axes_name(fig, self.owner)
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"{self.kind} {text!r} ({where})"


def text_problems(fig: Figure, tolerance: float = 1.0) -> list[str]:
    """Every overlap, collision with another plot, crossed frame and escape from the canvas (see above)."""
    # lays every artist out as `fig.canvas.draw()` does, without rasterizing (several times faster)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    elements = text_elements(fig, renderer)
    frames = {i: ax.get_window_extent(renderer) for i, ax in enumerate(fig.axes)
              if ax.get_visible() and ax.axison and ax.patch.get_visible()}
    problems = []
    for e in elements:
        if not _within(e.bbox, fig.bbox, tolerance):
            problems.append(f"{e.describe(fig)} falls outside the canvas ({_box(e.bbox)} vs {_box(fig.bbox)})")
    for e in elements:
        if e.anchored_inside and e.owner in frames and not _within(e.bbox, frames[e.owner], tolerance):
            problems.append(f"{e.describe(fig)} crosses its plot's frame")
    for e in elements:
        own = frames.get(e.owner) if e.owner is not None else None
        for i, frame in frames.items():
            if i == e.owner or (own is not None and _same_box(frame, own)):
                continue  # its own plot, or a twin sharing its frame
            if _collide(e.corners, _rectangle(frame), tolerance):
                problems.append(f"{e.describe(fig)} runs into the plot {_axes_name(fig, i)}")
    boxes = np.array([[e.bbox.x0, e.bbox.y0, e.bbox.x1, e.bbox.y1] for e in elements]).reshape(-1, 4)
    near = _overlap_matrix(boxes, tolerance)  # axis-aligned boxes first; rotated ones are then looked at closely
    for a, b in zip(*np.nonzero(np.triu(near)), strict=True):
        if _collide(elements[a].corners, elements[b].corners, tolerance):
            problems.append(f"{elements[a].describe(fig)} overlaps {elements[b].describe(fig)}")
    return problems


def text_elements(fig: Figure, renderer) -> list[Element]:
    """The visible, non-empty text of the figure (laid out already), with its display-space boxes."""
    out: list[Element] = []

    def add(kind: str, artist, owner: int | None, frame: Bbox | None = None) -> None:
        if artist is None or not artist.get_visible():
            return
        if isinstance(artist, Text) and not artist.get_text().strip():
            return
        if isinstance(artist, Annotation) and not artist._check_xy(renderer):
            return  # its point is outside the plot and annotation_clip hides it: nothing is drawn
        bbox = artist.get_window_extent(renderer)
        if bbox.width <= 0 or bbox.height <= 0:
            return
        label = artist.get_text() if isinstance(artist, Text) else "legend"
        corners = _text_corners(artist, bbox, renderer) if isinstance(artist, Text) else _rectangle(bbox)
        inside = frame is not None and _anchor_inside(artist, frame)
        out.append(Element(kind, label, owner, bbox, corners, inside))

    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        for title in (ax.title, ax._left_title, ax._right_title):
            add("title", title, i)
        if ax.axison:
            for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
                add(f"{name}label", axis.label, i)
                add("offset", axis.get_offset_text(), i)
                for label in _drawn_ticklabels(axis):
                    add(f"{name}tick", label, i)
        frame = ax.get_window_extent(renderer)
        for text in ax.texts:
            add("annotation" if isinstance(text, Annotation) else "text", text, i, frame)
        add("legend", ax.get_legend(), i)
    for text in fig.texts:
        add("figure text", text, None)
    for legend in fig.legends:
        add("figure legend", legend, None)
    return out


def _drawn_ticklabels(axis) -> list[Text]:
    """The tick labels this axis draws: a locator also returns ticks just beyond the view, never drawn."""
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-9 * ((hi - lo) or 1.0)
    labels = []
    for ticks, locs in ((axis.get_major_ticks(), axis.get_majorticklocs()),
                        (axis.get_minor_ticks(), axis.get_minorticklocs())):
        for tick, loc in zip(ticks, locs, strict=False):
            if lo - eps <= loc <= hi + eps:
                labels += [label for label in (tick.label1, tick.label2) if label.get_visible()]
    return labels


def _text_corners(text: Text, bbox: Bbox, renderer) -> np.ndarray:
    """Corners of a text's own rectangle: its box when upright, else its size unrotated, turned by its angle
    about the centre of its axis-aligned box (a rectangle's box shares its centre)."""
    rotation = text.get_rotation()
    angle = rotation % 180
    if min(angle, 180 - angle) < 1 or abs(angle - 90) < 1:
        return _rectangle(bbox)
    text.set_rotation(0)
    try:
        upright = text.get_window_extent(renderer)
    finally:
        text.set_rotation(rotation)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [upright.width / 2, upright.height / 2]
    theta = np.deg2rad(angle)
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = np.array([(bbox.x0 + bbox.x1) / 2, (bbox.y0 + bbox.y1) / 2])
    return centre + half @ turn.T


def _rectangle(b: Bbox) -> np.ndarray:
    return np.array([[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]])


def _collide(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    """Two convex quadrilaterals overlap by more than `tolerance` pixels along every edge normal of either
    (the separating-axis theorem: any normal along which their shadows are apart proves them apart)."""
    for corners in (a, b):
        for k in range(2):
            edge = corners[k + 1] - corners[k]
            normal = np.array([-edge[1], edge[0]]) / np.hypot(*edge)
            pa, pb = a @ normal, b @ normal
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= tolerance:
                return False
    return True


def _anchor_inside(text: Text, frame: Bbox) -> bool:
    """Whether the point the text is placed at (its xytext for an annotation) lies strictly inside the plot."""
    if isinstance(text, Annotation):
        x, y = text.get_transform().transform(text.xyann)
    else:
        x, y = text.get_transform().transform(text.get_position())
    return frame.x0 < x < frame.x1 and frame.y0 < y < frame.y1


def _overlap_matrix(boxes: np.ndarray, tolerance: float) -> np.ndarray:
    """(n, n) booleans: boxes i and j share more than `tolerance` pixels in x and in y."""
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    wide = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    high = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    hit = (wide > tolerance) & (high > tolerance)
    np.fill_diagonal(hit, False)
    return hit


def _within(inner: Bbox, outer: Bbox, tolerance: float) -> bool:
    return (inner.x0 >= outer.x0 - tolerance and inner.y0 >= outer.y0 - tolerance
            and inner.x1 <= outer.x1 + tolerance and inner.y1 <= outer.y1 + tolerance)


def _same_box(a: Bbox, b: Bbox) -> bool:
    return bool(np.allclose(a.get_points(), b.get_points(), atol=0.5))


def _axes_name(fig: Figure, index: int) -> str:
    ax = fig.axes[index]
    title = ax.get_title() or ax.get_title("left") or ax.get_ylabel()
    return f"axes {index}" + (f" {title[:30]!r}" if title else "")


def _box(b: Bbox) -> str:
    return f"[{b.x0:.0f}, {b.y0:.0f}, {b.x1:.0f}, {b.y1:.0f}]"
