"""Deterministic synthetic test signals (numpy only), used by production code and tests.

:func:`conformance_signal` is the signal the conformance suite (:mod:`melbench.testing`)
checks plugins on and the one :mod:`melbench.runner` warms a cell's plugins up with;
it lives here so that production code does not import the test kit.
"""

from __future__ import annotations

import numpy as np


def conformance_signal(sample_rate: int = 16000, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A deterministic harmonic tone with vibrato plus a little noise.

    Parameters
    ----------
    sample_rate : int
        Samples per second.
    seconds : float
        Length; the signal has ``int(sample_rate * seconds)`` samples.
    seed : int
        Seed of the added noise (``numpy.random.default_rng(seed)``).

    Returns
    -------
    np.ndarray [shape=(int(sample_rate * seconds),), dtype=float32]
        Eleven harmonics of a 180 Hz tone with 3 % vibrato at 5 Hz under a half-sine
        envelope, plus white noise at 1 % of the tone's amplitude, normalised to a peak
        of 0.3.
    """
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    f0 = 180.0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    y = sum(np.sin(k * phase) / k for k in range(1, 12))
    y = y * (0.5 + 0.5 * np.sin(np.pi * t / seconds))
    y = y + 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)
