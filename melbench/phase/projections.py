"""Projection-family phase retrieval: Griffin-Lim (GLA) and fast Griffin-Lim (FGLA).

Notation: ``P1(X) = STFT(ISTFT(X))`` projects on consistent spectrograms with the
spec's own window and hop; ``P2(X) = A X / |X|`` imposes the target magnitude A.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ParameterError
from ..plugin import PhaseRetriever, initial_spectrogram
from ..spec import FeatureSpec

_EPS = 1e-12


def project_magnitude(x: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """``P2``: keep the phase of ``x``, impose ``magnitude`` (phase of 0 is 0)."""
    a = np.abs(x)
    return x * (magnitude / np.maximum(a, _EPS))


def project_consistent(x: np.ndarray, spec: FeatureSpec, length: int) -> np.ndarray:
    """``P1``: STFT of the ISTFT of ``x`` (nearest consistent spectrogram)."""
    return spec.stft(spec.istft(x, length=length), dtype=np.float64 if x.dtype == np.complex128 else np.float32)


def _sc_db(magnitude: np.ndarray, x: np.ndarray) -> float:
    num = np.linalg.norm(np.abs(x) - magnitude)
    den = max(float(np.linalg.norm(magnitude)), _EPS)
    return float(20 * np.log10(max(num / den, 1e-30)))


def fgla(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 100,
    alpha: float = 0.99,
    init: np.ndarray | None = None,
    init_method: str = "random",
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013); ``alpha=0`` is GLA.

    ``t_n = P1(P2(c_{n-1}))``, ``c_n = t_n + alpha (t_n - t_{n-1})``.

    Parameters
    ----------
    magnitude : np.ndarray, shape (..., n_freq, frames)
        Target linear magnitude.
    spec : FeatureSpec
        STFT contract.
    n_iter : int
        Number of iterations (one ISTFT + STFT each).
    alpha : float
        Momentum in [0, 1]; 0 gives Griffin-Lim.
    init : np.ndarray, optional
        Warm start: complex spectrogram or phases.
    init_method : {"random", "zero"}
        Initial phase when ``init`` is None.
    rng : Generator or int, optional
        Seed for the random initial phase.
    trace : list, optional
        Receives ``{"iter", "sc_db"}`` per iteration (SC of the consistent iterate).

    Returns
    -------
    np.ndarray
        Complex STFT ``c_N`` (shape of ``magnitude``).
    """
    rng = np.random.default_rng(rng)
    length = spec.n_samples(magnitude.shape[-1])
    c = initial_spectrogram(magnitude, init, rng, how=init_method)
    t_prev = None
    for it in range(n_iter):
        t = project_consistent(project_magnitude(c, magnitude), spec, length)
        c = t if (t_prev is None or alpha == 0) else t + alpha * (t - t_prev)
        t_prev = t
        if trace is not None:
            trace.append({"iter": it + 1, "sc_db": _sc_db(magnitude, t)})
    return c


class GLA(PhaseRetriever):
    """Griffin-Lim: alternate projections on consistency and on the magnitude."""

    name: ClassVar[str] = "gla"

    @dataclass
    class Params:
        """Parameters of GLA.

        Attributes
        ----------
        n_iter : int
            Iterations.
        init : str
            "random" (seeded) or "zero" initial phase.
        """

        n_iter: int = 100
        init: str = "random"

    def validate(self) -> None:
        """Check ``n_iter >= 0`` and the init choice."""
        if self.params.n_iter < 0:
            raise ParameterError(f"n_iter={self.params.n_iter} < 0")
        if self.params.init not in ("random", "zero"):
            raise ParameterError(f"init={self.params.init!r}; choose 'random' or 'zero'")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run GLA."""
        return fgla(magnitude, spec, n_iter=self.params.n_iter, alpha=0.0, init=init,
                    init_method=self.params.init, rng=rng, trace=trace)


class FGLA(GLA):
    """Fast Griffin-Lim: GLA with momentum ``alpha`` on the consistent iterate."""

    name: ClassVar[str] = "fgla"

    @dataclass
    class Params:
        """Parameters of FGLA.

        Attributes
        ----------
        n_iter : int
            Iterations.
        alpha : float
            Momentum, in [0, 1] (0.99 as in the paper and librosa).
        init : str
            "random" (seeded) or "zero" initial phase.
        """

        n_iter: int = 100
        alpha: float = 0.99
        init: str = "random"

    def validate(self) -> None:
        """Check parameters."""
        super().validate()
        if not 0 <= self.params.alpha <= 1:
            raise ParameterError(f"alpha={self.params.alpha} outside [0, 1] (unstable above 1)")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run FGLA."""
        return fgla(magnitude, spec, n_iter=self.params.n_iter, alpha=self.params.alpha,
                    init=init, init_method=self.params.init, rng=rng, trace=trace)
