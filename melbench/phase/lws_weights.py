"""The weights of melbench's LWS (:mod:`melbench.phase.lws`): what each stage sums.

Interior frames: the weights ``alpha_n(q, k)`` of the consistency projection
``STFT(ISTFT(X))`` for the spec's analysis window and melbench's least-squares synthesis
window (:func:`consistency_weights`, formula in :mod:`melbench.phase.lws`). While the later
frames are unseen (the no-future and online stages): the reference package's weights
from Zhu et al.'s asymmetric windows, or melbench's coverage-normalised variant
(:func:`causal_weights`). :func:`symmetric_rotation` finds the phase rotation under which
the weights pair ``q`` with ``-q`` (the paired tap kernel of
:mod:`melbench.phase.lws_kernels`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from ..spec import FeatureSpec
from ._local import synthesis_window


def consistency_weights(
    awin: np.ndarray, swin: np.ndarray, hop_length: int, L: int
) -> np.ndarray:
    """Weights ``alpha_n(q, k)`` of the consistency projection (module docstring).

    Parameters
    ----------
    awin, swin : np.ndarray, shape (n_fft,)
        Analysis and synthesis windows (frame-start aligned, as in melbench's STFT).
    hop_length : int
        Hop ``a`` in samples.
    L : int
        Half-width of the frequency neighbourhood (``|k| <= L``).

    Returns
    -------
    np.ndarray, complex128, shape (P, 2Q - 1, 2L + 1)
        ``W[n mod P, q + Q - 1, k + L] = alpha_n(q, k)`` with ``P = N / gcd(N, a)``
        (the phase factor depends on ``n`` only through ``n mod P``). The self weight
        ``alpha_n(0, 0) = sum(awin * swin) / N`` is kept (callers zero it for updates).
    """
    awin = np.asarray(awin, dtype=np.float64)
    swin = np.asarray(swin, dtype=np.float64)
    n = awin.size
    a = int(hop_length)
    q_max = -(-n // a) - 1
    qs = np.arange(-q_max, q_max + 1)
    ks = np.arange(-L, L + 1)
    period = n // math.gcd(n, a)
    beta = np.empty((qs.size, ks.size), dtype=np.complex128)
    for i, q in enumerate(qs):
        prod = np.zeros(n)
        lo, hi = max(0, q * a), min(n, n + q * a)
        if lo < hi:
            t = np.arange(lo, hi)
            prod[t] = awin[t] * swin[t - q * a]
        b = np.fft.ifft(prod)  # (1/N) sum_t prod[t] exp(+2 pi i k t / N)
        beta[i] = b[ks % n]
    r = np.arange(period)[:, None, None]
    phase = -2.0 * np.pi * (((r + ks[None, None, :]) * qs[None, :, None] * a) % n) / n
    return beta[None, :, :] * np.exp(1j * phase)


def spec_weights(spec: FeatureSpec, L: int) -> np.ndarray:
    """:func:`consistency_weights` for a spec's analysis window and least-squares dual."""
    return consistency_weights(spec.window_array, synthesis_window(spec), spec.hop_length, L)


#: Floor of the coverage normaliser of the causal weights (fraction of full coverage).
CAUSAL_FLOOR = 0.1

#: Ways to weight the frames while the later frames are unseen (no-future and online stages).
CAUSAL = ("lws", "coverage")


def asymmetric_windows(spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """The reference package's analysis windows for a frame whose later frames are unseen.

    Zhu et al.'s RTISI-LA windows as ``lws`` builds them (``build_asymmetric_windows``):
    with ``w = awin * swin``, ``win_ai(t) = sum_{q >= 1} w(N - 1 - t + q a)`` (past frames
    only) and ``win_af(t) = sum_{q >= 0} w(N - 1 - t + q a)`` (past and current frame),
    i.e. the sums of the windows of the frames that start later, mirrored.

    Returns
    -------
    win_ai, win_af : np.ndarray, shape (n_fft,)
    """
    w = np.asarray(spec.window_array, dtype=np.float64) * synthesis_window(spec)
    n, a = w.size, spec.hop_length
    later = np.zeros(n)
    for q in range(1, -(-n // a)):
        later[: n - q * a] += w[q * a :]
    return later[::-1].copy(), (later + w)[::-1].copy()


def causal_weights(spec: FeatureSpec, L: int, floor: float = CAUSAL_FLOOR,
                   kind: str = "coverage"):
    """Weights for estimating a frame while the frames after it are unseen.

    ``kind="lws"``: the reference package's, the consistency weights of the analysis
    windows :func:`asymmetric_windows` (``win_ai`` for past frames only, ``win_af`` for
    past and current frames).

    ``kind="coverage"`` (melbench's variant): with only the frames up to ``m - 1``
    (``ai``) or up to ``m`` (``af``) overlap-added, the signal under frame ``m`` is the true
    one times the coverage ``c(t) = sum_q awin[t + q a] swin[t + q a]`` over those frames
    (``c = 1`` with all frames). Dividing by the coverage (floored at ``floor``) before
    re-analysis undoes the taper that the missing frames leave, i.e. the analysis window
    becomes ``awin / c``.

    Returns
    -------
    W_ai, W_af : np.ndarray
        Same layout as :func:`consistency_weights`; only the rows of past frames (``ai``)
        or of past and current frames (``af``) are meant to be used.
    """
    awin = np.asarray(spec.window_array, dtype=np.float64)
    swin = synthesis_window(spec)
    n, a = awin.size, spec.hop_length
    if kind == "lws":
        win_ai, win_af = asymmetric_windows(spec)
        return (consistency_weights(win_ai, swin, a, L), consistency_weights(win_af, swin, a, L))
    if kind != "coverage":
        raise ParameterError(f"causal weights {kind!r}; choose one of {', '.join(CAUSAL)}")
    w = awin * swin
    past = np.zeros(n)
    for q in range(1, -(-n // a)):
        past[: n - q * a] += w[q * a :]
    cov_ai = np.maximum(past, floor)
    cov_af = np.maximum(past + w, floor)
    return (consistency_weights(awin / cov_ai, swin, a, L),
            consistency_weights(awin / cov_af, swin, a, L))


def thresholds(iterations: int, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Relative magnitude thresholds ``alpha * exp(-beta * i**gamma)``, ``i = 0..iterations-1``."""
    i = np.arange(iterations, dtype=np.float64)
    return alpha * np.exp(-beta * i**gamma)


def symmetric_rotation(W: np.ndarray, n_fft: int, L: int) -> tuple[float, bool]:
    """Phase rotation that makes the weights pair ``q`` with ``-q`` (the fast kernel).

    For a window symmetric about ``c = n_fft / 2 + delta`` (``delta`` = 0 for melbench's
    periodic windows, -1/2 for windows symmetric about ``(N - 1) / 2`` such as the lws
    package's own), ``alpha_n(-q, k) = e^{4 pi i k c / N} conj(alpha_n(q, k))``. Storing the
    spectrum rotated, ``X~[j] = X[j] e^{2 pi i j delta / N}``, turns the weights into
    ``alpha_n(q, k) e^{-2 pi i k delta / N}``, which are conjugate-symmetric in ``q`` and
    real at ``q = 0``; the per-bin update is unchanged in the rotated coordinates.

    Returns
    -------
    delta : float
        The rotation (0 if none applies).
    symmetric : bool
        Whether the rotated weights allow :func:`_update_frame_sym`.
    """
    q_off = (W.shape[1] - 1) // 2
    ks = np.arange(-L, L + 1)
    for delta in (0.0, -0.5, 0.5):
        B = W * np.exp(-2j * np.pi * ks * delta / n_fft)
        if (np.allclose(B[:, q_off, :].imag, 0.0, atol=1e-12)
                and np.allclose(B[:, :q_off, :], np.conj(B[:, : q_off : -1, :]), atol=1e-12)):
            return delta, True
    return 0.0, False
