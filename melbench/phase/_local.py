"""Helpers shared by the local / non-iterative phase retrievers (lws, pghi, spsi, rtisi_la).

The generic plugin-author helpers (``over_batch``, ``init_phase``, ``complex_dtype``, the
tracer) are public in :mod:`melbench.phase.helpers`; they are re-exported here for the
modules that import them from this one.

Everything here follows melbench's STFT conventions (:mod:`melbench.stft`): frames of
``n_fft`` samples starting every ``hop_length`` samples, the window centred inside the
frame, DFT phase relative to the frame start.
"""

from __future__ import annotations

import numpy as np

from ..measures import spectral_convergence_db
from ..spec import FeatureSpec
from .helpers import complex_dtype, init_phase, over_batch

__all__ = ["centred_to_frame_start", "complex_dtype", "consistent_sc_db", "init_phase",
           "over_batch", "sc_db", "synthesis_window", "window_center"]

_EPS = 1e-12


def window_center(spec: FeatureSpec) -> float:
    """Sample index (within the ``n_fft`` frame) about which the spec's window is symmetric.

    melbench pads a periodic window of ``win_length`` samples by ``(n_fft - win_length) // 2``
    on the left; a periodic window of length ``W`` is symmetric about ``W / 2``.
    """
    return (spec.n_fft - spec.win_length) // 2 + spec.win_length / 2.0


def centred_to_frame_start(spec: FeatureSpec) -> np.ndarray:
    """Per-bin phase offsets turning window-centred phase into melbench's frame-start phase.

    ``X_start[k] = X_centred[k] * exp(-2 pi i k c / n_fft)`` with ``c`` the window centre;
    for even ``n_fft`` and a full-length window this is the ``(-1)^k`` of the phase trap.

    Returns
    -------
    np.ndarray, shape (n_freq,)
        Radians to add to a centred phase.
    """
    k = np.arange(spec.n_freq, dtype=np.float64)
    return -2.0 * np.pi * k * window_center(spec) / spec.n_fft


def synthesis_window(spec: FeatureSpec) -> np.ndarray:
    """Synthesis window implied by melbench's least-squares ISTFT, in the interior frames.

    ``spec.istft`` multiplies each inverse-FFT frame by the analysis window ``w`` and
    divides the overlap-added signal by the window sum-square ``sum_m w[s - m a]^2``, which
    away from the edges is periodic in ``s`` with period ``a``. Sample ``t`` of any frame
    therefore sees the synthesis window ``w[t] / sum_j w[(t mod a) + j a]^2``.

    Returns
    -------
    np.ndarray, shape (n_fft,)
        float64 synthesis window (the canonical dual of the analysis window).
    """
    w = np.asarray(spec.window_array, dtype=np.float64)
    n, a = w.size, spec.hop_length
    q = -(-n // a)
    padded = np.zeros(q * a)
    padded[:n] = w * w
    period = padded.reshape(q, a).sum(axis=0)
    denom = period[np.arange(n) % a]
    return np.where(denom > _EPS, w / np.maximum(denom, _EPS), 0.0)


def sc_db(magnitude: np.ndarray, x: np.ndarray) -> float:
    """Spectral convergence (dB) of ``|x|`` against ``magnitude``.

    :func:`melbench.measures.spectral_convergence_db`, floored at -600 dB (a perfect
    match gives a finite number, as before).
    """
    return max(spectral_convergence_db(magnitude, np.abs(x)), -600.0)


def consistent_sc_db(magnitude: np.ndarray, x: np.ndarray, spec: FeatureSpec) -> float:
    """SC (dB) of the re-analysed ``STFT(ISTFT(x))`` against ``magnitude``."""
    y = spec.istft(x, length=spec.n_samples(x.shape[-1]))
    return sc_db(magnitude, spec.stft(y, dtype=np.float64))
