"""The columns of melbench's result rows, defined once, and the one way to build a failure row.

A run writes one long-format table, one row per (cell, clip) (see
:mod:`melbench.pipeline`). Every module that reads or writes rows (results, report
tables and plots, the regression gate, papers) takes its column lists from here. This
module imports nothing from melbench, so every layer can use it.

A row that records a failure is always built by :func:`failure_row`: from the row a
clip had so far (:mod:`melbench.pipeline`), or, for a whole cell that could not run
(``clip == "*"``, :mod:`melbench.runner`), from a :func:`blank_row` with every
identifying, clip and status column present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Row columns that identify a cell and a clip (metric columns follow).
ID_COLUMNS = (
    "dataset", "clip", "kind", "spec", "spec_key", "degrade", "inverter", "phase", "seed",
)
#: Outcome of a row: ``status`` ("ok", "failed", "skipped"), ``error`` (why not ok),
#: ``notes`` (missing values and their reasons), ``duration`` (seconds of audio).
STATUS_COLUMNS = ("status", "error", "notes", "duration")
#: Row columns describing where a clip comes from (from its meta; "" when the dataset says nothing).
CLIP_COLUMNS = ("source", "licence")
#: Cost columns (:mod:`melbench.costs`): FFT pairs of the inverter, the phase retriever and
#: both; NaN for a plugin that does not count its FFTs (``counts_ffts``), with a note.
COST_COLUMNS = ("fft_pairs", "fft_pairs_invert", "fft_pairs_phase")
#: Stage times in seconds (the ``time`` metric; ``rtf`` is their sum over the duration).
TIME_COLUMNS = ("t_invert", "t_phase", "t_synth")
#: Bookkeeping columns that are neither identification nor metrics.
BOOKKEEPING_COLUMNS = ("trace", "cell_key")

#: Columns grouping cells into one table each (reports).
GROUP_COLUMNS = ("dataset", "spec", "degrade")
#: Columns identifying a cell (seeds are its repetitions).
CELL_COLUMNS = (*GROUP_COLUMNS, "inverter", "phase")
#: Columns of the long statistics table of :func:`melbench.report.tables.cell_stats`, in
#: order (also the format of the regression baselines of :mod:`melbench.compare`).
STATS_COLUMNS = (
    *CELL_COLUMNS, "metric", "better", "n", "n_seeds", "n_ok", "n_failed",
    "mean", "ci_low", "ci_high", "min", "best",
)

#: Row statuses.
STATUSES = ("ok", "failed", "skipped")


def blank_row(**values: Any) -> dict[str, Any]:
    """A row with every identifying, clip and status column, in order.

    Parameters
    ----------
    **values
        Column values; any column (also one not listed here, e.g. ``cell_key``) may be
        given. Text columns default to ``""``, ``seed`` to 0, ``degrade`` to ``"none"``,
        ``status`` to ``"ok"`` and ``duration`` to NaN.

    Returns
    -------
    dict
        ``{column: value}`` with :data:`ID_COLUMNS`, :data:`CLIP_COLUMNS` and
        :data:`STATUS_COLUMNS` first, then the other given columns.
    """
    row: dict[str, Any] = dict.fromkeys((*ID_COLUMNS, *CLIP_COLUMNS, *STATUS_COLUMNS), "")
    row.update(seed=0, degrade="none", status="ok", duration=math.nan)
    row.update(values)  # known columns keep their place; others follow in the given order
    return row


def failure_row(row: Mapping[str, Any] | None, error: str, *, status: str = "failed",
                **values: Any) -> dict[str, Any]:
    """Record a failure: ``status`` and ``error`` set, in place on ``row`` when one is given.

    Parameters
    ----------
    row : dict or None
        The row built so far (it is updated and returned), or None for a new
        :func:`blank_row` of ``values``.
    error : str
        Why the row has no scores (names the stage or the cause, e.g. ``"phase: ..."``).
    status : {"failed", "skipped"}
        "skipped" when a plugin declined the clip or the cell (not an error).
    **values
        Further columns to set (identification of a new row, ``notes``...).

    Returns
    -------
    dict
        The row, with ``status`` and ``error`` set.

    Raises
    ------
    ValueError
        For a status other than "failed" or "skipped", or an empty ``error``.
    """
    if status not in STATUSES[1:]:
        raise ValueError(f"failure status {status!r}: use 'failed' or 'skipped'")
    if not error:
        raise ValueError("a failure row needs the reason in `error`")
    if row is None:
        return blank_row(**values, status=status, error=error)
    out = row if isinstance(row, dict) else dict(row)
    out.update(values, status=status, error=error)
    return out
