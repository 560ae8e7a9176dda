"""A phase retriever written from the plugin guide: Griffin-Lim in a few lines.

This file is included verbatim in the documentation's plugin guide and executed by
``tests/test_docs.py``, which passes it through melbench's conformance checks
(:func:`melbench.testing.check_phase` and :func:`melbench.testing.check_framings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from melbench.errors import ParameterError
from melbench.phase.helpers import Tracer, phase_function
from melbench.plugin import PhaseRetriever, initial_spectrogram
from melbench.spec import FeatureSpec


@phase_function  # validates the input, makes the generator, returns complex64 for float32
def guide_gla(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    init: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    n_iter: int = 32,
    length: int | None = None,
) -> np.ndarray:
    """Griffin-Lim phase retrieval (Griffin & Lim 1984) with the spec's own STFT.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude, non-negative.
    spec : FeatureSpec
        The STFT convention (window, hop, framing) to be consistent with.
    n_iter : int
        Number of iterations (0 = return the initial phase).
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: a complex spectrogram (its phase is used) or phases in radians.
    rng : Generator or int, optional
        Source of the random initial phase when ``init`` is None.
    trace : list or melbench.phase.helpers.Trace, optional
        Receives one record per iteration ``k = 0 .. n_iter - 1`` (the plugin guide's
        keys): the spectral convergence of ``STFT(ISTFT(x_k))`` against ``magnitude``
        (``sc_db``) and, for a ``Trace`` with a reference, against it (``sc_true_db``).
        The last output is not measured (it would cost one more projection).
    length : int, optional
        Signal length the projections synthesise; default ``spec.n_samples(frames)``,
        the longest signal with these frames (``librosa.griffinlim`` uses the clip's
        length when given ``length=``; with the same length the numbers agree).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        Complex STFT with the target magnitude and the retrieved phase (complex64 for a
        float32 magnitude).

    References
    ----------
    .. [1] D. Griffin and J. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. ASSP 32(2), 236-243, 1984.
    """
    if int(n_iter) != n_iter or n_iter < 0:
        raise ParameterError(f"n_iter={n_iter!r}: must be an integer >= 0")
    tracer = Tracer(trace, magnitude)  # the clock starts here
    x = initial_spectrogram(magnitude, init, rng)
    length = spec.n_samples(magnitude.shape[-1]) if length is None else length
    tracer.mark()  # x_0 exists
    for k in range(n_iter):
        consistent = spec.stft(spec.istft(x, length=length))  # P1: project on consistent STFTs
        tracer.record(k, consistent)  # SC of x_k, free here (clock paused while measuring)
        x = magnitude * np.exp(1j * np.angle(consistent))  # P2: impose the magnitude
        tracer.mark()  # x_{k+1} exists
    return x


class GuideGLA(PhaseRetriever):
    """Griffin-Lim from the plugin guide (pure numpy, the spec's STFT)."""

    name: ClassVar[str] = "guide_gla"

    @dataclass
    class Params:
        """Parameters of ``guide_gla``.

        Attributes
        ----------
        n_iter : int
            Number of iterations.
        """

        n_iter: int = 32

    def validate(self) -> None:
        """Require a non-negative iteration count."""
        if self.params.n_iter < 0:
            raise ParameterError(f"n_iter={self.params.n_iter}: must be >= 0")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run :func:`guide_gla` with this plugin's parameters."""
        return guide_gla(magnitude, spec, n_iter=self.params.n_iter, init=init, rng=rng,
                         trace=trace)
