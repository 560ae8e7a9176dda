"""Spectral convergence in the linear-magnitude and mel domains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..errors import SkipCell
from ..plugin import Metric


def spectral_convergence_db(target: np.ndarray, estimate: np.ndarray) -> float:
    """Spectral convergence ``20 log10(||T - E||_F / ||T||_F)`` in dB (lower is better).

    Parameters
    ----------
    target, estimate : np.ndarray
        Non-negative magnitudes of equal shape.

    Returns
    -------
    float
        SC in dB; ``-inf`` for a perfect match, NaN if the target is all zero.
    """
    target = np.asarray(target, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if target.shape != estimate.shape:
        raise ValueError(f"shapes differ: target {target.shape} vs estimate {estimate.shape}")
    den = np.linalg.norm(target)
    if den == 0:
        return float("nan")
    num = np.linalg.norm(target - estimate)
    return float(20 * np.log10(num / den)) if num > 0 else float("-inf")


class SpectralConvergence(Metric):
    """SC of the output's re-analysed magnitude against the target and the true magnitude.

    Columns: ``sc_db`` (against the magnitude the phase stage was given: the
    inverter's output; measures consistency) and ``sc_true_db`` (against the
    reference audio's true STFT magnitude; measures the whole pipeline).
    """

    name: ClassVar[str] = "sc"
    columns: ClassVar[tuple[str, ...]] = ("sc_db", "sc_true_db")
    better: ClassVar[dict[str, str]] = {"sc_db": "lower", "sc_true_db": "lower"}
    needs_reference: ClassVar[bool] = False

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return both SC values (``sc_true_db`` NaN without reference audio)."""
        est = ctx["estimate_magnitude"]
        out = {"sc_db": spectral_convergence_db(ctx["target_magnitude"], est)}
        true = ctx.get("true_magnitude")
        out["sc_true_db"] = spectral_convergence_db(true, est) if true is not None else float("nan")
        return out


class MelSpectralConvergence(Metric):
    """SC in the linear mel domain: the given mel against the output's mel (``mel_sc_db``)."""

    name: ClassVar[str] = "mel_sc"
    columns: ClassVar[tuple[str, ...]] = ("mel_sc_db",)
    better: ClassVar[dict[str, str]] = {"mel_sc_db": "lower"}
    needs_reference: ClassVar[bool] = False

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return ``mel_sc_db``."""
        spec = ctx["spec"]
        target = ctx["mel_linear"]
        if target is None:
            raise SkipCell("no mel in context")
        est = spec.mel_from_magnitude(ctx["estimate_magnitude"], compress=False)
        return {"mel_sc_db": spectral_convergence_db(target, est)}
