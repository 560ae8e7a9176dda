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
