"""Numba kernels of melbench's LWS (:mod:`melbench.phase.lws`): the per-frame updates.

The padded spectrogram is held as two flat float64 arrays ``sr``/``si`` (real and
imaginary parts; ``frames + 2 (Q - 1)`` rows of ``width = n_freq + 2L`` columns: ``Q - 1``
edge rows on either side, ``L`` conjugate-mirror columns on either side). Frame ``m``
lives in padded row ``m + q_off`` (``q_off = Q - 1``), bin ``n`` in column ``n + L``.

A weight set (:func:`pack`) carries the weights ``alpha_n(q, k)`` of one stage in two
layouts, one per update path:

* the *tap* path visits only the bins above the threshold, one at a time, with the
  weights tabulated per ``n mod P`` (``P = N / gcd(N, a)``): :func:`_update_frame` (any
  window) and :func:`_update_frame_sym` (windows whose weights pair ``q`` with ``-q``, half
  the products). Cheap when few bins of the frame are above the threshold.
* the *row* path (:func:`_update_frame_rows`) uses the factorisation
  ``alpha_n(q, k) = e^{-2 pi i n q a / N} alpha_0(q, k)``: the sum over the other frames is,
  for each ``q``, a convolution of row ``m + q`` with the ``n``-independent taps
  ``alpha_0(q, .)``, followed by a per-bin phase factor. Its loops run over the bins of a
  row, contiguous, so they vectorise (SIMD); only the current frame's own taps (``q = 0``,
  which see the bins already updated in this sweep) stay sequential. It costs the same for
  every window. It convolves only the :data:`ROW_BLOCK`-bin blocks holding a bin above
  the threshold (:func:`_active_runs`) and is taken unless those blocks are nearly empty,
  in every stage (the no-future and online stages sum only their past, or past and
  current, frame offsets).

Both paths compute the same Gauss-Seidel update (each bin sees the bins and frames
updated before it); they differ only by floating-point rounding. Indices are cast to
unsigned (``_U``) so numba drops negative-index wraparound and the loops vectorise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .lws_bins import _U, FASTMATH, _set_bin, fill_mirrors
from .lws_row_kernels import (
    ROW_BLOCK,
    ROWS_MIN_ACTIVE,
    _active_runs,
    _update_frame_rows,
)

__all__ = ["ROWS_MIN_ACTIVE", "ROW_BLOCK", "batch_sweeps", "fill_mirrors", "frame_levels",
           "nofuture_sweeps", "online", "pack"]


def frame_levels(amp: np.ndarray) -> np.ndarray:
    """Per frame, the largest magnitude: a threshold at or above it updates nothing.

    Parameters
    ----------
    amp : np.ndarray [shape=(frames, n_freq)]
        Target magnitude, frame-major.

    Returns
    -------
    np.ndarray [shape=(frames,)]
    """
    if amp.size == 0:
        return np.full(amp.shape[0], -np.inf)
    return amp.max(axis=1)


def pack(W: np.ndarray, hop_length: int, n_fft: int, n_freq: int, rel_tol: float = 1e-12):
    """Both layouts of a weight table, as the kernels take them.

    Parameters
    ----------
    W : np.ndarray [shape=(P, 2Q - 1, 2L + 1)], complex
        Weights ``W[n mod P, q + Q - 1, k + L] = alpha_n(q, k)``
        (:func:`melbench.phase.lws_weights.consistency_weights`, self term zeroed,
        possibly rotated).
    hop_length, n_fft, n_freq : int
        Hop ``a``, FFT size ``N`` and number of bins.
    rel_tol : float
        Taps below ``rel_tol * max |W|`` are skipped.

    Returns
    -------
    tuple
        ``(wr, wi, lo, hi, br, bi, blo, bhi, cr, ci, us)``: ``wr, wi`` the flat real and
        imaginary parts of ``W`` and ``lo, hi [shape=(P, 2Q - 1)]`` the span of its
        non-negligible taps (tap path); ``br, bi [shape=((2Q - 1) (2L + 1),)]`` the taps
        ``alpha_0(q, k)``, ``blo, bhi [shape=(2Q - 1,)]`` their span and
        ``cr, ci [shape=((2Q - 1) n_freq,)]`` the phase factors ``e^{-2 pi i n q a / N}``
        (row path); ``us [shape=(P (2Q - 1),)]`` the signs
        ``Re e^{-4 pi i n q a / N}`` of :func:`_update_frame_quad` (exact signs when
        ``4a`` is a multiple of ``N``).
    """
    keep = np.abs(W) > rel_tol * max(float(np.abs(W).max()), 1e-300)
    n_k = W.shape[2]
    any_ = keep.any(axis=2)
    lo = np.where(any_, np.argmax(keep, axis=2), 0).astype(np.int64)
    hi = np.where(any_, n_k - np.argmax(keep[:, :, ::-1], axis=2), 0).astype(np.int64)
    q_off = (W.shape[1] - 1) // 2
    qs = np.arange(-q_off, q_off + 1)
    n = np.arange(n_freq)
    factor = np.exp(-2j * np.pi * ((qs[:, None] * n[None, :] * hop_length) % n_fft) / n_fft)
    # |alpha_n(q, k)| does not depend on n: the union of the spans is the row path's span
    blo = lo.min(axis=0)
    bhi = hi.max(axis=0)
    bhi = np.where(any_.any(axis=0), bhi, 0)
    blo = np.where(any_.any(axis=0), blo, 0)
    # the row path may sum every tap of an offset: the negligible ones are exact zeros
    b0 = np.where(np.arange(n_k)[None, :] >= blo[:, None], W[0], 0.0)
    b0 = np.where(np.arange(n_k)[None, :] < bhi[:, None], b0, 0.0)
    r = np.arange(W.shape[0])[:, None]
    usign = np.cos(4 * np.pi * ((r * qs[None, :] * hop_length) % n_fft) / n_fft)
    flat = np.ascontiguousarray
    return (flat(W.real).ravel(), flat(W.imag).ravel(), lo, hi,
            flat(b0.real).ravel(), flat(b0.imag).ravel(), blo.astype(np.int64),
            bhi.astype(np.int64), flat(factor.real).ravel(), flat(factor.imag).ravel(),
            flat(usign).ravel())


@njit(cache=True, fastmath=FASTMATH)
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


@njit(cache=True, fastmath=FASTMATH)
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


@njit(cache=True, fastmath=FASTMATH)
def _update_frame_quad(sr, si, width, amp, wr, wi, us, m, thr, n_fft, L, period, q_off, rot):
    """:func:`_update_frame_sym` with four taps per weight (the reference's LWSQ4 trick).

    For symmetric (rotated) weights, ``alpha_n(q, -k) = u conj(alpha_n(q, k))`` with
    ``u = e^{-4 pi i n q a / N}``, which is a sign ``us`` when ``4a`` is a multiple of ``N``
    (hop n_fft/4, n_fft/2); with ``alpha_n(-q, k) = conj(alpha_n(q, k))`` the taps
    ``(q, k), (-q, -k), (q, -k), (-q, k)`` share one weight:
    ``w (X[q, k] + u X[-q, -k]) + conj(w) (X[-q, k] + u X[q, -k])``. The current frame's
    weights are real and even in ``k``. Half the products of the paired kernel.
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
        sb = row0 + n + L
        wb = (r * q_all + q_off) * nkf + L
        for k in range(1, L + 1):
            w0 = wr[_U(wb + k)]
            zr += w0 * (sr[_U(sb + k)] + sr[_U(sb - k)])
            zi += w0 * (si[_U(sb + k)] + si[_U(sb - k)])
        for q in range(1, q_off + 1):
            qi = q_off + q
            bp = sb + q * width
            bm = sb - q * width
            wb = (r * q_all + qi) * nkf + L
            u = us[r * q_all + qi]
            a_r = wr[_U(wb)]
            a_i = wi[_U(wb)]
            c_r = sr[_U(bp)]
            c_i = si[_U(bp)]
            b_r = sr[_U(bm)]
            b_i = si[_U(bm)]
            zr += a_r * (c_r + b_r) - a_i * (c_i - b_i)
            zi += a_r * (c_i + b_i) + a_i * (c_r - b_r)
            for k in range(1, L + 1):
                a_r = wr[_U(wb + k)]
                a_i = wi[_U(wb + k)]
                p_r = sr[_U(bp + k)] + u * sr[_U(bm - k)]
                p_i = si[_U(bp + k)] + u * si[_U(bm - k)]
                q_r = sr[_U(bm + k)] + u * sr[_U(bp - k)]
                q_i = si[_U(bm + k)] + u * si[_U(bp - k)]
                zr += a_r * (p_r + q_r) - a_i * (p_i - q_i)
                zi += a_r * (p_i + q_i) + a_i * (p_r - q_r)
        count += _set_bin(sr, si, row0, n, av, zr, zi, n_fft, L, nfreq, rot)
    return count


@njit(cache=True)
def _update(sr, si, width, amp, K, levels, m, thr, q_hi, n_fft, L, period, q_off, rot,
            symmetric, scratch, runs):
    """Update frame ``m`` by the cheaper path: rows if its blocks are dense enough, else taps.

    ``K`` is a :func:`pack` tuple, ``levels`` the :func:`frame_levels` of the magnitude,
    ``q_hi`` the number of frame offsets used (rows ``m .. m + q_hi - 1``: ``2Q - 1`` =
    all, ``Q - 1`` = past only, ``Q`` = past and current), ``symmetric`` which tap kernel
    the weights allow with all offsets (0: the general one, 1: the paired one, 2: the
    four-tap one), ``scratch`` a (2, n_freq) float array and ``runs`` an int array of
    ``2 (n_freq // ROW_BLOCK + 1) + n_freq`` (the runs of :func:`_active_runs`, then the
    list of the bins above ``thr``). The row path is taken when the bins above ``thr`` are
    at least :data:`ROWS_MIN_ACTIVE` of the bins of the blocks holding them, in every stage
    (the no-future and online stages with their partial offsets too). Returns the number
    of bins updated.
    """
    nfreq = amp.shape[1]
    if levels[m] <= thr:  # no bin of the frame above the threshold
        return 0
    wr, wi, lo, hi, br, bi, blo, bhi, cr, ci, us = K
    bins = runs[2 * (nfreq // ROW_BLOCK + 1) :]  # the bins above thr
    n_runs, covered, active = _active_runs(amp, m, thr, runs, bins)
    if active >= ROWS_MIN_ACTIVE * covered:  # dense blocks: the row path
        return _update_frame_rows(sr, si, width, amp, br, bi, blo, bhi, cr, ci, m, thr, q_hi,
                                  n_fft, L, q_off, rot, scratch[0], scratch[1], runs, n_runs,
                                  bins, active)
    if symmetric == 2 and q_hi == 2 * q_off + 1:
        return _update_frame_quad(sr, si, width, amp, wr, wi, us, m, thr, n_fft, L, period,
                                  q_off, rot)
    if symmetric and q_hi == 2 * q_off + 1:
        return _update_frame_sym(sr, si, width, amp, wr, wi, lo, hi, m, thr, n_fft, L, period,
                                 q_off, rot)
    return _update_frame(sr, si, width, amp, wr, wi, lo, hi, m, thr, q_hi, n_fft, L, period,
                         q_off, rot)


@njit(cache=True)
def batch_sweeps(sr, si, width, amp, levels, K, thr_abs, n_fft, L, period, q_off, rot,
                 symmetric):
    """Batch LWS: for each threshold, one in-place sweep over the frames (all offsets)."""
    frames, nfreq = amp.shape
    scratch = np.empty((2, nfreq))
    # the runs of the row path, then the list of the bins above the threshold
    runs = np.empty(2 * (nfreq // ROW_BLOCK + 1) + nfreq, dtype=np.int64)
    q_all = 2 * q_off + 1
    total = 0
    for it in range(thr_abs.size):
        for m in range(frames):
            total += _update(sr, si, width, amp, K, levels, m, thr_abs[it], q_all, n_fft, L,
                             period, q_off, rot, symmetric, scratch, runs)
    return total


@njit(cache=True)
def nofuture_sweeps(sr, si, width, amp, levels, K_ai, thr_abs, n_fft, L, period, q_off,
                    rot):
    """"No future" LWS: each frame re-estimated from past frames only (``q < 0``)."""
    frames, nfreq = amp.shape
    scratch = np.empty((2, nfreq))
    runs = np.empty(2 * (nfreq // ROW_BLOCK + 1) + nfreq, dtype=np.int64)
    for it in range(thr_abs.size):
        for m in range(frames):
            _update(sr, si, width, amp, K_ai, levels, m, thr_abs[it], q_off, n_fft, L, period,
                    q_off, rot, 0, scratch, runs)


@njit(cache=True)
def online(sr, si, init_r, init_i, width, amp, levels, K, K_ai, K_af, thr_abs, n_fft, L,
           period, q_off, rot, look_ahead, symmetric):
    """Online LWS (frame by frame, future unseen); ``sr``/``si`` start as zeros.

    For each new frame ``m``: start from the initial values, estimate its phase from the
    past frames with the causal weights ``K_ai`` (no threshold), then ``thr_abs.size``
    times update frames ``m - look_ahead .. m - 1`` with the normal weights ``K`` (frames
    after ``m`` are still zero, i.e. unseen) and frame ``m`` itself from the past and
    current frames with the weights ``K_af``. ``symmetric``: the interior weights allow
    the paired tap kernel.
    """
    frames, nfreq = amp.shape
    scratch = np.empty((2, nfreq))
    runs = np.empty(2 * (nfreq // ROW_BLOCK + 1) + nfreq, dtype=np.int64)
    q_all = 2 * q_off + 1
    for m in range(frames):
        base = (m + q_off) * width
        for c in range(width):
            sr[base + c] = init_r[base + c]
            si[base + c] = init_i[base + c]
        _update(sr, si, width, amp, K_ai, levels, m, -1.0, q_off, n_fft, L, period, q_off, rot,
                0, scratch, runs)
        for it in range(thr_abs.size):
            j0 = m - look_ahead
            if j0 < 0:
                j0 = 0
            for j in range(j0, m):
                # rows after the newest frame m are still empty: skip them
                q_hi = q_off + 1 + (m - j)
                if q_hi > q_all:
                    q_hi = q_all
                _update(sr, si, width, amp, K, levels, j, thr_abs[it], q_hi, n_fft, L, period,
                        q_off, rot, symmetric, scratch, runs)
            _update(sr, si, width, amp, K_af, levels, m, thr_abs[it], q_off + 1, n_fft, L,
                    period, q_off, rot, 0, scratch, runs)
