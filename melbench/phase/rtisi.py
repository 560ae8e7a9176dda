"""Real-time iterative spectrogram inversion with look-ahead (RTISI-LA).

Zhu, Beauregard & Wyse, IEEE TASLP 2007.
Frames arrive one at a time. When frame ``m`` arrives, the ``look_ahead + 1`` newest
frames ``m - look_ahead .. m`` are still open; ``n_iter`` times, from the newest to the
oldest open frame, each open frame ``j`` is re-estimated Griffin-Lim style from the
signal all frames with an estimate currently add up to over its span:

    x_j = sum_i awin f_i / max(sum_i awin^2, floor)   (least-squares overlap-add of the
                                                       frames i that have an estimate)
    X_j = magnitude_j * exp(i angle(rfft(awin * x_j))),   f_j = irfft(X_j)

so the future beyond frame ``m`` is unseen and a new frame starts from what its
committed and open neighbours predict (no estimate of its own yet). The oldest open
frame is then committed (never changed again). Normalising by the sum of squared
windows of the frames present (rather than windowing a partial sum with a fixed
asymmetric window) keeps the estimate unbiased while the overlap is incomplete; the
floor (a fraction ``coverage_floor`` of the full window sum-square) limits the
amplification where almost nothing overlaps yet. Everything follows the spec's own
window, hop and least-squares ISTFT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.fft
from numba import njit

from ..errors import ParameterError
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from ._local import init_phase, over_batch


@njit(cache=True)
def _windowed_estimate(num, den, start, w, floor, out):
    """``out = w * num / max(den, floor)`` over the frame starting at ``start``."""
    for t in range(w.size):
        d = den[start + t]
        out[t] = w[t] * num[start + t] / (d if d > floor else floor)


@njit(cache=True)
def _impose(spectrum, mag):
    """In place: keep the phase of ``spectrum``, set its magnitude to ``mag`` (0 -> phase 0)."""
    for k in range(spectrum.size):
        z = spectrum[k]
        a = abs(z)
        spectrum[k] = z * (mag[k] / a) if a > 0 else mag[k]


@njit(cache=True)
def _replace(num, den, start, w, frame, contrib, had):
    """Swap the frame's old contribution ``contrib`` in ``num`` for ``w * frame``."""
    for t in range(w.size):
        v = w[t] * frame[t]
        num[start + t] += v - contrib[t]
        contrib[t] = v
        if not had:
            den[start + t] += w[t] * w[t]


def rtisi_la(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    look_ahead: int | None = None,
    n_iter: int = 5,
    coverage_floor: float = 0.1,
    init_phase_2d: np.ndarray | None = None,
) -> np.ndarray:
    """RTISI-LA on one ``(n_freq, frames)`` magnitude.

    Parameters
    ----------
    magnitude : np.ndarray, shape (n_freq, frames)
        Target magnitude.
    spec : FeatureSpec
        STFT contract (window, hop, n_fft).
    look_ahead : int, optional
        Number of frames after the committed one that are re-estimated; default
        ``ceil(n_fft / hop) - 1`` (3 at 75% overlap).
    n_iter : int
        Re-estimation rounds per arriving frame.
    coverage_floor : float
        Floor of the overlap normaliser, relative to the full window sum-square.
    init_phase_2d : np.ndarray, optional
        Warm-start phases: an arriving frame then starts from this phase instead of
        having no estimate.

    Returns
    -------
    np.ndarray, complex128, shape (n_freq, frames)
    """
    mag = np.asarray(magnitude, dtype=np.float64)
    n_fft, a = spec.n_fft, spec.hop_length
    w = np.asarray(spec.window_array, dtype=np.float64)
    frames = mag.shape[1]
    q = -(-n_fft // a)
    la = q - 1 if look_ahead is None else int(look_ahead)
    total = n_fft + a * (frames - 1)
    num = np.zeros(total)  # sum_i awin * f_i over frames with an estimate
    den = np.zeros(total)  # sum_i awin^2 over the same frames
    full = np.zeros(q * a)
    full[:n_fft] = w * w
    floor = coverage_floor * float(full.reshape(q, a).sum(axis=0).max())
    contrib = np.zeros((frames, n_fft))  # awin * f_i currently in `num`
    has = np.zeros(frames, dtype=bool)
    out = np.zeros(mag.shape, dtype=np.complex128)

    buf = np.empty(n_fft)

    def set_frame(j: int, spectrum: np.ndarray) -> None:
        frame = scipy.fft.irfft(spectrum, n=n_fft)
        _replace(num, den, j * a, w, frame, contrib[j], bool(has[j]))
        has[j] = True
        out[:, j] = spectrum

    def update(j: int) -> None:
        _windowed_estimate(num, den, j * a, w, floor, buf)
        spectrum = scipy.fft.rfft(buf)
        _impose(spectrum, mag[:, j])
        set_frame(j, spectrum)

    for m in range(frames + la):
        newest = min(m, frames - 1)
        if m < frames and init_phase_2d is not None:
            set_frame(m, mag[:, m] * np.exp(1j * init_phase_2d[:, m]))
        oldest = max(0, m - la)
        for _ in range(n_iter):
            for j in range(newest, oldest - 1, -1):
                update(j)
    return out


class RTISILA(PhaseRetriever):
    """RTISI-LA: frame-by-frame Griffin-Lim with look-ahead (online, no future beyond it).

    A fast initialiser for iterative methods (``phase=chain``). With a warm start, each
    arriving frame starts from the warm start's phase. Leading batch axes are processed
    item by item.
    """

    name: ClassVar[str] = "rtisi_la"

    @dataclass
    class Params:
        """Parameters of RTISI-LA.

        Attributes
        ----------
        look_ahead : int, optional
            Frames re-estimated after the committed one (latency in hops); default
            ``ceil(n_fft / hop) - 1``, i.e. every frame overlapping the newest.
        n_iter : int
            Re-estimation rounds per arriving frame (each open frame is updated
            ``n_iter * (look_ahead + 1)`` times before it is committed).
        coverage_floor : float
            Floor of the overlap normaliser, relative to the full window sum-square
            (limits amplification where few frames overlap yet), in (0, 1].
        """

        look_ahead: int | None = None
        n_iter: int = 5
        coverage_floor: float = 0.1

    def validate(self) -> None:
        """Check the look-ahead, iteration count and floor."""
        p = self.params
        if p.look_ahead is not None and (int(p.look_ahead) != p.look_ahead or p.look_ahead < 0):
            raise ParameterError(f"rtisi_la look_ahead={p.look_ahead!r}: must be an integer >= 0")
        if int(p.n_iter) != p.n_iter or p.n_iter < 1:
            raise ParameterError(f"rtisi_la n_iter={p.n_iter!r}: must be an integer >= 1")
        if not 0 < p.coverage_floor <= 1:
            raise ParameterError(f"rtisi_la coverage_floor={p.coverage_floor}: must be in (0, 1]")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run RTISI-LA over each item of the batch."""
        p = self.params
        phases = init_phase(init)

        def one(mag, ph, _rng):
            return rtisi_la(mag, spec, look_ahead=p.look_ahead, n_iter=int(p.n_iter),
                            coverage_floor=p.coverage_floor, init_phase_2d=ph)

        return over_batch(one, magnitude, phases, rng)
