"""Real-time iterative spectrogram inversion with look-ahead (RTISI-LA).

Zhu, Beauregard & Wyse, "Real-time signal estimation from modified short-time Fourier
transform magnitude spectra", IEEE TASLP 15(5), 2007; implemented as phaseret does it
(Prusa: ``gabor/rtisila.m``, ``comp/comp_rtisilaupdate.m``, ``comp/comp_rtisilawins.m``,
``libphaseret/src/rtisila.c``).

Frames are submitted one at a time. When frame ``s`` is submitted, frame ``s + la``
(``la`` = look-ahead) arrives and the ``la + 1`` open frames ``s .. s + la`` are
re-estimated ``n_iter`` times, from the newest to the oldest (Gauss-Seidel: each update
sees the ones before it)::

    y  = win * (overlap-add of the time frames f_i of every buffered frame over j's span)
    X_j = magnitude_j * exp(i angle(rfft(y))),   f_j = gd * irfft(X_j)

with ``gd`` the canonical dual of the analysis window ``g`` (melbench's least-squares
synthesis window, :func:`melbench.phase._local.synthesis_window`) and ``win = g``, except
for the newest frame, which has no later neighbours yet: it uses Zhu et al.'s asymmetric
analysis windows ``specg1(t) = sum_{j>=1} gd(t - j a)`` in the first round (its own
estimate is still empty) and ``specg2(t) = sum_{j>=0} gd(t - j a)`` afterwards. Frame ``s``
is then committed: its last spectrum is the output, and its time frame stays in the
overlap-add for the frames after it. At the first submission frames ``0 .. la`` are all
open at once and start empty, as in phaseret.

Deviation from phaseret, on purpose: phaseret treats the signal as periodic (the frames
after the last one wrap around to the first ones); melbench's STFT is not periodic, so
the frames after the last one are silent.

The whole loop is compiled (numba, FFTs through rocket-fft's numba bindings of
``numpy.fft``); one update costs one real FFT pair of ``n_fft`` points plus ``O(n_fft)``
work, because the overlap-add is kept as one running signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import rocket_fft  # noqa: F401  (registers numpy.fft for numba)
from numba import njit

from .. import costs
from ..errors import InputError, ParameterError
from ..kernel_flags import FASTMATH
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from ..validation import check_magnitude
from ._local import centred_to_frame_start, consistent_sc_db, synthesis_window
from .helpers import init_phase, over_batch, phase_function


def asymmetric_windows(gd: np.ndarray, hop_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Zhu et al.'s analysis windows for the newest look-ahead frame.

    Parameters
    ----------
    gd : np.ndarray, shape (n_fft,)
        Synthesis (dual) window, frame-start aligned.
    hop_length : int
        Hop ``a``.

    Returns
    -------
    specg1, specg2 : np.ndarray, shape (n_fft,)
        ``specg2(t) = sum_{j >= 0} gd(t - j a)`` and ``specg1`` the same sum without its
        ``j = 0`` term (phaseret's ``comp_rtisilawins``).
    """
    gd = np.asarray(gd, dtype=np.float64)
    n, a = gd.size, int(hop_length)
    specg1 = np.zeros(n)
    for j in range(1, -(-n // a)):
        specg1[j * a:] += gd[: n - j * a]
    return specg1, specg1 + gd


@njit(cache=True, fastmath=FASTMATH)
def _update(ola, start, win, gd, mag_j, slot, unit, y):
    """One RTISI-LA update of the frame starting at ``start``; returns its new spectrum.

    ``slot`` holds the frame's current time frame (its share of ``ola``) and is replaced;
    ``y`` is scratch. Bins whose analysed value is 0 get the phase ``unit`` (zero phase
    about the window centre, as phaseret's centred FFT gives them).
    """
    n = win.size
    for t in range(n):
        y[t] = ola[start + t] * win[t]
    spectrum = np.fft.rfft(y)
    for k in range(spectrum.size):
        z = spectrum[k]
        r2 = z.real * z.real + z.imag * z.imag
        if r2 > 0.0:
            spectrum[k] = z * (mag_j[k] / np.sqrt(r2))
        else:
            spectrum[k] = mag_j[k] * unit[k]
    frame = np.fft.irfft(spectrum, n)
    for t in range(n):
        v = gd[t] * frame[t]
        ola[start + t] += v - slot[t]
        slot[t] = v
    return spectrum


@njit(cache=True)
def _rtisi_la(mag, g, gd, specg1, specg2, unit, a, la, n_iter, init, use_init):
    """RTISI-LA over ``mag`` of shape (frames, n_freq).

    Returns the (frames, n_freq) complex result and the number of single-frame real FFTs
    done (forward and inverse, for :mod:`melbench.costs`).
    """
    frames, nfreq = mag.shape
    n = g.size
    ola = np.zeros(n + a * (frames - 1))
    ring = np.zeros((la + 1, n))  # time frames of the open frames, slot j % (la + 1)
    out = np.zeros((frames, nfreq), dtype=np.complex128)
    y = np.empty(n)
    n_ffts = 0
    for s in range(frames):
        newest = s + la
        first_new = 0 if s == 0 else newest
        for j in range(first_new, min(newest, frames - 1) + 1):
            slot = ring[j % (la + 1)]
            slot[:] = 0.0
            if use_init:
                frame = np.fft.irfft(init[j], n)
                n_ffts += 1
                for t in range(n):
                    v = gd[t] * frame[t]
                    ola[j * a + t] += v
                    slot[t] = v
        for it in range(n_iter):
            for j in range(min(newest, frames - 1), s - 1, -1):
                if j == newest:
                    win = specg2 if (it > 0 or use_init) else specg1
                else:
                    win = g
                spectrum = _update(ola, j * a, win, gd, mag[j], ring[j % (la + 1)], unit, y)
                n_ffts += 2  # one rfft + one irfft
                if j == s and it == n_iter - 1:
                    out[s] = spectrum
    return out, n_ffts


def check_params(look_ahead: int | None, n_iter: int) -> None:
    """Raise :class:`~melbench.errors.ParameterError` for a bad look-ahead or round count."""
    if look_ahead is not None and (int(look_ahead) != look_ahead or look_ahead < 0):
        raise ParameterError(f"rtisi_la look_ahead={look_ahead!r}: must be an integer >= 0")
    if int(n_iter) != n_iter or n_iter < 1:
        raise ParameterError(f"rtisi_la n_iter={n_iter!r}: must be an integer >= 1")


@phase_function
def rtisi_la(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    init: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    look_ahead: int | None = None,
    n_iter: int = 5,
) -> np.ndarray:
    """RTISI-LA as phaseret computes it (module docstring), frame by frame.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude, non-negative and finite; leading batch axes are processed
        item by item (float64 inside).
    spec : FeatureSpec
        STFT contract (window, hop, n_fft) the result is consistent with.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start (complex spectrogram, whose phase is used, or phases in radians): an
        arriving frame then starts from ``magnitude * e^{i phase}`` instead of empty, and
        the newest frame is analysed with ``specg2`` from the first round.
    rng : np.random.Generator or int, optional
        Unused (RTISI-LA is deterministic); accepted for the common signature.
    trace : list, optional
        Receives one ``{"iter", "sc_db"}`` record per item after the run (SC of
        ``STFT(ISTFT(X))`` against the magnitude, dB; ``iter`` = ``n_iter``).
    look_ahead : int, optional
        Look-ahead frames; default ``ceil(n_fft / hop) - 1`` (3 at 75% overlap), capped at
        ``frames - 1`` as in phaseret.
    n_iter : int
        Rounds per submitted frame (phaseret's ``maxit``, default 5): every frame is
        updated ``n_iter * (look_ahead + 1)`` times before it is committed, one real FFT
        pair of ``n_fft`` points each.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        The magnitude with the RTISI-LA phase; complex128 for float64 input, else
        complex64.

    Raises
    ------
    InputError
        Magnitude of the wrong shape, negative or not finite; warm start of another shape.
    ParameterError
        A negative look-ahead or fewer than one round.

    References
    ----------
    .. [1] X. Zhu, G. T. Beauregard and L. L. Wyse, "Real-time signal estimation from
       modified short-time Fourier transform magnitude spectra," IEEE Trans. Audio,
       Speech, and Language Processing 15(5):1645-1653, 2007.
    .. [2] Z. Prusa, phaseret (the Phase Retrieval Toolbox): ``rtisila.m``,
       ``comp_rtisilaupdate.m``, ``libphaseret/src/rtisila.c``,
       https://github.com/ltfat/phaseret (the schedule and windows followed here).
    .. [3] Z. Prusa, P. Balazs and P. L. Sondergaard, "A noniterative method for
       reconstruction of phase from STFT magnitude," IEEE/ACM Trans. Audio, Speech, and
       Language Processing 25(5):1154-1164, 2017 (RTISI-LA among its baselines: the
       set-up of ``results/rtisi_la_prusa_speed.md``).
    """
    check_params(look_ahead, n_iter)
    magnitude = check_magnitude(magnitude, spec)
    if init is not None and np.shape(init) != magnitude.shape:
        raise InputError(f"rtisi_la warm start has shape {np.shape(init)}, the magnitude "
                         f"{magnitude.shape}; give init of the magnitude's shape or None")
    a = spec.hop_length
    g = np.asarray(spec.window_array, dtype=np.float64)
    gd = synthesis_window(spec)
    specg1, specg2 = asymmetric_windows(gd, a)
    unit = np.exp(1j * centred_to_frame_start(spec))

    def one(mag2d: np.ndarray, ph: np.ndarray | None, _rng) -> np.ndarray:
        out = _rtisi_la_2d(mag2d, g, gd, specg1, specg2, unit, a, look_ahead, int(n_iter), ph)
        if trace is not None:
            with costs.uncounted():  # the trace's STFTs are bookkeeping (melbench.costs)
                trace.append({"iter": int(n_iter), "sc_db": consistent_sc_db(mag2d, out, spec)})
        return out

    return over_batch(one, magnitude, init_phase(init), np.random.default_rng(rng))


def _rtisi_la_2d(magnitude, g, gd, specg1, specg2, unit, a, look_ahead, n_iter, phase):
    """RTISI-LA on one ``(n_freq, frames)`` float64 magnitude; complex128 result."""
    mag = np.ascontiguousarray(np.asarray(magnitude, dtype=np.float64).T)
    frames = mag.shape[0]
    if frames == 0:
        return np.zeros(magnitude.shape, dtype=np.complex128)
    la = -(-g.size // a) - 1 if look_ahead is None else int(look_ahead)
    la = min(la, frames - 1)
    use_init = phase is not None
    if use_init:
        init = np.ascontiguousarray(mag * np.exp(1j * np.asarray(phase, np.float64).T))
    else:
        init = np.zeros((1, 1), dtype=np.complex128)
    out, n_ffts = _rtisi_la(mag, g, gd, specg1, specg2, unit, int(a), int(la), int(n_iter), init,
                            use_init)
    costs.add_frame_ffts(n_ffts)  # its compiled FFTs are not the STFT engine's: report them
    return np.ascontiguousarray(out.T)


class RTISILA(PhaseRetriever):
    """RTISI-LA (Zhu, Beauregard & Wyse 2007) as in phaseret: online, look-ahead ``la``.

    Frame by frame with the future beyond the look-ahead unseen; the newest frame is
    analysed with Zhu et al.'s asymmetric windows. A fast initialiser for iterative
    methods (``phase=chain``); with a warm start each arriving frame starts from the warm
    start's phase. Leading batch axes are processed item by item.

    References
    ----------
    .. [1] X. Zhu, G. T. Beauregard and L. L. Wyse, "Real-time signal estimation from modified
       short-time Fourier transform magnitude spectra," IEEE Trans. Audio, Speech, and Language
       Processing 15(5):1645-1653, 2007.
    """

    name: ClassVar[str] = "rtisi_la"
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of RTISI-LA.

        Attributes
        ----------
        look_ahead : int, optional
            Look-ahead frames (latency in hops); default ``ceil(n_fft / hop) - 1``, every
            frame overlapping the newest (phaseret's default).
        n_iter : int
            Rounds per submitted frame (phaseret's ``maxit``, default 5): each frame is
            updated ``n_iter * (look_ahead + 1)`` times before it is committed, so the
            cost is that many real FFT pairs of ``n_fft`` points per frame.
        """

        look_ahead: int | None = None
        n_iter: int = 5

    def validate(self) -> None:
        """Check the look-ahead and the iteration count (:func:`check_params`)."""
        check_params(self.params.look_ahead, self.params.n_iter)

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """:func:`rtisi_la` with the plugin's parameters (each batch item in turn)."""
        p = self.params
        return rtisi_la(magnitude, spec, init=init, rng=rng, trace=trace,
                        look_ahead=p.look_ahead, n_iter=int(p.n_iter))
