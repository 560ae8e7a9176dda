"""Baselines: ``zero`` and ``random`` phase (no iteration)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..plugin import PhaseRetriever, initial_spectrogram
from ..spec import FeatureSpec
from .helpers import phase_function

_SHARED = """
    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Linear magnitude (non-negative, finite).
    spec : FeatureSpec
        STFT contract (only its bin count is checked).
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start (complex spectrogram or phases): its phase is returned.
    rng : Generator or int, optional
        Source of the random phase.
    trace : list, optional
        Not written (nothing iterates).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        Complex spectrogram, complex64 for float32 input.

    References
    ----------
    .. [1] N. Sturmel and L. Daudet, "Signal reconstruction from STFT magnitude: a state of
       the art," Proc. DAFx 2011 (trivial phases as the baselines of phase retrieval).
"""


@phase_function
def zero_phase(magnitude: np.ndarray, spec: FeatureSpec, *, init: np.ndarray | None = None,
               rng: np.random.Generator | int | None = None,
               trace: list | None = None) -> np.ndarray:
    """Zero phase everywhere (or the warm start's phase): the floor."""
    return initial_spectrogram(magnitude, init, rng, how="zero")


@phase_function
def random_phase(magnitude: np.ndarray, spec: FeatureSpec, *, init: np.ndarray | None = None,
                 rng: np.random.Generator | int | None = None,
                 trace: list | None = None) -> np.ndarray:
    """Uniform random phase ``U(-pi, pi)`` from the seeded generator (or the warm start's)."""
    return initial_spectrogram(magnitude, init, rng, how="random")


zero_phase.__doc__ += "\n" + _SHARED
random_phase.__doc__ += "\n" + _SHARED


class ZeroPhase(PhaseRetriever):
    """Zero phase everywhere (or the warm start's phase, if given): the floor.

    References
    ----------
    .. [1] N. Sturmel and L. Daudet, "Signal reconstruction from STFT magnitude: a state of
       the art," Proc. DAFx 2011.
    """

    name: ClassVar[str] = "zero"
    counts_ffts: ClassVar[bool] = True
    iterations_param: ClassVar[str | None] = None

    def retrieve(self, magnitude, spec: FeatureSpec, *, init, rng, trace) -> np.ndarray:
        """Run :func:`zero_phase`."""
        return zero_phase(magnitude, spec, init=init, rng=rng, trace=trace)


class RandomPhase(PhaseRetriever):
    """Uniform random phase from the seeded generator (or the warm start's phase).

    References
    ----------
    .. [1] N. Sturmel and L. Daudet, "Signal reconstruction from STFT magnitude: a state of
       the art," Proc. DAFx 2011.
    """

    name: ClassVar[str] = "random"
    counts_ffts: ClassVar[bool] = True
    iterations_param: ClassVar[str | None] = None

    def retrieve(self, magnitude, spec: FeatureSpec, *, init, rng, trace) -> np.ndarray:
        """Run :func:`random_phase`."""
        return random_phase(magnitude, spec, init=init, rng=rng, trace=trace)
