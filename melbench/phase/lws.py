"""Local weighted sums (LWS): phase retrieval by local consistency updates.

melbench's own implementation of Le Roux, Kameoka, Ono & Sagayama, "Fast signal
reconstruction from magnitude STFT spectrogram based on spectrogram consistency"
(DAFx 2010), with the "no future" / online initialisation of Le Roux, Kameoka, Ono
& Sagayama (2010) and the schedule of the ``lws`` package.

The consistency projection ``P1(X) = STFT(ISTFT(X))`` is, in the interior frames, a
linear operator acting on each coefficient through a small neighbourhood::

    P1(X)[n, m] = sum_{|q| <= Q-1} sum_k alpha_n(q, k) X[n + k, m + q]
    alpha_n(q, k) = (1/N) exp(-2 pi i (n + k) q a / N)
                    sum_{0 <= t, t - q a < N} awin[t] swin[t - q a] exp(2 pi i k t / N)

(``N`` = n_fft, ``a`` = hop, ``Q = ceil(N / a)``, bins beyond DC/Nyquist are complex
conjugate mirrors, the frame index ``m`` counts hops). ``awin`` is the spec's analysis
window and ``swin`` the synthesis window implied by melbench's least-squares ISTFT
(:func:`melbench.phase._local.synthesis_window`), so the weights are exact for every
window and hop the spec allows (not only the sqrt-Hann of the reference package).

LWS truncates the sum to ``|k| <= L`` and replaces, bin by bin, the phase of ``X[n, m]``
by that of the weighted sum of its neighbours (the self term excluded), keeping the
target magnitude: a Gauss-Seidel descent on the inconsistency ``||P1(X) - X||``. The
loops run in numba. The no-future and online stages use the package's weights (from Zhu
et al.'s asymmetric windows, :func:`asymmetric_windows`) and its edge frames (static
copies of the first/last frame); ``causal="coverage"`` and ``edges="silent"`` are
melbench's variants. docs/local_phase.md compares them, and notes a bug in the package's
no-future kernel at 75% overlap that melbench does not copy.

Modules: :mod:`melbench.phase.lws_weights` builds the weights of each stage,
:mod:`melbench.phase.lws_kernels` holds the compiled per-frame updates and sweeps, and
this module runs the stages (:func:`lws`) and is the plugin (:class:`LWS`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import costs
from ..errors import InputError, ParameterError
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from ..validation import check_magnitude
from ._local import consistent_sc_db
from .helpers import init_phase, over_batch, phase_function
from .lws_bins import unpack
from .lws_kernels import batch_sweeps, fill_mirrors, frame_levels, nofuture_sweeps, online, pack
from .lws_weights import (
    CAUSAL,
    CAUSAL_FLOOR,
    asymmetric_windows,
    causal_weights,
    consistency_weights,
    spec_weights,
    symmetric_rotation,
    thresholds,
)

__all__ = ["CAUSAL", "CAUSAL_FLOOR", "EDGES", "LWS", "MODES", "asymmetric_windows",
           "causal_weights", "consistency_weights", "lws", "spec_weights", "thresholds"]

#: Iteration counts per mode preset: (nofuture, online, batch), as the lws package sets them.
MODES: dict[str, tuple[int, int, int]] = {
    "speech": (0, 0, 100),
    "music": (1, 10, 100),
}

#: What the frames beyond either end hold: static copies of each stage's first/last frame
#: (the reference package's ``extspec``) or silence.
EDGES = ("copy", "silent")

#: Starting phases when no warm start is given.
INIT_METHODS = ("zero", "random")

#: The rotation finder the driver uses (a module global so a test can switch the paired
#: kernel off and compare it with the general one).
_rotation = symmetric_rotation

STAGES = ("nofuture", "online", "batch")


def check_params(*, mode: str, L, look_ahead, iterations: dict, schedules: dict,
                 init_method: str, causal: str, edges: str) -> None:
    """Raise :class:`~melbench.errors.ParameterError` naming the first bad LWS parameter.

    Parameters
    ----------
    mode : str
        A key of :data:`MODES`.
    L, look_ahead : int
        Kernel half-width and online look-ahead, integers >= 0.
    iterations : dict
        ``{stage: count or None}`` for the stages in :data:`STAGES`.
    schedules : dict
        ``{stage: (alpha, beta, gamma)}``.
    init_method, causal, edges : str
        Members of :data:`INIT_METHODS`, :data:`CAUSAL`, :data:`EDGES`.
    """
    if mode not in MODES:
        raise ParameterError(f"lws mode={mode!r}; choose one of {', '.join(MODES)}")
    if int(L) != L or L < 0:
        raise ParameterError(f"lws L={L!r}: the kernel half-width must be an integer >= 0")
    if int(look_ahead) != look_ahead or look_ahead < 0:
        raise ParameterError(f"lws look_ahead={look_ahead!r}: must be an integer >= 0")
    for stage in STAGES:
        n = iterations[stage]
        if n is not None and (int(n) != n or n < 0):
            raise ParameterError(f"lws {stage}_iterations={n!r}: must be an integer >= 0")
        alpha, beta, gamma = schedules[stage]
        if alpha < 0:
            raise ParameterError(f"lws {stage}_alpha must be >= 0")
        if beta < 0:
            raise ParameterError(f"lws {stage}_beta must be >= 0 (thresholds must decrease)")
        if gamma <= 0:
            raise ParameterError(f"lws {stage}_gamma must be > 0")
    if init_method not in INIT_METHODS:
        raise ParameterError(f"lws init={init_method!r}; choose 'zero' or 'random'")
    if causal not in CAUSAL:
        raise ParameterError(f"lws causal={causal!r}; choose one of {', '.join(CAUSAL)}")
    if edges not in EDGES:
        raise ParameterError(f"lws edges={edges!r}; choose one of {', '.join(EDGES)}")


def kernel_too_wide(L: int, spec: FeatureSpec) -> str | None:
    """Why a neighbourhood of ``2L + 1`` bins does not fit the spectrum, or None."""
    if 2 * int(L) + 1 > spec.n_fft:
        return f"lws L={L} is too wide for n_fft={spec.n_fft}; use a smaller L"
    return None


def _copy_edges(sr: np.ndarray, si: np.ndarray, q_off: int, frames: int) -> None:
    """In place: the ``q_off`` padding rows on each side become copies of the edge frames."""
    for arr in (sr, si):
        arr[:q_off] = arr[q_off]
        arr[q_off + frames :] = arr[q_off + frames - 1]


@phase_function
def lws(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    init: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    mode: str = "speech",
    L: int = 5,
    look_ahead: int = 3,
    nofuture_iterations: int | None = None,
    nofuture_alpha: float = 1.0,
    nofuture_beta: float = 0.1,
    nofuture_gamma: float = 1.0,
    online_iterations: int | None = None,
    online_alpha: float = 1.0,
    online_beta: float = 0.1,
    online_gamma: float = 1.0,
    batch_iterations: int | None = None,
    batch_alpha: float = 100.0,
    batch_beta: float = 0.1,
    batch_gamma: float = 1.0,
    init_method: str = "zero",
    causal: str = "lws",
    edges: str = "copy",
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Local weighted sums: the no-future, online and batch stages (module docstring).

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude, non-negative and finite; leading batch axes are processed
        item by item (float64 inside).
    spec : FeatureSpec
        STFT contract (window, hop, n_fft) the result is consistent with.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: complex spectrogram (its phase is used) or phases in radians. Takes
        precedence over ``init_method``.
    rng : np.random.Generator or int, optional
        Seed of the random start (``init_method="random"``); unused otherwise.
    trace : list, optional
        Receives ``{"iter", "stage", "sc_db"}`` after the no-future and online stages and
        after each batch sweep (SC of ``STFT(ISTFT(X))`` against the magnitude, dB).
    mode : str
        Schedule preset of the iteration counts left None: "speech" (no future 0,
        online 0, batch 100) or "music" (1, 10, 100), as the lws package.
    L : int
        Half-width of the frequency neighbourhood (bins ``n - L .. n + L``).
    look_ahead : int
        Online stage: frames re-estimated when a new frame arrives.
    nofuture_iterations, online_iterations, batch_iterations : int, optional
        Sweeps of each stage; None = from ``mode``.
    nofuture_alpha, nofuture_beta, nofuture_gamma, online_alpha, online_beta, \
online_gamma, batch_alpha, batch_beta, batch_gamma : float
        Threshold schedule of each stage: sweep ``i`` (from 0) updates only the bins with
        magnitude above ``alpha * exp(-beta * i**gamma) * mean(magnitude)``.
    init_method : str
        Start without a warm start: "zero" phase (the reference's) or "random" (seeded
        uniform phase).
    causal : str
        Weights while the later frames are unseen: "lws" (the reference package's, from
        Zhu et al.'s asymmetric windows) or "coverage" (melbench's variant).
    edges : str
        Frames beyond either end: "copy" (static copies of the edge frames, the
        reference's) or "silent" (zeros).
    weights : np.ndarray [shape=(P, 2Q - 1, 2L + 1)], optional
        Precomputed :func:`spec_weights` of ``spec`` and ``L`` (reuse across calls).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        The target magnitude with the LWS phase; complex128 for float64 input, else
        complex64.

    Raises
    ------
    InputError
        Magnitude of the wrong shape, negative or not finite; warm start of another shape.
    ParameterError
        A parameter outside its range, or a kernel wider than the spectrum.

    References
    ----------
    .. [1] J. Le Roux, H. Kameoka, N. Ono and S. Sagayama, "Fast signal reconstruction
       from magnitude STFT spectrogram based on spectrogram consistency," Proc. DAFx 2010.
    .. [2] J. Le Roux, H. Kameoka, N. Ono and S. Sagayama, "Phase initialization schemes
       for faster spectrogram-consistency-based signal reconstruction," Proc. ASJ Autumn
       Meeting, 3-10-3, 2010 (the no-future and online stages).
    .. [3] X. Zhu, G. T. Beauregard and L. L. Wyse, "Real-time signal estimation from
       modified short-time Fourier transform magnitude spectra," IEEE TASLP 15(5),
       2007 (the asymmetric windows of the causal weights).
    .. [4] J. Le Roux, ``lws`` 1.2.8, https://github.com/Jonathan-LeRoux/lws (the schedule
       and the stages followed here).
    """
    iters = {"nofuture": nofuture_iterations, "online": online_iterations,
             "batch": batch_iterations}
    schedules = {"nofuture": (nofuture_alpha, nofuture_beta, nofuture_gamma),
                 "online": (online_alpha, online_beta, online_gamma),
                 "batch": (batch_alpha, batch_beta, batch_gamma)}
    check_params(mode=mode, L=L, look_ahead=look_ahead, iterations=iters, schedules=schedules,
                 init_method=init_method, causal=causal, edges=edges)
    reason = kernel_too_wide(L, spec)
    if reason:
        raise ParameterError(reason)
    magnitude = check_magnitude(magnitude, spec)
    if init is not None and np.shape(init) != magnitude.shape:
        raise InputError(f"lws warm start has shape {np.shape(init)}, the magnitude "
                         f"{magnitude.shape}; give init of the magnitude's shape or None")
    counts = [preset if iters[s] is None else int(iters[s])
              for s, preset in zip(STAGES, MODES[mode], strict=True)]
    need_causal = counts[0] > 0 or counts[1] > 0
    tables = _tables(spec, int(L), causal if need_causal else None, weights)
    rng = np.random.default_rng(rng)

    def one(mag: np.ndarray, ph: np.ndarray | None, rng_: np.random.Generator) -> np.ndarray:
        if ph is None and init_method == "random":
            ph = rng_.uniform(-np.pi, np.pi, size=mag.shape)
        return _stages(mag, spec, ph, tables, int(look_ahead), counts, schedules, edges, trace)

    return over_batch(one, magnitude, init_phase(init), rng)


@dataclass(frozen=True)
class _Tables:
    """What the kernels need for one spec and ``L``: packed weights and the rotation."""

    L: int
    period: int
    q_off: int
    symmetric: int  # tap kernel: 0 general, 1 paired (q, -q), 2 four taps per weight
    bin_rot: np.ndarray | None  # e^{2 pi i n delta / N} per bin, None without rotation
    rot: np.ndarray  # (sigma, u_r, u_i) of :func:`melbench.phase.lws_kernels.fill_mirrors`
    K: tuple  # :func:`melbench.phase.lws_kernels.pack` of the interior weights
    K_ai: tuple | None  # causal weights, past frames only
    K_af: tuple | None  # causal weights, past and current frames


_TABLES: dict[tuple, _Tables] = {}  # the last few specs' tables (building them takes ms)


def _tables(spec: FeatureSpec, L: int, causal: str | None,
            weights: np.ndarray | None) -> _Tables:
    """:class:`_Tables` of ``spec`` (cached by window, hop and n_fft unless ``weights``)."""
    window = np.ascontiguousarray(spec.window_array, dtype=np.float64)
    key = (hashlib.sha1(window.tobytes()).hexdigest(), spec.n_fft, spec.hop_length, L, causal,
           _rotation)
    if weights is None and key in _TABLES:
        return _TABLES[key]
    n_fft, nfreq, a = spec.n_fft, spec.n_freq, spec.hop_length
    W = (spec_weights(spec, L) if weights is None else weights).copy()
    period, q_all, _ = W.shape
    q_off = (q_all - 1) // 2
    W[:, q_off, L] = 0.0  # the self term is not part of the neighbours' sum
    delta, symmetric = _rotation(W, n_fft, L)
    tap_rot = np.exp(-2j * np.pi * np.arange(-L, L + 1) * delta / n_fft)
    K_ai = K_af = None
    if causal is not None:
        W_ai, W_af = causal_weights(spec, L, kind=causal)
        W_af[:, q_off, L] = 0.0
        K_ai = pack(W_ai * tap_rot, a, n_fft, nfreq)
        K_af = pack(W_af * tap_rot, a, n_fft, nfreq)
    out = _Tables(
        L=L, period=period, q_off=q_off,
        symmetric=(2 if (4 * a) % n_fft == 0 else 1) if symmetric else 0,
        bin_rot=np.exp(2j * np.pi * np.arange(nfreq) * delta / n_fft) if delta else None,
        rot=np.array([np.cos(2 * np.pi * delta), np.cos(np.pi * delta), np.sin(np.pi * delta)]),
        K=pack(W * tap_rot, a, n_fft, nfreq), K_ai=K_ai, K_af=K_af)
    if weights is None:
        if len(_TABLES) >= 8:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = out
    return out


def _stages(magnitude, spec, phase, tables, look_ahead, counts, schedules, edges, trace):
    """The stages on one ``(n_freq, frames)`` float64 magnitude; complex128 result."""
    n_fft = spec.n_fft
    L, q_off, bin_rot = tables.L, tables.q_off, tables.bin_rot
    nofuture_iterations, online_iterations, batch_iterations = counts
    amp = np.ascontiguousarray(np.asarray(magnitude, dtype=np.float64).T)
    frames, nfreq = amp.shape
    mean_amp = float(amp.mean()) if amp.size else 0.0
    levels = frame_levels(amp)

    shape = (frames + 2 * q_off, nfreq + 2 * L)
    width = shape[1]
    sr = np.zeros(shape)
    si = np.zeros(shape)
    body = (slice(q_off, q_off + frames), slice(L, L + nfreq))
    if phase is None and bin_rot is None:
        sr[body] = amp
    elif phase is None:  # zero phase, rotated: amp e^{2 pi i n delta / N} (real DC, Nyquist)
        sr[body] = amp * bin_rot.real
        si[body] = amp * bin_rot.imag
    else:
        x0 = amp * np.exp(1j * (0.0 if phase is None else np.asarray(phase, np.float64).T))
        # DC and Nyquist are real for a real signal
        x0[:, 0] = x0[:, 0].real
        if n_fft % 2 == 0:
            x0[:, -1] = x0[:, -1].real
        if bin_rot is not None:
            x0 *= bin_rot
        sr[body] = x0.real
        si[body] = x0.imag
    copy = edges == "copy"
    if copy:
        _copy_edges(sr, si, q_off, frames)
    rot = tables.rot
    fill_mirrors(sr, si, n_fft, L, rot)
    K, K_ai, K_af = tables.K, tables.K_ai, tables.K_af
    sizes = (n_fft, L, tables.period, q_off, rot)

    un_r = np.ones(nfreq) if bin_rot is None else bin_rot.real
    un_i = np.zeros(nfreq) if bin_rot is None else -bin_rot.imag

    def current() -> np.ndarray:
        """The frames as a C-ordered ``(n_freq, frames)`` array, the rotation undone."""
        x = np.empty((nfreq, frames), dtype=np.complex128)
        unpack(sr, si, q_off, L, un_r, un_i, x)
        return x

    def record(stage: str, it: int) -> None:
        if trace is not None:
            with costs.uncounted():  # the trace's STFTs are bookkeeping (melbench.costs)
                sc = consistent_sc_db(magnitude, current(), spec)
            trace.append({"iter": it, "stage": stage, "sc_db": sc})

    if nofuture_iterations > 0:
        thr = thresholds(nofuture_iterations, *schedules["nofuture"])
        nofuture_sweeps(sr.ravel(), si.ravel(), width, amp, levels, K_ai, thr * mean_amp, *sizes)
        record("nofuture", nofuture_iterations)
    if online_iterations > 0:
        thr = thresholds(online_iterations, *schedules["online"])
        osr = np.zeros(shape)
        osi = np.zeros(shape)
        if copy:  # the past of frame 0 (the frames after m are unseen anyway)
            osr[:q_off] = sr[q_off]
            osi[:q_off] = si[q_off]
        online(osr.ravel(), osi.ravel(), sr.ravel(), si.ravel(), width, amp, levels, K, K_ai,
               K_af,
               thr * mean_amp, *sizes, look_ahead, tables.symmetric)
        sr, si = osr, osi
        record("online", nofuture_iterations + online_iterations)
    if batch_iterations > 0:
        if copy:
            _copy_edges(sr, si, q_off, frames)
        thr = thresholds(batch_iterations, *schedules["batch"]) * mean_amp
        if trace is None:
            batch_sweeps(sr.ravel(), si.ravel(), width, amp, levels, K, thr, *sizes,
                         tables.symmetric)
        else:
            base = nofuture_iterations + online_iterations
            for i in range(batch_iterations):
                batch_sweeps(sr.ravel(), si.ravel(), width, amp, levels, K, thr[i : i + 1], *sizes,
                             tables.symmetric)
                record("batch", base + i + 1)
    return current()


class LWS(PhaseRetriever):
    """Local weighted sums (Le Roux et al. 2010), melbench's numba implementation.

    Works with any window and hop of the spec: the consistency weights come from the
    spec's own analysis window and the synthesis window of melbench's least-squares ISTFT.
    Frames beyond the ends are static copies of the edge frames (the reference's choice;
    ``edges="silent"`` for zeros). Each leading batch item is processed
    independently.

    References
    ----------
    .. [1] J. Le Roux, H. Kameoka, N. Ono and S. Sagayama, "Fast signal reconstruction from
       magnitude STFT spectrogram based on spectrogram consistency," DAFx 2010.
    """

    name: ClassVar[str] = "lws"
    counts_ffts: ClassVar[bool] = True  # local weighted sums: no FFTs (0 pairs)
    iterations_param: ClassVar[str | None] = "batch_iterations"

    @dataclass
    class Params:
        """Parameters of LWS.

        Attributes
        ----------
        mode : str
            Schedule preset: "speech" (batch iterations only: no future 0, online 0,
            batch 100) or "music" (no future 1, online 10, batch 100), as in the lws
            package. Explicit ``*_iterations`` values override the preset.
        L : int
            Half-width of the frequency neighbourhood of the weighted sums (bins
            ``n - L .. n + L``; 5 as in the paper). Larger is closer to the exact
            projection and slower (cost ~ (2L + 1)).
        look_ahead : int
            Online mode only: number of recent frames re-estimated when a new frame
            arrives (3 = the reference's default; latency of the online stage).
        nofuture_iterations : int, optional
            Sweeps of the causal "no future" initialisation: each frame's phase is
            estimated from past frames only. None = from ``mode``.
        nofuture_alpha, nofuture_beta, nofuture_gamma : float
            Threshold schedule of the no-future sweeps: sweep ``i`` (from 0) updates only
            bins with magnitude above ``alpha * exp(-beta * i**gamma) * mean(magnitude)``.
        online_iterations : int, optional
            Refinement rounds per arriving frame in the online stage (frame by frame,
            future frames unseen, look-ahead ``look_ahead``). None = from ``mode``.
        online_alpha, online_beta, online_gamma : float
            Threshold schedule of the online rounds (as above).
        batch_iterations : int, optional
            Sweeps over the whole spectrogram (all neighbours, past and future). None =
            from ``mode`` (100).
        batch_alpha, batch_beta, batch_gamma : float
            Threshold schedule of the batch sweeps (defaults 100, 0.1, 1: from 100 x mean
            down to about 0.005 x mean over 100 sweeps, loud bins settle first).
        init : str
            Starting phase when no warm start is given: "zero" (the reference's choice)
            or "random" (seeded). A warm start (``init=`` argument) takes precedence.
        causal : str
            Weights of the no-future and online stages, while the later frames are
            unseen: "lws" (the reference package's, from Zhu et al.'s asymmetric
            windows, :func:`asymmetric_windows`) or "coverage" (melbench's variant: the
            analysis window divided by the coverage of the frames present, which undoes
            the taper of the missing frames): better at 75% overlap, worse at hop
            n_fft/8 (docs/local_phase.md, ``results/bench_local_phase.md``).
        edges : str
            Frames beyond either end: "copy" (the reference's: static copies of the
            first/last frame as each stage starts) or "silent" (zeros, which melbench's
            centre-padded STFT implies; better by up to 1.4 dB, same file).
        """

        mode: str = "speech"
        L: int = 5
        look_ahead: int = 3
        nofuture_iterations: int | None = None
        nofuture_alpha: float = 1.0
        nofuture_beta: float = 0.1
        nofuture_gamma: float = 1.0
        online_iterations: int | None = None
        online_alpha: float = 1.0
        online_beta: float = 0.1
        online_gamma: float = 1.0
        batch_iterations: int | None = None
        batch_alpha: float = 100.0
        batch_beta: float = 0.1
        batch_gamma: float = 1.0
        init: str = "zero"
        causal: str = "lws"
        edges: str = "copy"

    def validate(self) -> None:
        """Check the preset, counts, kernel size and schedules (:func:`check_params`)."""
        p = self.params
        check_params(
            mode=p.mode, L=p.L, look_ahead=p.look_ahead,
            iterations={s: getattr(p, f"{s}_iterations") for s in STAGES},
            schedules={s: (getattr(p, f"{s}_alpha"), getattr(p, f"{s}_beta"),
                           getattr(p, f"{s}_gamma")) for s in STAGES},
            init_method=p.init, causal=p.causal, edges=p.edges)

    def iterations(self) -> tuple[int, int, int]:
        """(nofuture, online, batch) iteration counts after applying the mode preset."""
        p = self.params
        return tuple(preset if getattr(p, f"{s}_iterations") is None
                     else int(getattr(p, f"{s}_iterations"))
                     for s, preset in zip(STAGES, MODES[p.mode], strict=True))

    def skip(self, spec: FeatureSpec) -> str | None:
        """Decline specs whose neighbourhood would not fit the spectrum."""
        return kernel_too_wide(self.params.L, spec)

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """:func:`lws` with the plugin's parameters (each batch item in turn)."""
        p = self.params
        return lws(magnitude, spec, init=init, rng=rng, trace=trace,
                   init_method=p.init, **{k: v for k, v in vars(p).items() if k != "init"})
