"""Baselines: ``zero`` and ``random`` phase (no iteration)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..plugin import PhaseRetriever, initial_spectrogram
from ..spec import FeatureSpec


class ZeroPhase(PhaseRetriever):
    """Zero phase everywhere (or the warm start's phase, if given): the floor."""

    name: ClassVar[str] = "zero"
    counts_ffts: ClassVar[bool] = True
    iterations_param: ClassVar[str | None] = None

    def retrieve(self, magnitude, spec: FeatureSpec, *, init, rng, trace) -> np.ndarray:
        """Return ``magnitude`` as a complex array with zero phase."""
        return initial_spectrogram(magnitude, init, rng, how="zero")


class RandomPhase(PhaseRetriever):
    """Uniform random phase from the seeded generator (or the warm start's phase)."""

    name: ClassVar[str] = "random"
    counts_ffts: ClassVar[bool] = True
    iterations_param: ClassVar[str | None] = None

    def retrieve(self, magnitude, spec: FeatureSpec, *, init, rng, trace) -> np.ndarray:
        """Return ``magnitude * exp(i phi)`` with ``phi ~ U(-pi, pi)``."""
        return initial_spectrogram(magnitude, init, rng, how="random")
