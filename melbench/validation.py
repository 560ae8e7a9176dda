"""Input checks shared by every stage: clear messages naming the cause and the fix."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
import warnings
from collections.abc import Iterator

import numpy as np

from .errors import InputError
from .spec import FeatureSpec


def _as_float(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise InputError(f"{what} is complex; pass a real (magnitude/power/log) array")
    if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
        raise InputError(f"{what} has dtype {x.dtype}; expected a floating-point array")
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


def _check_finite(x: np.ndarray, what: str, hint: str | None = None) -> None:
    if not np.all(np.isfinite(x)):
        n_nan = int(np.isnan(x).sum())
        n_inf = int(np.isinf(x).sum())
        hint = hint or ("fix the upstream model output (e.g. log of zero without a floor) "
                        "before inverting")
        raise InputError(f"{what} contains {n_nan} NaN and {n_inf} Inf values; {hint}")


class MelbenchWarning(UserWarning):
    """Base class of melbench's warnings (legal but doubtful input)."""


@contextlib.contextmanager
def plain_warnings(prog: str = "melbench") -> Iterator[None]:
    """Show melbench's warnings as ``prog: warning: message`` lines, without source lines.

    For the command line: Python's default format prints the file, line and source
    line of the ``warnings.warn`` call, which mean nothing to the user. Each message
    is shown once. Other warnings keep Python's format.
    """
    original = warnings.showwarning
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if isinstance(category, type) and issubclass(category, MelbenchWarning):
            text = str(message)
            if text not in seen:
                seen.add(text)
                print(f"{prog}: warning: {text}", file=sys.stderr, flush=True)
            return
        original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


class EmptyMelBandWarning(MelbenchWarning):
    """Some mel bands contain no FFT bin: the filterbank is rank-deficient."""


class MelDomainWarning(MelbenchWarning):
    """The mel's values look like another domain than the spec says."""


class MelLevelWarning(MelbenchWarning):
    """The mel's absolute level is unknown (e.g. a ``ref=np.max`` dB mel): the output's is too."""


class OutputLevelWarning(MelbenchWarning):
    """The output audio peaks well above full scale."""


@functools.lru_cache(maxsize=64)
def empty_mel_bands(spec: FeatureSpec) -> tuple[int, ...]:
    """Indices of mel bands whose triangle contains no FFT bin for this n_fft/fmin/fmax.

    Such a band is all zero in the filterbank: its mel value carries no
    information and the filterbank is rank-deficient (too many bands for the
    frequency resolution, typically at low frequencies with a small ``n_fft``).
    """
    basis = spec.mel_basis(np.float64)
    return tuple(int(i) for i in np.flatnonzero(~np.any(basis > 0, axis=1)))


def _warn_empty_bands(spec: FeatureSpec) -> None:
    empty = empty_mel_bands(spec)
    if empty:
        shown = ", ".join(str(i) for i in empty[:8]) + (", ..." if len(empty) > 8 else "")
        warnings.warn(
            f"{len(empty)} of {spec.n_mels} mel bands (index {shown}) contain no FFT bin for "
            f"n_fft={spec.n_fft}, fmin={spec.fmin:g}, fmax={spec.f_max:g} Hz at "
            f"{spec.sample_rate} Hz: the filterbank is rank-deficient and those bands carry no "
            "information; use fewer mel bands or a larger n_fft",
            EmptyMelBandWarning,
            stacklevel=3,
        )


def _guess_log_domain(mel: np.ndarray) -> str:
    """Name the compression a negative-valued 'linear' mel most likely has."""
    lo, hi = float(mel.min()), float(mel.max())
    if lo < -30 or hi > 30:
        return f"it looks dB-scaled (values down to {lo:.3g}): set compression='db' (and ref)"
    if lo >= -6:
        return (
            f"its range [{lo:.3g}, {hi:.3g}] looks like log10: set compression='log10' "
            "(or 'ln' if it was made with the natural log)"
        )
    return (
        f"its range [{lo:.3g}, {hi:.3g}] looks like a natural log (e.g. ln with floor 1e-5 "
        "gives -11.5): set compression='ln' (or 'log10')"
    )


# --------------------------------------------------------------------------- value ranges
#
# What the values of a mel say about how it was made. Each declared convention
# (compression, power, floor, ref) bounds the values a real mel can have; a mel outside
# those bounds was made another way, and inverting it as declared gives garbage.

#: Amplitude headroom over full scale allowed before a mel is called impossible (x10 = +20 dB).
HEADROOM = 10.0
#: A value repeated in at least this fraction of a mel's entries is a clipped floor.
FLOOR_FRACTION = 0.005
#: Fraction of exact zeros that makes a declared log/dB mel suspicious.
ZERO_FRACTION = 0.05
#: Powers of ten accepted as "round" floors (1e-3 ... 1e-24), e.g. librosa's amin=1e-10.
_FLOOR_EXPONENTS = range(3, 25)


def min_frames(spec: FeatureSpec) -> int:
    """Smallest frame count whose natural signal length (``spec.n_samples``) is >= 1 sample."""
    n = 1
    while spec.n_samples(n) < 1:
        n += 1
    return n


def check_frames(n_frames: int, spec: FeatureSpec, what: str = "mel") -> None:
    """Require enough frames to synthesise audio (a one-frame centred mel gives none).

    Raises
    ------
    InputError
        If ``n_frames`` frames give no sample of audio under the spec's framing.
    """
    need = min_frames(spec)
    if n_frames < need:
        framing = getattr(spec, "framing", "center" if spec.center else "none")
        raise InputError(
            f"{what} has {n_frames} frame(s): with spec {spec} (n_fft={spec.n_fft}, hop_length="
            f"{spec.hop_length}, framing {framing!r}) that is less than one hop of audio "
            f"({spec.n_samples(n_frames)} samples); at least {need} frames are needed: pass the "
            "whole utterance's mel, not a single frame"
        )


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
_NAMES = {"ln": "natural-log (ln)", "log10": "log10", "db": "dB", "none": "linear"}


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
            f"its maximum {stats.hi:.4g} is, undone as declared ({_NAMES[comp]}, {spec.domain}), a "
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
            alt = " or ".join(f"{_NAMES[c]} mel with floor 1e-{k}" if c != "db" else
                              "dB mel (its amin, or top_db below the maximum)"
                              for c, k in sigs.items())
            out.append(Misfit(
                f"its minimum {sig:.5g} repeats in {100 * stats.lo_fraction:.1f}% of the values "
                f"(a clipped floor), and {sig:.5g} is the floor of a {alt}, not of a "
                f"{_NAMES[comp]} mel", "error"))
        elif comp in sigs and abs(sig - floor_c) > 1e-3 * max(1.0, abs(floor_c)) and comp != "db":
            out.append(Misfit(
                f"its clipped floor {sig:.5g} is {comp}(1e-{sigs[comp]}), not the declared "
                f"floor={spec.floor:g}: set floor=1e-{sigs[comp]}", "warning"))
    if stats.lo < far:
        dbish = (comp == "ln" and stats.lo < -40) or (comp == "log10" and stats.lo < -20)
        out.append(Misfit(
            f"it has values down to {stats.lo:.4g}, far below {comp}(floor={spec.floor:g}) = "
            f"{floor_c:.4g}, which a {_NAMES[comp]} mel clipped at its floor never goes below"
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
                f"a {_NAMES[comp]} mel reads as linear {_decompress_scalar(0.0, comp, power, spec.ref):g} "
                "(loud): batch padding? crop the mel to its true length (or pad with "
                f"{floor_c:.4g}, the compressed floor)", "error"))
        else:
            out.append(Misfit(
                f"{100 * stats.zero_fraction:.0f}% of its values are exactly 0, which a "
                f"{_NAMES[comp]} mel has only where the linear mel is exactly "
                f"{_decompress_scalar(0.0, comp, power, spec.ref):g}", "warning"))
    if comp == "db" and stats.hi - stats.lo < 20 and -25 < stats.lo and stats.hi < 12 \
            and stats.hi != 0.0:
        out.append(Misfit(
            f"its range [{stats.lo:.3g}, {stats.hi:.3g}] spans only {stats.hi - stats.lo:.1f} dB, "
            "where ln/log10 mels lie; a dB mel of real audio usually spans 60-100 dB", "warning"))
    return out


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


def _describe(cand: FeatureSpec, spec: FeatureSpec) -> str:
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
            described = list(dict.fromkeys(_describe(c, spec) for c in fits))
            fix += "; the values fit " + " or ".join(described[:3])
        if presets:
            fix += f"; presets with {spec.n_mels} bands they fit: {', '.join(presets)} (--spec NAME)"
        if not fits and not presets:
            fix += ("; declare the spec the mel was made with (compression, power, floor, ref); "
                    "if it was made from audio not scaled to [-1, 1] (int16 samples), divide "
                    "the audio by 32768 first")
        raise InputError(
            f"mel does not look like a {_NAMES[spec.compression]} {spec.domain} mel as spec "
            f"{spec} declares: " + "; and ".join(m.reason for m in errors) + fix
        )
    for m in misfits:
        warnings.warn(f"mel values look doubtful for spec {spec}: {m.reason}", MelDomainWarning,
                      stacklevel=4)
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


def check_mel(mel: np.ndarray, spec: FeatureSpec, *, values: bool = False) -> np.ndarray:
    """Validate a mel ``(..., n_mels, frames)`` in the domain ``spec`` describes.

    Parameters
    ----------
    mel : np.ndarray
        The mel exactly as ``spec`` describes it (linear or compressed), with any
        leading batch axes.
    spec : FeatureSpec
        The contract the mel was made with.
    values : bool
        Also check the values against the declared convention
        (:func:`check_mel_values`: the level audio within [-1, 1] allows, the
        floor, exact zeros, a ``ref=np.max`` dB mel). Done where a user's mel
        enters (``melbench.invert``, ``melbench invert``, ``dataset=mels``, a
        clip's given mel), not inside inverters, which accept any scale.

    Returns
    -------
    np.ndarray
        The mel as float32 (or float64 if it was float64).

    Raises
    ------
    InputError
        Wrong rank or band count (including a transposed array), no frames,
        NaN/Inf, negative values where the spec says the mel is linear (the
        message guesses the compression from the range), or compressed values so
        large that undoing the compression overflows (a linear mel given with a
        log spec).

    Warns
    -----
    EmptyMelBandWarning
        Bands with no FFT bin (rank-deficient filterbank).
    MelDomainWarning
        A mel declared log/dB-compressed whose every value is >= 0, i.e. every band
        at or above 1 (or ``ref``) in linear terms: typical of a linear mel passed
        with a log spec.
    """
    mel = _as_float(mel, "mel")
    if mel.ndim < 2:
        raise InputError(
            f"mel must have shape (..., n_mels={spec.n_mels}, frames); got shape {mel.shape}"
        )
    if mel.shape[-2] != spec.n_mels:
        if mel.shape[-1] == spec.n_mels:
            raise InputError(
                f"mel has shape {mel.shape}: it looks transposed (frames x n_mels); "
                f"melbench expects (..., n_mels={spec.n_mels}, frames): pass mel.T "
                "(or np.swapaxes(mel, -1, -2))"
            )
        raise InputError(
            f"mel has {mel.shape[-2]} bands (shape {mel.shape}) but spec {spec} has "
            f"n_mels={spec.n_mels}; choose the spec that made this mel (e.g. spec.n_mels="
            f"{mel.shape[-2]})"
        )
    if mel.shape[-1] == 0:
        raise InputError(f"mel has no frames (shape {mel.shape})")
    if not np.all(np.isfinite(mel)):
        n_nan = int(np.isnan(mel).sum())
        n_inf = int(np.isinf(mel).sum())
        n_neginf = int(np.isneginf(mel).sum())
        if n_neginf and not n_nan:
            hint = (
                "a log of zero without a floor gives -Inf: clip to a floor before the log "
                f"(spec.floor={spec.floor:g})"
            )
        elif n_nan:
            hint = (
                "NaN comes from the model itself (a diverged or masked output) or from 0/0 or "
                "the log of a negative number upstream, not from a missing log floor: check "
                "the model output with np.isnan(mel).any()"
                + (f"; the -Inf values come from a log of zero (clip to spec.floor={spec.floor:g} "
                   "before the log)" if n_neginf else "")
            )
        else:
            hint = "+Inf means an overflow upstream: fix the model output"
        raise InputError(
            f"mel contains {n_nan} NaN and {n_inf} Inf values; {hint}, or replace them "
            "(np.nan_to_num) before inverting"
        )
    if spec.compression == "none":
        if values and not np.any(mel < 0):
            check_mel_values(mel, spec)
        if np.any(mel < 0):
            presets = matching_presets(mel, exclude=spec.name)
            raise InputError(
                f"mel has negative values (min {float(mel.min()):.3g}) but spec {spec} says it "
                f"is a linear {spec.domain} mel (compression='none'); it is probably log- or "
                f"dB-compressed: {_guess_log_domain(mel)} (with its floor) in the spec, to "
                "match how it was made"
                + (f"; presets with {spec.n_mels} bands it fits: {', '.join(presets)} "
                   "(--spec NAME; they differ in sample rate and framing)" if presets else "")
            )
    else:
        hi = float(mel.max())
        with np.errstate(over="ignore"):
            linear_max = float(spec.decompress(np.float64(hi)))
        if not linear_max <= 1e30:
            raise InputError(
                f"mel has values up to {hi:.3g}, but spec {spec} says it is "
                f"{spec.compression}-compressed: undoing that gives {linear_max:.3g}, far beyond "
                "any spectrogram; it is probably a linear mel: set compression='none'"
            )
        if values:
            check_mel_values(mel, spec)
        if float(mel.min()) >= 0 and mel.size >= 2 * spec.n_mels and not np.any(mel == 0):
            warnings.warn(
                f"mel is declared {spec.compression}-compressed but every value is >= 0 "
                f"(range [{float(mel.min()):.3g}, {hi:.3g}]), i.e. every band of every frame is "
                f"at or above {'ref' if spec.compression == 'db' else '1'} in linear terms, "
                "which real log mels (with quiet bands) rarely are; if this is a linear mel, "
                "set compression='none'",
                MelDomainWarning,
                stacklevel=3,
            )
    _warn_empty_bands(spec)
    return mel


#: Output peaks above this (x full scale, +20 dB) mean the mel was declared wrongly.
OUTPUT_PEAK_LIMIT = 10.0


def check_output_level(y: np.ndarray, mel: np.ndarray, spec: FeatureSpec) -> None:
    """Refuse synthesised audio that peaks far above full scale, naming the likely cause.

    Parameters
    ----------
    y : np.ndarray
        The synthesised audio ``(..., n_samples)``.
    mel : np.ndarray
        The mel it came from (as declared by ``spec``), to propose declarations it fits.
    spec : FeatureSpec
        The declared convention.

    Raises
    ------
    InputError
        If ``max |y| > OUTPUT_PEAK_LIMIT``: no mel of audio within [-1, 1] inverts to
        that, so the mel was made with another convention (power vs magnitude, dB vs
        ln/log10, ref) or from unnormalised audio.
    """
    y = np.asarray(y)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if not peak > OUTPUT_PEAK_LIMIT:
        return
    mel = np.asarray(mel)
    fits = []
    if np.all(np.isfinite(mel)):
        stats = MelStats.of(mel)
        fits = list(dict.fromkeys(_describe(c, spec) for c in plausible_conventions(stats, spec)))
    presets = matching_presets(mel, exclude=spec.name)
    hint = (f"; the mel's values also fit {' or '.join(fits[:3])}" if fits else "")
    hint += (f"; presets with {spec.n_mels} bands they fit: {', '.join(presets)}" if presets else "")
    raise InputError(
        f"output audio peaks at {peak:.3g}, {20 * np.log10(peak):.0f} dB above full scale: the "
        f"mel was probably not made as spec {spec} declares ({_NAMES[spec.compression]}, "
        f"{spec.domain}, floor={spec.floor:g}, ref={spec.ref:g}); typical causes: a power mel "
        "declared power=1 (magnitude), a dB mel declared ln/log10, a wrong ref, or a mel made "
        f"from audio not scaled to [-1, 1]{hint}"
    )


def check_magnitude(magnitude: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Validate a linear magnitude ``(..., n_freq, frames)`` for phase retrieval."""
    magnitude = _as_float(magnitude, "magnitude")
    if magnitude.ndim < 2 or magnitude.shape[-2] != spec.n_freq:
        raise InputError(
            f"magnitude must have shape (..., n_freq={spec.n_freq}, frames) for n_fft="
            f"{spec.n_fft}; got {magnitude.shape}"
        )
    _check_finite(magnitude, "magnitude")
    if np.any(magnitude < 0):
        raise InputError(
            f"magnitude has negative values (min {float(magnitude.min()):.3g}); a linear "
            "magnitude is >= 0 (is it log-compressed?)"
        )
    return magnitude


def check_audio(y: np.ndarray, what: str = "audio") -> np.ndarray:
    """Validate mono audio ``(..., n_samples)``: real, finite, non-empty."""
    y = _as_float(y, what)
    if y.ndim == 0 or y.shape[-1] == 0:
        raise InputError(f"{what} is empty (shape {y.shape})")
    _check_finite(y, what, "audio samples must be finite: the file or array is damaged or was "
                  "written from a failed computation (a float wav can store NaN); re-export "
                  "it, or replace the bad samples (np.nan_to_num) if they are few")
    return y
