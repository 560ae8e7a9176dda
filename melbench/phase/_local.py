"""Helpers shared by the local / non-iterative phase retrievers (lws, pghi, spsi, rtisi_la).

Everything here follows melbench's STFT conventions (:mod:`melbench.stft`): frames of
``n_fft`` samples starting every ``hop_length`` samples, the window centred inside the
frame, DFT phase relative to the frame start.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..spec import FeatureSpec

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
    """Spectral convergence (dB) of ``|x|`` against ``magnitude``."""
    num = float(np.linalg.norm(np.abs(x) - magnitude))
    den = max(float(np.linalg.norm(magnitude)), _EPS)
    return float(20 * np.log10(max(num / den, 1e-30)))


def consistent_sc_db(magnitude: np.ndarray, x: np.ndarray, spec: FeatureSpec) -> float:
    """SC (dB) of the re-analysed ``STFT(ISTFT(x))`` against ``magnitude``."""
    y = spec.istft(x, length=spec.n_samples(x.shape[-1]))
    return sc_db(magnitude, spec.stft(y, dtype=np.float64))


def complex_dtype(magnitude: np.ndarray) -> type:
    """complex128 for float64 input, else complex64."""
    return np.complex128 if magnitude.dtype == np.float64 else np.complex64


def init_phase(init: np.ndarray | None) -> np.ndarray | None:
    """Phase (radians, float64) of a warm start given as complex STFT or as phases."""
    if init is None:
        return None
    init = np.asarray(init)
    if np.iscomplexobj(init):
        return np.angle(init).astype(np.float64)
    return init.astype(np.float64)


def over_batch(
    fn: Callable[[np.ndarray, np.ndarray | None, np.random.Generator], np.ndarray],
    magnitude: np.ndarray,
    init: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Apply a 2-D ``(n_freq, frames)`` solver over leading batch axes.

    Parameters
    ----------
    fn : callable
        ``fn(mag2d_float64, init2d_or_None, rng) -> complex (n_freq, frames)``.
    magnitude : np.ndarray
        ``(..., n_freq, frames)``.
    init : np.ndarray, optional
        Warm start of the same shape.
    rng : np.random.Generator
        Passed to every call (items are processed in C order).

    Returns
    -------
    np.ndarray
        Complex STFT of the magnitude's shape (complex64 for float32 input).
    """
    cdtype = complex_dtype(magnitude)
    out = np.empty(magnitude.shape, dtype=cdtype)
    lead = magnitude.shape[:-2]
    for idx in np.ndindex(*lead):
        m2 = np.asarray(magnitude[idx], dtype=np.float64)
        i2 = None if init is None else init[idx]
        out[idx] = fn(m2, i2, rng)
    return out
