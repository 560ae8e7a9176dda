"""Metrics the paper reproductions need: the magnitude step alone, and SC in a fixed STFT.

* ``mag_sc`` (column ``mag_sc_true_db``): spectral convergence of the *inverter's*
  magnitude against the reference's true magnitude, before any phase retrieval.
  It judges the mel -> linear magnitude step on its own (the librosa thread's
  "pinv beats transpose", "NNLS beats pinv").
* ``sc_fixed`` (column ``sc_fixed_db``): spectral convergence of the output
  audio against the reference, both analysed with one fixed STFT that does not
  depend on the run's spec. Marafioti et al. (2021) measure every redundancy in
  such a common representation (a Gaussian window, 2048 channels, hop 128), so
  numbers from specs with different hops stay comparable; ``sc_db`` measures in
  the run's own STFT, whose redundancy changes what "consistent" means.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError, SkipCell
from ..plugin import Metric
from ..spec import FeatureSpec
from .base import Missing
from .spectral import spectral_convergence_db


class MagnitudeSC(Metric):
    """SC of the inverter's magnitude against the true magnitude (``mag_sc_true_db``).

    References
    ----------
    .. [1] A. Marafioti, N. Holighaus and P. Majdak, "Time-frequency phase retrieval for audio:
       the effect of transform parameters," IEEE Trans. Signal Processing 69:3585-3596, 2021.
    """

    name: ClassVar[str] = "mag_sc"
    columns: ClassVar[tuple[str, ...]] = ("mag_sc_true_db",)
    better: ClassVar[dict[str, str]] = {"mag_sc_true_db": "lower"}
    needs_reference: ClassVar[bool] = True

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return ``mag_sc_true_db`` (the mel -> magnitude step alone; lower is better)."""
        true = ctx.get("true_magnitude")
        target = ctx.get("target_magnitude")
        if true is None or target is None:
            raise SkipCell("needs the reference audio's true magnitude")
        target = np.asarray(target)
        if not np.all(np.isfinite(target)):
            raise SkipCell("the inverter's magnitude has NaN or Inf values")
        value = spectral_convergence_db(true, target)
        return {"mag_sc_true_db": Missing("reference is silent") if value != value else value}


@functools.lru_cache(maxsize=16)
def _fixed_spec(sample_rate: int, n_fft: int, hop_length: int, window: str,
                win_length: int) -> FeatureSpec:
    return FeatureSpec(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                       win_length=win_length, window=window, center=True, pad_mode="constant",
                       n_mels=8, fmax=None, name="sc_fixed")


class FixedSC(Metric):
    """SC of the output against the reference in one fixed STFT, whatever the run's spec.

    The default analysis is Marafioti et al.'s (2021) common representation:
    2048 channels, hop 128, a Gaussian window of time-frequency ratio
    ``hop * n_fft`` (melbench's ``gaussian`` window of support 1240 samples has
    ``exp(-pi t^2 / 262144)``, truncated at 1% height). The SC is taken over the
    whole clip, frames near the edges included.

    References
    ----------
    .. [1] A. Marafioti, N. Holighaus and P. Majdak, "Time-frequency phase retrieval for audio:
       the effect of transform parameters," IEEE Trans. Signal Processing 69:3585-3596, 2021.
    """

    name: ClassVar[str] = "sc_fixed"
    columns: ClassVar[tuple[str, ...]] = ("sc_fixed_db",)
    better: ClassVar[dict[str, str]] = {"sc_fixed_db": "lower"}
    needs_reference: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of :class:`FixedSC`.

        Attributes
        ----------
        n_fft : int
            FFT length of the fixed analysis.
        hop_length : int
            Hop of the fixed analysis.
        window : str
            Window name (see :data:`melbench.stft.WINDOWS`).
        win_length : int
            Window support (<= n_fft); 0 means ``n_fft``.
        """

        n_fft: int = 2048
        hop_length: int = 128
        window: str = "gaussian"
        win_length: int = 1240

    def validate(self) -> None:
        """Check the analysis parameters by building the fixed spec once."""
        p = self.params
        try:
            _fixed_spec(16000, int(p.n_fft), int(p.hop_length), str(p.window),
                        int(p.win_length or p.n_fft))
        except ParameterError as exc:
            raise ParameterError(f"sc_fixed: {exc}") from exc

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return ``sc_fixed_db`` (lower is better)."""
        ref = ctx.get("reference")
        est = ctx.get("estimate")
        if ref is None or est is None:
            raise SkipCell("needs reference audio")
        est = np.asarray(est)
        if not np.all(np.isfinite(est)):
            raise SkipCell("estimate has NaN or Inf samples")
        p = self.params
        spec = _fixed_spec(int(ctx["sample_rate"]), int(p.n_fft), int(p.hop_length), str(p.window),
                           int(p.win_length or p.n_fft))
        ref = np.asarray(ref)
        n = min(ref.shape[-1], est.shape[-1])
        if n < spec.n_fft // 2 + 1:
            raise SkipCell(f"clip shorter than the fixed analysis frame ({spec.n_fft} samples)")
        value = spectral_convergence_db(spec.magnitude(ref[..., :n]), spec.magnitude(est[..., :n]))
        return {"sc_fixed_db": Missing("reference is silent") if value != value else value}
