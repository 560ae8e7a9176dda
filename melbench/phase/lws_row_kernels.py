"""The row path of melbench's LWS kernels (:mod:`melbench.phase.lws_kernels`).

``alpha_n(q, k) = e^{-2 pi i n q a / N} alpha_0(q, k)``: per frame offset ``q`` the other
frames' share is a convolution of the row with the ``n``-independent taps, then a per-bin
phase factor; loops over contiguous bins that numba vectorises. :func:`_update_frame_rows`
convolves only the blocks holding a bin above the threshold, which :func:`_active_runs`
finds (every stage: with all frame offsets, the past ones, or the past and current).
"""

from __future__ import annotations

import math

from numba import njit

from .lws_bins import _U, FASTMATH, _set_bin

#: The row path is used for a frame when the bins above the threshold are at least this
#: fraction of the bins of the :data:`ROW_BLOCK`-bin blocks holding them (below it the tap
#: path, whose cost follows the number of bins updated; in the batch stage on the bundled
#: clips thresholds 0 and 0.1 timed the same within the machine's noise, 0.3 and 0.6 slower).
ROWS_MIN_ACTIVE = 0.05


@njit(cache=True, fastmath=FASTMATH)
def _conv_rows(sr, si, rb, br, bi, wb, nk, cr, ci, cb, zr, zi, n0, n1):
    """``z[n] += c[cb + n] sum_{j < nk} b[wb + j] X[rb + n + j]`` for ``n0 <= n < n1``.

    ``X = sr + i si`` (flat), ``b = br + i bi`` the taps, ``c = cr + i ci`` the per-bin
    phase factors, ``z = zr + i zi``. Every index is unsigned (``_U``): a signed bin index
    keeps numba's negative-index wraparound, and the loop over the bins does not vectorise
    (5x slower).
    """
    for n in range(n0, n1):
        tr = 0.0
        ti = 0.0
        for j in range(nk):
            a_r = br[_U(wb + j)]
            a_i = bi[_U(wb + j)]
            s_r = sr[_U(rb + n + j)]
            s_i = si[_U(rb + n + j)]
            tr += a_r * s_r - a_i * s_i
            ti += a_r * s_i + a_i * s_r
        c_r = cr[_U(cb + n)]
        c_i = ci[_U(cb + n)]
        zr[_U(n)] += c_r * tr - c_i * ti
        zi[_U(n)] += c_r * ti + c_i * tr


@njit(cache=True, fastmath=FASTMATH)
def _conv_own(sr, si, rb, br, bi, wb, nk, zr, zi, n0, n1):
    """:func:`_conv_rows` without the phase factor (the current frame's own taps)."""
    for n in range(n0, n1):
        tr = 0.0
        ti = 0.0
        for j in range(nk):
            a_r = br[_U(wb + j)]
            a_i = bi[_U(wb + j)]
            s_r = sr[_U(rb + n + j)]
            s_i = si[_U(rb + n + j)]
            tr += a_r * s_r - a_i * s_i
            ti += a_r * s_i + a_i * s_r
        zr[_U(n)] += tr
        zi[_U(n)] += ti


#: Taps per frame offset (``2L + 1``, L = 5 the default) for which the row path calls its
#: convolutions with a constant tap count: LLVM then unrolls the taps and vectorises the
#: loop over the bins (with a run-time count it vectorises the short tap loop instead).
_NK_FAST = 11


@njit(cache=True, fastmath=FASTMATH)
def _update_frame_rows(sr, si, width, amp, br, bi, blo, bhi, cr, ci, m, thr, q_hi, n_fft, L,
                       q_off, rot, zr, zi, runs, n_runs, bins, n_active):
    """:func:`_update_frame` through row convolutions (module docstring), same result.

    Only the runs of bins ``runs[2 b] .. runs[2 b + 1] - 1``, ``b < n_runs`` (increasing;
    :func:`_active_runs`) are convolved: the blocks of :data:`ROW_BLOCK` bins holding a bin
    above ``thr``, adjacent blocks merged. ``bins[:n_active]`` are the bins above ``thr``,
    increasing (:func:`_active_runs`): the sequential pass walks that list, so it has no
    data-dependent branch to mispredict. ``zr, zi`` are scratch arrays of ``n_freq``
    values. Returns the number of bins updated.
    """
    nfreq = amp.shape[1]
    nkf = 2 * L + 1
    row0 = (m + q_off) * width
    own = q_hi > q_off  # the current frame's own taps (q = 0)
    k0 = blo[q_off] if own else L
    k1 = bhi[q_off] if own else L
    wb0 = q_off * nkf
    # the current frame's later bins (k > 0) still hold their values from before this
    # sweep, except in the top L bins, whose later neighbours are mirrors of bins updated
    # earlier: those are summed with the earlier bins below
    n_old = nfreq - L if nfreq > L else 0
    for b in range(n_runs):
        n0 = runs[2 * b]
        n1 = runs[2 * b + 1]
        for n in range(n0, n1):
            zr[_U(n)] = 0.0
            zi[_U(n)] = 0.0
        for qi in range(q_hi):
            if qi == q_off or blo[qi] >= bhi[qi]:
                continue
            if nkf == _NK_FAST and blo[qi] == 1 and bhi[qi] == _NK_FAST - 1:
                # the 9 non-zero taps (sqrt-Hann and lws's window at q = +-2), constant count
                _conv_rows(sr, si, (m + qi) * width + 1, br, bi, qi * nkf + 1, _NK_FAST - 2,
                           cr, ci, qi * nfreq, zr, zi, n0, n1)
            elif nkf == _NK_FAST:  # all taps (zero outside the span), a constant count
                _conv_rows(sr, si, (m + qi) * width, br, bi, qi * nkf, _NK_FAST, cr, ci,
                           qi * nfreq, zr, zi, n0, n1)
            else:
                _conv_rows(sr, si, (m + qi) * width + blo[qi], br, bi, qi * nkf + blo[qi],
                           bhi[qi] - blo[qi], cr, ci, qi * nfreq, zr, zi, n0, n1)
        if own and k1 > L + 1:
            # the current frame's non-zero later taps: 2 for Hann, 1 for sqrt-Hann and lws's
            # window (k = 1 .. k1 - L - 1), as constant counts
            if nkf == _NK_FAST and k1 - L - 1 == 1:
                _conv_own(sr, si, row0 + L + 1, br, bi, wb0 + L + 1, 1, zr, zi, n0,
                          min(n1, n_old))
            elif nkf == _NK_FAST and k1 - L - 1 == 2:
                _conv_own(sr, si, row0 + L + 1, br, bi, wb0 + L + 1, 2, zr, zi, n0,
                          min(n1, n_old))
            elif nkf == _NK_FAST:
                _conv_own(sr, si, row0 + L + 1, br, bi, wb0 + L + 1, _NK_FAST // 2, zr, zi, n0,
                          min(n1, n_old))
            else:
                _conv_own(sr, si, row0 + L + 1, br, bi, wb0 + L + 1, k1 - L - 1, zr, zi, n0,
                          min(n1, n_old))
    # the earlier bins (k < 0), updated in this sweep, sequentially (Gauss-Seidel)
    k_mid = min(k1, L)
    count = 0
    # the tap of the previous bin (k = -1) and what the previous bin's update left in
    # registers: the chain from one bin to the next is then one multiply-add (below;
    # without the current frame's taps, as in the no-future stage, it is zero)
    w_r = br[_U(wb0 + L - 1)] if own else 0.0
    w_i = bi[_U(wb0 + L - 1)] if own else 0.0
    last = -2
    # bins n_lo < n < n_hi have no mirror column to refresh (:func:`_set_bin`)
    n_hi = min(n_old, n_fft - nfreq + 1 - L)
    p_s = 0.0
    p_r = 0.0
    p_i = 0.0
    for j in range(n_active):
        n = bins[j]
        av = amp[m, n]
        tr = zr[n]
        ti = zi[n]
        if nkf == _NK_FAST and L < n < n_hi:  # no mirror to refresh, taps unrolled
            for ki in range(k0, L - 1):  # bins n - L + k0 .. n - 2 (the non-zero taps)
                a_r = br[_U(wb0 + ki)]
                a_i = bi[_U(wb0 + ki)]
                s_r = sr[_U(row0 + n + ki)]
                s_i = si[_U(row0 + n + ki)]
                tr += a_r * s_r - a_i * s_i
                ti += a_r * s_i + a_i * s_r
            if last == n - 1:  # w (scale t) as scale (w t), w t formed off the chain
                tr += p_s * p_r
                ti += p_s * p_i
            else:
                s_r = sr[_U(row0 + n + L - 1)]
                s_i = si[_U(row0 + n + L - 1)]
                tr += w_r * s_r - w_i * s_i
                ti += w_r * s_i + w_i * s_r
            mag2 = tr * tr + ti * ti
            if mag2 == 0.0:
                continue
            p_s = av / math.sqrt(mag2)
            sr[_U(row0 + n + L)] = tr * p_s
            si[_U(row0 + n + L)] = ti * p_s
            p_r = w_r * tr - w_i * ti
            p_i = w_r * ti + w_i * tr
            last = n
            count += 1
            continue
        hi_k = k_mid if n < n_old else k1
        for ki in range(k0, hi_k):
            a_r = br[wb0 + ki]
            a_i = bi[wb0 + ki]
            s_r = sr[_U(row0 + n + ki)]
            s_i = si[_U(row0 + n + ki)]
            tr += a_r * s_r - a_i * s_i
            ti += a_r * s_i + a_i * s_r
        count += _set_bin(sr, si, row0, n, av, tr, ti, n_fft, L, nfreq, rot)
    return count


#: Bins per block of the row path, which convolves only the blocks holding a bin above
#: the threshold.
ROW_BLOCK = 32


@njit(cache=True)
def _active_runs(amp, m, thr, runs, bins):
    """The runs of bins of frame ``m`` that :func:`_update_frame_rows` must convolve.

    The frame is cut into blocks of :data:`ROW_BLOCK` bins; the blocks holding a bin above
    ``thr`` are kept, adjacent ones merged into runs ``[runs[2 b], runs[2 b + 1])``.
    ``bins`` (n_freq integers) receives the bins above ``thr``, increasing, without a
    branch per bin. Returns (number of runs, bins in the runs, bins above ``thr``).
    """
    nfreq = amp.shape[1]
    n_runs = 0
    covered = 0
    active = 0
    prev_end = -1
    for n0 in range(0, nfreq, ROW_BLOCK):
        n1 = min(n0 + ROW_BLOCK, nfreq)
        c = active
        for n in range(n0, n1):
            bins[c] = n
            c += amp[m, n] > thr
        if c > active:
            c -= active
            active += c
            covered += n1 - n0
            if n0 == prev_end:
                runs[2 * n_runs - 1] = n1
            else:
                runs[2 * n_runs] = n0
                runs[2 * n_runs + 1] = n1
                n_runs += 1
            prev_end = n1
    return n_runs, covered, active
