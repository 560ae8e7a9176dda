"""Input checks shared by every stage: clear messages naming the cause and the fix."""

from __future__ import annotations

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


def _check_finite(x: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(x)):
        n_nan = int(np.isnan(x).sum())
        n_inf = int(np.isinf(x).sum())
        raise InputError(
            f"{what} contains {n_nan} NaN and {n_inf} Inf values; fix the upstream model "
            "output (e.g. log of zero without a floor) before inverting"
        )


def check_mel(mel: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Validate a mel ``(..., n_mels, frames)`` in the domain ``spec`` describes.

    Raises
    ------
    InputError
        Wrong rank or band count (including a transposed array), NaN/Inf, or
        negative values where the spec says the mel is linear (not compressed).
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
    _check_finite(mel, "mel")
    if spec.compression == "none" and np.any(mel < 0):
        raise InputError(
            f"mel has negative values (min {float(mel.min()):.3g}) but spec {spec} says it is a "
            f"linear {spec.domain} mel (compression='none'); it is probably log- or "
            "dB-compressed: set spec.compression to 'ln', 'log10' or 'db' (with its floor) "
            "to match how it was made"
        )
    return mel


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
    _check_finite(y, what)
    return y
