"""Distances between spectrograms that every layer of melbench shares.

This module depends on numpy only, so algorithm, benchmark, report and paper
code can all import the one spectral-convergence definition without import
cycles. The metric plugins in :mod:`melbench.metrics.spectral` wrap it.

References
----------
.. [1] N. Sturmel and L. Daudet, "Signal reconstruction from STFT magnitude:
   a state of the art," Proc. DAFx, 2011 (spectral convergence).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def spectral_convergence_db(target: np.ndarray, estimate: np.ndarray) -> float:
    """Spectral convergence ``20 log10(||T - E||_F / ||T||_F)`` in dB (lower is better).

    Parameters
    ----------
    target : np.ndarray [shape=(..., n_freq, frames)]
        Non-negative reference magnitude.
    estimate : np.ndarray [shape=target.shape]
        Non-negative estimated magnitude.

    Returns
    -------
    float
        SC in dB; ``-inf`` for a perfect match, NaN if the target is all zero.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    target = np.asarray(target, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if target.shape != estimate.shape:
        raise ValueError(f"shapes differ: target {target.shape} vs estimate {estimate.shape}")
    den = np.linalg.norm(target)
    if den == 0:
        return float("nan")
    num = np.linalg.norm(target - estimate)
    return float(20 * np.log10(num / den)) if num > 0 else float("-inf")


def sc_db_to_linear(values_db: np.ndarray | float) -> np.ndarray:
    """Spectral convergence in dB back to the linear ratio ``||T - E|| / ||T||``.

    Parameters
    ----------
    values_db : array_like [shape=(...)]
        SC values in dB (``-inf`` for a perfect match, NaN for none).

    Returns
    -------
    np.ndarray [shape=values_db.shape]
        ``10 ** (values_db / 20)`` in float64 (0 for ``-inf``, NaN kept).
    """
    with np.errstate(over="ignore"):
        return 10.0 ** (np.asarray(values_db, dtype=np.float64) / 20.0)


def sc_linear_to_db(values: np.ndarray | float) -> np.ndarray:
    """The linear SC ratio in dB, ``20 log10(values)``: the inverse of :func:`sc_db_to_linear`.

    Parameters
    ----------
    values : array_like [shape=(...)]
        Non-negative linear SC ratios.

    Returns
    -------
    np.ndarray [shape=values.shape]
        dB values; ``-inf`` where a ratio is 0, NaN where it is negative or NaN.
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, 20.0 * np.log10(np.where(v > 0, v, 1.0)),
                        np.where(v == 0, -np.inf, np.nan))


def db_of_mean(values_db: Iterable[float]) -> float:
    """The phase-retrieval papers' aggregate of SC: the dB of the mean linear SC.

    ``20 log10(mean_i 10 ** (x_i / 20))`` over the clips' SC values ``x_i`` (dB). The
    phase-retrieval papers average the linear ratio over files and then take dB; the paper
    reproductions (:mod:`melbench.papers`) and the report's ``@lin`` columns
    (:func:`melbench.report.tables.sc_linear_stats`) use this aggregate beside melbench's
    mean of the dB values. The dB of the mean is never below the mean of the dB (Jensen's inequality)
    and is dominated by the worst clips.

    Parameters
    ----------
    values_db : iterable of float [shape=(n_clips,)]
        Per-clip SC in dB. NaN values are left out.

    Returns
    -------
    float
        The aggregate in dB; NaN if no value is left; ``-inf`` only if every value is
        ``-inf``.
    """
    v = np.asarray([float(x) for x in values_db], dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan")
    return float(sc_linear_to_db(np.mean(sc_db_to_linear(v))))
