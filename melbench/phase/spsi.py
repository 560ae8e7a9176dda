"""Single-pass spectrogram inversion (SPSI; Beauregard, Harish & Wyse, DAFx 2015).

A non-iterative, frame-by-frame phase estimate: every spectral peak is taken to be a
stationary sinusoid whose frequency is refined by quadratic interpolation of the
log-magnitude around the peak bin; its phase advances by ``2 pi a f / N`` per hop
(``f`` the interpolated bin, ``a`` the hop, ``N`` = n_fft) from the previous frame, and
the bins of the peak's region (down to the troughs on either side) are locked to the
peak's phase. As in phaseret (``libphaseret/src/spsi.c``, ``spsiupdate``): peaks are
interior bins, the walks to the troughs stop before DC and Nyquist (which keep their
phase unless they are the interpolated neighbour of a peak at bin 1 or N/2 - 1), and a
peak with ``p = 0`` locks no neighbour.

Locking the region to one phase holds in the window-centred convention (the spectrum
of a windowed sinusoid is real around its peak when the window is centred); the phase is
then converted to melbench's frame-start convention, ``phi_start[k] = phi_centred[k] -
2 pi k c / N`` (the ``+/- pi`` alternation of the original frame-start formulation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from ._local import centred_to_frame_start
from .helpers import init_phase, phase_function


@njit(cache=True)
def _spsi_phase(s, hop_length, n_fft, phi0, use_log):
    """Centred SPSI phase of a (n_freq, frames) magnitude; ``phi0`` is the starting phase."""
    nfreq, frames = s.shape
    out = np.empty((nfreq, frames))
    acc = phi0.copy()
    tiny = 1e-300
    for m in range(frames):
        col = s[:, m]
        for k in range(1, nfreq - 1):
            b = col[k]
            if not (b > col[k - 1] and b > col[k + 1]):
                continue
            if use_log:
                a_ = math.log(max(col[k - 1], tiny))
                b_ = math.log(max(b, tiny))
                c_ = math.log(max(col[k + 1], tiny))
            else:
                a_ = col[k - 1]
                b_ = b
                c_ = col[k + 1]
            den = a_ - 2.0 * b_ + c_
            p = 0.5 * (a_ - c_) / den if den != 0.0 else 0.0
            phi = acc[k] + 2.0 * math.pi * hop_length * (k + p) / n_fft
            acc[k] = phi
            up = k
            down = k
            if p > 0:
                acc[k + 1] = phi
                up = k + 2
                down = k - 1
            elif p < 0:
                acc[k - 1] = phi
                up = k + 1
                down = k - 2
            # lock the peak's region: walk down to the troughs on each side (as phaseret:
            # DC and Nyquist are never walked into; p == 0 locks no neighbour)
            j = down
            while j > 0 and col[j] < col[j + 1]:
                acc[j] = phi
                j -= 1
            j = up
            while j < nfreq - 1 and col[j] < col[j - 1]:
                acc[j] = phi
                j += 1
        for k in range(nfreq):
            out[k, m] = acc[k]
    return out


def spsi_phase(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    log_interp: bool = True,
    phi0: np.ndarray | None = None,
) -> np.ndarray:
    """SPSI phase (frame-start convention) of one ``(n_freq, frames)`` magnitude.

    The building block of :func:`spsi`: phases, not a spectrogram, of one 2-D
    magnitude; use :func:`spsi` for the phase-function contract.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(n_freq, frames)]
        Linear magnitude.
    spec : FeatureSpec
        Gives the hop, ``n_fft`` and the window centre (the centred-to-frame-start
        offsets, :func:`~melbench.phase._local.centred_to_frame_start`).
    log_interp : bool
        Interpolate the peak on the log-magnitude (exact for Gaussian windows) instead of
        the linear magnitude of the original paper.
    phi0 : np.ndarray [shape=(n_freq,)], optional
        Phase of the frame before the first (centred convention); zeros by default.

    Returns
    -------
    np.ndarray [shape=(n_freq, frames)]
        Phases in radians (float64).

    References
    ----------
    .. [1] G. T. Beauregard, M. Harish and L. Wyse, "Single pass spectrogram inversion," IEEE
       Int. Conf. on Digital Signal Processing (DSP) 2015.
    """
    s = np.ascontiguousarray(magnitude, dtype=np.float64)
    p0 = np.zeros(s.shape[0]) if phi0 is None else np.asarray(phi0, dtype=np.float64)
    ph = _spsi_phase(s, float(spec.hop_length), float(spec.n_fft), p0, bool(log_interp))
    return ph + centred_to_frame_start(spec)[:, None]


#: Peak interpolations of :func:`spsi`.
INTERPS = ("log", "linear")


@phase_function(batched=False)
def spsi(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    init: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    interp: str = "log",
) -> np.ndarray:
    """Single-pass spectrogram inversion: a peak-locked phase vocoder, one pass.

    Leading batch axes are processed item by item
    (:func:`~melbench.phase.helpers.phase_function`, ``batched=False``).

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Linear magnitude (non-negative, finite).
    spec : FeatureSpec
        STFT contract (window, hop, n_fft).
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start (complex spectrogram or phases): only its first frame is used, as
        the phase the accumulator starts from (the plugin declares
        ``warm_start = False``).
    rng : Generator or int, optional
        Unused (SPSI is deterministic); accepted for the common signature.
    trace : list, optional
        Not written (nothing iterates); ``chain`` records the SC of the output.
    interp : {"log", "linear"}
        Peak interpolation: quadratic fit to the log-magnitude (phaseret's; exact for a
        Gaussian window) or to the magnitude (the paper's).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``magnitude * exp(i phi_SPSI)``, complex64 for float32 input.

    Raises
    ------
    InputError
        Bad magnitude or warm start (:func:`~melbench.phase.helpers.check_phase_input`).
    ParameterError
        An unknown ``interp``.

    References
    ----------
    .. [1] G. T. Beauregard, M. Harish and L. Wyse, "Single pass spectrogram inversion," IEEE
       Int. Conf. on Digital Signal Processing (DSP) 2015.
    """
    if interp not in INTERPS:
        raise ParameterError(f"spsi interp={interp!r}; choose 'log' or 'linear'")
    mag = np.asarray(magnitude, dtype=np.float64)
    phi0 = None
    ph = init_phase(init)
    if ph is not None:  # the accumulator holds the previous frame's phase: back off one hop
        k = np.arange(mag.shape[0])
        phi0 = (ph[:, 0] - centred_to_frame_start(spec)
                - 2 * np.pi * spec.hop_length * k / spec.n_fft)
    out = spsi_phase(mag, spec, log_interp=interp == "log", phi0=phi0)
    return mag * np.exp(1j * out)


class SPSI(PhaseRetriever):
    """Single-pass spectrogram inversion: peak-locked phase vocoder, one pass, no iteration.

    With a warm start, the phase accumulator starts from the warm start's first frame
    (converted to the centred convention). Useful as an initialiser for iterative
    methods (``phase=chain``). Leading batch axes are processed item by item.

    References
    ----------
    .. [1] G. T. Beauregard, M. Harish and L. Wyse, "Single pass spectrogram inversion," IEEE
       Int. Conf. on Digital Signal Processing (DSP) 2015.
    """

    name: ClassVar[str] = "spsi"
    iterations_param: ClassVar[str | None] = None
    warm_start: ClassVar[bool] = False  # init sets only the first frame's phase
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of SPSI.

        Attributes
        ----------
        interp : str
            Peak interpolation: "log" (quadratic fit to the log-magnitude, as phaseret;
            exact for a Gaussian window) or "linear" (to the magnitude, as the paper).
        """

        interp: str = "log"

    def validate(self) -> None:
        """Check the interpolation choice."""
        if self.params.interp not in INTERPS:
            raise ParameterError(f"spsi interp={self.params.interp!r}; choose 'log' or 'linear'")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run :func:`spsi`."""
        return spsi(magnitude, spec, init=init, rng=rng, trace=trace, interp=self.params.interp)
