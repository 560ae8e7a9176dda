"""Aggregates, rank statistics and convergence-trace readers of the paper reports.

SC is aggregated over clips two ways everywhere: melbench's mean of the per-clip dB
values (:func:`column_mean`) and the papers' dB of the mean linear SC
(:func:`column_db_of_mean`, built on :func:`melbench.measures.db_of_mean`). Published
tables are compared by the order they put method pairs in (:func:`pairwise_agreement`,
Kendall's tau), never by absolute value.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ..measures import db_of_mean
from .keys import display, method_key, n_iter_of

__all__ = [
    "CONVERGENCE_ITERS", "budget_curves", "column_db_of_mean", "column_mean", "first_reach",
    "kendall_tau", "method_means", "ok_rows", "ordering", "pairwise_agreement", "trace_at",
    "trace_sc", "with_keys",
]

#: Iterations at which the convergence tables read a trace.
CONVERGENCE_ITERS = (1, 5, 10, 25, 50, 100, 200)


def ok_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The scored rows (``status == "ok"``; all rows if there is no status column)."""
    return rows[rows["status"] == "ok"] if "status" in rows else rows


def with_keys(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the method keys of the phase (``method``) and inverter (``inv``) labels."""
    rows = rows.copy()
    rows["method"] = rows["phase"].map(method_key)
    rows["inv"] = rows["inverter"].map(method_key)
    return rows


def column_mean(df: pd.DataFrame, col: str) -> float:
    """Mean of a numeric column over the rows (NaN if absent or empty): melbench's aggregate."""
    if col not in df or df.empty:
        return math.nan
    v = pd.to_numeric(df[col], errors="coerce").dropna()
    return float(v.mean()) if len(v) else math.nan


def column_db_of_mean(df: pd.DataFrame, col: str) -> float:
    """The papers' aggregate of an SC column in dB (:func:`melbench.measures.db_of_mean`)."""
    if col not in df or df.empty:
        return math.nan
    return db_of_mean(pd.to_numeric(df[col], errors="coerce"))


def method_means(rows: pd.DataFrame, col: str = "sc_db") -> pd.DataFrame:
    """Per phase method over all clips, speech clips and music clips: ``col`` aggregated.

    Returns
    -------
    pandas.DataFrame
        One row per method key: ``all``/``speech``/``music`` are melbench's aggregate (mean
        of the dB values), ``all_lin``/``speech_lin``/``music_lin`` the papers' (dB of the
        mean); ``fft_pairs`` the mean counted cost per clip (NaN where not counted),
        ``t_phase`` seconds per clip, ``n`` rows, ``iters`` the label's iteration count.
    """
    rows = with_keys(ok_rows(rows))
    out = []
    for key, g in rows.groupby("method", sort=False):
        sp = g[g["kind"] == "speech"] if "kind" in g else g.iloc[:0]
        mu = g[g["kind"] == "music"] if "kind" in g else g.iloc[:0]
        out.append({
            "method": key, "all": column_mean(g, col), "speech": column_mean(sp, col),
            "music": column_mean(mu, col), "all_lin": column_db_of_mean(g, col),
            "speech_lin": column_db_of_mean(sp, col), "music_lin": column_db_of_mean(mu, col),
            "fft_pairs": column_mean(g, "fft_pairs"), "t_phase": column_mean(g, "t_phase"),
            "n": len(g), "iters": n_iter_of(g["phase"].iloc[0]),
        })
    return pd.DataFrame(out)


def ordering(values: Mapping[str, float], lower_is_better: bool = True) -> list[str]:
    """Keys sorted best first (NaN left out)."""
    items = [(k, v) for k, v in values.items() if v == v]
    items.sort(key=lambda kv: kv[1] if lower_is_better else -kv[1])
    return [k for k, _ in items]


def pairwise_agreement(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[int, int, list[str]]:
    """How many method pairs two tables order the same way.

    Parameters
    ----------
    a, b : mapping of str to float
        Two tables (method key -> value, lower is better).

    Returns
    -------
    agree, total : int
        Concordant pairs and pairs compared (keys with numbers in both; ties left out).
    flipped : list of str
        ``"X vs Y"`` (display names) for each discordant pair.
    """
    keys = [k for k in a if k in b and a[k] == a[k] and b[k] == b[k]]
    agree = total = 0
    flipped = []
    for i, x in enumerate(keys):
        for y in keys[i + 1:]:
            da, db = a[x] - a[y], b[x] - b[y]
            if da == 0 or db == 0:
                continue
            total += 1
            if (da > 0) == (db > 0):
                agree += 1
            else:
                flipped.append(f"{display(x)} vs {display(y)}")
    return agree, total, flipped


def kendall_tau(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Kendall's tau (tau-a over untied pairs) between two tables; NaN with fewer than 3 pairs."""
    agree, total, _ = pairwise_agreement(a, b)
    if total < 3:
        return math.nan
    return (2 * agree - total) / total


def _trace_records(trace_json: str) -> list[Mapping]:
    try:
        recs = json.loads(trace_json) if isinstance(trace_json, str) and trace_json else []
    except ValueError:
        return []
    return [r for r in recs if isinstance(r, Mapping)] if isinstance(recs, list) else []


def trace_sc(trace_json: str, iters: Sequence[int] = CONVERGENCE_ITERS) -> dict[int, float]:
    """SC (dB) at given iterations from a row's ``trace`` JSON (last record at or before each).

    An iteration after the trace's last record, or before its first, is left out.
    """
    pts = sorted((int(r.get("iter", 0)), float(r.get("sc_db", math.nan)))
                 for r in _trace_records(trace_json))
    return _last_at_or_before(pts, iters, 0)


def _last_at_or_before(pts: list[tuple[float, float]], xs: Sequence[float],
                       tol: float) -> dict:
    """For each ``x``: the value of the last point at or before ``x`` (``pts`` sorted)."""
    if not pts:
        return {}
    keys = [p[0] for p in pts]
    out = {}
    for x in xs:
        i = bisect.bisect_right(keys, x + tol)
        if i and x <= keys[-1] + tol:
            out[x] = pts[i - 1][1]
    return out


def trace_at(trace_json: str, xs: Sequence[float], field: str = "fft_pairs") -> dict[float, float]:
    """SC (dB) from a row's ``trace`` JSON after ``x`` units of ``field`` (iterations, FFT pairs).

    For each ``x``: the SC of the last record whose ``field`` is at most ``x`` (the output
    the method had after that much work); left out when the trace ends before ``x`` or has
    no such field (e.g. a trace written before cost accounting).
    """
    pts = sorted((float(r[field]), float(r.get("sc_db", math.nan)))
                 for r in _trace_records(trace_json) if field in r)
    return _last_at_or_before(pts, xs, 1e-9)


def first_reach(trace_json: str, target: float) -> int | None:
    """First iteration of a trace whose SC is at or below ``target`` (None if never)."""
    hits = [int(r.get("iter", 0)) for r in _trace_records(trace_json)
            if float(r.get("sc_db", math.nan)) <= target]
    return min(hits) if hits else None


def budget_curves(g: pd.DataFrame, budgets: Sequence[float]) -> dict[float, float]:
    """The papers' aggregate SC (dB of the mean) over the rows of ``g`` at each FFT-pair budget.

    Empty if any row lacks a usable trace (so a curve never mixes different clip sets).
    """
    pts = [trace_at(t, budgets) for t in g["trace"]] if "trace" in g else []
    pts = [p for p in pts if p]
    if not pts or len(pts) < len(g):
        return {}
    return {b: db_of_mean(p[b] for p in pts) for b in budgets if all(b in p for p in pts)}
