"""The mel scale and the triangular mel filterbank, numerically equal to librosa's.

:func:`hz_to_mel` / :func:`mel_to_hz` follow ``librosa.hz_to_mel`` / ``librosa.mel_to_hz``
(Slaney's Auditory Toolbox scale: linear below 1 kHz, logarithmic above; or the HTK
formula ``2595 log10(1 + f / 700)``), and :func:`mel_filterbank` follows
``librosa.filters.mel``. :meth:`melbench.spec.FeatureSpec.mel_basis` is the way stages
get a spec's filterbank; the functions are importable from :mod:`melbench.spec` too.

References
----------
.. [1] M. Slaney, "Auditory Toolbox, version 2", Interval Research Corporation,
   Technical Report 1998-010, 1998.
.. [2] S. Young et al., "The HTK Book (for HTK version 3.4)", Cambridge University
   Engineering Department, 2006.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


def hz_to_mel(freqs: np.ndarray | float, *, htk: bool = False) -> np.ndarray:
    """Convert Hz to mels (Slaney's auditory-toolbox scale, or HTK's formula)."""
    f = np.asanyarray(freqs, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz,
        min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep,
        f / f_sp,
    )


def mel_to_hz(mels: np.ndarray | float, *, htk: bool = False) -> np.ndarray:
    """Convert mels back to Hz (inverse of :func:`hz_to_mel`)."""
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.lru_cache(maxsize=64)
def _mel_basis_cached(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype_str):
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_pts = mel_to_hz(
        np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels + 2), htk=htk
    )
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    elif norm != "none":
        p = float(norm)
        length = np.sum(np.abs(weights) ** p, axis=-1, keepdims=True) ** (1.0 / p)
        weights = weights / np.where(length > 0, length, 1.0)
    out = weights.astype(dtype_str)
    out.setflags(write=False)
    return out


def mel_filterbank(
    *,
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | float | None = "slaney",
    dtype: Any = np.float32,
) -> np.ndarray:
    """Triangular mel filterbank, numerically equal to ``librosa.filters.mel``.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    n_fft : int
        FFT length; the basis has ``n_fft // 2 + 1`` columns.
    n_mels : int
        Number of bands.
    fmin, fmax : float
        Band edges in Hz; ``fmax=None`` means ``sr / 2``.
    htk : bool
        HTK's mel formula instead of Slaney's.
    norm : {"slaney", None} or float
        "slaney" divides each triangle by its bandwidth (constant energy per band);
        a number p normalises each row to unit p-norm; None leaves peaks at 1.
    dtype : dtype
        Output dtype.

    Returns
    -------
    np.ndarray, shape (n_mels, n_fft // 2 + 1)
        Read-only (cached) filterbank.
    """
    fmax = sr / 2.0 if fmax is None else fmax
    norm_key = "none" if norm is None else (norm if isinstance(norm, str) else float(norm))
    return _mel_basis_cached(
        float(sr), int(n_fft), int(n_mels), float(fmin), float(fmax), bool(htk), norm_key,
        np.dtype(dtype).str,
    )
