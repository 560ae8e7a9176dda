"""One bin of melbench's LWS (:mod:`melbench.phase.lws`): its update and its mirrors.

Also :func:`unpack`, the padded spectrogram back to ``(n_freq, frames)``.

Shared by the tap kernels (:mod:`melbench.phase.lws_kernels`) and the row kernels
(:mod:`melbench.phase.lws_row_kernels`); the layout of the padded spectrogram is described
in :mod:`melbench.phase.lws_kernels`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..kernel_flags import FASTMATH  # noqa: F401 - re-exported for the lws kernels

#: Unsigned index cast: numba then skips negative-index wraparound, so loops vectorise.
_U = np.uint64


@njit(cache=True)
def fill_mirrors(sr, si, n_fft, L, rot):
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


@njit(cache=True)
def unpack(sr, si, q_off, L, ur, ui, out):
    """``out[n, m] = (sr + i si)[m + q_off, n + L] (ur[n] + i ui[n])``, in one pass.

    ``sr, si`` are the padded ``(frames + 2 q_off, n_freq + 2L)`` arrays, ``ur + i ui`` the
    undoing of the stored rotation (``conj`` of the per-bin rotation; ones without one),
    ``out`` a C-ordered ``(n_freq, frames)`` complex array.
    """
    nfreq, frames = out.shape
    for n in range(nfreq):
        c_r = ur[n]
        c_i = ui[n]
        for m in range(frames):
            a_r = sr[m + q_off, n + L]
            a_i = si[m + q_off, n + L]
            out[n, m] = complex(a_r * c_r - a_i * c_i, a_r * c_i + a_i * c_r)


@njit(cache=True, inline="always")
def _set_bin(sr, si, base, n, av, zr, zi, n_fft, L, nfreq, rot):
    """Set bin ``n`` of the padded row at flat index ``base`` to ``av`` times the phase of z.

    ``z = zr + i zi``. DC stays real and Nyquist on its line ``(u_r + i u_i) R`` (real
    for an unrotated spectrum), keeping the sign of the projection; the mirrors are
    refreshed (``rot`` as in :func:`fill_mirrors`). Returns 1 if the bin changed, else 0.
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
