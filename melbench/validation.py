"""Input checks shared by every stage: clear messages naming the cause and the fix."""

from __future__ import annotations

import contextlib
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
        (:func:`melbench.mel_values.check_mel_values`: the level audio within [-1, 1] allows, the
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
            from .mel_values import check_mel_values

            check_mel_values(mel, spec)
        if np.any(mel < 0):
            from .mel_values import matching_presets

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
            from .mel_values import check_mel_values

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
    from .mel_values import NAMES, MelStats, describe, matching_presets, plausible_conventions

    mel = np.asarray(mel)
    fits = []
    if np.all(np.isfinite(mel)):
        stats = MelStats.of(mel)
        fits = list(dict.fromkeys(describe(c, spec) for c in plausible_conventions(stats, spec)))
    presets = matching_presets(mel, exclude=spec.name)
    hint = (f"; the mel's values also fit {' or '.join(fits[:3])}" if fits else "")
    hint += (f"; presets with {spec.n_mels} bands they fit: {', '.join(presets)}" if presets else "")
    raise InputError(
        f"output audio peaks at {peak:.3g}, {20 * np.log10(peak):.0f} dB above full scale: the "
        f"mel was probably not made as spec {spec} declares ({NAMES[spec.compression]}, "
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
