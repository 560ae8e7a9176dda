"""What a mel's values say about how it was made: value-range checks against a declared spec.

Each declared convention (compression, power, floor, ref, front end) bounds the values a
real mel can have: audio within [-1, 1] gives at most :func:`full_scale_mel_bound`; a
mel clipped at its floor repeats the compressed floor, which is a round number for each
compression (ln(1e-5) = -11.51, log10(1e-5) = -5, 10·log10(1e-10) = -100 dB); a log mel
has exact zeros only where the linear mel is exactly 1. A mel outside those bounds was
made another way, and inverting it as declared gives garbage: :func:`check_mel_values`
says so with the declarations and presets its values do fit
(:func:`plausible_conventions`, :func:`matching_presets`). Called through
``melbench.validation.check_mel(mel, spec, values=True)``.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import numpy as np

from .errors import InputError
from .spec import FeatureSpec
from .validation import MelDomainWarning, MelLevelWarning

#: Amplitude headroom over full scale allowed before a mel is called impossible (x10 = +20 dB).
HEADROOM = 10.0
#: A value repeated in at least this fraction of a mel's entries is a clipped floor.
FLOOR_FRACTION = 0.005
#: Fraction of exact zeros that makes a declared log/dB mel suspicious.
ZERO_FRACTION = 0.05
#: Powers of ten accepted as "round" floors (1e-3 ... 1e-24), e.g. librosa's amin=1e-10.
_FLOOR_EXPONENTS = range(3, 25)


@functools.lru_cache(maxsize=64)
def full_scale_mel_bound(spec: FeatureSpec) -> float:
    """Largest linear mel value (in ``spec.domain``) audio within [-1, 1] can produce.

    ``|STFT| <= sum(window)`` for ``|y| <= 1``, so a band's value is at most its
    filter's row sum times ``sum(window) ** power``.
    """
    rows = float(spec.mel_basis(np.float64).sum(axis=1).max())
    return rows * float(np.sum(spec.window_array)) ** spec.power


def _round_floor(linear: float) -> int | None:
    """The exponent k if ``linear`` is 10**-k (within 0.1 %) for a plausible floor, else None."""
    if not linear > 0:
        return None
    k = -np.log10(linear)
    kr = int(round(k))
    return kr if kr in _FLOOR_EXPONENTS and abs(k - kr) < 5e-4 else None


def _decompress_scalar(v: float, compression: str, power: int, ref: float = 1.0) -> float:
    with np.errstate(over="ignore", under="ignore"):
        if compression == "none":
            return v
        if compression == "ln":
            return float(np.exp(np.float64(v)))
        if compression == "log10":
            return float(10.0 ** np.float64(v))
        return float(ref * 10.0 ** (np.float64(v) / (10.0 if power == 2 else 20.0)))


def _compress_scalar(x: float, compression: str, power: int, ref: float = 1.0) -> float:
    if compression == "ln":
        return float(np.log(x))
    if compression == "log10":
        return float(np.log10(x))
    if compression == "db":
        return float((10.0 if power == 2 else 20.0) * np.log10(x / ref))
    return x


#: Readable names of the compressions, for messages.
NAMES = {"ln": "natural-log (ln)", "log10": "log10", "db": "dB", "none": "linear"}


@dataclasses.dataclass(frozen=True)
class MelStats:
    """The few numbers of a mel the value-range checks look at."""

    lo: float
    hi: float
    n: int
    #: The minimum's share of entries when it is repeated (a clipped floor), else 0.
    lo_fraction: float
    zero_fraction: float
    #: Frames (last axis) whose every band is exactly 0, at the start or end (padding).
    zero_edge_frames: int
    n_hi: int

    @classmethod
    def of(cls, mel: np.ndarray) -> MelStats:
        """Statistics of a finite mel ``(..., n_mels, frames)``."""
        lo, hi = float(mel.min()), float(mel.max())
        n = int(mel.size)
        n_lo = int(np.count_nonzero(mel == mel.dtype.type(lo)))
        zeros = mel == 0
        zero_frames = np.all(zeros.reshape(-1, *zeros.shape[-2:]), axis=(0, 1))
        edge = 0
        if zero_frames.any():
            lead = int(np.argmin(zero_frames)) if not zero_frames.all() else zero_frames.size
            trail = int(np.argmin(zero_frames[::-1])) if not zero_frames.all() else 0
            edge = lead + trail
        return cls(lo=lo, hi=hi, n=n, lo_fraction=n_lo / n if n_lo >= 2 else 0.0,
                   zero_fraction=float(np.count_nonzero(zeros)) / n, zero_edge_frames=edge,
                   n_hi=int(np.count_nonzero(mel == mel.dtype.type(hi))))

    @property
    def floor_value(self) -> float | None:
        """The repeated minimum (a clipped floor), if there is one."""
        return self.lo if self.lo_fraction >= FLOOR_FRACTION else None


@dataclasses.dataclass(frozen=True)
class Misfit:
    """One reason the values do not fit a declared convention."""

    reason: str
    #: "error": no real mel made as declared looks like this; "warning": doubtful.
    severity: str


def floor_signatures(value: float) -> dict[str, int]:
    """The compressions under which ``value`` is the compressed 10**-k floor: {compression: k}.

    ``-11.513`` is ln(1e-5), ``-5`` log10(1e-5), ``-100`` 10·log10(1e-10) (dB, power) or
    20·log10(1e-5) (dB, magnitude), all with ``ref=1``.
    """
    out: dict[str, int] = {}
    for comp, power in (("ln", 1), ("log10", 1), ("db", 2), ("db", 1)):
        k = _round_floor(_decompress_scalar(value, comp, power))
        if k is not None and comp not in out:
            out[comp] = k
    return out


def mel_misfits(stats: MelStats, spec: FeatureSpec) -> list[Misfit]:
    """Why a mel with these statistics was probably not made as ``spec`` declares.

    Parameters
    ----------
    stats : MelStats
        :meth:`MelStats.of` the mel.
    spec : FeatureSpec
        The declared convention.

    Returns
    -------
    list of Misfit
        Empty if the values fit. Errors: values beyond what full-scale audio gives,
        a clipped floor that is another compression's, values far below the floor
        that fit another compression, zero-padded frames or a linear mel with exact
        zeros declared log. Warnings: a smaller floor than declared, scattered
        exact zeros, a dB range too narrow for dB.
    """
    out: list[Misfit] = []
    comp, power = spec.compression, spec.power
    bound = full_scale_mel_bound(spec) * HEADROOM**power
    lin_hi = _decompress_scalar(stats.hi, comp, power, spec.ref)
    if not lin_hi <= bound:
        over = 10 * np.log10(lin_hi / bound) if lin_hi < np.inf else np.inf
        out.append(Misfit(
            f"its maximum {stats.hi:.4g} is, undone as declared ({NAMES[comp]}, {spec.domain}), a "
            f"linear value of {lin_hi:.3g}: {over:.0f} dB more than audio at {HEADROOM:g}x full "
            f"scale can give with this spec ({bound:.3g})", "error"))
    if comp == "none":
        return out
    floor_c = _compress_scalar(spec.floor, comp, power, spec.ref)
    far = _compress_scalar(spec.floor * 1e-4, comp, power, spec.ref)  # 40 dB below the floor
    sig = stats.floor_value
    if sig is not None:
        sigs = floor_signatures(sig)
        own = abs(sig - floor_c) <= 1e-3 * max(1.0, abs(floor_c)) or comp in sigs
        if not own and sigs:
            alt = " or ".join(f"{NAMES[c]} mel with floor 1e-{k}" if c != "db" else
                              "dB mel (its amin, or top_db below the maximum)"
                              for c, k in sigs.items())
            out.append(Misfit(
                f"its minimum {sig:.5g} repeats in {100 * stats.lo_fraction:.1f}% of the values "
                f"(a clipped floor), and {sig:.5g} is the floor of a {alt}, not of a "
                f"{NAMES[comp]} mel", "error"))
        elif comp in sigs and abs(sig - floor_c) > 1e-3 * max(1.0, abs(floor_c)) and comp != "db":
            out.append(Misfit(
                f"its clipped floor {sig:.5g} is {comp}(1e-{sigs[comp]}), not the declared "
                f"floor={spec.floor:g}: set floor=1e-{sigs[comp]}", "warning"))
    if stats.lo < far:
        dbish = (comp == "ln" and stats.lo < -40) or (comp == "log10" and stats.lo < -20)
        out.append(Misfit(
            f"it has values down to {stats.lo:.4g}, far below {comp}(floor={spec.floor:g}) = "
            f"{floor_c:.4g}, which a {NAMES[comp]} mel clipped at its floor never goes below"
            + ("" if dbish else " (if it was made with a smaller floor, set floor to it)"),
            "error" if dbish else "warning"))
    if stats.zero_fraction >= ZERO_FRACTION:
        if stats.lo >= 0:
            out.append(Misfit(
                f"{100 * stats.zero_fraction:.0f}% of its values are exactly 0 and none is "
                "negative: a linear mel with digital silence", "error"))
        elif stats.zero_edge_frames:
            out.append(Misfit(
                f"{stats.zero_edge_frames} frame(s) at its start/end are all exactly 0, which "
                f"a {NAMES[comp]} mel reads as linear {_decompress_scalar(0.0, comp, power, spec.ref):g} "
                "(loud): batch padding? crop the mel to its true length (or pad with "
                f"{floor_c:.4g}, the compressed floor)", "error"))
        else:
            out.append(Misfit(
                f"{100 * stats.zero_fraction:.0f}% of its values are exactly 0, which a "
                f"{NAMES[comp]} mel has only where the linear mel is exactly "
                f"{_decompress_scalar(0.0, comp, power, spec.ref):g}", "warning"))
    if comp == "db" and stats.hi - stats.lo < 20 and -25 < stats.lo and stats.hi < 12 \
            and stats.hi != 0.0:
        out.append(Misfit(
            f"its range [{stats.lo:.3g}, {stats.hi:.3g}] spans only {stats.hi - stats.lo:.1f} dB, "
            "where ln/log10 mels lie; a dB mel of real audio usually spans 60-100 dB", "warning"))
    return out


def looks_standardized(mel: np.ndarray) -> bool:
    """True if a mel looks z-scored per band (overall mean ~0, std ~1, every band mean near 0).

    A log mel of audio has band means far below 0 (ln: around -5); a feature file
    normalised with training statistics (ParallelWaveGAN/ESPnet ``feats``) does not.
    """
    if mel.shape[-1] < 20:
        return False
    bands = np.moveaxis(mel, -2, 0).reshape(mel.shape[-2], -1)
    mean, std = float(mel.mean()), float(mel.std())
    return abs(mean) < 0.5 and 0.5 < std < 1.5 and float(np.max(np.abs(bands.mean(axis=1)))) < 1.5


def plausible_conventions(stats: MelStats, spec: FeatureSpec) -> list[FeatureSpec]:
    """Variants of ``spec`` (compression, power, floor) the values fit without an error."""
    sig = stats.floor_value
    sigs = floor_signatures(sig) if sig is not None else {}
    out = []
    for comp in ("ln", "log10", "db", "none"):
        for power in (spec.power, 3 - spec.power):
            if comp == "none" and stats.lo < 0:
                continue
            floor = 10.0 ** -sigs[comp] if comp in sigs else (1e-12 if comp != "db" else 1e-10)
            try:
                cand = spec.replace(compression=comp, power=power, floor=floor,
                                    ref=spec.ref if comp == "db" else 1.0)
            except Exception:  # noqa: BLE001 - an invalid combination is simply not a candidate
                continue
            if cand == spec or any(m.severity == "error" for m in mel_misfits(stats, cand)):
                continue
            if comp != "db" and comp != "none" and comp not in sigs and stats.lo < -40:
                continue
            out.append(cand)
    return out


def matching_presets(mel: np.ndarray, exclude: str = "") -> list[str]:
    """Presets (:data:`melbench.spec.PRESETS`) with the mel's band count whose convention fits.

    A preset fits when the mel's values raise no value-range error under it.
    """
    from .spec import PRESETS

    mel = np.asarray(mel)
    if mel.ndim < 2 or not np.all(np.isfinite(mel)):
        return []
    stats = MelStats.of(mel)
    names = []
    for name, preset in PRESETS.items():
        if name == exclude or preset.n_mels != mel.shape[-2]:
            continue
        if preset.compression == "none" and stats.lo < 0:
            continue
        if preset.compression != "none" and stats.lo >= 0 and stats.n >= 2 * preset.n_mels:
            continue  # a log/dB mel without one quiet (negative) value: really linear
        if not any(m.severity == "error" for m in mel_misfits(stats, preset)):
            names.append(name)
    return names


def describe(cand: FeatureSpec, spec: FeatureSpec) -> str:
    """How ``cand`` differs from ``spec`` in a declaration, e.g. "compression='db', power=2"."""
    parts = [f"compression='{cand.compression}'"]
    if cand.power != spec.power:
        parts.append(f"power={cand.power}")
    if cand.compression in ("ln", "log10") and cand.floor != spec.floor:
        parts.append(f"floor={cand.floor:g}")
    return ", ".join(parts)


def check_mel_values(mel: np.ndarray, spec: FeatureSpec) -> None:
    """Check a finite mel's values against the declared convention (see :func:`mel_misfits`).

    Raises
    ------
    InputError
        A value range no mel made as declared has; the message gives the cause and
        the declarations (and presets) the values fit.

    Warns
    -----
    MelDomainWarning
        Doubtful but possible values (a smaller floor, scattered exact zeros, a narrow dB range).
    MelLevelWarning
        A dB mel whose maximum is exactly 0 with ``ref=1``: made with ``ref=np.max``,
        its level is lost.
    """
    stats = MelStats.of(mel)
    misfits = mel_misfits(stats, spec)
    errors = [m for m in misfits if m.severity == "error"]
    if errors:
        fits = plausible_conventions(stats, spec)
        presets = matching_presets(mel, exclude=spec.name)
        fix = ""
        if fits:
            described = list(dict.fromkeys(describe(c, spec) for c in fits))
            fix += "; the values fit " + " or ".join(described[:3])
        if presets:
            fix += f"; presets with {spec.n_mels} bands they fit: {', '.join(presets)} (--spec NAME)"
        if not fits and not presets:
            fix += ("; declare the spec the mel was made with (compression, power, floor, ref); "
                    "if it was made from audio not scaled to [-1, 1] (int16 samples), divide "
                    "the audio by 32768 first")
        raise InputError(
            f"mel does not look like a {NAMES[spec.compression]} {spec.domain} mel as spec "
            f"{spec} declares: " + "; and ".join(m.reason for m in errors) + fix
        )
    for m in misfits:
        warnings.warn(f"mel values look doubtful for spec {spec}: {m.reason}", MelDomainWarning,
                      stacklevel=4)
    if spec.compression != "none" and looks_standardized(mel):
        warnings.warn(
            f"mel looks mean-variance normalised (mean {float(mel.mean()):.2f}, std "
            f"{float(mel.std()):.2f}, every band's mean near 0), not like a {NAMES[spec.compression]} "
            "mel: undo the normalisation first (e.g. ParallelWaveGAN/ESPnet feats: mel * scale + "
            "mean with the training stats.h5), or the audio is garbage",
            MelDomainWarning, stacklevel=4,
        )
    if spec.compression == "db" and stats.hi == 0.0 and spec.ref == 1.0 and stats.n_hi <= max(
            2, stats.n // 1000):
        warnings.warn(
            "mel is dB with a maximum of exactly 0 dB: it was made with ref=np.max (librosa "
            "power_to_db(S, ref=np.max)), which divided out the level; the output's level is "
            "lost (the loudest band comes out at ref=1). If you know the original maximum, "
            "pass it as the reference: --ref VALUE (melbench invert), ref=VALUE "
            "(melbench.invert) or spec.ref=VALUE (melbench run)",
            MelLevelWarning, stacklevel=4,
        )
