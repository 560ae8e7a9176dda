"""Reference-free features of a mel and of the guard's two candidates.

:mod:`melbench.inverters.guarded` decides from
:func:`~melbench.inverters.guarded.band_roughness_db` and
:func:`~melbench.inverters.guarded.spectral_flatness` (which live there), from the local
flatness and temporal flux of :mod:`melbench.inverters.guard_blend` (rules d, e and f:
``results/guard_local.md``, ``results/guard_round8.md``); the others were measured and not used
(``results/guard_analysis.md``, ``results/guard_analysis.py``).
"""

from __future__ import annotations

import numpy as np

from ..spec import FeatureSpec
from .guard_blend import temporal_flux_db
from .guarded import _db, audio_mel, band_roughness_db, mel_criterion, spectral_flatness


def consistency_gap_db(x: np.ndarray, spec: FeatureSpec) -> float:
    """``20 log10(|| |STFT(ISTFT(x))| - |x| ||_F / ||x||_F)``: how far ``x`` is from its audio.

    Parameters
    ----------
    x : np.ndarray, shape (n_freq, frames)
        Complex STFT estimate.
    spec : FeatureSpec
        Its contract.

    Returns
    -------
    float
        dB (very negative: ``x`` is nearly the STFT of a signal).
    """
    a = np.abs(x)
    t = spec.magnitude(spec.istft(x))[..., : x.shape[-1]]
    return float(20 * np.log10(max(np.linalg.norm(t - a), 1e-30) / max(np.linalg.norm(a), 1e-30)))



def mel_features(mel: np.ndarray, spec: FeatureSpec, within_db: float = 50.0) -> dict[str, float]:
    """Reference-free features of a linear mel (no audio, no FFT).

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Its contract.
    within_db : float
        Cells (band, frame) within this many dB of the peak are "active".

    Returns
    -------
    dict
        ``f_rough`` (:func:`band_roughness_db`), ``f_flat`` (median over active frames of
        the spectral flatness of the band powers: geometric over arithmetic mean, 1 for
        white noise), ``f_tflux``
        (:func:`~melbench.inverters.guard_blend.temporal_flux_db`), ``f_trough`` (the same
        for the second difference across frames), ``f_onset`` (share of frames whose mean dB
        rise over active bands exceeds 3 dB), ``f_low`` (share of the mel's power in
        bands at most two FFT bins wide).

    References
    ----------
    .. [1] melbench's own features for the guard's analysis (``results/guard_analysis.md``);
       the flatness after J. D. Johnston, IEEE JSAC 6(2), 1988.
    """
    lin = np.asarray(mel, dtype=np.float64)
    db = _db(lin, spec)
    peak_db = float(db.max())
    act = db > peak_db - within_db
    pw = lin * lin if spec.power == 1 else lin
    out = {"f_rough": band_roughness_db(lin, spec, within_db)}
    out["f_flat"] = spectral_flatness(lin, spec, within_db)
    m1 = act[:, 1:] | act[:, :-1]
    out["f_tflux"] = temporal_flux_db(lin, spec, within_db)
    d2 = np.abs(db[:, 2:] - 2 * db[:, 1:-1] + db[:, :-2])
    m2 = act[:, 2:] & act[:, 1:-1] & act[:, :-2]
    out["f_trough"] = float(np.median(d2[m2])) if m2.any() else float("nan")
    rise = np.where(m1, np.diff(db, axis=1), 0.0).sum(0) / np.maximum(m1.sum(0), 1)
    out["f_onset"] = float(np.mean(rise > 3.0)) if rise.size else float("nan")
    width = (spec.mel_basis(np.float64) > 0).sum(1)
    out["f_low"] = float(pw[width <= 2].sum() / max(pw.sum(), 1e-30))
    return out


def guard_features(mel: np.ndarray, spec: FeatureSpec, mag1: np.ndarray, x1: np.ndarray,
                   mag0: np.ndarray, x0: np.ndarray) -> dict[str, float]:
    """Reference-free features of a mel and the guard's two candidates (for the analysis).

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Its contract.
    mag1 : np.ndarray [shape=(n_freq, frames)]
        The inner candidate's magnitude.
    x1 : np.ndarray [shape=(n_freq, frames)]
        The inner candidate's complex estimate.
    mag0 : np.ndarray [shape=(n_freq, frames)]
        The fallback's magnitude.
    x0 : np.ndarray [shape=(n_freq, frames)]
        The fallback's complex estimate.

    Returns
    -------
    dict
        :func:`mel_features` plus ``f_melsc1`` / ``f_melsc0`` (``mel_sc`` of each
        candidate's audio), ``f_dmelsc`` (``f_melsc0 - f_melsc1``), ``f_gap1`` /
        ``f_gap0`` (:func:`consistency_gap_db`), ``f_agree`` (SC of ``mag1`` against
        ``mag0`` in dB) and ``f_agreelog`` (mean absolute dB difference of the two
        magnitudes over bins within 50 dB of the peak).

    References
    ----------
    .. [1] melbench's own features for the guard's analysis (``results/guard_analysis.md``);
       consistency as in D. Griffin and J. Lim, IEEE Trans. ASSP 32(2), 1984.
    """
    out = mel_features(mel, spec)
    out["f_melsc1"] = mel_criterion(audio_mel(x1, spec), mel, spec)
    out["f_melsc0"] = mel_criterion(audio_mel(x0, spec), mel, spec)
    out["f_dmelsc"] = out["f_melsc0"] - out["f_melsc1"]
    out["f_gap1"] = consistency_gap_db(x1, spec)
    out["f_gap0"] = consistency_gap_db(x0, spec)
    a, b = np.asarray(mag1, np.float64), np.asarray(mag0, np.float64)
    out["f_agree"] = float(20 * np.log10(max(np.linalg.norm(a - b), 1e-30)
                                         / max(np.linalg.norm(b), 1e-30)))
    peak = max(float(b.max()), 1e-30)
    da = 20 * np.log10(np.maximum(a, peak * 1e-4))
    dbb = 20 * np.log10(np.maximum(b, peak * 1e-4))
    act = np.maximum(da, dbb) > 20 * np.log10(peak) - 50
    out["f_agreelog"] = float(np.mean(np.abs(da - dbb)[act])) if act.any() else float("nan")
    return out
