"""The low-rank prior of ``joint_tc``'s ``lowrank`` option: sliding-window rank-r magnitudes.

The bins below ``lowrank_hz`` of the joint iteration's consistent magnitude are pulled
towards their sliding-window low-rank approximation (a sustained bass note is close to
rank one there: an amplitude envelope times a spectral shape [1]_). Two solvers of each
window's top-``r`` subspace: numpy's ``eigh`` of the window's Gram in every pass
(:func:`lowrank_magnitude`, :func:`_pull_lowrank`, ``lowrank_solver="eigh"``, round 5) and a
compiled subspace iteration warm-started from the previous pass's basis
(:func:`_k_lowrank_pull`, ``lowrank_solver="power"``, round 7: the same approximation to
float32 rounding, about 4x cheaper per pass; ``results/music_phase.md``, "Round 7").
Used by :func:`melbench.inverters.joint_continuity.joint_tc_inverse`.

References
----------
.. [1] P. Smaragdis and J. C. Brown, "Non-negative matrix factorization for polyphonic
   music transcription," IEEE WASPAA 2003.
.. [2] C. Eckart and G. Young, "The approximation of one matrix by another of lower rank,"
   Psychometrika 1(3), 1936.
"""

from __future__ import annotations

import numba
import numpy as np

from ..kernel_flags import FASTMATH


def lowrank_magnitude(magnitude: np.ndarray, rank: int, frames: int) -> np.ndarray:
    """Sliding-window rank-``rank`` approximation of a magnitude along frames.

    The frames are cut into windows of ``frames`` frames with half overlap (the last
    window ends on the last frame); each window (``frames`` x bins) is replaced by its
    best rank-``rank`` approximation in the least-squares sense (truncated SVD,
    Eckart-Young: the projection onto its top ``rank`` right singular vectors), and the
    overlapping windows are blended with Hann weights. Negative values of the
    approximation are set to 0.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(frames_total, n_bins)]
        Non-negative magnitude, frames first (the joint iteration's internal layout).
    rank : int
        Rank kept per window (>= 1).
    frames : int
        Window length in frames (>= 2); a signal no longer than it is one window.

    Returns
    -------
    np.ndarray [shape=(frames_total, n_bins)]
        The blended low-rank magnitude (same dtype). A window of rank <= ``rank`` (and a
        signal of one window) comes back unchanged up to rounding.

    References
    ----------
    .. [1] C. Eckart and G. Young, "The approximation of one matrix by another of lower
       rank," Psychometrika 1(3), 1936.
    .. [2] P. Smaragdis and J. C. Brown, "Non-negative matrix factorization for
       polyphonic music transcription," IEEE WASPAA 2003 (sustained notes as
       low-rank magnitude spectrograms).
    """
    a = np.asarray(magnitude)
    n, nb = a.shape
    r = min(int(rank), nb)
    if n <= frames:
        starts = np.array([0])
        frames = n
    else:
        hop = max(1, frames // 2)
        starts = np.arange(0, n - frames + 1, hop)
        if starts[-1] + frames < n:
            starts = np.append(starts, n - frames)
    seg = a[starts[:, None] + np.arange(frames)[None, :]]  # (n_win, frames, nb)
    # rank-r projection onto the top right singular vectors (= the truncated SVD); the
    # nb x nb Gram's eigenvectors are 3x cheaper than a batched SVD at these sizes
    gram = np.swapaxes(seg, 1, 2) @ seg
    v = np.linalg.eigh(gram.astype(np.float64))[1][..., nb - r:].astype(a.dtype)
    approx = (seg @ v) @ np.swapaxes(v, 1, 2)
    if len(starts) == 1:
        return np.maximum(approx[0], 0)
    w = np.hanning(frames + 2)[1:-1].astype(a.dtype)
    out = np.zeros_like(a)
    wsum = np.zeros(n, a.dtype)
    for i, s0 in enumerate(starts):
        out[s0:s0 + frames] += w[:, None] * approx[i]
        wsum[s0:s0 + frames] += w
    return np.maximum(out / wsum[:, None], 0)


#: Solvers of the low-rank prior's per-window subspace (``lowrank_solver``).
LOWRANK_SOLVERS = ("eigh", "power")
#: The ``"power"`` solver stops once the subspace moves by less than this
#: (``||Q_new - Q Q^T Q_new||_F^2``, i.e. an angle of about 1e-7 rad) or after this many iterations.
POWER_TOL = 1e-14
POWER_MAX_ITER = 500


def _window_starts(n: int, frames: int) -> tuple[np.ndarray, int]:
    """Start frames and length of :func:`lowrank_magnitude`'s windows over ``n`` frames."""
    if n <= frames:
        return np.array([0]), n
    starts = np.arange(0, n - frames + 1, max(1, frames // 2))
    if starts[-1] + frames < n:
        starts = np.append(starts, n - frames)
    return starts, frames


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_lowrank_pull(t, weight, n_bins, starts, frames, basis, warm, tol, max_iter,
                    gate=0.0):  # pragma: no cover - compiled
    """:func:`_pull_lowrank` by a warm-started subspace iteration instead of ``eigh`` (in place).

    ``t`` (T, F) complex; ``starts`` (W,) window starts, ``frames`` their length;
    ``basis`` (W, n_bins, r) float64 holds each window's orthonormal basis of its top-``r``
    eigenvector subspace of the Gram ``A_w^T A_w`` between calls, ``warm`` (W,) bool says
    which are set (the iterate changes little between two passes, so a few iterations
    from the last basis suffice). Per window: ``Q <- orth(G Q)`` (modified Gram-Schmidt)
    until the subspace moves by less than ``tol`` (``||Q_new - Q Q^T Q_new||_F^2``) or
    ``max_iter`` iterations; the window becomes ``A_w Q Q^T`` (the rank-``r`` truncated
    SVD when converged, Eckart-Young). With ``gate > 0`` each window's weight is scaled by
    ``clip(2 - 2 res / gate, 0, 1)``, ``res`` the share of the window's energy the rank-``r``
    form leaves out (full weight up to ``gate / 2``, none from ``gate`` on). Returns the
    total number of iterations.
    """
    n, nf = t.shape
    nb = min(nf, n_bins)
    n_win = starts.shape[0]
    r = basis.shape[2]
    a = np.empty((n, nb), np.float64)
    for k in range(n):
        for j in range(nb):
            v = t[k, j]
            a[k, j] = np.sqrt(np.float64(v.real) * v.real + np.float64(v.imag) * v.imag)
    out = np.zeros((n, nb), np.float64)
    wsum = np.zeros(n, np.float64)
    wom = np.zeros(n, np.float64)
    g = np.empty((nb, nb), np.float64)
    z = np.empty((nb, r), np.float64)
    m = np.empty((r, r), np.float64)
    y = np.empty(r, np.float64)
    total = 0
    for w in range(n_win):
        s0 = starts[w]
        for i in range(nb):
            for j in range(i, nb):
                acc = 0.0
                for k in range(frames):
                    acc += a[s0 + k, i] * a[s0 + k, j]
                g[i, j] = acc
                g[j, i] = acc
        q = basis[w]
        if not warm[w]:  # cold start: the r bins of largest energy
            used = np.zeros(nb, np.bool_)
            for c in range(r):
                best = -1
                for i in range(nb):
                    if not used[i] and (best < 0 or g[i, i] > g[best, best]):
                        best = i
                used[best] = True
                for i in range(nb):
                    q[i, c] = 1.0 if i == best else 0.0
            warm[w] = True
        for _it in range(max_iter):
            total += 1
            for i in range(nb):
                for c in range(r):
                    acc = 0.0
                    for j in range(nb):
                        acc += g[i, j] * q[j, c]
                    z[i, c] = acc
            for c in range(r):  # modified Gram-Schmidt; a null column stays 0
                for c2 in range(c):
                    d = 0.0
                    for i in range(nb):
                        d += z[i, c2] * z[i, c]
                    for i in range(nb):
                        z[i, c] -= d * z[i, c2]
                nrm = 0.0
                for i in range(nb):
                    nrm += z[i, c] * z[i, c]
                nrm = np.sqrt(nrm)
                inv = 1.0 / nrm if nrm > 1e-150 else 0.0
                for i in range(nb):
                    z[i, c] *= inv
            for c2 in range(r):  # m = Q^T Z
                for c in range(r):
                    d = 0.0
                    for j in range(nb):
                        d += q[j, c2] * z[j, c]
                    m[c2, c] = d
            moved = 0.0  # ||Z - Q Q^T Z||_F^2
            for c in range(r):
                for i in range(nb):
                    e = z[i, c]
                    for c2 in range(r):
                        e -= q[i, c2] * m[c2, c]
                    moved += e * e
            for i in range(nb):
                for c in range(r):
                    q[i, c] = z[i, c]
            if moved < tol:
                break
        om = 1.0
        if gate > 0:
            tr = 0.0
            for i in range(nb):
                tr += g[i, i]
            kept = 0.0
            for c in range(r):
                for i in range(nb):
                    acc = 0.0
                    for j in range(nb):
                        acc += g[i, j] * q[j, c]
                    kept += q[i, c] * acc
            res = 1.0 - kept / tr if tr > 0 else 1.0
            om = min(max(2.0 - 2.0 * res / gate, 0.0), 1.0)
        wk = 1.0
        for k in range(frames):  # the window's row times Q Q^T, as (row Q) Q^T
            if n_win > 1:
                wk = 0.5 - 0.5 * np.cos(2.0 * np.pi * (k + 1) / (frames + 1))
            wsum[s0 + k] += wk
            wom[s0 + k] += wk * om
            for c in range(r):
                acc = 0.0
                for i in range(nb):
                    acc += a[s0 + k, i] * q[i, c]
                y[c] = acc
            for j in range(nb):
                acc = 0.0
                for c in range(r):
                    acc += y[c] * q[j, c]
                out[s0 + k, j] += (wk * om) * acc
    for k in range(n):
        if not wom[k] > 0:
            continue
        wt = weight * (wom[k] / wsum[k])  # = weight without a gate
        for j in range(nb):
            ak = a[k, j]
            if ak > 1e-30:
                low = max(out[k, j] / wom[k], 0.0)
                t[k, j] = t[k, j] * t.real.dtype.type(((1.0 - wt) * ak + wt * low) / ak)
    return total


def _pull_lowrank(t: np.ndarray, weight: float, rank: int, frames: int, n_bins: int) -> None:
    """Scale ``t`` (frames, F) in place so that ``|t[:, :n_bins]|`` moves towards its low-rank form."""
    a = np.abs(t[:, :n_bins])
    target = (1.0 - weight) * a + weight * lowrank_magnitude(a, rank, frames)
    t[:, :n_bins] *= np.where(a > 1e-30, target / np.maximum(a, 1e-30), 1.0).astype(a.dtype)


def low_band_steadiness(mel: np.ndarray, spec, max_hz: float = 500.0, floor_db: float = 30.0,
                        lag_s: float = 0.016) -> float:
    """Reference-free steadiness of a mel's low bands: mean change of their level over ``lag_s`` (dB).

    ``E[k]`` is the energy of frame ``k`` in the bands whose centre (the filterbank-weighted
    mean frequency of the band) is below ``max_hz``: the sum over those bands of the magnitude
    mel squared. Its level ``L[k] = max(10 log10(E[k] + 1e-6 top), 10 log10(top) - floor_db)``
    (``top`` the loudest frame's energy) is floored ``floor_db`` below the loudest frame. The
    score is the mean of ``|L(k + lag) - L(k)|`` over the frames ``k`` with ``k + lag`` inside
    the clip and either end above the floor, where ``lag = max(1, lag_s / hop)`` frames and
    ``L(k + lag)`` is linearly interpolated between frames. So the score is a change per
    ``lag_s`` seconds whatever the hop (per frame wherever the hop is ``lag_s`` or longer,
    as at speech16k's 16 ms), and a step into or out of silence counts by its size above the
    floor however the frames happen to sample it. A held note changes by a fraction of a dB;
    speech (syllables, a pitch moving across the narrow low bands) by 1.71 dB or more on every
    one of the evaluation suite's 147 speech clips at each of eleven presets (hops 10.7-32 ms),
    against about half its music below 1.35 (``results/music_phase.md``, "Round 8,
    follow-up"). Low means steady.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain`` (power or magnitude), non-negative.
    spec : FeatureSpec
        The contract the mel was made with.
    max_hz : float
        Bands whose centre is below this count as low.
    floor_db : float
        The level is floored this far below the loudest frame.
    lag_s : float
        The time (seconds) over which the change is measured; at least one frame.

    Returns
    -------
    float
        The mean change in dB per ``lag_s``; ``inf`` when no band is low, the low bands are
        silent or no pair of frames has an end above the floor (nothing steady to find).

    References
    ----------
    .. [1] J. P. Bello, L. Daudet, S. Abdallah, C. Duxbury, M. Davies and M. B. Sandler,
       "A tutorial on onset detection in music signals," IEEE Trans. Speech Audio Process.
       13(5), 2005 (the log-energy difference as a novelty function; here its mean over a
       clip, in one frequency region, as a measure of how little happens).
    """
    basis = spec.mel_basis(np.float64)
    freqs = np.arange(basis.shape[1]) * (spec.sample_rate / spec.n_fft)
    centre = (basis @ freqs) / np.maximum(basis.sum(axis=1), 1e-300)
    m = np.asarray(mel, np.float64)
    low = m[centre < max_hz]
    energy = (low * low if int(spec.power) == 1 else low).sum(axis=0)
    top = float(energy.max()) if energy.size else 0.0
    if top <= 0:
        return float("inf")
    floor = 10.0 * np.log10(top) - floor_db
    level = np.maximum(10.0 * np.log10(energy + top * 1e-6), floor)
    lag = max(1.0, float(lag_s) * spec.sample_rate / spec.hop_length)
    if abs(lag - round(lag)) < 1e-9:  # a whole number of frames: no interpolation
        lag = float(round(lag))
    n = level.size
    start = np.arange(n, dtype=np.float64)
    start = start[start + lag <= n - 1]
    if not start.size:
        return float("inf")
    first = level[: start.size]
    later = np.interp(start + lag, np.arange(n, dtype=np.float64), level)
    above = (first > floor) | (later > floor)
    if not above.any():
        return float("inf")
    return float(np.abs(later - first)[above].mean())


def active_fraction(mel: np.ndarray, spec, floor_db: float = 30.0) -> float:
    """Share of a mel's frames whose energy is within ``floor_db`` of its loudest frame.

    The energy of a frame is the sum over all bands of the magnitude mel squared (of the power
    mel). A sustained sound (a held note, a drone, a loop) keeps about every frame loud (1.0);
    a single hit that decays into silence (a tom, a tabla stroke, a bell) only a part of them.
    Used by ``joint_auto``: on the evaluation suite's music at speech16k the low-rank path
    gained where the clip is sustained and lost on decaying hits (``results/music_phase.md``,
    "Round 8, follow-up").

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain`` (power or magnitude), non-negative.
    spec : FeatureSpec
        The contract the mel was made with.
    floor_db : float
        Frames more than this below the loudest frame are not active.

    Returns
    -------
    float
        In [0, 1]; 0 for a silent mel.

    References
    ----------
    .. [1] L. R. Rabiner and M. R. Sambur, "An algorithm for determining the endpoints of
       isolated utterances," Bell Syst. Tech. J. 54(2), 1975 (frames whose energy passes a
       threshold set from the signal's own levels; here relative to the loudest frame, and
       their share of the clip).
    """
    m = np.asarray(mel, np.float64)
    energy = (m * m if int(spec.power) == 1 else m).sum(axis=0)
    top = float(energy.max()) if energy.size else 0.0
    if top <= 0:
        return 0.0
    return float(np.mean(energy > top * 10.0 ** (-floor_db / 10.0)))
