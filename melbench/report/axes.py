"""Axes of the report figures: log cost axes with readable ticks, labels placed without overlap.

:func:`log_ticks` chooses tick positions ``m * 10**k`` so that a log axis always has
several labelled ticks (at least :data:`MIN_TICKS`), also over less than a decade;
:func:`format_seconds` and :func:`format_count` write them with units;
:func:`set_log_cost_axis` and :func:`set_symlog_cost_axis` put both on an axes.
:func:`place_labels` annotates points so that no label covers another label or a
marker (greedy search over offsets around each point, measured in display
coordinates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Minimum number of labelled ticks on a log cost axis.
MIN_TICKS = 3



def format_seconds(v: float) -> str:
    """Tick text for a duration: ``500 µs``, ``20 ms``, ``0.5 s``, ``2 s``, ``1.5 min``."""
    if v == 0:
        return "0"
    a = abs(v)
    if a < 1e-3:
        return f"{v * 1e6:.3g} µs"
    if a < 0.1:
        return f"{v * 1e3:.3g} ms"
    if a < 120:
        return f"{v:.3g} s"
    return f"{v / 60:.3g} min"


def format_count(v: float) -> str:
    """Tick text for a count: ``50``, ``200``, ``1.5k``, ``20k``, ``3M``."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4 or (a >= 1e3 and v % 1000):
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


#: Mantissas tried by :func:`log_ticks`, sparsest first.
_MANTISSAS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0, 7.0), tuple(float(m) for m in range(1, 10)))


def log_ticks(lo: float, hi: float, *, minimum: int = MIN_TICKS) -> list[float]:
    """Tick positions for a log axis showing ``[lo, hi]``: at least ``minimum`` of them.

    Ticks are ``m * 10**k`` with the sparsest mantissa set of 1; 1-2-5; 1-2-3-5-7;
    1..9 that puts ``minimum`` ticks inside ``[lo, hi]``; when even 1..9 does not (a
    range under a factor of about 1.3), ``minimum`` evenly log-spaced values rounded to
    two significant digits are used.

    Parameters
    ----------
    lo, hi : float
        Visible range, ``0 < lo < hi``.
    minimum : int
        Fewest ticks wanted.

    Returns
    -------
    list of float
        Increasing positions inside ``[lo, hi]``.
    """
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"log_ticks needs 0 < lo < hi, got lo={lo}, hi={hi}")
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mants in _MANTISSAS:
        ticks = [m * 10.0 ** k for k in range(k0, k1 + 1) for m in mants]
        ticks = [float(f"{t:.12g}") for t in ticks if lo <= t <= hi]
        if len(ticks) >= minimum:
            if len(ticks) > 9 and mants is not _MANTISSAS[0]:
                step = math.ceil(len(ticks) / 9)  # many decades: thin out, keep powers of 10
                ticks = [t for i, t in enumerate(ticks) if i % step == 0 or
                         math.log10(t).is_integer()]
            return ticks
    for digits in (2, 3, 4, 6):
        ticks = sorted({float(f"{t:.{digits}g}") for t in np.geomspace(lo, hi, minimum + 2)[1:-1]})
        if len(ticks) >= minimum:
            return ticks
    return [float(t) for t in np.geomspace(lo, hi, minimum + 2)[1:-1]]


def set_log_cost_axis(ax: Any, values: np.ndarray, kind: str) -> None:
    """Log x axis over ``values`` (> 0) with :func:`log_ticks` labelled in seconds or counts.

    The visible range is the data's, widened by a factor 1.3 on each side (and to a factor
    of at least 4 in all, so that one point or a narrow cluster still gets ticks).
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    lo, hi = float(v.min()) / 1.3, float(v.max()) * 1.3
    if hi / lo < 4.0:
        mid = math.sqrt(lo * hi)
        lo, hi = mid / 2.0, mid * 2.0
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    fmt = format_seconds if kind == "seconds" else format_count
    ax.xaxis.set_major_locator(FixedLocator(log_ticks(lo, hi)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: fmt(x)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def set_symlog_cost_axis(ax: Any, values: np.ndarray, kind: str) -> None:
    """Symmetric-log x axis for costs that include 0 (a method without FFT work).

    Linear below half the smallest positive value, logarithmic above; ticks are 0 plus
    :func:`log_ticks` over the positive values' (widened) range.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    v = np.asarray(values, dtype=float)
    pos = v[np.isfinite(v) & (v > 0)]
    lo, hi = float(pos.min()) / 1.3, float(pos.max()) * 1.3
    if hi / lo < 4.0:
        mid = math.sqrt(lo * hi)
        lo, hi = mid / 2.0, mid * 2.0
    lin = lo / 2.0
    ax.set_xscale("symlog", linthresh=lin, linscale=0.5)
    ax.set_xlim(-0.3 * lin, hi)
    fmt = format_seconds if kind == "seconds" else format_count
    ax.xaxis.set_major_locator(FixedLocator([0.0, *log_ticks(lo, hi)]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: fmt(x)))
    ax.xaxis.set_minor_formatter(NullFormatter())


# --------------------------------------------------------------------------- label placement


#: Offsets (points) tried around a marker for its number, nearest first.
_OFFSETS = [(dx * r, dy * r) for r in (1.0, 1.8, 2.8, 4.0)
            for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1), (1.3, 0), (-1.3, 0), (0, 1.3), (0, -1.3))]


def place_labels(ax: Any, xs: Sequence[float], ys: Sequence[float], texts: Sequence[str], *,
                 marker_pt: float = 3.5, fontsize: float = 7.5) -> list[Any]:
    """Annotate points so that no two labels and no label and marker overlap.

    Each label tries offsets around its point (:data:`_OFFSETS`, growing rings) and keeps
    the first whose box overlaps neither a label already placed nor any marker, and lies
    inside the axes; if none does, the least-overlapping candidate is kept and joined to
    its point by a thin line. Call it after the axes' limits, scales and the figure layout
    are final (it measures in display coordinates).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes holding the points.
    xs, ys : sequence of float
        Data coordinates of the points.
    texts : sequence of str
        One label per point.
    marker_pt : float
        Marker radius in points (the markers' boxes are kept free).
    fontsize : float
        Label size in points.

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels, in the order of the points.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_px = fig.dpi / 72.0
    pts = ax.transData.transform(np.column_stack([xs, ys])) if len(xs) else np.empty((0, 2))
    r = marker_pt * to_px
    markers = [(x - r, y - r, x + r, y + r) for x, y in pts]
    frame = ax.get_window_extent(renderer)
    placed: list[tuple[float, float, float, float]] = []
    out = []

    def overlap(a: tuple, b: tuple) -> float:
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        return w * h if w > 0 and h > 0 else 0.0

    for x, y, text in zip(xs, ys, texts, strict=True):
        best, best_cost = None, math.inf
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, (x, y), xytext=(4 * dx, 4 * dy), textcoords="offset points",
                              fontsize=fontsize, ha="center", va="center")
            bb = ann.get_window_extent(renderer)
            box = (bb.x0, bb.y0, bb.x1, bb.y1)
            cost = sum(overlap(box, o) for o in placed) + sum(overlap(box, m) for m in markers)
            outside = (box[0] < frame.x0 or box[2] > frame.x1 or box[1] < frame.y0
                       or box[3] > frame.y1)
            cost += 1e6 if outside else 0.0
            if cost < best_cost:
                if best is not None:
                    best[0].remove()
                best, best_cost = (ann, box, dx, dy), cost
            else:
                ann.remove()
            if cost == 0:
                break
        assert best is not None
        ann, box, dx, dy = best
        if best_cost > 0 or abs(dx) > 2:  # far from its point, or not free: draw a leader
            ann.remove()
            ann = ax.annotate(text, (x, y), xytext=(4 * dx, 4 * dy), textcoords="offset points",
                              fontsize=fontsize, ha="center", va="center",
                              arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.5",
                                          "shrinkA": 0, "shrinkB": marker_pt})
        placed.append(box)
        out.append(ann)
    return out


