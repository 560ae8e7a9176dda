"""Report figures (matplotlib, Agg backend): convergence, Pareto views, per-clip distributions.

Cost appears on two axes: seconds per clip (measured) and FFT pairs per clip (counted,
:mod:`melbench.costs`; the ``fft_pairs`` row column and the traces' ``fft_pairs`` field).

Each function draws one figure with one panel per (dataset, spec, degrade)
group, writes a PNG and returns its path (or None when the rows hold nothing to
draw, e.g. no convergence traces).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import TIME_COLUMNS  # stage-time columns summed into seconds per clip
from .tables import GROUP_COLUMNS, cell_label, group_title, short_labels

#: Metrics tried, in order, as the quality axis when none is given.
QUALITY_ORDER = ("pesq_wb", "pesq_nb", "stoi", "estoi", "sc_true_db", "sc_db", "mel_sc_db")
#: Cost axes of :func:`pareto` and :func:`convergence`: (row column or trace field, label).
COST_AXES = {
    "seconds": "seconds per clip (invert + phase + synth)",
    "fft_pairs": "FFT pairs per clip (invert + phase; melbench.costs)",
}


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


def _axes(n: int, width: float = 6.0, height: float = 4.2) -> tuple[Any, list[Any]]:
    plt = _plt()
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


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


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


def _labels(df: pd.DataFrame) -> dict[str, str]:
    return short_labels(sorted(set(df["inverter"].astype(str)) | set(df["phase"].astype(str))))


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


def convergence(df: pd.DataFrame, out_dir: str | Path, *, key: str = "sc_db",
                x: str = "iter") -> Path | None:
    """Quality vs iteration (or FFT pairs) from the ``trace`` column (mean per cell).

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows; rows without a trace are ignored.
    out_dir : path
        Folder of the PNG (``convergence.png``).
    key : str
        Trace field to draw (the first numeric field other than ``iter`` if absent).
    x : {"iter", "fft_pairs"}
        Horizontal axis: the iteration (``convergence.png``) or the FFT pairs used so far
        (``convergence_fft_pairs.png``; records without ``fft_pairs`` are left out), so
        that methods of different cost per iteration (DM: two pairs) compare at equal work.

    Returns
    -------
    Path or None
    """
    if x not in ("iter", "fft_pairs"):
        raise ValueError(f"x={x!r}; choose 'iter' or 'fft_pairs'")
    if "trace" not in df.columns:
        return None
    recs = []
    for r in _ok(df).itertuples(index=False):
        text = r.trace
        if not isinstance(text, str) or not text.strip().startswith("["):
            continue
        try:
            trace = json.loads(text)
        except ValueError:
            continue
        for t in trace:
            if not isinstance(t, dict) or x not in t:
                continue
            k = key if key in t else next(
                (f for f in t if f not in ("iter", "fft_pairs", "t", "step", "stage")), None)
            if k is None:
                continue
            rec = {c: str(getattr(r, c, "")) for c in (*GROUP_COLUMNS, "inverter", "phase")}
            rec.update(iter=t[x], value=t[k], field=k)
            recs.append(rec)
    if not recs:
        return None
    tr = pd.DataFrame(recs)
    labels = _labels(tr)
    panels = _grouped(tr)
    fig, axes = _axes(len(panels))
    for ax, (title, g) in zip(axes, panels, strict=True):
        for (inv, ph), c in g.groupby(["inverter", "phase"], sort=True):
            curve = c.groupby("iter")["value"].mean()
            ax.plot(curve.index, curve.to_numpy(), label=_label(inv, ph, labels))
        ax.set_xlabel("iteration" if x == "iter" else "FFT pairs used (melbench.costs)")
        ax.set_ylabel(_tex(f"{g['field'].iloc[0]} (trace)"))
        ax.set_title(_wrap(title), fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    name = "convergence.png" if x == "iter" else "convergence_fft_pairs.png"
    return _save(fig, Path(out_dir) / name)


def pareto(
    df: pd.DataFrame,
    out_dir: str | Path,
    *,
    quality: str | None = None,
    better: str = "lower",
    cost: str = "seconds",
) -> Path | None:
    """Quality vs cost per clip (seconds or FFT pairs), one point per cell, with the Pareto front.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows with timing columns.
    out_dir : path
        Folder of the PNG (``pareto_<quality>.png``).
    quality : str, optional
        Quality metric (default :func:`quality_metric`).
    better : {"lower", "higher"}
        Direction of ``quality``.
    cost : {"seconds", "fft_pairs"}
        Horizontal axis: measured seconds per clip (``pareto_<quality>.png``) or counted
        FFT pairs per clip (``pareto_fft_pairs_<quality>.png``; cells whose plugins do not
        count their FFTs have no value there and are left out).

    Returns
    -------
    Path or None
        None without cost or quality values.
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
    ok["_seconds"] = secs
    ok["_q"] = pd.to_numeric(ok[quality], errors="coerce")
    labels = _labels(ok)
    panels = _grouped(ok)
    fig, axes = _axes(len(panels))
    drawn = False
    for ax, (title, g) in zip(axes, panels, strict=True):
        pts = g.groupby(["inverter", "phase"], sort=True)[["_seconds", "_q"]].mean()
        pts = pts[np.isfinite(pts["_seconds"]) & np.isfinite(pts["_q"])]
        if pts.empty:
            continue
        drawn = True
        for (inv, ph), p in pts.iterrows():
            ax.scatter(p["_seconds"], p["_q"], s=30)
            ax.annotate(_label(inv, ph, labels), (p["_seconds"], p["_q"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        front = _pareto_front(pts["_seconds"].to_numpy(), pts["_q"].to_numpy(), better)
        if len(front) > 1:
            fx, fy = pts["_seconds"].to_numpy()[front], pts["_q"].to_numpy()[front]
            ax.step(fx, fy, where="post", color="0.4", lw=1, ls="--", label="Pareto front")
            ax.legend(fontsize=7)
        if (pts["_seconds"] > 0).all():
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif cost == "fft_pairs" and (pts["_seconds"] > 0).any():  # non-iterative: 0 pairs
            ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel(COST_AXES[cost])
        ax.set_ylabel(_tex(f"{quality} ({better} is better)"))
        ax.set_title(_wrap(title), fontsize=8)
        ax.grid(alpha=0.3)
    if not drawn:
        _plt().close(fig)
        return None
    prefix = "pareto" if cost == "seconds" else f"pareto_{cost}"
    return _save(fig, Path(out_dir) / f"{prefix}_{quality}.png")


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


def distributions(df: pd.DataFrame, out_dir: str | Path, metric: str) -> Path | None:
    """Per-clip values of ``metric`` per cell (box plot plus the points; seeds averaged).

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
    panels = _grouped(ok)
    fig, axes = _axes(len(panels), width=7.0)
    for ax, (title, g) in zip(axes, panels, strict=True):
        per_clip = g.groupby(["inverter", "phase", "clip"], sort=True)["_v"].mean()
        names, data = [], []
        for (inv, ph), s in per_clip.groupby(level=[0, 1], sort=True):
            names.append(_label(inv, ph, labels))
            data.append(s.to_numpy())
        ax.boxplot(data, showfliers=False)
        rng = np.random.default_rng(0)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, size=len(d)), d, s=10, alpha=0.7)
        ax.set_xticks(range(1, len(names) + 1))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(_tex(metric))
        ax.set_title(_wrap(title), fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    return _save(fig, Path(out_dir) / f"dist_{metric}.png")
