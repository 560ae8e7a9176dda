"""``synthetic``: deterministic test signals at the spec's rate.

Signals whose behaviour under inversion is known make quick sanity checks:
a logarithmic chirp (smooth frequency change), a harmonic tone with vibrato
(voiced-speech-like partials), an impulse train (transients, where phase
retrieval smears), seeded white noise (no structure to exploit) and a tone
interrupted by digital silence (log-floor and pre-echo behaviour).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..errors import ParameterError
from ..plugin import Dataset
from ..spec import FeatureSpec
from .base import Clip

#: Signal names, in the order they are yielded.
SIGNALS = ("chirp", "harmonic", "impulses", "noise", "silence_gap")


def _fade(y: np.ndarray, sr: int, seconds: float = 0.01) -> np.ndarray:
    n = min(int(seconds * sr), y.shape[-1] // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def synthetic_signal(kind: str, sample_rate: int, duration: float, seed: int = 0) -> np.ndarray:
    """One deterministic test signal, float32, peak amplitude at most 0.5.

    Parameters
    ----------
    kind : str
        "chirp" (log sweep 50 Hz -> 0.45 * sr), "harmonic" (f0 = 220 Hz, partials
        up to Nyquist with 1/k amplitudes, 5.5 Hz vibrato of +-2 %), "impulses"
        (100 Hz unit impulse train), "noise" (Gaussian white noise from ``seed``)
        or "silence_gap" (440 Hz tone whose middle third is exact zeros).
    sample_rate : int
        Rate in Hz.
    duration : float
        Seconds.
    seed : int
        Seed of the noise signal.

    Returns
    -------
    np.ndarray
        Mono float32 signal of ``round(duration * sample_rate)`` samples.
    """
    sr = int(sample_rate)
    n = int(round(duration * sr))
    if n <= 0:
        raise ParameterError(f"duration={duration} s gives no samples at {sr} Hz")
    t = np.arange(n) / sr
    if kind == "chirp":
        f0, f1 = 50.0, 0.45 * sr
        k = np.log(f1 / f0) / duration
        y = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
        y = _fade(0.5 * y, sr)
    elif kind == "harmonic":
        f0 = 220.0
        inst = f0 * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))
        phase = 2 * np.pi * np.cumsum(inst) / sr
        y = np.zeros(n)
        n_harm = max(1, int((sr / 2) // (f0 * 1.02)) - 1)
        for h in range(1, n_harm + 1):
            y += np.sin(h * phase) / h
        y = _fade(0.5 * y / np.max(np.abs(y)), sr)
    elif kind == "impulses":
        y = np.zeros(n)
        y[:: max(1, int(round(sr / 100.0)))] = 0.5
    elif kind == "noise":
        y = np.random.default_rng(seed).standard_normal(n)
        y = 0.5 * y / np.max(np.abs(y))
    elif kind == "silence_gap":
        y = 0.5 * np.sin(2 * np.pi * 440.0 * t)
        a, b = n // 3, 2 * n // 3
        y[:a] = _fade(y[:a].copy(), sr)
        y[b:] = _fade(y[b:].copy(), sr)
        y[a:b] = 0.0
    else:
        raise ParameterError(f"unknown synthetic signal {kind!r}; choose from {', '.join(SIGNALS)}")
    return y.astype(np.float32)


class Synthetic(Dataset):
    """Deterministic test signals (chirp, vibrato tone, impulses, noise, silence gap)."""

    name: ClassVar[str] = "synthetic"

    @dataclass
    class Params:
        """Parameters of the synthetic dataset.

        Attributes
        ----------
        duration : float
            Seconds per signal.
        signals : list of str
            Which signals (any of chirp, harmonic, impulses, noise, silence_gap).
        seed : int
            Seed of the white noise.
        """

        duration: float = 2.0
        signals: list[str] = field(default_factory=lambda: list(SIGNALS))
        seed: int = 0

    def validate(self) -> None:
        """Check the duration and the signal names."""
        if not self.params.duration > 0:
            raise ParameterError(f"duration={self.params.duration}: must be > 0 seconds")
        unknown = sorted(set(self.params.signals) - set(SIGNALS))
        if unknown:
            raise ParameterError(f"unknown synthetic signal(s) {unknown}; choose from {list(SIGNALS)}")
        if not self.params.signals:
            raise ParameterError(f"signals is empty; choose some of {list(SIGNALS)}")

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield one clip per selected signal at ``spec.sample_rate``."""
        for kind in self.params.signals:
            y = synthetic_signal(kind, spec.sample_rate, self.params.duration, self.params.seed)
            yield Clip(id=kind, audio=y, sample_rate=spec.sample_rate,
                       meta={"kind": "synthetic", "signal": kind})
