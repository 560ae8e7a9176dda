"""The compiled ``P_mel`` + momentum pass of the joint iteration (:mod:`melbench.inverters.joint_fgla`).

:func:`_k_joint` does one mel projection (``ratio_steps`` multiplicative band-ratio steps)
and the FGLA momentum over all frames, in blocks of :data:`_BLOCK` frames with the frame
axis innermost; :func:`_tcopy` is its transposing copy. Kept apart from the inverter so that
each module stays small; ``joint_fgla`` re-exports both names. How it is made fast with
the same arithmetic in the same order (the output is bit-identical to the sixth round's
kernel) is in :func:`_k_joint`'s docstring; the measurements are in
``results/bench_joint_fgla.md`` and ``results/speed_default.md``, the checks against a
numpy implementation in ``tests/test_joint_speed.py``.
"""

from __future__ import annotations

import numba
import numpy as np

from ..kernel_flags import FASTMATH

#: Frames processed together in :func:`_k_joint` (the innermost, SIMD axis of its loops).
#: Measured (24 kHz, n_fft 1024, 840 frames): 64 frames take 0.72-0.84x the time of 32 for
#: three mel steps, 96-128 are no better there (128 is 10 % faster for 100 steps alone) and
#: 256 is slower (the block's arrays leave the cache).
_BLOCK = 64


@numba.njit(cache=True, nogil=True)
def _tcopy(src, dst, si, sj, di, dj, ni, nj):  # pragma: no cover - compiled
    """``dst[di + y, dj + x] = src[si + x, sj + y]`` for ``x < ni``, ``y < nj`` (a transposing copy).

    In 8 x 8 tiles with fixed trip counts (LLVM turns them into register transposes;
    measured 2.4x faster than the plain double loop for a 64-frame block at n_fft 1024),
    the edges element by element.
    """
    ti, tj = ni - ni % 8, nj - nj % 8
    for xt in range(0, ti, 8):
        for yt in range(0, tj, 8):
            for x in range(8):
                row = src[si + xt + x, sj + yt : sj + yt + 8]
                for y in range(8):
                    dst[di + yt + y, dj + xt + x] = row[y]
    for x in range(ti, ni):
        for y in range(nj):
            dst[di + y, dj + x] = src[si + x, sj + y]
    for x in range(ti):
        for y in range(tj, nj):
            dst[di + y, dj + x] = src[si + x, sj + y]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_joint(t, xprev, a, g, lo, offsets, mw, ww, keep, mel, n_steps, power, alpha, first,
             s_out, want_s, want_dist, sharp=0.0):  # pragma: no cover - compiled
    """One ``P_mel`` + momentum pass over all frames; ``t`` becomes the next iterate ``c``.

    ``t`` (T, F) complex: the consistent estimate on entry, ``c`` on exit.
    ``xprev`` (T, F) complex: ``x_{n-1}`` on entry (unused if ``first``), ``x_n`` on exit;
    with ``first`` it may be ``t`` itself (``t`` then becomes ``x_n``: the steps-only use
    of the ``final_steps``, without a copy).
    ``a``, ``g`` (T, F) real: work buffers (``|t|`` and the gain ``|x| / |t|``).
    ``keep`` (F,) is 1 for bins no band covers (their magnitude is left as it is: the
    mel says nothing about them), else 0. ``mel`` (n_mels, T) in ``spec.domain``;
    ``power`` 1 or 2. ``sharp`` (default 0: off, the plain steps): before the mel steps
    each frame's ``s0`` becomes ``s0 (s0 / max_j s0)^sharp`` (a power-law prior on the
    fine structure within each band, >0 peakier, <0 flatter; the steps then restore each
    band's mel level). When ``want_s``, the mel-projected spectrogram (``spec.domain``)
    is written to ``s_out`` (T, F). With ``want_dist`` it returns
    ``sum((|t| - |x|)^2)`` over everything (float64): the squared distance between the
    consistent estimate and the mel set along the magnitude (else 0).

    Three passes: ``|t|`` frame-major (contiguous); the mel steps in blocks of
    :data:`_BLOCK` frames with the frame axis innermost (so the band sums and updates
    vectorise), which only track the per-bin gain ``g = s / s_0`` (its square root in
    power); then ``x = g t`` and the momentum, frame-major. Each ``|t|`` is computed
    once, and no division or square root of the complex data is left in the last pass.

    What makes it fast, with the same operations in the same order as the plain form (the
    output is bit-identical to the sixth round's kernel, ``results/bench_joint_fgla.md``
    and ``results/speed_default.md``; checked against numpy in
    ``tests/test_joint_speed.py``): blocks of 64 frames; rows read through views that start
    at 0 (numba's index arithmetic ``k0 + f`` kept the ratio loop from vectorising); the
    steps touch only the bins some band row covers (with a step the others end at exactly
    0, so their gain is set to 0 without the arithmetic); a step's update and the next
    step's factor initialisation share one pass; the transposing gather of ``|t|`` in
    8 x 8 tiles (:func:`_tcopy`); the ``power``, ``first`` and ``want_dist`` branches
    outside the loops. Measured against that kernel side by side (two runs of
    ``results/bench_joint_fgla.py``, five presets, loaded cores): 0.55-0.88x its time with
    three mel steps (0.53-0.82x the FFT floor, from 0.77-1.00x) and 0.47-0.66x with 100.
    """
    n_frames, n = t.shape
    n_rows = mel.shape[0]
    dt = mel.dtype.type
    small = dt(1e-30)
    blk = _BLOCK
    s = np.empty((n, blk), dtype=mel.dtype)
    s0 = np.empty((n, blk), dtype=mel.dtype)
    fac = np.empty((n, blk), dtype=mel.dtype)
    acc = np.empty(blk, dtype=mel.dtype)
    j0, j1 = 0, n  # the bins the steps act on: the union of the band rows' ranges
    if n_steps > 0:
        j0, j1 = n, 0
        for i in range(n_rows):
            if offsets[i + 1] > offsets[i]:
                j0 = min(j0, lo[i])
                j1 = max(j1, lo[i] + offsets[i + 1] - offsets[i])
        if j1 < j0:
            j0, j1 = 0, 0
        for j in range(n):  # the others end at exactly 0 (no band, keep 0), gain 0
            if j < j0 or j >= j1:
                for f in range(blk):
                    s[j, f] = dt(0.0)
                    fac[j, f] = dt(0.0)
    for k in range(n_frames):
        for j in range(n):
            v = t[k, j]
            a[k, j] = np.sqrt(v.real * v.real + v.imag * v.imag)
    for k0 in range(0, n_frames, blk):
        nb = min(blk, n_frames - k0)
        ga, gb = (0, n) if sharp != 0 else (j0, j1)  # the max of the prior needs every bin
        _tcopy(a, s0, k0, ga, ga, 0, nb, gb - ga)  # s0[j, f] = a[k0 + f, j]
        if power == 2:
            for j in range(ga, gb):
                for f in range(nb):
                    v = s0[j, f]
                    s0[j, f] = v * v
        if sharp != 0:  # power-law prior: s0 (s0 / max_frame s0)^sharp before the mel steps
            for f in range(nb):
                acc[f] = small
            for j in range(n):
                for f in range(nb):
                    if s0[j, f] > acc[f]:
                        acc[f] = s0[j, f]
            for j in range(j0, j1):
                for f in range(nb):
                    v = s0[j, f]
                    s[j, f] = v * (v / acc[f]) ** sharp if v > small else dt(0.0)
        else:
            for j in range(j0, j1):
                for f in range(nb):
                    s[j, f] = s0[j, f]
        if n_steps > 0:
            for j in range(j0, j1):
                for f in range(nb):
                    fac[j, f] = keep[j]
        for st in range(n_steps):
            for i in range(n_rows):
                o = offsets[i]
                w = offsets[i + 1] - o
                base = lo[i]
                acc[:nb] = dt(0.0)
                for q in range(w):
                    wq = mw[o + q]
                    sq = s[base + q]
                    for f in range(nb):
                        acc[f] += wq * sq[f]
                mi = mel[i, k0 : k0 + nb]  # a view from 0: vectorises (no index arithmetic)
                for f in range(nb):
                    acc[f] = mi[f] / acc[f] if acc[f] > small else dt(0.0)
                for q in range(w):
                    wq = ww[o + q]
                    fq = fac[base + q]
                    for f in range(nb):
                        fq[f] += wq * acc[f]
            if st + 1 < n_steps:  # the update, and the next step's factor from keep
                for j in range(j0, j1):
                    kj = keep[j]
                    for f in range(nb):
                        v2 = s[j, f] * fac[j, f]
                        s[j, f] = v2 if v2 > small else dt(0.0)
                        fac[j, f] = kj
            else:
                for j in range(j0, j1):
                    for f in range(nb):
                        v2 = s[j, f] * fac[j, f]
                        s[j, f] = v2 if v2 > small else dt(0.0)
        if power == 2:
            for j in range(j0, j1):
                for f in range(nb):
                    q = s[j, f] / s0[j, f] if s0[j, f] > small else dt(0.0)
                    fac[j, f] = np.sqrt(q)
        else:
            for j in range(j0, j1):
                for f in range(nb):
                    fac[j, f] = s[j, f] / s0[j, f] if s0[j, f] > small else dt(0.0)
        for f in range(nb):
            gf = g[k0 + f]
            for j in range(n):
                gf[j] = fac[j, f]
        if want_s:
            for f in range(nb):
                of = s_out[k0 + f]
                for j in range(n):
                    of[j] = s[j, f]
    dist = 0.0
    b = dt(1.0) + alpha
    if want_dist:
        for k in range(n_frames):
            for j in range(n):
                d = np.float64(a[k, j]) * (1.0 - np.float64(g[k, j]))
                dist += d * d
    if first:
        for k in range(n_frames):
            for j in range(n):
                x = t[k, j] * g[k, j]
                t[k, j] = x
                xprev[k, j] = x
    else:
        for k in range(n_frames):
            for j in range(n):
                x = t[k, j] * g[k, j]
                t[k, j] = b * x - alpha * xprev[k, j]
                xprev[k, j] = x
    return dist
