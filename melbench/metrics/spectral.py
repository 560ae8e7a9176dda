"""Spectral distances: convergence (SC), log-spectral distance (LSD), mel cepstral distortion (MCD).

Each comes in a variant that needs reference audio (against the reference's
true STFT magnitude or mel) and a reference-free one (consistency of the output
with the magnitude or mel it was made from), so mel-only inputs (a model's
prediction) are scored too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError, SkipCell
from ..measures import spectral_convergence_db  # noqa: F401  (re-exported; the one SC definition)
from ..plugin import Metric
from .base import Missing


class SpectralConvergence(Metric):
    """SC of the output's re-analysed magnitude against the target and the true magnitude.

    Columns: ``sc_db`` (against the magnitude the phase stage was given: the
    inverter's output; measures consistency) and ``sc_true_db`` (against the
    reference audio's true STFT magnitude; measures the whole pipeline).

    References
    ----------
    .. [1] N. Sturmel and L. Daudet, "Signal reconstruction from STFT magnitude: a state of the
       art," DAFx 2011.
    """

    name: ClassVar[str] = "sc"
    columns: ClassVar[tuple[str, ...]] = ("sc_db", "sc_true_db")
    better: ClassVar[dict[str, str]] = {"sc_db": "lower", "sc_true_db": "lower"}
    needs_reference: ClassVar[bool] = False

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return both SC values (``sc_true_db`` NaN without reference audio)."""
        _check_estimate(ctx)
        est = ctx["estimate_magnitude"]
        out = {"sc_db": _or_reason(spectral_convergence_db(ctx["target_magnitude"], est),
                                   "the target magnitude is all zero")}
        true = ctx.get("true_magnitude")
        out["sc_true_db"] = (Missing("no reference audio") if true is None else
                             _or_reason(spectral_convergence_db(true, est), "reference is silent"))
        return out


class MelSpectralConvergence(Metric):
    """SC in the linear mel domain: the given mel against the output's mel (``mel_sc_db``).

    References
    ----------
    .. [1] N. Sturmel and L. Daudet, "Signal reconstruction from STFT magnitude: a state of the
       art," DAFx 2011 (spectral convergence, here on the mel).
    """

    name: ClassVar[str] = "mel_sc"
    columns: ClassVar[tuple[str, ...]] = ("mel_sc_db",)
    better: ClassVar[dict[str, str]] = {"mel_sc_db": "lower"}
    needs_reference: ClassVar[bool] = False

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return ``mel_sc_db``."""
        _check_estimate(ctx)
        spec = ctx["spec"]
        target = ctx["mel_linear"]
        if target is None:
            raise SkipCell("no mel in context")
        est = spec.mel_from_magnitude(ctx["estimate_magnitude"], compress=False)
        return {"mel_sc_db": _or_reason(spectral_convergence_db(target, est),
                                        "the given mel is all zero")}


# --------------------------------------------------------------------------- log-spectral distance

#: Default floor, in dB below the reference's peak, applied before taking logs.
FLOOR_DB = -80.0


def _floored_log(x: np.ndarray, floor: float) -> np.ndarray:
    return np.log(np.maximum(np.asarray(x, dtype=np.float64), floor))


def log_spectral_distance_db(
    reference: np.ndarray, estimate: np.ndarray, *, power: bool = False, floor_db: float = FLOOR_DB
) -> float:
    """Log-spectral distance in dB: the mean over frames of the RMS over bins of the dB difference.

    ``LSD = mean_t sqrt(mean_f (10 log10 P_ref - 10 log10 P_est)^2)`` with
    ``P = |X|^2`` (power). Both are floored at ``floor_db`` below the reference's
    peak power first, so digital silence does not dominate.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(..., bins, frames)]
        Non-negative spectrograms of equal shape.
    power : bool
        True if they hold power; False (default) if magnitude.
    floor_db : float
        Floor relative to the reference's peak, in dB (negative).

    Returns
    -------
    float
        LSD in dB (0 for identical inputs); NaN if the reference is all zero.

    References
    ----------
    .. [1] A. Gray and J. Markel, "Distance measures for speech processing," IEEE Trans.
       Acoustics, Speech, and Signal Processing 24(5):380-391, 1976.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"shapes differ: reference {ref.shape} vs estimate {est.shape}")
    if not power:
        ref, est = ref * ref, est * est
    peak = float(ref.max(initial=0.0))
    if peak <= 0:
        return float("nan")
    floor = peak * 10.0 ** (floor_db / 10.0)
    diff_db = (10.0 / np.log(10.0)) * (_floored_log(ref, floor) - _floored_log(est, floor))
    per_frame = np.sqrt(np.mean(diff_db**2, axis=-2))
    return float(np.mean(per_frame))


# --------------------------------------------------------------------------- mel cepstral distortion

#: The constant of Kubichek's mel cepstral distortion, ``10 sqrt(2) / ln 10`` (about 6.1418).
MCD_K = 10.0 * np.sqrt(2.0) / np.log(10.0)


def mel_cepstrum(log_mel: np.ndarray, n_coeffs: int) -> np.ndarray:
    """Cepstral coefficients ``c_1..c_D`` of a natural-log mel amplitude ``(..., n_mels, frames)``.

    Cosine-series normalisation: ``c_d = (1/M) sum_k x_k cos(pi d (k + 1/2) / M)``,
    so that ``x_k = c_0 + 2 sum_{d>=1} c_d cos(pi d (k + 1/2) / M)`` (``M = n_mels``);
    this is the DCT-II divided by ``2M``. ``c_0`` (the frame's level) is excluded.

    Returns
    -------
    np.ndarray [shape=(..., n_coeffs, frames)]
        ``(..., n_coeffs, frames)``.
    """
    import scipy.fft

    m = log_mel.shape[-2]
    c = scipy.fft.dct(np.asarray(log_mel, dtype=np.float64), type=2, axis=-2) / (2 * m)
    return c[..., 1:n_coeffs + 1, :]


def mel_cepstral_distortion_db(
    reference_mel: np.ndarray,
    estimate_mel: np.ndarray,
    *,
    power: bool,
    n_coeffs: int = 24,
    floor_db: float = FLOOR_DB,
) -> float:
    """Mel cepstral distortion in dB, frame-averaged (time-aligned signals, no DTW).

    ``MCD = mean_t (10 sqrt(2) / ln 10) sqrt(sum_{d=1}^{D} (c_d - c'_d)^2)`` with
    ``c`` from :func:`mel_cepstrum` of the natural log of the mel *amplitude*
    (half the log of a power mel), ``D = n_coeffs``, ``c_0`` excluded. Both mels
    are floored at ``floor_db`` below the reference's peak before the log.

    Parameters
    ----------
    reference_mel, estimate_mel : np.ndarray [shape=(..., n_mels, frames)]
        Linear mels ``(..., n_mels, frames)`` of equal shape.
    power : bool
        True for power mels, False for magnitude mels.
    n_coeffs : int
        Number of coefficients ``D`` (c1..cD); needs ``n_mels > D``.
    floor_db : float
        Floor relative to the reference's peak (in dB of power).

    Returns
    -------
    float
        MCD in dB (0 for identical inputs and for inputs that differ by a gain);
        NaN if the reference is all zero.
    """
    ref = np.asarray(reference_mel, dtype=np.float64)
    est = np.asarray(estimate_mel, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"shapes differ: reference {ref.shape} vs estimate {est.shape}")
    n_mels = ref.shape[-2]
    if not 1 <= n_coeffs < n_mels:
        raise SkipCell(f"MCD with n_coeffs={n_coeffs} needs more than {n_coeffs} mel bands; "
                       f"the spec has {n_mels}")
    peak = float(ref.max(initial=0.0))
    if peak <= 0:
        return float("nan")
    scale = 0.5 if power else 1.0  # natural log of the amplitude
    floor = peak * 10.0 ** (floor_db / (10.0 if power else 20.0))
    c_ref = mel_cepstrum(scale * _floored_log(ref, floor), n_coeffs)
    c_est = mel_cepstrum(scale * _floored_log(est, floor), n_coeffs)
    per_frame = MCD_K * np.sqrt(np.sum((c_ref - c_est) ** 2, axis=-2))
    return float(np.mean(per_frame))


def _linear_mel(spec: Any, magnitude: np.ndarray) -> np.ndarray:
    return spec.mel_from_magnitude(magnitude, compress=False)


class LogSpectralDistance(Metric):
    """Log-spectral distance, with and without reference audio.

    Columns: ``lsd_db`` (output's STFT magnitude against the reference audio's;
    needs reference audio) and ``mel_lsd_db`` (output's mel against the given mel;
    reference-free: consistency of the output with the mel it was made from).

    References
    ----------
    .. [1] A. Gray and J. Markel, "Distance measures for speech processing," IEEE Trans.
       Acoustics, Speech, and Signal Processing 24(5):380-391, 1976.
    """

    name: ClassVar[str] = "lsd"
    columns: ClassVar[tuple[str, ...]] = ("lsd_db", "mel_lsd_db")
    better: ClassVar[dict[str, str]] = {"lsd_db": "lower", "mel_lsd_db": "lower"}
    needs_reference: ClassVar[bool] = False

    @dataclass
    class Params:
        """Parameters of LSD.

        Attributes
        ----------
        floor_db : float
            Floor in dB below the reference's (or the given mel's) peak power.
        """

        floor_db: float = FLOOR_DB

    def validate(self) -> None:
        """Check the floor."""
        if not self.params.floor_db < 0:
            raise ParameterError(f"lsd floor_db={self.params.floor_db} must be negative")

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``lsd_db`` (Missing without reference audio) and ``mel_lsd_db``."""
        _check_estimate(ctx)
        spec = ctx["spec"]
        est = ctx["estimate_magnitude"]
        fl = self.params.floor_db
        true = ctx.get("true_magnitude")
        out: dict[str, Any] = {}
        if true is None:
            out["lsd_db"] = Missing("no reference audio")
        else:
            out["lsd_db"] = _or_reason(log_spectral_distance_db(true, est, floor_db=fl),
                                       "reference is silent")
        given = ctx.get("mel_linear")
        if given is None:
            out["mel_lsd_db"] = Missing("no mel in context")
        else:
            out["mel_lsd_db"] = _or_reason(
                log_spectral_distance_db(given, _linear_mel(spec, est), power=spec.power == 2,
                                         floor_db=fl),
                "the given mel is all zero",
            )
        return out


class MelCepstralDistortion(Metric):
    """Mel cepstral distortion (MCD), with and without reference audio.

    Convention (see :func:`mel_cepstral_distortion_db`): the spec's own mel
    filterbank, natural log of the mel amplitude floored 80 dB below the peak,
    cepstrum by DCT-II with cosine-series normalisation (``/ 2M``), coefficients
    c1..c24 (c0, the level, excluded), ``10 sqrt(2) / ln 10`` per frame, mean over
    all frames, no time warping (the signals are aligned). Columns: ``mcd_db``
    (the output's mel against the reference audio's mel; needs reference audio)
    and ``mel_mcd_db`` (against the given mel; reference-free).

    References
    ----------
    .. [1] R. Kubichek, "Mel-cepstral distance measure for objective speech quality assessment,"
       IEEE Pacific Rim Conf. on Communications, Computers and Signal Processing 1993.
    """

    name: ClassVar[str] = "mcd"
    columns: ClassVar[tuple[str, ...]] = ("mcd_db", "mel_mcd_db")
    better: ClassVar[dict[str, str]] = {"mcd_db": "lower", "mel_mcd_db": "lower"}
    needs_reference: ClassVar[bool] = False

    @dataclass
    class Params:
        """Parameters of MCD.

        Attributes
        ----------
        n_coeffs : int
            Cepstral coefficients compared (c1..c_n_coeffs).
        floor_db : float
            Floor in dB below the reference's (or the given mel's) peak power.
        """

        n_coeffs: int = 24
        floor_db: float = FLOOR_DB

    def validate(self) -> None:
        """Check the coefficient count and the floor."""
        if self.params.n_coeffs < 1:
            raise ParameterError(f"mcd n_coeffs={self.params.n_coeffs} must be at least 1")
        if not self.params.floor_db < 0:
            raise ParameterError(f"mcd floor_db={self.params.floor_db} must be negative")

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``mcd_db`` (Missing without reference audio) and ``mel_mcd_db``."""
        _check_estimate(ctx)
        spec = ctx["spec"]
        power = spec.power == 2
        est_mel = _linear_mel(spec, ctx["estimate_magnitude"])
        kw = {"power": power, "n_coeffs": self.params.n_coeffs, "floor_db": self.params.floor_db}
        out: dict[str, Any] = {}
        true = ctx.get("true_magnitude")
        pairs = (("mcd_db", None if true is None else _linear_mel(spec, true),
                  "no reference audio", "reference is silent"),
                 ("mel_mcd_db", ctx.get("mel_linear"), "no mel in context",
                  "the given mel is all zero"))
        for col, ref_mel, absent, zero in pairs:
            if ref_mel is None:
                out[col] = Missing(absent)
                continue
            try:
                out[col] = _or_reason(mel_cepstral_distortion_db(ref_mel, est_mel, **kw), zero)
            except SkipCell as exc:
                out[col] = Missing(str(exc))
        return out


def _or_reason(value: float, reason: str) -> float:
    return Missing(reason) if value != value else value


def _check_estimate(ctx: Mapping[str, Any]) -> None:
    """Raise :class:`SkipCell` if the output audio has NaN or Inf samples."""
    y = ctx.get("estimate")
    if y is not None and not np.all(np.isfinite(y)):
        raise SkipCell(f"estimate contains {int(np.isnan(y).sum())} NaN and "
                       f"{int(np.isinf(y).sum())} Inf samples")
