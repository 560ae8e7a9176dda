"""Report figures (matplotlib, Agg backend): convergence, Pareto views, per-clip distributions.

Cost appears on two axes: seconds per clip (measured) and FFT pairs per clip (counted,
:mod:`melbench.costs`; the ``fft_pairs`` row column and the traces' ``fft_pairs`` field).
FFT pairs are the one unit every iterative method shares (an LWS batch pass and an FGLA
iteration are not the same amount of work), so convergence is drawn against FFT pairs and
against seconds, never against a method's own iteration count.

Readability rules the figures follow (checked by ``tests/test_report.py`` on the figure
objects):

* a log cost axis has at least three labelled ticks in its visible range, in seconds
  (``20 ms``, ``0.5 s``, ``2 s``) or FFT pairs, also when the data spans less than a
  decade (:func:`melbench.report.axes.log_ticks`);
* Pareto points carry a number, placed where it overlaps no other number and no marker
  (:func:`melbench.report.axes.place_labels`); the numbers are explained in a key beside the panel, whose
  labels are wrapped (:func:`melbench.report.render.wrap_label`);
* a cell has the same number and colour in every panel of a figure;
* cells that a panel cannot show (no cost count, no trace field) are named in its key.

Each ``*_figure`` function returns the :class:`matplotlib.figure.Figure` (one row of
panels per (dataset, spec, degrade) group), or None when the rows hold nothing to draw;
the function without the suffix writes it as a PNG and returns its path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import GROUP_COLUMNS, TIME_COLUMNS  # TIME_COLUMNS: summed into seconds per clip
from .axes import place_labels, set_log_cost_axis, set_symlog_cost_axis
from .render import cell_label, group_title, short_labels, wrap_label

#: Metrics tried, in order, as the quality axis when none is given.
QUALITY_ORDER = ("pesq_wb", "pesq_nb", "stoi", "estoi", "sc_true_db", "sc_db", "mel_sc_db")
#: Cost axes of :func:`pareto`: (row column, axis label).
COST_AXES = {
    "seconds": "seconds per clip (invert + phase + synth)",
    "fft_pairs": "FFT pairs per clip (invert + phase; melbench.costs)",
}
#: Horizontal axes of :func:`convergence`: trace field -> axis label.
CONVERGENCE_AXES = {
    "fft_pairs": "FFT pairs used by the phase stage (melbench.costs)",
    "t": "seconds in the phase stage",
}
#: Trace fields drawn by :func:`convergence`, best first: the SC against the true
#: magnitude, then the SC against the phase stage's own target (its consistency).
CONVERGENCE_FIELDS = {
    "sc_true_db": "SC against the true magnitude (dB, sc_true_db)",
    "sc_db": "SC against the phase stage's target (dB, sc_db)",
}
#: Key note when the figure falls back to ``sc_db``.
SC_DB_FALLBACK_NOTE = ("sc_db is the SC against the magnitude the phase stage was given "
                       "(its consistency), not against the true magnitude: these traces "
                       "have no sc_true_db")
#: Characters per line of a wrapped label in a figure key.
KEY_WIDTH = 38


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"] if "status" in df.columns else df


def _grouped(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    cols = [c for c in GROUP_COLUMNS if c in df.columns]
    if not cols:
        return [("", df)]
    out = []
    for key, g in df.groupby(cols, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append((group_title(dict(zip(cols, map(str, key), strict=True))), g))
    return out


def _rows_of_panels(n_rows: int, n_plots: int, key_lines: Sequence[int]) -> tuple[Any, list[list[Any]]]:
    """A figure with ``n_rows`` rows of ``n_plots`` panels plus a key column each.

    Each row is as tall as its key needs (``key_lines`` wrapped lines), at least 4.2 in.
    Returns the figure and, per row, ``[panel, ..., key axes]``.
    """
    plt = _plt()
    heights = [max(4.2, 0.19 * k + 1.0) for k in key_lines]
    fig = plt.figure(figsize=(5.6 * n_plots + 3.6, sum(heights)))
    grid = fig.add_gridspec(n_rows, n_plots + 1, height_ratios=heights,
                            width_ratios=[5.6] * n_plots + [3.6])
    rows = []
    for i in range(n_rows):
        row = [fig.add_subplot(grid[i, j]) for j in range(n_plots + 1)]
        row[-1].set_axis_off()
        rows.append(row)
    return fig, rows


def _tex(text: Any) -> str:
    """Text shown literally by matplotlib: ``$`` escaped, so labels never start mathtext.

    Labels come from data (plugin parameters, dataset paths); an unescaped ``$`` pair
    would be parsed as mathtext (and an odd one crashes the figure).
    """
    return str(text).replace("$", r"\$")


def _label(inv: str, ph: str, labels: dict[str, str]) -> str:
    return _tex(cell_label(inv, ph, labels))


def _wrap(title: str, width: int = 70) -> str:
    import textwrap

    return _tex("\n".join(textwrap.wrap(title, width))) if title else ""


def _save(fig: Any, path: Path, *, layout: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


def _labels(df: pd.DataFrame) -> dict[str, str]:
    return short_labels(sorted(set(df["inverter"].astype(str)) | set(df["phase"].astype(str))))


def _cell_keys(df: pd.DataFrame) -> dict[tuple[str, str], tuple[int, Any]]:
    """Number (from 1) and colour of every (inverter, phase) cell of ``df``, sorted."""
    cells = sorted({(str(a), str(b)) for a, b in zip(df["inverter"], df["phase"], strict=True)})
    cmap = _plt().get_cmap("tab10" if len(cells) <= 10 else "tab20")
    n = cmap.N
    return {c: (i + 1, cmap(i % n)) for i, c in enumerate(cells)}


def _key(ax: Any, entries: Sequence[tuple[int, Any, str]], notes: Sequence[str] = (),
         hidden: Sequence[int] = ()) -> None:
    """A legend in the (axis-less) key axes: ``n  label`` lines, labels wrapped; notes below.

    Cells numbered in ``hidden`` get a grey cross instead of their colour (not drawn in the
    panel; a note says why).
    """
    from matplotlib.lines import Line2D

    handles, texts = [], []
    for num, colour, label in entries:
        handles.append(Line2D([], [], marker="x" if num in hidden else "o", ls="",
                              color="0.6" if num in hidden else colour, markersize=6))
        lines = wrap_label(label, KEY_WIDTH)
        texts.append(f"{num}  " + "\n    ".join(_tex(x.rstrip()) for x in lines))
    for note in notes:
        handles.append(Line2D([], [], ls="", marker=""))
        texts.append("\n".join(_tex(x.rstrip()) for x in wrap_label(note, KEY_WIDTH + 4)))
    if handles:
        ax.legend(handles, texts, loc="upper left", fontsize=7, frameon=False,
                  handletextpad=0.3, borderaxespad=0.0, labelspacing=0.6)


def _key_lines(labels: Sequence[str], notes: Sequence[str] = ()) -> int:
    return sum(len(wrap_label(x, KEY_WIDTH)) for x in labels) + sum(
        len(wrap_label(x, KEY_WIDTH + 4)) for x in notes) + len(labels) // 2


# --------------------------------------------------------------------------- queries


def quality_metric(df: pd.DataFrame, preferred: Sequence[str] = QUALITY_ORDER) -> str | None:
    """The first metric of ``preferred`` with at least one finite value in ``df``."""
    ok = _ok(df)
    for m in preferred:
        if m in ok.columns and np.isfinite(pd.to_numeric(ok[m], errors="coerce")).any():
            return m
    return None


def seconds_per_clip(df: pd.DataFrame) -> pd.Series | None:
    """Total stage seconds per row (None without timing columns)."""
    cols = [c for c in TIME_COLUMNS if c in df.columns]
    if not cols:
        return None
    return df[cols].apply(pd.to_numeric, errors="coerce").sum(axis=1, min_count=1)


# --------------------------------------------------------------------------- convergence


def trace_records(df: pd.DataFrame) -> pd.DataFrame:
    """The convergence records of every ok row's ``trace`` JSON, one line per record.

    Returns
    -------
    pandas.DataFrame
        The group and cell columns, ``pos`` (the record's index in its trace), and the
        numeric fields ``sc_true_db``, ``sc_db``, ``fft_pairs``, ``t`` (NaN where a record
        lacks one). Empty without traces.
    """
    fields = ("sc_true_db", "sc_db", "fft_pairs", "t")
    recs = []
    if "trace" not in df.columns:
        return pd.DataFrame()
    for r in _ok(df).itertuples(index=False):
        text = r.trace
        if not isinstance(text, str) or not text.strip().startswith("["):
            continue
        try:
            trace = json.loads(text)
        except ValueError:
            continue
        base = {c: str(getattr(r, c, "")) for c in (*GROUP_COLUMNS, "inverter", "phase", "clip")}
        for pos, t in enumerate(trace):
            if isinstance(t, dict):
                recs.append({**base, "pos": pos,
                             **{f: float(t[f]) if isinstance(t.get(f), int | float) else math.nan
                                for f in fields}})
    return pd.DataFrame(recs)


def convergence_figure(df: pd.DataFrame, *, key: str | None = None) -> Any | None:
    """SC against FFT pairs (left) and against seconds (right), mean over clips per cell.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows; rows without a ``trace`` are ignored.
    key : str, optional
        Trace field to draw. Default: ``sc_true_db`` (the SC of the iterate against the
        true magnitude) when any record has it, else ``sc_db`` (against the phase stage's
        target), named as such on the axis.

    Returns
    -------
    matplotlib.figure.Figure or None
        One row per group: the FFT-pair panel, the seconds panel and the key. A cell
        whose records lack the panel's horizontal field (e.g. a method that does not
        count its FFTs, or records without times) is left out of that panel and named in
        the key. None without any drawable record.

    Notes
    -----
    The k-th records of a cell's clips are averaged (x and y alike): every clip of a
    cell runs the same schedule, so the k-th record is the same point of it.
    """
    tr = trace_records(df)
    if tr.empty:
        return None
    if key is None:
        key = next((f for f in CONVERGENCE_FIELDS if tr[f].notna().any()), None)
        if key is None:
            return None
    elif key not in tr.columns or not tr[key].notna().any():
        return None
    ylabel = CONVERGENCE_FIELDS.get(key, f"{key} (trace)")
    labels = _labels(tr)
    keys = _cell_keys(tr)
    panels, notes_per, entries_per, hidden_per = [], [], [], []
    for title, g in _grouped(tr):
        cells = sorted({(a, b) for a, b in zip(g["inverter"], g["phase"], strict=True)})
        entries_per.append([(keys[c][0], keys[c][1], cell_label(*c, labels)) for c in cells])
        has = {c: g.loc[(g["inverter"] == c[0]) & (g["phase"] == c[1])] for c in cells}
        no_key = [keys[c][0] for c in cells if not has[c][key].notna().any()]
        notes = [f"x: not drawn (no {key} in the trace): {', '.join(map(str, no_key))}"] \
            if no_key else []
        for x in CONVERGENCE_AXES:
            gone = [keys[c][0] for c in cells if keys[c][0] not in no_key
                    and not has[c].loc[has[c][key].notna(), x].notna().any()]
            if gone:
                what = "no FFT-pair count" if x == "fft_pairs" else "no times"
                notes.append(f"not in the {'FFT-pair' if x == 'fft_pairs' else 'seconds'} panel "
                             f"({what} in the trace): {', '.join(map(str, gone))}")
        if key == "sc_db":
            notes.append(SC_DB_FALLBACK_NOTE)
        notes_per.append(notes)
        hidden_per.append(no_key)
        panels.append((title, g[g[key].notna()]))
    fig, rows = _rows_of_panels(len(panels), 2, [
        _key_lines([e[2] for e in ent], n) for ent, n in zip(entries_per, notes_per, strict=True)])
    drawn = False
    for row, (title, g), entries, notes, hidden in zip(rows, panels, entries_per, notes_per,
                                                       hidden_per, strict=True):
        for ax, x in zip(row[:2], CONVERGENCE_AXES, strict=True):
            for (inv, ph), c in g.groupby(["inverter", "phase"], sort=True):
                c = c[c[x].notna()]
                if c.empty:
                    continue
                curve = c.groupby("pos")[[x, key]].mean().sort_values(x, kind="stable")
                num, colour = keys[(inv, ph)]
                ax.plot(curve[x].to_numpy(), curve[key].to_numpy(), color=colour, lw=1.3,
                        marker="o" if len(curve) < 4 else None, markersize=3)
                ax.annotate(str(num), (curve[x].iloc[-1], curve[key].iloc[-1]), fontsize=7,
                            color=colour, xytext=(3, 0), textcoords="offset points", va="center")
                drawn = True
            ax.set_xlabel(CONVERGENCE_AXES[x])
            ax.set_ylabel(_wrap(ylabel, 48))
            ax.grid(alpha=0.3)
            if x == "fft_pairs":
                from matplotlib.ticker import MaxNLocator

                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        row[0].set_title(_wrap(title), fontsize=8, loc="left")
        _key(row[2], entries, notes, hidden=hidden)
    if not drawn:
        _plt().close(fig)
        return None
    fig.tight_layout()
    return fig


def convergence(df: pd.DataFrame, out_dir: str | Path, *, key: str | None = None) -> Path | None:
    """Write :func:`convergence_figure` as ``convergence.png`` in ``out_dir`` (None: nothing)."""
    fig = convergence_figure(df, key=key)
    return None if fig is None else _save(fig, Path(out_dir) / "convergence.png", layout=False)


# --------------------------------------------------------------------------- Pareto


def pareto_figure(
    df: pd.DataFrame,
    *,
    quality: str | None = None,
    better: str = "lower",
    cost: str = "seconds",
) -> Any | None:
    """Quality vs cost per clip (seconds or FFT pairs), one numbered point per cell, Pareto front.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows with timing columns.
    quality : str, optional
        Quality metric (default :func:`quality_metric`).
    better : {"lower", "higher"}
        Direction of ``quality``.
    cost : {"seconds", "fft_pairs"}
        Horizontal axis: measured seconds per clip or counted FFT pairs per clip (cells
        whose plugins do not count their FFTs have no value there: they are named in the
        key). The axis is logarithmic with :func:`log_ticks` (symlog when a cell costs 0).

    Returns
    -------
    matplotlib.figure.Figure or None
        One row per group (panel and key); None without cost or quality values.
    """
    if cost not in COST_AXES:
        raise ValueError(f"cost={cost!r}; choose one of {', '.join(COST_AXES)}")
    ok = _ok(df).copy()
    quality = quality or quality_metric(ok)
    if cost == "seconds":
        secs = seconds_per_clip(ok)
    else:
        secs = pd.to_numeric(ok["fft_pairs"], errors="coerce") if "fft_pairs" in ok else None
    if quality is None or secs is None or quality not in ok.columns:
        return None
    ok["_cost"] = secs
    ok["_q"] = pd.to_numeric(ok[quality], errors="coerce")
    labels = _labels(ok)
    keys = _cell_keys(ok)
    panels = []
    for title, g in _grouped(ok):
        pts = g.groupby(["inverter", "phase"], sort=True)[["_cost", "_q"]].mean()
        good = np.isfinite(pts["_cost"]) & np.isfinite(pts["_q"])
        gone = [keys[c][0] for c in pts.index[~good]]
        notes = [f"x: not shown (no {'FFT-pair count' if cost == 'fft_pairs' else 'time'} "
                 f"or no {quality})"] if gone else []
        if good.any():
            panels.append((title, pts, notes, gone))
    if not panels:
        return None
    entries_per = [[(keys[c][0], keys[c][1], cell_label(*c, labels)) for c in pts.index]
                   for _, pts, _, _ in panels]
    fig, rows = _rows_of_panels(len(panels), 1, [
        _key_lines([e[2] for e in ent], p[2]) for ent, p in zip(entries_per, panels, strict=True)])
    placements = []
    for row, (title, pts, notes, gone), entries in zip(rows, panels, entries_per, strict=True):
        ax = row[0]
        pts = pts[np.isfinite(pts["_cost"]) & np.isfinite(pts["_q"])]
        xs, ys = pts["_cost"].to_numpy(float), pts["_q"].to_numpy(float)
        colours = [keys[c][1] for c in pts.index]
        ax.scatter(xs, ys, s=30, c=colours, zorder=3)
        front = _pareto_front(xs, ys, better)
        if len(front) > 1:
            ax.step(xs[front], ys[front], where="post", color="0.4", lw=1, ls="--",
                    label="Pareto front", zorder=2)
            ax.legend(fontsize=7, loc="best")
        if (xs > 0).all():
            set_log_cost_axis(ax, xs, cost)
        elif (xs > 0).any():  # a cell without FFT work (0 pairs)
            set_symlog_cost_axis(ax, xs, cost)
        lo, hi = float(ys.min()), float(ys.max())
        pad = 0.08 * (hi - lo) if hi > lo else max(0.05 * abs(hi), 0.1)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel(COST_AXES[cost])
        ax.set_ylabel(_tex(f"{quality} ({better} is better)"))
        ax.set_title(_wrap(title, 60), fontsize=8, loc="left")
        ax.grid(alpha=0.3, which="major")
        _key(row[1], entries, notes, hidden=gone)
        placements.append((ax, xs, ys, [str(keys[c][0]) for c in pts.index]))
    fig.tight_layout()
    for ax, xs, ys, nums in placements:  # after the layout: placement measures on screen
        place_labels(ax, xs, ys, nums)
    return fig


def pareto(
    df: pd.DataFrame,
    out_dir: str | Path,
    *,
    quality: str | None = None,
    better: str = "lower",
    cost: str = "seconds",
) -> Path | None:
    """Write :func:`pareto_figure` as a PNG in ``out_dir``; None when there is nothing to draw.

    The file is ``pareto_<quality>.png`` for ``cost="seconds"`` and
    ``pareto_fft_pairs_<quality>.png`` for ``cost="fft_pairs"``.
    """
    if cost not in COST_AXES:
        raise ValueError(f"cost={cost!r}; choose one of {', '.join(COST_AXES)}")
    quality = quality or quality_metric(_ok(df))
    fig = pareto_figure(df, quality=quality, better=better, cost=cost)
    if fig is None:
        return None
    prefix = "pareto" if cost == "seconds" else f"pareto_{cost}"
    return _save(fig, Path(out_dir) / f"{prefix}_{quality}.png", layout=False)


def _pareto_front(x: np.ndarray, y: np.ndarray, better: str) -> np.ndarray:
    """Indices of the non-dominated points (less time, better quality), sorted by time."""
    sign = 1.0 if better == "lower" else -1.0
    order = np.lexsort((sign * y, x))
    front, best = [], math.inf
    for i in order:
        if sign * y[i] < best:
            front.append(i)
            best = sign * y[i]
    return np.asarray(front, dtype=int)


# --------------------------------------------------------------------------- distributions


def distributions(df: pd.DataFrame, out_dir: str | Path, metric: str) -> Path | None:
    """Per-clip values of ``metric`` per cell (box plot plus the points; seeds averaged).

    Boxes are numbered as in the key beside each panel (wrapped labels), so that long
    labels do not crowd the axis.

    Returns
    -------
    Path or None
        ``dist_<metric>.png``, or None if the metric has no finite value.
    """
    ok = _ok(df)
    if metric not in ok.columns:
        return None
    ok = ok.assign(_v=pd.to_numeric(ok[metric], errors="coerce"))
    ok = ok[np.isfinite(ok["_v"])]
    if ok.empty:
        return None
    labels = _labels(ok)
    keys = _cell_keys(ok)
    panels = _grouped(ok)
    entries_per = []
    for _, g in panels:
        cells = sorted({(a, b) for a, b in zip(g["inverter"].astype(str), g["phase"].astype(str),
                                                strict=True)})
        entries_per.append([(keys[c][0], keys[c][1], cell_label(*c, labels)) for c in cells])
    fig, rows = _rows_of_panels(len(panels), 1, [_key_lines([e[2] for e in ent])
                                                 for ent in entries_per])
    for row, (title, g), entries in zip(rows, panels, entries_per, strict=True):
        ax = row[0]
        per_clip = g.groupby(["inverter", "phase", "clip"], sort=True)["_v"].mean()
        data, nums, colours = [], [], []
        for (inv, ph), s in per_clip.groupby(level=[0, 1], sort=True):
            num, colour = keys[(str(inv), str(ph))]
            nums.append(str(num))
            colours.append(colour)
            data.append(s.to_numpy())
        ax.boxplot(data, showfliers=False)
        rng = np.random.default_rng(0)
        for i, (d, colour) in enumerate(zip(data, colours, strict=True), start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, size=len(d)), d, s=10, alpha=0.7,
                       color=colour)
        ax.set_xticks(range(1, len(nums) + 1))
        ax.set_xticklabels(nums, fontsize=8)
        ax.set_xlabel("cell (see the key)")
        ax.set_ylabel(_tex(metric))
        ax.set_title(_wrap(title, 60), fontsize=8, loc="left")
        ax.grid(alpha=0.3, axis="y")
        _key(row[1], entries)
    return _save(fig, Path(out_dir) / f"dist_{metric}.png")
