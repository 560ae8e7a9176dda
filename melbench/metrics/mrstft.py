"""Multi-resolution STFT distance: the Parallel WaveGAN auxiliary loss used as a metric.

Definition (Yamamoto, Song & Kim 2020, "Parallel WaveGAN", ICASSP, eq. 4-6, with the
resolutions and the clamping of the authors' code, ``parallel_wavegan/losses/stft_loss.py``):
for each resolution ``(n_fft, hop, win)`` the magnitude ``|X| = sqrt(max(re^2 + im^2,
1e-7))`` of a Hann-windowed STFT (periodic Hann of ``win`` samples zero-padded to
``n_fft`` at the centre, frames centred with reflect padding: ``torch.stft``'s
defaults), then

* spectral convergence ``L_sc = ||  |Y| - |X|  ||_F / || |Y| ||_F`` (``Y`` the reference),
* log STFT magnitude ``L_mag = mean |log|Y| - log|X| |`` over bins and frames,

each averaged over the resolutions; the distance is ``L_sc + L_mag`` (lower is
better, 0 for identical signals). Default resolutions (1024, 120, 600), (2048, 240,
1200), (512, 50, 240), in samples at the spec's rate (the paper's are at 24 kHz).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError, SkipCell
from ..plugin import Metric
from .base import Missing
from .material import check_pair

#: Parallel WaveGAN's resolutions: (n_fft, hop, window length) in samples.
PWG_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
#: Floor of the power spectrum before the square root (the authors' clamp).
POWER_FLOOR = 1e-7


def stft_magnitude(y: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    """``|STFT|`` as ``torch.stft(center=True, pad_mode="reflect")`` computes it, floored.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Signal ``(n_samples,)``; needs more than ``n_fft // 2`` samples (reflect padding).
    n_fft, hop, win : int
        FFT size, hop and Hann window length (``win <= n_fft``).

    Returns
    -------
    np.ndarray [shape=(n_fft // 2 + 1, 1 + n_samples // hop)]
        float64 ``sqrt(max(|X|^2, 1e-7))``, shape ``(n_fft // 2 + 1, 1 + n_samples // hop)``.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size <= n_fft // 2:
        raise SkipCell(f"clip has {y.size} samples; the {n_fft}-point STFT's reflect padding needs "
                       f"more than {n_fft // 2}")
    window = np.zeros(n_fft)
    left = (n_fft - win) // 2
    window[left:left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    padded = np.pad(y, n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spec = np.fft.rfft(frames * window, axis=-1)
    power = spec.real**2 + spec.imag**2
    return np.sqrt(np.maximum(power, POWER_FLOOR)).T


def mrstft_distance(
    reference: np.ndarray, estimate: np.ndarray,
    resolutions: Sequence[Sequence[int]] = PWG_RESOLUTIONS,
) -> tuple[float, float]:
    """Spectral convergence and log-magnitude L1, each averaged over the resolutions.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n_samples,)]
        Time-aligned mono signals ``(n_samples,)`` of equal length.
    resolutions : sequence of (n_fft, hop, win)
        STFT resolutions in samples.

    Returns
    -------
    sc : float
        Mean spectral convergence (linear ratio, 0 is a perfect match).
    log_mag : float
        Mean L1 distance of natural-log magnitudes (0 is a perfect match).
        Their sum is the Parallel WaveGAN multi-resolution STFT loss.
    """
    sc, mag = [], []
    for n_fft, hop, win in resolutions:
        r = stft_magnitude(reference, n_fft, hop, win)
        e = stft_magnitude(estimate, n_fft, hop, win)
        sc.append(np.linalg.norm(r - e) / np.linalg.norm(r))
        mag.append(np.mean(np.abs(np.log(r) - np.log(e))))
    return float(np.mean(sc)), float(np.mean(mag))


class MultiResolutionSTFT(Metric):
    """Multi-resolution STFT distance (Parallel WaveGAN loss): SC + log-magnitude L1.

    Columns ``mrstft`` (the sum, the published loss), ``mrstft_sc`` (spectral
    convergence, linear) and ``mrstft_logmag`` (mean absolute natural-log magnitude
    difference), each averaged over the resolutions; lower is better. Needs
    reference audio; numpy only.

    References
    ----------
    .. [1] R. Yamamoto, E. Song and J.-M. Kim, "Parallel WaveGAN: a fast waveform generation
       model based on generative adversarial networks with multi-resolution spectrogram," ICASSP
       2020.
    """

    name: ClassVar[str] = "mrstft"
    columns: ClassVar[tuple[str, ...]] = ("mrstft", "mrstft_sc", "mrstft_logmag")
    better: ClassVar[dict[str, str]] = {c: "lower" for c in columns}
    needs_reference: ClassVar[bool] = True
    deferred: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of the multi-resolution STFT distance.

        Attributes
        ----------
        resolutions : list of [n_fft, hop, win]
            STFT resolutions in samples (default: Parallel WaveGAN's).
        """

        resolutions: list = field(default_factory=lambda: [list(r) for r in PWG_RESOLUTIONS])

    def validate(self) -> None:
        """Check each resolution is three positive integers with ``hop <= win <= n_fft``."""
        res = self.params.resolutions
        if not res:
            raise ParameterError("mrstft resolutions is empty; give [[n_fft, hop, win], ...]")
        for r in res:
            ok = (isinstance(r, (list, tuple)) and len(r) == 3
                  and all(isinstance(v, (int, np.integer)) and v > 0 for v in r)
                  and r[1] <= r[2] <= r[0])
            if not ok:
                raise ParameterError(f"mrstft resolution {r!r}: give [n_fft, hop, win] as positive "
                                     "integers with hop <= win <= n_fft")

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Return the three columns (a reason for all three if the pair cannot be scored)."""
        try:
            ref, est = check_pair(ctx["reference"], ctx["estimate"])
            sc, mag = mrstft_distance(ref, est, [tuple(r) for r in self.params.resolutions])
        except SkipCell as exc:
            return dict.fromkeys(self.columns, Missing(str(exc)))
        return {"mrstft": sc + mag, "mrstft_sc": sc, "mrstft_logmag": mag}
