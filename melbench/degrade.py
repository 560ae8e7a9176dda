"""Degradation track: perturb the ground-truth mel before inversion, like a model would.

Results on ground-truth mels flatter every method; a model's mels are noisy,
over-smoothed and coarsely represented. Each degradation here works on the
natural-log mel (what acoustic models predict), whatever the spec's
compression, and returns the mel in the spec's own form:

* ``noise``: additive white Gaussian noise in the log-mel domain at a given
  SNR, where the signal power is the variance of the clip's log mel (so the
  SNR does not depend on the log base or on level).
* ``smooth``: Gaussian smoothing along time (frames) and frequency (bands).
* ``quantize``: uniform quantisation of the log mel to ``2**bits`` levels over
  the clip's range.

Select one in a run with ``melbench run degrade=noise degrade.snr_db=20``; the
row's ``degrade`` column carries its label (e.g. ``noise[snr_db=20]``). The
pipeline passes a seeded generator (``numpy.random.default_rng([seed, 1])``),
so the noise is reproducible.

Degradations are plugins of kind ``degrade`` (base class
:class:`melbench.plugin.Degradation`), registered in the entry-point group
``melbench.degradations`` like every other kind, so a package can add one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import registry
from .errors import ParameterError
from .plugin import Degradation
from .spec import FeatureSpec

#: Dynamic range kept below a clip's peak before taking the log of a linear mel, in dB.
FLOOR_DB = 80.0


def to_log(mel: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, float]:
    """Natural-log mel of a mel in the spec's form, and the linear floor used.

    The floor is the spec's ``floor`` raised, if needed, to :data:`FLOOR_DB` below
    the clip's peak (in the spec's domain), so that digital silence in an
    uncompressed mel does not dominate the log's statistics.
    """
    lin = spec.decompress(np.asarray(mel))
    peak = float(np.max(lin)) if lin.size else 0.0
    scale = 10.0 if spec.power == 2 else 20.0
    floor = max(float(spec.floor), peak * 10.0 ** (-FLOOR_DB / scale)) if peak > 0 else float(spec.floor)
    return np.log(np.maximum(lin, floor)), floor


def from_log(log_mel: np.ndarray, spec: FeatureSpec, dtype: Any) -> np.ndarray:
    """Back from the natural-log mel to the spec's form (linear or compressed)."""
    return spec.compress(np.exp(log_mel)).astype(dtype, copy=False)


def add_log_noise(
    mel: np.ndarray, spec: FeatureSpec, rng: np.random.Generator, snr_db: float
) -> np.ndarray:
    """Add white Gaussian noise to the log mel at ``snr_db`` (signal = log-mel variance)."""
    mel = np.asarray(mel)
    log_mel, _ = to_log(mel, spec)
    var = float(np.var(log_mel))
    if var == 0:
        var = 1.0
    sigma = np.sqrt(var / 10.0 ** (snr_db / 10.0))
    noisy = log_mel + sigma * rng.standard_normal(log_mel.shape)
    return from_log(noisy, spec, mel.dtype)


def smooth_log(
    mel: np.ndarray, spec: FeatureSpec, time_sigma: float, freq_sigma: float
) -> np.ndarray:
    """Gaussian-smooth the log mel over frames (``time_sigma``) and bands (``freq_sigma``)."""
    from scipy.ndimage import gaussian_filter1d

    mel = np.asarray(mel)
    log_mel, _ = to_log(mel, spec)
    out = log_mel.astype(np.float64)
    if time_sigma > 0:
        out = gaussian_filter1d(out, time_sigma, axis=-1, mode="nearest")
    if freq_sigma > 0:
        out = gaussian_filter1d(out, freq_sigma, axis=-2, mode="nearest")
    return from_log(out, spec, mel.dtype)


def quantize_log(mel: np.ndarray, spec: FeatureSpec, bits: int) -> np.ndarray:
    """Quantise the log mel uniformly to ``2**bits`` levels between its min and max."""
    mel = np.asarray(mel)
    log_mel, _ = to_log(mel, spec)
    lo, hi = float(log_mel.min()), float(log_mel.max())
    if hi <= lo:
        return mel.copy()
    step = (hi - lo) / (2**bits - 1)
    q = lo + np.round((log_mel - lo) / step) * step
    return from_log(q, spec, mel.dtype)


class NoDegradation(Degradation):
    """Leave the mel untouched (the ground-truth track)."""

    name: ClassVar[str] = "none"

    def __call__(self, mel: np.ndarray, spec: FeatureSpec, rng: np.random.Generator) -> np.ndarray:
        """Return ``mel`` unchanged."""
        return mel


class Noise(Degradation):
    """Additive white Gaussian noise in the log-mel domain at a given SNR."""

    name: ClassVar[str] = "noise"

    @dataclass
    class Params:
        """Parameters of the noise degradation.

        Attributes
        ----------
        snr_db : float
            Log-mel variance over noise variance, in dB (lower = noisier).
        """

        snr_db: float = 20.0

    def __call__(self, mel: np.ndarray, spec: FeatureSpec, rng: np.random.Generator) -> np.ndarray:
        """Add seeded noise."""
        return add_log_noise(mel, spec, rng, self.params.snr_db)


class Smooth(Degradation):
    """Gaussian smoothing of the log mel over time and frequency (over-smoothed predictions)."""

    name: ClassVar[str] = "smooth"

    @dataclass
    class Params:
        """Parameters of the smoothing degradation.

        Attributes
        ----------
        time_sigma : float
            Standard deviation in frames (0 = none).
        freq_sigma : float
            Standard deviation in mel bands (0 = none).
        """

        time_sigma: float = 1.0
        freq_sigma: float = 1.0

    def validate(self) -> None:
        """Require non-negative widths."""
        if self.params.time_sigma < 0 or self.params.freq_sigma < 0:
            raise ParameterError("time_sigma and freq_sigma must be >= 0")

    def __call__(self, mel: np.ndarray, spec: FeatureSpec, rng: np.random.Generator) -> np.ndarray:
        """Smooth."""
        return smooth_log(mel, spec, self.params.time_sigma, self.params.freq_sigma)


class Quantize(Degradation):
    """Uniform quantisation of the log mel to ``2**bits`` levels (coarse storage or codes)."""

    name: ClassVar[str] = "quantize"

    @dataclass
    class Params:
        """Parameters of the quantisation degradation.

        Attributes
        ----------
        bits : int
            Bits per value (1..24).
        """

        bits: int = 6

    def validate(self) -> None:
        """Require 1..24 bits."""
        if not 1 <= self.params.bits <= 24:
            raise ParameterError(f"bits={self.params.bits}: choose 1..24")

    def __call__(self, mel: np.ndarray, spec: FeatureSpec, rng: np.random.Generator) -> np.ndarray:
        """Quantise."""
        return quantize_log(mel, spec, self.params.bits)


def stage(node: Any) -> Degradation | None:
    """The degradation stage of a run from its config node, or None for the ground-truth track.

    Parameters
    ----------
    node : mapping, str or None
        ``{name: ..., <params>...}`` (a Hydra node or a dict) or a plugin name; looked up
        in the registry (kind ``degrade``, entry-point group ``melbench.degradations``),
        so third-party degradations work like the built-in ones.

    Returns
    -------
    Degradation or None
        None when ``node`` is None or names ``none`` (the pipeline then skips the stage).
    """
    if node is None:
        return None
    deg = registry.from_config("degrade", node)
    assert isinstance(deg, Degradation)
    return None if isinstance(deg, NoDegradation) else deg
