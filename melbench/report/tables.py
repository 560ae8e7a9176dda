"""Per-cell statistics and comparison tables (Markdown, CSV, LaTeX).

A *cell* is (dataset, spec, degrade, inverter, phase); seeds are repetitions of a
cell and are averaged. For each cell and metric, :func:`cell_stats` gives the
mean and a seeded percentile-bootstrap confidence interval. The resampled unit
is the clip (each clip's value averaged over seeds first); a cell with a single
clip resamples its seeds instead. A CI needs at least two units (else NaN).

The long table of :func:`cell_stats` is also the format of committed
regression baselines (see :mod:`melbench.compare`).

This module holds the statistics, the SC aggregates (``@lin``) and the documents built
from them (``to_markdown``, ``to_csv``, ``to_latex``). Text rendering (number formats,
short and wrapped labels, table bodies) is in :mod:`melbench.report.render` and
re-exported here; the per-kind and per-source tables are in :mod:`melbench.report.kinds`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..columns import CELL_COLUMNS, GROUP_COLUMNS, STATS_COLUMNS
from ..measures import sc_db_to_linear, sc_linear_to_db
from ..results import metric_columns
from .render import (  # noqa: F401 - re-exported: tables.<name> is the public place of all of them
    LABEL_WIDTH,
    cell_label,
    display_labels,
    fmt_ci,
    fmt_num,
    group_title,
    header,
    label_notes,
    latex_escape,
    latex_table,
    md_table,
    short_labels,
    wide,
    wrap_label,
)

#: Columns that are numbers in rows but not metrics (identification, bookkeeping).
NOT_METRICS = frozenset({"seed", "duration", "cell_key", "job", "n_iter_done"})

_HIGHER_HINTS = ("pesq", "stoi", "snr", "sdr", "sir", "sar", "visqol", "mos", "pcc", "corr")
_LOWER_HINTS = ("_db", "lsd", "mcd", "rtf", "sc")


def heuristic_direction(column: str) -> str | None:
    """Guess "lower"/"higher"-is-better from a column name (None if no guess)."""
    c = column.lower()
    if c.startswith("t_") or c.endswith("_s") or c.endswith("_seconds") or c == "rtf":
        return "lower"
    if any(h in c for h in _HIGHER_HINTS):
        return "higher"
    if any(h in c for h in _LOWER_HINTS):
        return "lower"
    return None


def metric_directions(columns: Iterable[str]) -> dict[str, str | None]:
    """Better direction per column: the metric plugins' ``better`` first, then name rules.

    Parameters
    ----------
    columns : iterable of str
        Metric columns.

    Returns
    -------
    dict
        ``{column: "lower" | "higher" | None}``.
    """
    declared: dict[str, str] = {}
    try:
        from .. import registry

        for info in registry.discover()["metric"].values():
            if info.available and info.cls is not None:
                declared.update(getattr(info.cls, "better", {}) or {})
    except Exception:  # noqa: BLE001 - a broken registry must not break a report
        pass
    return {c: declared.get(c) or heuristic_direction(c) for c in columns}


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Parameters
    ----------
    values : array-like
        One value per unit (clip); NaNs are dropped.
    level : float
        Coverage in (0, 1).
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the resampling (the same values give the same interval).

    Returns
    -------
    (low, high) : tuple of float
        NaN, NaN with fewer than two values.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size < 2:
        return math.nan, math.nan
    if np.all(v == v[0]):
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    with np.errstate(invalid="ignore"):
        means = v[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def select_metrics(df: pd.DataFrame, metrics: Sequence[str] | None = None) -> list[str]:
    """Metric columns of ``df`` (or check the requested ones exist).

    Raises
    ------
    KeyError
        Naming the unknown metric(s) and listing those available.
    """
    available = [c for c in metric_columns(df) if c not in NOT_METRICS]
    if not metrics:
        return available
    unknown = [m for m in metrics if m not in available]
    if unknown:
        raise KeyError(
            f"unknown metric(s) {unknown}; metrics in these rows: {', '.join(available) or 'none'}"
        )
    return list(metrics)


def cell_stats(
    df: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    directions: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Mean and bootstrap CI per cell and metric, as a long table.

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows (``status`` ok rows are scored; others are counted in ``n_failed``).
    metrics : sequence of str, optional
        Metric columns (default: every numeric metric column).
    level, n_boot, seed
        Bootstrap settings (see :func:`bootstrap_ci`).
    directions : mapping, optional
        ``{metric: "lower" | "higher" | None}`` (default :func:`metric_directions`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STATS_COLUMNS`, sorted by cell then metric order; ``min`` is the
        smallest unit value (robust timing: one-time warm-up costs hit only the first
        clip); ``best`` marks the best mean per (dataset, spec, degrade) group and metric.
    """
    if df.empty:
        return pd.DataFrame(columns=list(STATS_COLUMNS))
    df = df.copy()
    for c in CELL_COLUMNS:
        if c not in df.columns:
            df[c] = "none" if c == "degrade" else ""
        df[c] = df[c].astype(str)
    metrics = select_metrics(df, metrics)
    directions = dict(directions) if directions is not None else metric_directions(metrics)
    status = df["status"] if "status" in df.columns else pd.Series("ok", index=df.index)
    records: list[dict[str, Any]] = []
    for key, g in df.groupby(list(CELL_COLUMNS), sort=True, dropna=False):
        ok = g[status.loc[g.index] == "ok"]
        n_seeds = int(g["seed"].nunique()) if "seed" in g.columns else 1
        base = dict(zip(CELL_COLUMNS, key, strict=True))
        for m in metrics:
            vals = pd.to_numeric(ok[m], errors="coerce") if m in ok.columns else pd.Series([])
            if "clip" in ok.columns and ok["clip"].nunique() > 1:
                units = vals.groupby(ok["clip"], sort=True).mean().dropna()
            else:
                units = vals.dropna()
            arr = units.to_numpy(dtype=np.float64)
            with np.errstate(invalid="ignore"):
                mean = float(arr.mean()) if arr.size else math.nan
            lo, hi = bootstrap_ci(arr, level=level, n_boot=n_boot, seed=seed)
            records.append({
                **base, "metric": m, "better": directions.get(m) or "",
                "n": int(arr.size), "n_seeds": n_seeds, "n_ok": len(ok),
                "n_failed": len(g) - len(ok), "mean": mean, "ci_low": lo, "ci_high": hi,
                "min": float(arr.min()) if arr.size else math.nan, "best": False,
            })
    stats = pd.DataFrame(records, columns=list(STATS_COLUMNS))
    return mark_best(stats)


def mark_best(stats: pd.DataFrame) -> pd.DataFrame:
    """Set ``best`` on the best finite mean per (group, metric) (ties all marked)."""
    stats = stats.copy()
    stats["best"] = False
    for _, g in stats.groupby([*GROUP_COLUMNS, "metric"], sort=False):
        direction = g["better"].iloc[0]
        vals = g["mean"].astype(float)
        vals = vals[~np.isnan(vals)]
        if direction not in ("lower", "higher") or len(g) < 2 or vals.empty:
            continue
        target = vals.min() if direction == "lower" else vals.max()
        winners = vals.index[vals == target]
        if len(winners) < len(g):  # a column where every cell ties has no best
            stats.loc[winners, "best"] = True
    return stats


# --------------------------------------------------------------------------- documents


def groups(stats: pd.DataFrame) -> list[tuple[dict[str, str], pd.DataFrame]]:
    """Split the long table by (dataset, spec, degrade): ``[(group values, part)]``."""
    out = []
    for key, g in stats.groupby(list(GROUP_COLUMNS), sort=True, dropna=False):
        out.append((dict(zip(GROUP_COLUMNS, key, strict=True)), g))
    return out


def to_markdown(stats: pd.DataFrame, *, title: str | None = "Results") -> str:
    """Markdown: one table per (dataset, spec, degrade); best values in bold."""
    parts = [f"# {title}\n"] if title else []
    if stats.empty:
        return "".join(parts) + "(no rows)\n"
    level_note = ("Mean [95% bootstrap CI] over clips (seeds averaged per clip); "
                  "**bold** = best in column; ↓ lower is better, ↑ higher is better.\n")
    parts.append(level_note)
    if any(is_sc_db(m) for m in set(stats["metric"])):
        parts.append(SC_AGGREGATION_NOTE + "\n")
    labels = display_labels(stats)
    for group, part in groups(stats):
        parts.append(f"\n## {group_title(group)}\n")
        parts.append(md_table(wide(part, mark=("**", "**"), labels=labels)))
    notes = label_notes(labels)
    if notes:
        parts.append("\nParameters shared by every cell of a method are left out of the table:\n")
        parts.extend(f"- `{short}` = `{full}`" for short, full in notes)
    return "\n".join(parts) + "\n"


def to_csv(stats: pd.DataFrame) -> str:
    """The long table as CSV (the regression-baseline format)."""
    return stats.to_csv(index=False)


def to_latex(stats: pd.DataFrame) -> str:
    r"""LaTeX (booktabs) tables, one per group; best values in ``\textbf``."""
    out = ["% melbench report: mean [95% bootstrap CI]; requires \\usepackage{booktabs}\n"]
    if stats.empty:
        return out[0]
    labels = display_labels(stats)
    for group, part in groups(stats):
        out.append(latex_table(wide(part, mark=("\0B", "\0E"), labels=labels), group_title(group)))
    for short, full in label_notes(labels):
        out.append(f"% {short} = {full}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- SC aggregation
# issue 14 item 4. Rows hold each clip's SC in dB, ``20 log10(||T - E|| / ||T||)``. A table can
# average those dB values (the mean of dB, what :func:`cell_stats` does for every column), or
# average the linear ratios and take the dB of that mean (the aggregate the phase-retrieval
# papers report, per issue 14). The dB of the linear mean is never
# below the mean of dB (Jensen), and is dominated by the worst clips.

#: Suffix of the derived metric holding the dB of the mean linear SC.
SC_LINEAR_SUFFIX = "@lin"
#: How each kind of SC column is aggregated, for the tables' notes.
SC_AGGREGATION_NOTE = (
    "SC columns (`*sc*_db`) are the **mean of the per-clip dB values**; the columns ending "
    f"`{SC_LINEAR_SUFFIX}` are the **dB of the mean linear SC**, 20 log10(mean_clips "
    "||T - E|| / ||T||), the aggregate of the phase-retrieval papers; it is never lower than "
    "the mean of dB and weighs the worst clips most."
)


def is_sc_db(column: str) -> bool:
    """True for a spectral-convergence column in dB (``sc_db``, ``sc_true_db``, ``mel_sc_db``...)."""
    c = column.lower()
    return c.endswith("_db") and ("_sc_" in f"_{c}") and not c.endswith(SC_LINEAR_SUFFIX)


def sc_linear_stats(
    df: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """The dB of the mean linear SC per cell, as rows of the long table (metric ``<col>@lin``).

    Each clip's dB value ``x`` becomes ``10 ** (x / 20)`` (seeds averaged per clip in the
    linear domain), the linear values are averaged and bootstrapped like any metric, and
    the mean and both CI bounds go back to dB (the map is monotone, so the interval
    keeps its coverage).

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows.
    metrics : sequence of str, optional
        Columns to consider (default: every SC dB column, see :func:`is_sc_db`).
    level, n_boot, seed
        Bootstrap settings.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STATS_COLUMNS` (``better`` = "lower").
    """
    cols = [c for c in (metrics or select_metrics(df)) if is_sc_db(c) and c in df.columns]
    if df.empty or not cols:
        return pd.DataFrame(columns=list(STATS_COLUMNS))
    lin = df.copy()
    for c in cols:  # the aggregate of measures.db_of_mean, with bootstrap bounds
        lin[c + SC_LINEAR_SUFFIX] = sc_db_to_linear(pd.to_numeric(lin[c], errors="coerce"))
    new = [c + SC_LINEAR_SUFFIX for c in cols]
    stats = cell_stats(lin, new, level=level, n_boot=n_boot, seed=seed,
                       directions=dict.fromkeys(new, "lower"))
    for c in ("mean", "ci_low", "ci_high", "min"):
        stats[c] = sc_linear_to_db(stats[c].astype(float).to_numpy())
    return mark_best(stats)


def with_sc_linear(stats: pd.DataFrame, df: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    """``stats`` plus the ``@lin`` rows of :func:`sc_linear_stats`, each after its dB column."""
    extra = sc_linear_stats(df, list(dict.fromkeys(stats["metric"])) if len(stats) else None, **kw)
    if extra.empty:
        return stats
    both = pd.concat([stats, extra], ignore_index=True)
    order = {m: i for i, m in enumerate(dict.fromkeys(stats["metric"]))}

    def rank(m: str) -> float:
        lin = m.endswith(SC_LINEAR_SUFFIX)
        return order.get(m.removesuffix(SC_LINEAR_SUFFIX), len(order)) + (0.5 if lin else 0.0)

    both["_o"] = both["metric"].map(rank)
    both = both.sort_values([*CELL_COLUMNS, "_o"], kind="stable").drop(columns="_o")
    return both.reset_index(drop=True)
