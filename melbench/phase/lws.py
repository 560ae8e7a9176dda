"""Local weighted sums (LWS): phase retrieval by local consistency updates.

melbench's own implementation of Le Roux, Kameoka, Ono & Sagayama, "Fast signal
reconstruction from magnitude STFT spectrogram based on spectrogram consistency"
(DAFx 2010), with the "no future" / online initialisation of Le Roux, Kameoka, Ono
& Sagayama (2010) and the schedule of the ``lws`` package.

The consistency projection ``P1(X) = STFT(ISTFT(X))`` is, in the interior frames, a
linear operator acting on each coefficient through a small neighbourhood::

    P1(X)[n, m] = sum_{|q| <= Q-1} sum_k alpha_n(q, k) X[n + k, m + q]
    alpha_n(q, k) = (1/N) exp(-2 pi i (n + k) q a / N)
                    sum_{0 <= t, t - q a < N} awin[t] swin[t - q a] exp(2 pi i k t / N)

(``N`` = n_fft, ``a`` = hop, ``Q = ceil(N / a)``, bins beyond DC/Nyquist are complex
conjugate mirrors, the frame index ``m`` counts hops). ``awin`` is the spec's analysis
window and ``swin`` the synthesis window implied by melbench's least-squares ISTFT
(:func:`melbench.phase._local.synthesis_window`), so the weights are exact for every
window and hop the spec allows (not only the sqrt-Hann of the reference package).

LWS truncates the sum to ``|k| <= L`` and replaces, bin by bin, the phase of ``X[n, m]``
by that of the weighted sum of its neighbours (the self term excluded), keeping the
target magnitude: a Gauss-Seidel descent on the inconsistency ``||P1(X) - X||``. The
loops run in numba. The no-future and online stages use the package's weights (from Zhu
et al.'s asymmetric windows, :func:`asymmetric_windows`) and its edge frames (static
copies of the first/last frame); ``causal="coverage"`` and ``edges="silent"`` are
melbench's variants. docs/local_phase.md compares them, and notes a bug in the package's
no-future kernel at 75% overlap that melbench does not copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from .. import costs
from ..errors import ParameterError
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from ._local import consistent_sc_db, init_phase, over_batch, synthesis_window

#: Unsigned index cast: numba then skips negative-index wraparound, so loops vectorise.
_U = np.uint64

#: Iteration counts per mode preset: (nofuture, online, batch), as the lws package sets them.
MODES: dict[str, tuple[int, int, int]] = {
    "speech": (0, 0, 100),
    "music": (1, 10, 100),
}


# --------------------------------------------------------------------------- weights


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


# --------------------------------------------------------------------------- numba kernels


@njit(cache=True)
def _fill_mirrors(sr, si, n_fft, L, rot):
    """Refresh the conjugate-mirror columns of the padded (rows, n_freq + 2L) arrays.

    ``rot = (sigma, u_r, u_i)`` describes the phase rotation of the stored spectrum
    (see :func:`_rotation`): bin ``-j`` is ``conj(bin j)`` and bin ``N - j`` is
    ``sigma conj(bin j)``.
    """
    rows, width = sr.shape
    nfreq = width - 2 * L
    sigma = rot[0]
    for row in range(rows):
        for j in range(1, L + 1):
            # bin -j = conj(bin j)  (j < nfreq always: skip() rejects 2L + 1 > n_fft)
            sr[row, L - j] = sr[row, L + j]
            si[row, L - j] = -si[row, L + j]
            # bin nfreq-1+j = sigma conj(bin n_fft - (nfreq-1+j))
            b = nfreq - 1 + j
            src = n_fft - b
            if src < 0:
                src = -src
            sr[row, L + b] = sigma * sr[row, L + src]
            si[row, L + b] = -sigma * si[row, L + src]


@njit(cache=True, inline="always")
def _set_bin(sr, si, base, n, av, zr, zi, n_fft, L, nfreq, rot):
    """Set bin ``n`` of the padded row at flat index ``base`` to ``av`` times the phase of z.

    ``z = zr + i zi``. DC stays real and Nyquist on its line ``(u_r + i u_i) R`` (real
    for an unrotated spectrum), keeping the sign of the projection; the mirrors are
    refreshed (``rot`` as in :func:`_fill_mirrors`). Returns 1 if the bin changed, else 0.
    """
    if n == 0:
        if zr == 0.0:
            return 0
        nr = av if zr > 0 else -av
        ni = 0.0
    elif n_fft % 2 == 0 and n == n_fft // 2:
        proj = zr * rot[1] + zi * rot[2]
        if proj == 0.0:
            return 0
        sgn = av if proj > 0 else -av
        nr = sgn * rot[1]
        ni = sgn * rot[2]
    else:
        mag2 = zr * zr + zi * zi
        if mag2 == 0.0:
            return 0
        scale = av / math.sqrt(mag2)
        nr = zr * scale
        ni = zi * scale
    sr[base + n + L] = nr
    si[base + n + L] = ni
    if 1 <= n <= L:
        sr[base + L - n] = nr
        si[base + L - n] = -ni
    b = n_fft - n
    if n != 0 and b != n and b <= nfreq - 1 + L:
        sr[base + L + b] = rot[0] * nr
        si[base + L + b] = -rot[0] * ni
    return 1


# The kernels work on flat views: the padded spectrogram ``sr/si`` (rows = frames + 2(Q-1),
# row width ``width = n_freq + 2L``) and the weights ``wr/wi`` (shape (P, 2Q-1, 2L+1)).
# Reads index with unsigned integers (``_U``) so numba drops negative-index wraparound
# and the tap loops vectorise.


@njit(cache=True, fastmath=True)
def _update_frame(sr, si, width, amp, wr, wi, lo, hi, m, thr, q_hi, n_fft, L, period, q_off,
                  rot):
    """Replace the phase of every bin of frame ``m`` with ``amp > thr`` by its neighbours' sum.

    Only the taps ``lo[r, qi] <= ki < hi[r, qi]`` (the span of non-negligible weights,
    column offsets ``0 .. 2L``) are visited. ``q_hi`` limits the frame offsets to padded
    rows ``m .. m + q_hi - 1`` (all 2Q-1 rows = batch; Q-1 = past only; Q = past and
    current frame). Returns the number of bins updated.
    """
    nfreq = amp.shape[1]
    q_all = 2 * q_off + 1
    nkf = 2 * L + 1
    count = 0
    for n in range(nfreq):
        av = amp[m, n]
        if av <= thr:
            continue
        r = n % period
        zr = 0.0
        zi = 0.0
        for qi in range(q_hi):
            sb = (m + qi) * width + n
            wb = (r * q_all + qi) * nkf
            for ki in range(lo[r, qi], hi[r, qi]):
                a_r = wr[_U(wb + ki)]
                a_i = wi[_U(wb + ki)]
                s_r = sr[_U(sb + ki)]
                s_i = si[_U(sb + ki)]
                zr += a_r * s_r - a_i * s_i
                zi += a_r * s_i + a_i * s_r
        count += _set_bin(sr, si, (m + q_off) * width, n, av, zr, zi, n_fft, L, nfreq, rot)
    return count


@njit(cache=True, fastmath=True)
def _update_frame_sym(sr, si, width, amp, wr, wi, lo, hi, m, thr, n_fft, L, period, q_off,
                      rot):
    """:func:`_update_frame` over all frame offsets for symmetric windows.

    When ``alpha_n(-q, k) = conj(alpha_n(q, k))`` and ``alpha_n(0, k)`` is real (windows
    symmetric about the frame centre, hop dividing n_fft), the terms of ``q`` and ``-q``
    share their weight: ``W A + conj(W) B = wr (A + B) + i wi (A - B)``, half the products.
    """
    nfreq = amp.shape[1]
    q_all = 2 * q_off + 1
    nkf = 2 * L + 1
    row0 = (m + q_off) * width
    count = 0
    r = period - 1
    for n in range(nfreq):
        r += 1  # r = n % period without a division
        if r == period:
            r = 0
        av = amp[m, n]
        if av <= thr:
            continue
        zr = 0.0
        zi = 0.0
        sb = row0 + n
        wb = (r * q_all + q_off) * nkf
        for ki in range(lo[r, q_off], hi[r, q_off]):
            w0 = wr[_U(wb + ki)]
            zr += w0 * sr[_U(sb + ki)]
            zi += w0 * si[_U(sb + ki)]
        for q in range(1, q_off + 1):
            qi = q_off + q
            bp = sb + q * width
            bm = sb - q * width
            wb = (r * q_all + qi) * nkf
            for ki in range(lo[r, qi], hi[r, qi]):
                a_r = wr[_U(wb + ki)]
                a_i = wi[_U(wb + ki)]
                pr = sr[_U(bp + ki)] + sr[_U(bm + ki)]
                mr = sr[_U(bp + ki)] - sr[_U(bm + ki)]
                p_i = si[_U(bp + ki)] + si[_U(bm + ki)]
                m_i = si[_U(bp + ki)] - si[_U(bm + ki)]
                zr += a_r * pr - a_i * m_i
                zi += a_r * p_i + a_i * mr
        count += _set_bin(sr, si, row0, n, av, zr, zi, n_fft, L, nfreq, rot)
    return count


@njit(cache=True)
def _batch_sweeps(sr, si, width, amp, wr, wi, lo, hi, thr_abs, n_fft, L, period, q_off, rot,
                  symmetric):
    """Batch LWS: for each threshold, one in-place sweep over frames then bins."""
    frames = amp.shape[0]
    q_all = 2 * q_off + 1
    total = 0
    for it in range(thr_abs.size):
        for m in range(frames):
            if symmetric:
                total += _update_frame_sym(sr, si, width, amp, wr, wi, lo, hi, m, thr_abs[it],
                                           n_fft, L, period, q_off, rot)
            else:
                total += _update_frame(sr, si, width, amp, wr, wi, lo, hi, m, thr_abs[it], q_all,
                                       n_fft, L, period, q_off, rot)
    return total


@njit(cache=True)
def _nofuture_sweeps(sr, si, width, amp, wr, wi, lo, hi, thr_abs, n_fft, L, period, q_off, rot):
    """"No future" LWS: each frame re-estimated from past frames only (q < 0)."""
    frames = amp.shape[0]
    for it in range(thr_abs.size):
        for m in range(frames):
            _update_frame(sr, si, width, amp, wr, wi, lo, hi, m, thr_abs[it], q_off, n_fft, L,
                          period, q_off, rot)


@njit(cache=True)
def _online(sr, si, init_r, init_i, width, amp, wr, wi, lo, hi, wr_ai, wi_ai, lo_ai, hi_ai,
            wr_af, wi_af, lo_af, hi_af, thr_abs, n_fft, L, period, q_off, rot, look_ahead):
    """Online LWS (frame-by-frame, future unseen); ``sr``/``si`` start as zeros.

    For each new frame ``m``: start from the initial values, estimate its phase from the
    past frames with the causal weights ``*_ai`` (no threshold), then ``thr_abs.size``
    times update frames ``m - look_ahead .. m - 1`` with the normal weights (frames after
    ``m`` are still zero, i.e. unseen) and frame ``m`` itself from the past and current
    frames with the weights ``*_af``.
    """
    frames = amp.shape[0]
    q_all = 2 * q_off + 1
    for m in range(frames):
        base = (m + q_off) * width
        for c in range(width):
            sr[base + c] = init_r[base + c]
            si[base + c] = init_i[base + c]
        _update_frame(sr, si, width, amp, wr_ai, wi_ai, lo_ai, hi_ai, m, -1.0, q_off, n_fft, L,
                      period, q_off, rot)
        for it in range(thr_abs.size):
            j0 = m - look_ahead
            if j0 < 0:
                j0 = 0
            for j in range(j0, m):
                _update_frame(sr, si, width, amp, wr, wi, lo, hi, j, thr_abs[it], q_all, n_fft,
                              L, period, q_off, rot)
            _update_frame(sr, si, width, amp, wr_af, wi_af, lo_af, hi_af, m, thr_abs[it],
                          q_off + 1, n_fft, L, period, q_off, rot)


# --------------------------------------------------------------------------- driver


#: What the frames beyond either end hold: static copies of each stage's first/last frame
#: (the reference package's ``extspec``) or silence.
EDGES = ("copy", "silent")


def _copy_edges(sr: np.ndarray, si: np.ndarray, q_off: int, frames: int) -> None:
    """In place: the ``q_off`` padding rows on each side become copies of the edge frames."""
    for arr in (sr, si):
        arr[:q_off] = arr[q_off]
        arr[q_off + frames :] = arr[q_off + frames - 1]


def _rotation(W: np.ndarray, n_fft: int, L: int) -> tuple[float, bool]:
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


def _compress_weights(W: np.ndarray, rel_tol: float = 1e-12):
    """Split ``W`` into real/imag parts and the span ``[lo, hi)`` of non-negligible taps."""
    keep = np.abs(W) > rel_tol * max(float(np.abs(W).max()), 1e-300)
    n_k = W.shape[2]
    any_ = keep.any(axis=2)
    lo = np.where(any_, np.argmax(keep, axis=2), 0).astype(np.int64)
    hi = np.where(any_, n_k - np.argmax(keep[:, :, ::-1], axis=2), 0).astype(np.int64)
    return np.ascontiguousarray(W.real).ravel(), np.ascontiguousarray(W.imag).ravel(), lo, hi


def lws(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    L: int = 5,
    look_ahead: int = 3,
    nofuture_iterations: int = 0,
    nofuture_alpha: float = 1.0,
    nofuture_beta: float = 0.1,
    nofuture_gamma: float = 1.0,
    online_iterations: int = 0,
    online_alpha: float = 1.0,
    online_beta: float = 0.1,
    online_gamma: float = 1.0,
    batch_iterations: int = 100,
    batch_alpha: float = 100.0,
    batch_beta: float = 0.1,
    batch_gamma: float = 1.0,
    causal: str = "lws",
    edges: str = "copy",
    init_phase_2d: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    trace: list | None = None,
) -> np.ndarray:
    """Run the LWS stages (no future -> online -> batch) on one ``(n_freq, frames)`` magnitude.

    Parameters
    ----------
    magnitude : np.ndarray, shape (n_freq, frames)
        Target magnitude (float64 is used internally).
    spec : FeatureSpec
        STFT contract (window, hop, n_fft).
    L, look_ahead, ..., causal, edges : see :class:`LWS.Params`.
    init_phase_2d : np.ndarray, optional
        Initial phase (radians); zero phase if None.
    weights : np.ndarray, optional
        Precomputed :func:`spec_weights` (for reuse across a batch).
    trace : list, optional
        Receives ``{"iter", "sc_db", "stage"}`` after each stage (SC of STFT(ISTFT(X))).

    Returns
    -------
    np.ndarray, complex128, shape (n_freq, frames)
        Target magnitude with the LWS phase.
    """
    n_fft = spec.n_fft
    amp = np.ascontiguousarray(np.asarray(magnitude, dtype=np.float64).T)
    frames, nfreq = amp.shape
    W = spec_weights(spec, L) if weights is None else weights
    period, q_all, _ = W.shape
    q_off = (q_all - 1) // 2
    W = W.copy()
    W[:, q_off, L] = 0.0  # the self term is not part of the neighbours' sum
    delta, symmetric = _rotation(W, n_fft, L)
    tap_rot = np.exp(-2j * np.pi * np.arange(-L, L + 1) * delta / n_fft)
    W = W * tap_rot
    bin_rot = np.exp(2j * np.pi * np.arange(nfreq) * delta / n_fft)
    rot = np.array([np.cos(2 * np.pi * delta), np.cos(np.pi * delta), np.sin(np.pi * delta)])
    wr, wi, lo, hi = _compress_weights(W)
    mean_amp = float(amp.mean()) if amp.size else 0.0

    shape = (frames + 2 * q_off, nfreq + 2 * L)
    width = shape[1]
    sr = np.zeros(shape)
    si = np.zeros(shape)
    ph = np.zeros_like(amp) if init_phase_2d is None else np.asarray(init_phase_2d, np.float64).T
    x0 = amp * np.exp(1j * ph)
    # DC and Nyquist are real for a real signal
    x0[:, 0] = x0[:, 0].real
    if n_fft % 2 == 0:
        x0[:, -1] = x0[:, -1].real
    x0 *= bin_rot
    sr[q_off : q_off + frames, L : L + nfreq] = x0.real
    si[q_off : q_off + frames, L : L + nfreq] = x0.imag
    copy = edges == "copy"
    if copy:
        _copy_edges(sr, si, q_off, frames)
    _fill_mirrors(sr, si, n_fft, L, rot)
    common = (amp, wr, wi, lo, hi)
    if nofuture_iterations > 0 or online_iterations > 0:
        W_ai, W_af = causal_weights(spec, L, kind=causal)
        W_af[:, q_off, L] = 0.0
        causal_ai = _compress_weights(W_ai * tap_rot)
        causal_af = _compress_weights(W_af * tap_rot)
    sizes = (n_fft, L, period, q_off, rot)

    def current() -> np.ndarray:
        x = sr[q_off : q_off + frames, L : L + nfreq] + 1j * si[q_off : q_off + frames, L : L + nfreq]
        return (x * np.conj(bin_rot)).T

    def record(stage: str, it: int) -> None:
        if trace is not None:
            with costs.uncounted():  # the trace's STFTs are bookkeeping (melbench.costs)
                sc = consistent_sc_db(magnitude, current(), spec)
            trace.append({"iter": it, "stage": stage, "sc_db": sc})

    if nofuture_iterations > 0:
        thr = thresholds(nofuture_iterations, nofuture_alpha, nofuture_beta, nofuture_gamma)
        _nofuture_sweeps(sr.ravel(), si.ravel(), width, amp, *causal_ai, thr * mean_amp, *sizes)
        record("nofuture", nofuture_iterations)
    if online_iterations > 0:
        thr = thresholds(online_iterations, online_alpha, online_beta, online_gamma)
        osr = np.zeros(shape)
        osi = np.zeros(shape)
        if copy:  # the past of frame 0 (the frames after m are unseen anyway)
            osr[:q_off] = sr[q_off]
            osi[:q_off] = si[q_off]
        _online(osr.ravel(), osi.ravel(), sr.ravel(), si.ravel(), width, *common, *causal_ai,
                *causal_af, thr * mean_amp, *sizes, int(look_ahead))
        sr, si = osr, osi
        record("online", nofuture_iterations + online_iterations)
    if batch_iterations > 0:
        if copy:
            _copy_edges(sr, si, q_off, frames)
        thr = thresholds(batch_iterations, batch_alpha, batch_beta, batch_gamma) * mean_amp
        if trace is None:
            _batch_sweeps(sr.ravel(), si.ravel(), width, *common, thr, *sizes, symmetric)
        else:
            base = nofuture_iterations + online_iterations
            for i in range(batch_iterations):
                _batch_sweeps(sr.ravel(), si.ravel(), width, *common, thr[i : i + 1], *sizes,
                              symmetric)
                record("batch", base + i + 1)
    return np.ascontiguousarray(current())


class LWS(PhaseRetriever):
    """Local weighted sums (Le Roux et al. 2010), melbench's numba implementation.

    Works with any window and hop of the spec: the consistency weights come from the
    spec's own analysis window and the synthesis window of melbench's least-squares ISTFT.
    Frames beyond the ends are static copies of the edge frames (the reference's choice;
    ``edges="silent"`` for zeros). Each leading batch item is processed
    independently.

    References
    ----------
    .. [1] J. Le Roux, H. Kameoka, N. Ono and S. Sagayama, "Fast signal reconstruction from
       magnitude STFT spectrogram based on spectrogram consistency," DAFx 2010.
    """

    name: ClassVar[str] = "lws"
    counts_ffts: ClassVar[bool] = True  # local weighted sums: no FFTs (0 pairs)
    iterations_param: ClassVar[str | None] = "batch_iterations"

    @dataclass
    class Params:
        """Parameters of LWS.

        Attributes
        ----------
        mode : str
            Schedule preset: "speech" (batch iterations only: no future 0, online 0,
            batch 100) or "music" (no future 1, online 10, batch 100), as in the lws
            package. Explicit ``*_iterations`` values override the preset.
        L : int
            Half-width of the frequency neighbourhood of the weighted sums (bins
            ``n - L .. n + L``; 5 as in the paper). Larger is closer to the exact
            projection and slower (cost ~ (2L + 1)).
        look_ahead : int
            Online mode only: number of recent frames re-estimated when a new frame
            arrives (3 = the reference's default; latency of the online stage).
        nofuture_iterations : int, optional
            Sweeps of the causal "no future" initialisation: each frame's phase is
            estimated from past frames only. None = from ``mode``.
        nofuture_alpha, nofuture_beta, nofuture_gamma : float
            Threshold schedule of the no-future sweeps: sweep ``i`` (from 0) updates only
            bins with magnitude above ``alpha * exp(-beta * i**gamma) * mean(magnitude)``.
        online_iterations : int, optional
            Refinement rounds per arriving frame in the online stage (frame by frame,
            future frames unseen, look-ahead ``look_ahead``). None = from ``mode``.
        online_alpha, online_beta, online_gamma : float
            Threshold schedule of the online rounds (as above).
        batch_iterations : int, optional
            Sweeps over the whole spectrogram (all neighbours, past and future). None =
            from ``mode`` (100).
        batch_alpha, batch_beta, batch_gamma : float
            Threshold schedule of the batch sweeps (defaults 100, 0.1, 1: from 100 x mean
            down to about 0.005 x mean over 100 sweeps, loud bins settle first).
        init : str
            Starting phase when no warm start is given: "zero" (the reference's choice)
            or "random" (seeded). A warm start (``init=`` argument) takes precedence.
        causal : str
            Weights of the no-future and online stages, while the later frames are
            unseen: "lws" (the reference package's, from Zhu et al.'s asymmetric
            windows, :func:`asymmetric_windows`) or "coverage" (melbench's variant: the
            analysis window divided by the coverage of the frames present, which undoes
            the taper of the missing frames): better at 75% overlap, worse at hop
            n_fft/8 (docs/local_phase.md, ``results/bench_local_phase.md``).
        edges : str
            Frames beyond either end: "copy" (the reference's: static copies of the
            first/last frame as each stage starts) or "silent" (zeros, which melbench's
            centre-padded STFT implies; better by up to 1.4 dB, same file).
        """

        mode: str = "speech"
        L: int = 5
        look_ahead: int = 3
        nofuture_iterations: int | None = None
        nofuture_alpha: float = 1.0
        nofuture_beta: float = 0.1
        nofuture_gamma: float = 1.0
        online_iterations: int | None = None
        online_alpha: float = 1.0
        online_beta: float = 0.1
        online_gamma: float = 1.0
        batch_iterations: int | None = None
        batch_alpha: float = 100.0
        batch_beta: float = 0.1
        batch_gamma: float = 1.0
        init: str = "zero"
        causal: str = "lws"
        edges: str = "copy"

    def validate(self) -> None:
        """Check the preset, counts, kernel size and schedules."""
        p = self.params
        if p.mode not in MODES:
            raise ParameterError(f"lws mode={p.mode!r}; choose one of {', '.join(MODES)}")
        if int(p.L) != p.L or p.L < 0:
            raise ParameterError(f"lws L={p.L!r}: the kernel half-width must be an integer >= 0")
        if int(p.look_ahead) != p.look_ahead or p.look_ahead < 0:
            raise ParameterError(f"lws look_ahead={p.look_ahead!r}: must be an integer >= 0")
        for stage in ("nofuture", "online", "batch"):
            n = getattr(p, f"{stage}_iterations")
            if n is not None and (int(n) != n or n < 0):
                raise ParameterError(f"lws {stage}_iterations={n!r}: must be an integer >= 0")
            if getattr(p, f"{stage}_alpha") < 0:
                raise ParameterError(f"lws {stage}_alpha must be >= 0")
            if getattr(p, f"{stage}_beta") < 0:
                raise ParameterError(f"lws {stage}_beta must be >= 0 (thresholds must decrease)")
            if getattr(p, f"{stage}_gamma") <= 0:
                raise ParameterError(f"lws {stage}_gamma must be > 0")
        if p.init not in ("zero", "random"):
            raise ParameterError(f"lws init={p.init!r}; choose 'zero' or 'random'")
        if p.causal not in CAUSAL:
            raise ParameterError(f"lws causal={p.causal!r}; choose one of {', '.join(CAUSAL)}")
        if p.edges not in EDGES:
            raise ParameterError(f"lws edges={p.edges!r}; choose one of {', '.join(EDGES)}")

    def iterations(self) -> tuple[int, int, int]:
        """(nofuture, online, batch) iteration counts after applying the mode preset."""
        p = self.params
        nf, on, ba = MODES[p.mode]
        return (
            nf if p.nofuture_iterations is None else int(p.nofuture_iterations),
            on if p.online_iterations is None else int(p.online_iterations),
            ba if p.batch_iterations is None else int(p.batch_iterations),
        )

    def skip(self, spec: FeatureSpec) -> str | None:
        """Decline specs whose neighbourhood would not fit the spectrum."""
        if 2 * self.params.L + 1 > spec.n_fft:
            return f"lws L={self.params.L} is too wide for n_fft={spec.n_fft}"
        return None

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run the LWS stages over each item of the batch."""
        reason = self.skip(spec)
        if reason:
            raise ParameterError(reason)
        p = self.params
        nf, on, ba = self.iterations()
        W = spec_weights(spec, int(p.L))
        phases = init_phase(init)

        def one(mag, ph, rng_):
            if ph is None and p.init == "random":
                ph = rng_.uniform(-np.pi, np.pi, size=mag.shape)
            return lws(
                mag, spec, L=int(p.L), look_ahead=int(p.look_ahead),
                nofuture_iterations=nf, nofuture_alpha=p.nofuture_alpha,
                nofuture_beta=p.nofuture_beta, nofuture_gamma=p.nofuture_gamma,
                online_iterations=on, online_alpha=p.online_alpha, online_beta=p.online_beta,
                online_gamma=p.online_gamma, batch_iterations=ba, batch_alpha=p.batch_alpha,
                batch_beta=p.batch_beta, batch_gamma=p.batch_gamma, causal=p.causal,
                edges=p.edges, init_phase_2d=ph,
                weights=W, trace=trace,
            )

        return over_batch(one, magnitude, phases, rng)
