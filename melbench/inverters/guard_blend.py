"""Rules d-f of ``guarded``: the inner's magnitude toward ``nnls``'s where the mel is locally flat.

Where the guard keeps the inner method (rule c of :mod:`melbench.inverters.guarded`), the
inner's magnitude ``|X_1|`` is replaced by

``A = (1 - w) |X_1| + w |X_0|``

with ``|X_0|`` the ``nnls`` magnitude (the fallback's) and a weight ``w`` in [0, 1] per
FFT bin and frame from the given mel alone: the *local* spectral flatness of the per-bin
band powers (:func:`local_flatness`, the flatness of
:func:`~melbench.inverters.guarded.spectral_flatness` over a neighbourhood of
``2 n_bands + 1`` bands and ``2 n_frames + 1`` frames), mapped linearly from 0 at
``lo`` to 1 at ``hi`` (:func:`blend_weights`) and spread from bands to bins by the
filterbank (:func:`blend_weights`: each bin's weight is the filter-weighted mean of its
bands'). The share of the mel's energy so weighted (:func:`noise_energy_share`) is rule e
of the guard: a mel with most of its energy in locally flat regions goes to the fallback;
with :func:`temporal_flux_db` (a steady mel) it is rule f. The phase stays
the inner's (``context["phase_init"]``); no iteration follows (a few FGLA iterations from
the blended estimate moved PESQ-wb by up to -0.66 on a suite clip: ``results/guard_local.md``).

Why: in a band the mel cannot see, the inner method invents a fine structure that fits the
mel; on noise-like regions it is as random as the true one and uncorrelated with it, so
(in L2) a smooth ``nnls``-like magnitude is closer to the truth there. Rule b of the guard
acts on the whole clip (global flatness >= 0.1); this acts on the noise-like regions of the
clips below it (fricatives, breath, textured music) and keeps the inner's structure where
the mel is peaky across bands (voiced speech, tones).

References
----------
.. [1] J. D. Johnston, "Transform coding of audio signals using perceptual noise criteria,"
   IEEE JSAC 6(2), 1988 (the spectral flatness measure).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from ..spec import FeatureSpec

#: Bands whose filter covers fewer FFT bins than this get weight 0 (:func:`band_weights`).
MIN_BINS = 3


def band_powers(mel: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin band powers of a linear mel: each band's value over its filter's weight sum.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Its contract (domain and filterbank).

    Returns
    -------
    powers : np.ndarray [shape=(n_mels, frames)]
        float64; ``(m / r)^2`` for a magnitude mel, ``m / r`` for a power mel, ``r`` the
        band's weight sum (1 for a band that holds no FFT bin).
    bands : np.ndarray [shape=(n_mels,)]
        True for the bands that hold an FFT bin.

    References
    ----------
    .. [1] J. D. Johnston, "Transform coding of audio signals using perceptual noise
       criteria," IEEE JSAC 6(2), 1988 (the spectral flatness measure these feed).
    """
    rows = spec.mel_basis(np.float64).sum(1)
    bands = rows > 0
    lin = np.asarray(mel, dtype=np.float64)
    r = np.where(bands, rows, 1.0)[:, None]
    return (lin * lin / (r * r) if spec.power == 1 else lin / r), bands


def local_flatness(mel: np.ndarray, spec: FeatureSpec, n_bands: int = 2,
                   n_frames: int = 1) -> np.ndarray:
    """Spectral flatness of a mel's per-bin band powers over a neighbourhood of each cell.

    Each band's power is divided by its filter's weight sum (squared for a magnitude mel),
    as in :func:`~melbench.inverters.guarded.spectral_flatness`; the flatness of a cell is
    the geometric over the arithmetic mean of those powers over the bands ``b - n_bands ..
    b + n_bands`` and frames ``t - n_frames .. t + n_frames`` (edges repeated; bands that
    hold no FFT bin left out).

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Its contract (domain and filterbank).
    n_bands, n_frames : int
        Half-widths of the neighbourhood.

    Returns
    -------
    np.ndarray [shape=(n_mels, frames)]
        In (0, 1]; 0 for bands that hold no FFT bin.

    References
    ----------
    .. [1] J. D. Johnston, "Transform coding of audio signals using perceptual noise
       criteria," IEEE JSAC 6(2), 1988 (the spectral flatness measure); the neighbourhood
       and thresholds are melbench's own, measured in ``results/guard_local.md``.
    """
    pw, bands = band_powers(mel, spec)
    pw = np.maximum(pw, max(float(pw.max()), 1e-300) * 1e-11)
    size = (2 * int(n_bands) + 1, 2 * int(n_frames) + 1)
    valid = np.broadcast_to(bands[:, None], pw.shape).astype(np.float64)
    count = np.maximum(uniform_filter(valid, size=size, mode="nearest"), 1e-12)
    geo = np.exp(uniform_filter(np.log(pw) * valid, size=size, mode="nearest") / count)
    flat = geo / (uniform_filter(pw * valid, size=size, mode="nearest") / count)
    flat[~bands] = 0.0
    return np.minimum(flat, 1.0)


def band_weights(mel: np.ndarray, spec: FeatureSpec, lo: float, hi: float,
                 n_bands: int = 2, n_frames: int = 1) -> np.ndarray:
    """Per-band weight of the ``nnls`` magnitude (0: the inner's, 1: ``nnls``'s).

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Its contract.
    lo, hi : float
        Local flatness (:func:`local_flatness`) mapped to weight 0 at ``lo`` and 1 at
        ``hi`` (linear, clipped), ``0 <= lo < hi``.
    n_bands, n_frames : int
        Neighbourhood of :func:`local_flatness`.

    Returns
    -------
    np.ndarray [shape=(n_mels, frames)]
        Weights in [0, 1]; 0 on bands whose filter covers fewer than :data:`MIN_BINS` FFT
        bins (the mel nearly fixes their bins: there is no fine structure to invent; at
        ``torchaudio``, n_fft 400 and 128 bands, that is 65 bands, and without it the
        noise-like energy share of 26 of 49 suite speech clips reached rule e's 0.4).

    References
    ----------
    .. [1] J. D. Johnston, "Transform coding of audio signals using perceptual noise
       criteria," IEEE JSAC 6(2), 1988 (the spectral flatness measure); the neighbourhood
       and thresholds are melbench's own, measured in ``results/guard_local.md``.
    """
    w = np.clip((local_flatness(mel, spec, n_bands, n_frames) - lo) / (hi - lo), 0.0, 1.0)
    w[(spec.mel_basis(np.float64) > 0).sum(1) < MIN_BINS] = 0.0
    return w


def noise_energy_share(mel: np.ndarray, spec: FeatureSpec, weights: np.ndarray) -> float:
    """Share of the mel's per-bin band power that the blend gives to ``nnls``.

    ``sum(p * w) / sum(p)`` over all bands and frames, with ``p`` the per-bin band powers
    of :func:`local_flatness` and ``w`` the band weights (:func:`band_weights`): 0 for a
    mel whose energy lies where it is peaky across bands, 1 for one whose energy lies
    where it is locally flat.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Its contract.
    weights : np.ndarray [shape=(n_mels, frames)]
        :func:`band_weights` of the mel.

    Returns
    -------
    float
        In [0, 1]; NaN for an all-zero mel.

    References
    ----------
    .. [1] J. D. Johnston, "Transform coding of audio signals using perceptual noise
       criteria," IEEE JSAC 6(2), 1988 (the spectral flatness measure); the neighbourhood
       and thresholds are melbench's own, measured in ``results/guard_local.md``.
    """
    pw, bands = band_powers(mel, spec)
    pw = np.where(bands[:, None], pw, 0.0)
    total = float(pw.sum())
    return float((pw * weights).sum() / total) if total > 0 else float("nan")


def blend_weights(band_w: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Per-bin weights from band weights: each bin's is the filter-weighted mean of its bands'.

    Parameters
    ----------
    band_w : np.ndarray [shape=(n_mels, frames)]
        :func:`band_weights`.
    spec : FeatureSpec
        Its contract (filterbank).

    Returns
    -------
    np.ndarray [shape=(n_freq, frames)]
        Float32 weights in [0, 1]; 0 on bins no band covers.
    """
    wb = band_w
    basis = spec.mel_basis(np.float32)
    cover = basis.sum(0)
    return (basis.T @ wb.astype(np.float32)) / np.where(cover > 0, cover, 1.0)[:, None]


def blend_magnitudes(mag1: np.ndarray, mag0: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(1 - w) mag1 + w mag0``, in ``mag1``'s dtype.

    Parameters
    ----------
    mag1, mag0 : np.ndarray [shape=(n_freq, frames)]
        The inner's and the ``nnls`` magnitudes (linear).
    weights : np.ndarray [shape=(n_freq, frames)]
        :func:`blend_weights`.

    Returns
    -------
    np.ndarray [shape=(n_freq, frames)]
    """
    w = np.asarray(weights, dtype=mag1.dtype)
    return (mag1 + w * (np.asarray(mag0, dtype=mag1.dtype) - mag1)).astype(mag1.dtype, copy=False)


def mel_db(lin: np.ndarray, spec: FeatureSpec, floor_db: float = 110.0) -> np.ndarray:
    """Decibels of a linear mel, floored ``floor_db`` below its peak.

    ``spec.domain`` decides the form (10 log10 of powers, 20 log10 of magnitudes); every mel
    feature of the guard uses it.
    """
    k = 10.0 if spec.power == 2 else 20.0
    lin = np.asarray(lin, dtype=np.float64)
    peak = max(float(lin.max()), 1e-30)
    return k * np.log10(np.maximum(lin, peak * 10 ** (-floor_db / k)))


def temporal_flux_db(mel: np.ndarray, spec: FeatureSpec, within_db: float = 50.0) -> float:
    """Median absolute frame-to-frame change of a mel in dB, over its active cells.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Gives the domain (power: 10 log10, magnitude: 20 log10).
    within_db : float
        A pair of neighbouring frames counts in a band if either cell is within this many
        dB of the mel's peak.

    Returns
    -------
    float
        dB per frame; NaN for a mel with fewer than two frames or no active cell. Small
        for a steady sound (sustained buzz, drone, a slow decay), larger for speech: at
        the presets measured in ``results/guard_round8.md`` 2.4-2.7 dB for the suite's
        most steady speech clip, 1.1-2.3 dB for its steadiest music samples (it hardly
        depends on the hop, 11.6-32 ms there).

    References
    ----------
    .. [1] melbench's own measure (``results/guard_round8.md``), in the spirit of the
       spectral flux of onset detection: J. P. Bello et al., "A tutorial on onset
       detection in music signals," IEEE Trans. Speech Audio Process. 13(5), 2005.
    """
    db = mel_db(mel, spec)
    if db.shape[-1] < 2:
        return float("nan")
    act = db > float(db.max()) - within_db
    m = act[:, 1:] | act[:, :-1]
    return float(np.median(np.abs(np.diff(db, axis=1))[m])) if m.any() else float("nan")
