"""Plot helpers every study's figures share.

`label_points` names the points of a scatter (or the markers of a line) without the labels landing on each
other, on the points, or across the plot's frame — what `ax.annotate(name, xy)` in a loop does as soon
as two points are close or one sits at the edge. matplotlib is imported by the caller (the runner selects
the Agg backend); nothing here imports pyplot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# where a label may go around its point, in order of preference: (offset in points, ha, va)
PLACES = {
    "above right": ((4, 4), "left", "bottom"),
    "below right": ((4, -4), "left", "top"),
    "above left": ((-4, 4), "right", "bottom"),
    "below left": ((-4, -4), "right", "top"),
    "above": ((0, 6), "center", "bottom"),
    "below": ((0, -6), "center", "top"),
    "right": ((6, 0), "left", "center"),
    "left": ((-6, 0), "right", "center"),
}


def label_points(ax, points: Iterable[Sequence[float]], labels: Iterable[str],
                 prefer: Sequence[str] = tuple(PLACES), **text: Any) -> list:
    """Annotate each (x, y) data point with its label, at the first place in `prefer` (see `PLACES`) where
    the label stays inside the plot and clear of the labels already there (this call's and earlier texts of
    `ax`) and of the other points; where no place is clear, at the one with the fewest collisions.

    The figure is laid out first (`draw_without_rendering`), so the pixel positions measured are the ones
    drawn; labels inside the plot do not change a constrained or tight layout. Points that are not finite
    are skipped. `text` goes to `ax.annotate` (fontsize, color, ...; fontsize 8 unless given).
    Returns the annotations.
    """
    fig = ax.figure
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    points = [(float(x), float(y)) for x, y in points]
    labels = list(labels)
    pixels = ax.transData.transform(np.array(points, dtype=float).reshape(-1, 2))
    taken = [t.get_window_extent(renderer) for t in ax.texts if t.get_visible() and t.get_text()]
    text = {"fontsize": 8, **text}
    out = []
    for i, ((x, y), label) in enumerate(zip(points, labels, strict=True)):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        others = np.delete(pixels, i, axis=0)
        best, best_cost = None, None
        for place in prefer:
            (dx, dy), ha, va = PLACES[place]
            candidate = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                    **text)
            box = candidate.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            on_labels = sum(box.overlaps(t) for t in taken)
            on_points = int(np.sum((others[:, 0] > box.x0 - 3) & (others[:, 0] < box.x1 + 3)
                                   & (others[:, 1] > box.y0 - 3) & (others[:, 1] < box.y1 + 3)))
            cost = (0 if inside else 100) + 10 * on_labels + on_points
            if best_cost is None or cost < best_cost:
                if best is not None:
                    best.remove()
                best, best_cost = candidate, cost
            else:
                candidate.remove()
            if cost == 0:
                break
        taken.append(best.get_window_extent(renderer))
        out.append(best)
    return out
