"""Perceptual measures: PESQ (ITU-T P.862, narrowband and wideband), STOI and ESTOI.

Both packages are used as published (``pesq`` by ludlows, ``pystoi`` by
mpariente); this module decides *which* variant applies to a clip, prepares the
inputs in a documented way and turns every failure into a reason.

PESQ
    The ``pesq`` package returns MOS-LQO, not the raw P.862 score: narrowband
    (``nb``, 8 kHz) is mapped with P.862.1 (``0.999 + 4 / (1 + exp(-1.4945 x +
    4.6607))``, at most about 4.55) and wideband (``wb``, 16 kHz) with P.862.2
    (``0.999 + 4 / (1 + exp(-1.3669 x + 3.8224))``, at most about 4.64), where
    ``x`` is the raw P.862 score. Reference and estimate are resampled with soxr
    (quality "VHQ", float64) from the spec's rate to the mode's rate. A mode is
    scored only if the material has content in its band: a clip recorded at
    8 kHz has nothing above 4 kHz, so it gets narrowband only.
STOI / ESTOI
    ``pystoi.stoi`` on the signals at the spec's rate (it resamples internally to
    10 kHz), classic (Taal et al. 2011) or extended (Jensen & Taal 2016). pystoi
    drops frames more than 40 dB below the loudest reference frame and needs 30
    frames (about 0.4 s) of the rest; otherwise it returns the sentinel 1e-5,
    which is turned here into a missing value with that reason.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError, SkipCell
from ..plugin import Metric
from .base import Missing

#: Sampling rate of each PESQ mode (ITU-T P.862 narrowband, P.862.2 wideband).
PESQ_RATES: dict[str, int] = {"wb": 16000, "nb": 8000}
#: Shortest input the PESQ implementation accepts, in seconds.
PESQ_MIN_SECONDS = 0.25
#: STOI's analysis: 30 frames of 256 samples, hop 128, at 10 kHz (after silence removal).
STOI_MIN_FRAMES = 30
STOI_SENTINEL = 1e-5
#: pystoi's ESTOI adds Gaussian dither of size 2.2e-16 from numpy's *global* RNG, so it
#: varies in the last digits between calls; the global RNG is seeded with this around
#: each call (and restored after) to make scores reproducible.
STOI_DITHER_SEED = 0


# --------------------------------------------------------------------------- helpers


def _check_pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (reference, estimate) pair; raise :class:`SkipCell` naming the problem."""
    ref = np.asarray(reference)
    est = np.asarray(estimate)
    if ref.ndim != 1 or est.ndim != 1:
        raise SkipCell(f"needs mono 1-D signals; got shapes {ref.shape} and {est.shape}")
    if ref.shape != est.shape:
        raise SkipCell(f"reference and estimate lengths differ ({ref.size} vs {est.size} samples)")
    for what, x in (("reference", ref), ("estimate", est)):
        bad = ~np.isfinite(x)
        if bad.any():
            raise SkipCell(
                f"{what} contains {int(np.isnan(x).sum())} NaN and {int(np.isinf(x).sum())} "
                "Inf samples"
            )
    if not np.any(ref):
        raise SkipCell("reference is silent (all samples are zero)")
    return ref, est


def resample_for_pesq(y: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Resample ``y`` to ``target_rate`` the way :func:`pesq_mos_lqo` does (soxr VHQ, float64).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono signal at ``sample_rate``.
    sample_rate, target_rate : int
        Rates in Hz.

    Returns
    -------
    np.ndarray [shape=(n_resampled,)]
        float64 signal at ``target_rate`` (a float64 copy if the rates agree).
    """
    y = np.asarray(y, dtype=np.float64)
    if int(sample_rate) == int(target_rate):
        return y.copy()
    import soxr

    return soxr.resample(y, int(sample_rate), int(target_rate), quality="VHQ")


def pesq_modes(sample_rate: int, source_rate: int | None = None) -> dict[str, str | None]:
    """Which PESQ modes the material allows.

    The material's band is limited by the lower of the rate it was recorded at
    (``source_rate``) and the rate it is processed at (``sample_rate``).
    Wideband needs content up to 8 kHz (a 16 kHz rate), narrowband up to 4 kHz.

    Parameters
    ----------
    sample_rate : int
        The spec's rate (of the reference and estimate).
    source_rate : int, optional
        The rate the clip was recorded at (``clip.meta["source_sample_rate"]``);
        None if unknown (then ``sample_rate`` alone decides).

    Returns
    -------
    dict
        ``{"wb": reason or None, "nb": reason or None}``: None where the mode applies.
    """
    sample_rate = int(sample_rate)
    band_rate = min(sample_rate, int(source_rate)) if source_rate else sample_rate
    if source_rate and int(source_rate) < sample_rate:
        why = f"the clip was recorded at {int(source_rate)} Hz"
    else:
        why = f"the spec's rate is {sample_rate} Hz"
    out: dict[str, str | None] = {}
    for mode, rate in PESQ_RATES.items():
        if band_rate >= rate:
            out[mode] = None
        else:
            name = "wideband" if mode == "wb" else "narrowband"
            out[mode] = (
                f"no {name} PESQ: {why}, so there is no content above {band_rate / 2000:g} kHz "
                f"({name} needs content up to {rate / 2000:g} kHz)"
            )
    return out


def pesq_mos_lqo(
    reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, mode: str = "wb"
) -> float:
    """PESQ MOS-LQO of ``estimate`` against ``reference``, in one mode.

    Both signals are resampled with :func:`resample_for_pesq` to the mode's rate
    (16 kHz for ``wb``, 8 kHz for ``nb``) and passed to ``pesq.pesq``, which
    returns MOS-LQO (P.862.2 mapping for wideband, P.862.1 for narrowband).

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n_samples,)]
        Time-aligned mono signals of equal length at ``sample_rate``.
    sample_rate : int
        Their rate in Hz.
    mode : {"wb", "nb"}
        Wideband or narrowband.

    Returns
    -------
    float
        MOS-LQO, about 1.0 (bad) to 4.64 (wb) or 4.55 (nb).

    Raises
    ------
    SkipCell
        With the reason when the pair cannot be scored: NaN/Inf samples, silent
        reference or estimate, shorter than 0.25 s, or "no utterances detected"
        by P.862's voice activity detection.
    """
    if mode not in PESQ_RATES:
        raise ParameterError(f"mode={mode!r}; choose 'wb' or 'nb'")
    import pesq as pesq_pkg

    ref, est = _check_pair(reference, estimate)
    seconds = ref.size / sample_rate
    if seconds < PESQ_MIN_SECONDS:
        raise SkipCell(f"clip is {seconds:.3f} s long; PESQ needs at least {PESQ_MIN_SECONDS} s")
    if not np.any(est):
        raise SkipCell("estimate is silent (all samples are zero); P.862's level alignment "
                       "is undefined for a silent signal")
    rate = PESQ_RATES[mode]
    ref_r = resample_for_pesq(ref, sample_rate, rate)
    est_r = resample_for_pesq(est, sample_rate, rate)
    try:
        value = pesq_pkg.pesq(rate, ref_r, est_r, mode)
    except pesq_pkg.NoUtterancesError as exc:
        raise SkipCell("P.862 detected no utterances (no speech activity) in the reference "
                       "or the estimate") from exc
    except pesq_pkg.BufferTooShortError as exc:
        raise SkipCell(f"clip too short for PESQ (needs at least {PESQ_MIN_SECONDS} s)") from exc
    except (pesq_pkg.PesqError, ValueError, ZeroDivisionError) as exc:
        raise SkipCell(f"pesq failed: {type(exc).__name__}: {exc}") from exc
    value = float(value)
    if not math.isfinite(value):
        raise SkipCell(f"pesq returned {value}")
    return value


def stoi_score(
    reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, extended: bool = False
) -> float:
    """STOI (or extended STOI) of ``estimate`` against ``reference`` with pystoi.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n_samples,)]
        Time-aligned mono signals of equal length at ``sample_rate``; passed to
        ``pystoi.stoi`` unchanged (it resamples to 10 kHz itself).
    sample_rate : int
        Their rate in Hz.
    extended : bool
        Extended STOI (Jensen & Taal 2016) instead of classic STOI (Taal et al. 2011).

    Notes
    -----
    pystoi's ESTOI dithers its normalisation with ``2.2e-16 * np.random.standard_normal``
    from numpy's global RNG; this function seeds that RNG with :data:`STOI_DITHER_SEED`
    around the call (restoring its state afterwards), so the value equals
    ``np.random.seed(0); pystoi.stoi(...)`` and is the same in every process.

    Returns
    -------
    float
        Intelligibility index; 1 for identical signals (classic STOI lies in
        about [0, 1]; ESTOI is a correlation and can be slightly negative).

    Raises
    ------
    SkipCell
        With the reason when the pair cannot be scored: NaN/Inf samples, silent
        reference, or fewer than 30 frames (about 0.4 s) of non-silent reference,
        where pystoi itself would return the sentinel 1e-5.
    """
    from pystoi import stoi

    ref, est = _check_pair(reference, estimate)
    # pystoi's ESTOI dithers with numpy's *global* RNG: seed it, then restore it
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(STOI_DITHER_SEED)  # noqa: NPY002
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = stoi(ref, est, int(sample_rate), extended=extended)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    too_short = any("Not enough STFT frames" in str(w.message) for w in caught)
    if too_short:
        raise SkipCell(
            f"fewer than {STOI_MIN_FRAMES} frames (about 0.4 s) of non-silent reference remain "
            "after dropping frames 40 dB below the loudest; STOI is undefined there "
            f"(pystoi would return the sentinel {STOI_SENTINEL:g})"
        )
    value = float(value)
    if not math.isfinite(value):
        raise SkipCell(f"pystoi returned {value}")
    return value


def _source_rate(ctx: Mapping[str, Any]) -> int | None:
    clip = ctx.get("clip")
    meta = getattr(clip, "meta", None) or {}
    rate = meta.get("source_sample_rate")
    return int(rate) if rate else None


# --------------------------------------------------------------------------- plugins


class Pesq(Metric):
    """PESQ MOS-LQO, wideband (``pesq_wb``) and narrowband (``pesq_nb``) where the material allows.

    Clips recorded at 8 kHz get narrowband only (with a reason for the missing
    wideband value); clips at 16 kHz or more get both. The extra text column
    ``pesq_resampled_from`` records the resampling applied per mode, e.g.
    ``"wb: 22050->16000 Hz; nb: 22050->8000 Hz"`` (``"wb: not resampled (16000 Hz)"``
    when the spec's rate is already the mode's).

    References
    ----------
    .. [1] ITU-T Recommendation P.862, "Perceptual evaluation of speech quality (PESQ)," 2001,
       and P.862.2 (wideband extension), 2007.
    """

    name: ClassVar[str] = "pesq"
    columns: ClassVar[tuple[str, ...]] = ("pesq_wb", "pesq_nb")
    better: ClassVar[dict[str, str]] = {"pesq_wb": "higher", "pesq_nb": "higher"}
    needs_reference: ClassVar[bool] = True
    #: Scored after the clip loop, in parallel across clips (see melbench.metric_pool).
    deferred: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of PESQ.

        Attributes
        ----------
        mode : str
            "auto" (every mode the material allows), "wb" or "nb" (that mode only).
        """

        mode: str = "auto"

    def validate(self) -> None:
        """Check the mode; a single mode narrows the columns to that one."""
        mode = self.params.mode
        if mode not in ("auto", *PESQ_RATES):
            raise ParameterError(f"pesq mode={mode!r}; choose 'auto', 'wb' or 'nb'")
        if mode != "auto":
            self.columns = (f"pesq_{mode}",)
            self.better = {f"pesq_{mode}": "higher"}

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Score every applicable mode; inapplicable or failed modes get a reason."""
        sr = int(ctx["sample_rate"])
        allowed = pesq_modes(sr, _source_rate(ctx))
        out: dict[str, Any] = {}
        resampled = []
        for col in self.columns:
            mode = col.removeprefix("pesq_")
            if allowed[mode] is not None:
                out[col] = Missing(allowed[mode])
                continue
            rate = PESQ_RATES[mode]
            resampled.append(f"{mode}: {sr}->{rate} Hz" if sr != rate
                             else f"{mode}: not resampled ({rate} Hz)")
            try:
                out[col] = pesq_mos_lqo(ctx["reference"], ctx["estimate"], sr, mode=mode)
            except SkipCell as exc:
                out[col] = Missing(str(exc))
        out["pesq_resampled_from"] = "; ".join(resampled) if resampled else "none"
        return out


class Stoi(Metric):
    """Short-time objective intelligibility (Taal et al. 2011), pystoi, column ``stoi``.

    References
    ----------
    .. [1] C. H. Taal, R. C. Hendriks, R. Heusdens and J. Jensen, "An algorithm for
       intelligibility prediction of time-frequency weighted noisy speech," IEEE Trans. Audio,
       Speech, and Language Processing 19(7):2125-2136, 2011.
    """

    name: ClassVar[str] = "stoi"
    columns: ClassVar[tuple[str, ...]] = ("stoi",)
    better: ClassVar[dict[str, str]] = {"stoi": "higher"}
    needs_reference: ClassVar[bool] = True
    deferred: ClassVar[bool] = True
    extended: ClassVar[bool] = False

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Return the index, or a reason why it is undefined for this clip."""
        col = self.columns[0]
        try:
            value: float = stoi_score(ctx["reference"], ctx["estimate"], int(ctx["sample_rate"]),
                                      extended=self.extended)
        except SkipCell as exc:
            value = Missing(str(exc))
        return {col: value}


class Estoi(Stoi):
    """Extended STOI (Jensen & Taal 2016), pystoi ``extended=True``, column ``estoi``.

    References
    ----------
    .. [1] J. Jensen and C. H. Taal, "An algorithm for predicting the intelligibility of speech
       masked by modulated noise maskers," IEEE/ACM Trans. Audio, Speech, and Language
       Processing 24(11):2009-2022, 2016.
    """

    name: ClassVar[str] = "estoi"
    columns: ClassVar[tuple[str, ...]] = ("estoi",)
    better: ClassVar[dict[str, str]] = {"estoi": "higher"}
    extended: ClassVar[bool] = True
