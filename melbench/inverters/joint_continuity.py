"""``joint_tc``: ``joint_fgla`` with a temporal-continuity prior on the fine structure.

The joint iteration of :mod:`melbench.inverters.joint_fgla` alternates the
consistency projection ``t = STFT(ISTFT(c))`` and a mel step that keeps the fine
structure ``|t|`` has inside each band and fixes each band's level. The mel does
not pin that fine structure down: on the bundled music excerpt at ``speech16k``
(98 % of the energy below 500 Hz, where a band spans about two FFT bins) the
joint iteration ends on a signal whose mel matches the given one to -38..-41 dB
but whose magnitude is only -15 dB from the true one, and started from the true
STFT it drifts (with the momentum 0.99) to another such signal at -18 dB
(``results/music_phase.md``). Among the many consistent spectrograms with the
given mel a prior has to choose, and the one measured to help here is that
stationary sounds keep their fine structure from frame to frame: the true
magnitude of that excerpt changes by 2.5 dB per frame (weighted mean, bins 2-20)
against 2.8 dB for the joint estimate.

So before the mel step the consistent magnitude ``a = |t|`` is pulled towards its
geometric three-frame mean,

``a' = (1 - beta) a + beta exp((log a[k-1] + 2 log a[k] + log a[k+1]) / 4)``

(per bin up to ``max_hz``, frame ``k``; the first and last frames repeat themselves),
the mel step acts on ``a'`` (so the band levels are still those of the mel), and the
phase of ``t`` is kept: ``x = s t / |t|``. The prior acts in the first ``prior_iter``
iterations; the last ones are plain ``joint_fgla`` iterations from where the prior led.
``beta = 0`` (or ``prior_iter = 0``) is ``joint_fgla`` exactly. The output magnitude is
brought onto the mel by ``final_steps`` further steps, as in ``joint_fgla``, and the
complex estimate goes to the phase stage as its warm start (``context["phase_init"]``).

Measured (``results/music_phase.md``, cells then ``fgla:32``, speech16k), defaults
(200 iterations, the prior in the first 150, ``beta`` 0.25, below 1000 Hz): the bundled
music excerpt -16.07 dB SC against the true magnitude (``joint_fgla:200`` -14.97) in
0.6-0.7x librosa ``mel_to_audio``'s time; the evaluation suite's 51 music clips -12.30
against -12.18 dB; speech PESQ-wb 3.580 against 3.588 on the suite's 30 speech clips and
3.781 against 3.767 on the five bundled ones. With the prior in every iteration the music
excerpt gets -16.17 but speech loses 0.12 PESQ (gliding harmonics are held back); on every
bin instead of below 1000 Hz the suite's music loses 1 dB (transients and noise smeared).
The -17 dB target is not reached. Every variant tried (phase locking, coarse-to-fine,
sparse main lobes, sharpening, annealing, averaging, alternation, adaptive weights) is in
that file.

Two more options, off by default (``results/music_phase.md``, "Round 5"; ``joint_lr`` in
:mod:`melbench.inverters.joint_lowrank` turns them on): ``lowrank`` pulls the magnitude of
the bins below ``lowrank_hz`` towards its sliding-window low-rank approximation
(:func:`.lowrank_magnitude`; a sustained bass note is close to rank one there), and
``average_iter`` returns the mean consistent magnitude of the last iterations. Round 7
(``results/music_phase.md``; ``joint_lrr`` in :mod:`melbench.inverters.joint_lowrank`)
added three more, also off by default: ``lowrank_solver="power"`` finds each window's
low-rank subspace by a compiled subspace iteration warm-started from the previous pass
(:func:`.lowrank_prior._k_lowrank_pull`; the same approximation to float32 rounding, about 4x cheaper
than numpy's ``eigh`` per pass), ``lowrank_gate`` scales each window's low-rank weight by
how close it is to low rank, and ``min_hz`` starts the continuity pass above the lowest
bins (so that it and the low-rank prior act on different bins).

Cost: ``joint_fgla``'s iteration plus one compiled pass (a magnitude, two square roots
and a division per bin and frame below ``max_hz``).

References
----------
.. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim algorithm",
   IEEE WASPAA 2013.
.. [2] Y. Masuyama, N. Ueno and N. Ono, "Signal reconstruction from mel-spectrogram based
   on bi-level consistency of full-band magnitude and phase", arXiv:2307.12232, 2023.
.. [3] T. Virtanen, "Monaural sound source separation by nonnegative matrix factorization
   with temporal continuity and sparseness criteria", IEEE TASLP 15(3), 2007 (a temporal
   continuity prior on magnitude spectrograms).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np

from ..errors import ParameterError
from ..kernel_flags import FASTMATH
from ..plugin import Inverter
from ..spec import FeatureSpec
from .joint_fgla import PHASE_INIT_KEY, joint_fgla_inverse
from .lowrank_prior import (  # noqa: F401  (lowrank_magnitude and the solver re-exported: imported from here)
    LOWRANK_SOLVERS,
    POWER_MAX_ITER,
    POWER_TOL,
    _k_lowrank_pull,
    _pull_lowrank,
    _window_starts,
    lowrank_magnitude,
)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_continuity(t, a, beta, n_bins):  # pragma: no cover - compiled
    """Scale ``t`` (T, F) complex in place so that ``|t|`` becomes the continuity-pulled ``a'``.

    Only the first ``n_bins`` bins are touched. ``a`` (T, F) real is a work buffer
    (``|t|``). The geometric mean over the frame's value is computed without logs:
    ``exp((log a[k-1] + 2 log a[k] + log a[k+1]) / 4) / a[k] = sqrt(sqrt(a[k-1] a[k+1]) / a[k])``
    (square roots vectorise; measured 2.2 ms against 0.3 ms per pass at speech16k, 4 s,
    for the log/exp form). Bins with ``|t|`` below ``1e-30`` are left as they are.
    """
    n_frames, n = t.shape
    small = a.dtype.type(1e-30)
    nb = min(n, n_bins)
    if n_frames < 2:
        return
    for k in range(n_frames):
        for j in range(nb):
            v = t[k, j]
            a[k, j] = np.sqrt(v.real * v.real + v.imag * v.imag)
    one = a.dtype.type(1.0)
    for k in range(n_frames):
        kp = max(k - 1, 0)
        kn = min(k + 1, n_frames - 1)
        for j in range(nb):
            ak = a[k, j]
            r = np.sqrt(np.sqrt(a[kp, j] * a[kn, j]) / ak) if ak > small else one
            t[k, j] = t[k, j] * ((one - beta) + beta * r)


def continuity_magnitude(magnitude: np.ndarray, beta: float) -> np.ndarray:
    """The continuity-pulled magnitude ``a'`` of the module docstring (numpy reference form).

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Non-negative magnitude ``a``.
    beta : float
        Weight of the geometric three-frame mean, in [0, 1].

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``(1 - beta) a + beta exp((log a[k-1] + 2 log a[k] + log a[k+1]) / 4)``, the edge
        frames repeated; bins where ``a`` is 0 stay 0.

    References
    ----------
    .. [1] T. Virtanen, "Monaural sound source separation by nonnegative matrix
       factorization with temporal continuity and sparseness criteria," IEEE TASLP
       15(3), 2007 (temporal continuity of magnitude spectrograms as a prior).
    """
    a = np.asarray(magnitude)
    la = np.log(np.maximum(a, 1e-30))
    prev = np.concatenate([la[..., :1], la[..., :-1]], axis=-1)
    nxt = np.concatenate([la[..., 1:], la[..., -1:]], axis=-1)
    out = (1.0 - beta) * a + beta * np.exp(0.25 * (prev + nxt) + 0.5 * la)
    return np.where(a > 1e-30, out, a).astype(a.dtype, copy=False)


def joint_tc_inverse(
    mel: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 200,
    beta: float = 0.25,
    max_hz: float | None = 1000.0,
    prior_iter: int | None = 150,
    alpha: float = 0.99,
    ratio_steps: int = 3,
    final_steps: int = 100,
    lowrank: float = 0.0,
    lowrank_rank: int = 2,
    lowrank_frames: int = 32,
    lowrank_hz: float = 250.0,
    lowrank_every: int = 4,
    average_iter: int = 0,
    lowrank_solver: str = "eigh",
    lowrank_gate: float = 0.0,
    min_hz: float = 0.0,
    init: np.ndarray | None = None,
    trace: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and phase of a linear mel by the joint iteration with a continuity prior.

    Parameters
    ----------
    mel : np.ndarray [shape=(..., n_mels, frames)]
        Linear mel in ``spec.domain`` (power or magnitude), non-negative.
    spec : FeatureSpec
        The contract the mel was made with.
    n_iter : int
        Joint iterations (one FFT pair, one continuity pass and ``ratio_steps`` mel steps each).
    beta : float
        Weight of the continuity prior in [0, 1] (0: ``joint_fgla`` exactly).
    max_hz : float or None
        The prior acts on bins up to this frequency only (None: every bin). Measured on the
        evaluation suite's 51 music clips at speech16k: on every bin the prior loses 1 dB
        mean SC (transients and cymbals are smeared), up to 500-1000 Hz it is neutral there.
    prior_iter : int or None
        The prior acts in the first ``prior_iter`` iterations only (None: in all of them).
        Measured (``results/music_phase.md``): in all 200 iterations the suite's 30 speech
        clips at speech16k lose 0.12 PESQ-wb; with the last 50 free of it they lose 0.008
        and the music keeps its gain (-16.07 against -16.17 dB on the bundled excerpt).
    alpha : float
        FGLA momentum in [0, 1].
    ratio_steps : int
        Multiplicative mel steps per iteration (at least 1).
    final_steps : int
        Further mel steps on the last magnitude (no FFT).
    lowrank : float
        Weight in [0, 1] of a low-rank prior on the lowest bins (0: off, the default):
        every ``lowrank_every``-th of the first ``prior_iter`` iterations, after the
        continuity pass, the magnitude of the bins up to ``lowrank_hz`` is pulled towards
        its sliding-window rank-``lowrank_rank`` approximation over ``lowrank_frames``
        frames (:func:`.lowrank_magnitude`): ``a' = (1 - lowrank) a + lowrank L(a)``, the
        phase kept (sustained bass notes are close to rank one).
    lowrank_rank, lowrank_frames, lowrank_hz, lowrank_every : int, int, float, int
        Rank, window length in frames, highest frequency and period (in iterations) of
        that prior.
    lowrank_solver : str
        How each window's top-``lowrank_rank`` subspace is found: ``"eigh"`` (the default,
        numpy's ``eigh`` of the window's Gram in every pass, :func:`.lowrank_magnitude`) or
        ``"power"`` (a compiled subspace iteration warm-started from the previous pass's
        basis, iterated to convergence, :func:`.lowrank_prior._k_lowrank_pull`: the same approximation to
        float32 rounding, measured 3-4x cheaper per pass; ``results/music_phase.md``,
        "Round 7").
    min_hz : float
        The continuity prior acts on bins from this frequency up to ``max_hz`` (0, the
        default: from the lowest bin).
    lowrank_gate : float
        0 (the default): off. Otherwise (``"power"`` solver only) each window's weight is
        scaled by ``clip(2 - 2 res / lowrank_gate, 0, 1)``, ``res`` the share of its energy
        the low-rank form leaves out: meant to keep the prior where the bins are close to
        low rank (stationary bass notes) and off where they are not (gliding speech
        harmonics); measured in round 7, it did not repair the speech clips it was meant for.
    average_iter : int
        Average the consistent magnitude ``|t|`` over the last ``average_iter`` iterations
        (0: off, the default) and return that mean, with the last iterate's phase, after
        one more joint iteration and ``final_steps`` mel steps (iterate averaging: the
        momentum makes the last iterates wander around the point they approach).
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Complex start; default the ``nnls`` magnitude with zero phase.
    trace : list, optional
        Receives ``{"iter": k, "mel_gap": d}`` per iteration, as
        :func:`melbench.inverters.joint_fgla.joint_fgla_inverse`.

    Returns
    -------
    spectrogram : np.ndarray [shape=(..., n_freq, frames)]
        Non-negative spectrogram in ``spec.domain`` (float32 unless the mel is float64).
    stft : np.ndarray [shape=(..., n_freq, frames)]
        Complex estimate with the joint phase (complex64 for float32).

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013.
    .. [2] T. Virtanen, "Monaural sound source separation by nonnegative matrix
       factorization with temporal continuity and sparseness criteria," IEEE TASLP
       15(3), 2007.
    """
    if not 0 <= beta <= 1:
        raise ParameterError(f"beta={beta!r} outside [0, 1] (the weight of the continuity prior)")
    if prior_iter is not None and int(prior_iter) < 0:
        raise ParameterError(f"prior_iter={prior_iter!r} must be >= 0 (or None for every iteration)")
    if max_hz is not None and not max_hz > 0:
        raise ParameterError(f"max_hz={max_hz!r} must be positive (or None for every bin)")
    if int(ratio_steps) < 1:
        raise ParameterError(f"ratio_steps={ratio_steps}: need ratio_steps >= 1")
    if not 0 <= lowrank <= 1:
        raise ParameterError(f"lowrank={lowrank!r} outside [0, 1] (the weight of the low-rank prior)")
    if lowrank > 0:
        for name, v, least in (("lowrank_rank", lowrank_rank, 1), ("lowrank_frames", lowrank_frames, 2),
                               ("lowrank_every", lowrank_every, 1)):
            if int(v) != v or v < least:
                raise ParameterError(f"{name}={v!r} must be an integer >= {least}")
        if not lowrank_hz > 0:
            raise ParameterError(f"lowrank_hz={lowrank_hz!r} must be positive")
    if lowrank_solver not in LOWRANK_SOLVERS:
        raise ParameterError(f"lowrank_solver={lowrank_solver!r}: use one of {', '.join(LOWRANK_SOLVERS)}")
    if not 0 <= lowrank_gate <= 1 or (lowrank_gate > 0 and lowrank_solver != "power"):
        raise ParameterError(f"lowrank_gate={lowrank_gate!r}: must be in [0, 1], and > 0 only with "
                             "lowrank_solver='power'")
    n_bins = spec.n_freq if max_hz is None else int(np.floor(max_hz * spec.n_fft / spec.sample_rate)) + 1
    if not 0 <= min_hz:
        raise ParameterError(f"min_hz={min_hz!r} must be >= 0 (0: from the lowest bin)")
    lo_bin = min(spec.n_freq, int(np.ceil(min_hz * spec.n_fft / spec.sample_rate))) if min_hz > 0 else 0
    lr_bins = min(spec.n_freq, int(np.floor(lowrank_hz * spec.n_fft / spec.sample_rate)) + 1)
    active = (beta > 0 or lowrank > 0) and (prior_iter is None or int(prior_iter) > 0)
    power: list = []  # the "power" solver's state: window starts, length, bases, warm flags

    def pull_lowrank(it: int, t: np.ndarray) -> None:
        if lowrank_solver == "eigh":
            _pull_lowrank(t, lowrank, int(lowrank_rank), int(lowrank_frames), lr_bins)
            return
        if not power:
            starts, length = _window_starts(t.shape[0], int(lowrank_frames))
            nb = min(t.shape[1], lr_bins)
            power.extend([starts, length, np.zeros((len(starts), nb, min(int(lowrank_rank), nb))),
                          np.zeros(len(starts), np.bool_)])
        if it == 0:  # a new item of a batch (joint_fgla_inverse runs them one by one): cold start
            power[3][:] = False
        _k_lowrank_pull(t, float(lowrank), lr_bins, *power, POWER_TOL, POWER_MAX_ITER, float(lowrank_gate))

    def continuity(it: int, t: np.ndarray) -> None:
        if prior_iter is None or it < prior_iter:
            if beta > 0:
                if lo_bin == 0:
                    _k_continuity(t, np.empty(t.shape, t.real.dtype), t.real.dtype.type(beta), n_bins)
                elif n_bins > lo_bin:  # the bins from min_hz on: a view, the same kernel
                    tv = t[:, lo_bin:]
                    _k_continuity(tv, np.empty(tv.shape, t.real.dtype), t.real.dtype.type(beta),
                                  n_bins - lo_bin)
            if lowrank > 0 and it % int(lowrank_every) == 0:
                pull_lowrank(it, t)

    n_avg = min(int(average_iter), int(n_iter))
    if n_avg < 0:
        raise ParameterError(f"average_iter={average_iter!r} must be >= 0")
    if n_avg == 0 or mel.ndim > 2:
        if n_avg and mel.ndim > 2:  # one item at a time, as joint_fgla_inverse does
            flat = mel.reshape(-1, *mel.shape[-2:])
            inits = None if init is None else np.asarray(init).reshape(-1, spec.n_freq, mel.shape[-1])
            outs = [joint_tc_inverse(m, spec, n_iter=n_iter, beta=beta, max_hz=max_hz, prior_iter=prior_iter,
                                     alpha=alpha, ratio_steps=ratio_steps, final_steps=final_steps,
                                     lowrank=lowrank, lowrank_rank=lowrank_rank,
                                     lowrank_frames=lowrank_frames, lowrank_hz=lowrank_hz,
                                     lowrank_every=lowrank_every, average_iter=n_avg,
                                     lowrank_solver=lowrank_solver, lowrank_gate=lowrank_gate, min_hz=min_hz,
                                     init=None if inits is None else inits[i]) for i, m in enumerate(flat)]
            shape = (*mel.shape[:-2], spec.n_freq, mel.shape[-1])
            return (np.stack([o[0] for o in outs]).reshape(shape),
                    np.stack([o[1] for o in outs]).reshape(shape))
        return joint_fgla_inverse(mel, spec, n_iter=n_iter, alpha=alpha, ratio_steps=ratio_steps,
                                  final_steps=final_steps, prior=continuity if active else None,
                                  init=init, trace=trace)
    acc: list[np.ndarray] = []

    def prior_and_average(it: int, t: np.ndarray) -> None:
        if active:
            continuity(it, t)
        if it >= n_iter - n_avg:
            a = np.abs(t)
            if acc:
                acc[0] += a
            else:
                acc.append(a)

    _, x = joint_fgla_inverse(mel, spec, n_iter=n_iter, alpha=alpha, ratio_steps=ratio_steps,
                              final_steps=0, prior=prior_and_average, init=init, trace=trace)
    mean = np.ascontiguousarray(acc[0].T) / np.float32(n_avg)
    start = (mean * np.exp(1j * np.angle(x))).astype(x.dtype)
    return joint_fgla_inverse(mel, spec, n_iter=1, alpha=alpha, ratio_steps=ratio_steps,
                              final_steps=final_steps, init=start)


class JointTC(Inverter):
    """``joint_fgla`` with a temporal-continuity prior on the magnitude's fine structure.

    Returns the magnitude and hands its phase to the phase stage as a warm start
    (see :mod:`melbench.inverters.joint_continuity`): pair it with ``fgla``.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013.
    .. [2] T. Virtanen, "Monaural sound source separation by nonnegative matrix
       factorization with temporal continuity and sparseness criteria," IEEE TASLP
       15(3), 2007.
    """

    name: ClassVar[str] = "joint_tc"
    counts_ffts: ClassVar[bool] = True  # every FFT runs in the spec's Projector

    @dataclass
    class Params:
        """Parameters of ``joint_tc``.

        Attributes
        ----------
        joint_iter : int
            Joint iterations (one FFT pair each).
        beta : float
            Weight of the continuity prior in [0, 1] (0: ``joint_fgla``).
        max_hz : float
            The prior acts on bins up to this frequency (0: every bin).
        prior_iter : int
            The prior acts in the first ``prior_iter`` joint iterations (0: in all).
        alpha : float
            FGLA momentum in [0, 1].
        ratio_steps : int
            Multiplicative mel steps per iteration (at least 1).
        final_steps : int
            Mel steps on the last magnitude (no FFT).
        lowrank : float
            Weight of the low-rank prior on the lowest bins in [0, 1] (0: off).
        lowrank_rank, lowrank_frames, lowrank_hz, lowrank_every : int, int, float, int
            Its rank, window (frames), highest frequency (Hz) and period (iterations);
            see :func:`joint_tc_inverse`.
        average_iter : int
            Return the mean magnitude of the last ``average_iter`` iterations (0: off).
        lowrank_solver : str
            ``"eigh"`` (numpy, every pass) or ``"power"`` (compiled, warm-started; the
            same to float32 rounding, cheaper): see :func:`joint_tc_inverse`.
        lowrank_gate : float
            0: off; else the residual share above which a window gets no low-rank pull
            (``"power"`` only; see :func:`joint_tc_inverse`).
        min_hz : float
            The continuity prior acts from this frequency on (0: from the lowest bin).
        """

        joint_iter: int = 200
        beta: float = 0.25
        max_hz: float = 1000.0
        prior_iter: int = 150
        alpha: float = 0.99
        ratio_steps: int = 3
        final_steps: int = 100
        lowrank: float = 0.0
        lowrank_rank: int = 2
        lowrank_frames: int = 32
        lowrank_hz: float = 250.0
        lowrank_every: int = 4
        average_iter: int = 0
        lowrank_solver: str = "eigh"
        lowrank_gate: float = 0.0
        min_hz: float = 0.0

    def validate(self) -> None:
        """Check every parameter's range."""
        p = self.params
        for f, least in (("joint_iter", 0), ("ratio_steps", 1), ("final_steps", 0), ("prior_iter", 0),
                         ("lowrank_rank", 1), ("lowrank_frames", 2), ("lowrank_every", 1),
                         ("average_iter", 0)):
            v = getattr(p, f)
            if isinstance(v, bool) or int(v) != v or v < least:
                raise ParameterError(f"{f}={v!r} must be an integer >= {least}")
        if not 0 <= p.beta <= 1:
            raise ParameterError(f"beta={p.beta!r} outside [0, 1] (the weight of the continuity prior)")
        if not 0 <= p.alpha <= 1:
            raise ParameterError(f"alpha={p.alpha!r} outside [0, 1] (unstable above 1)")
        if p.max_hz < 0:
            raise ParameterError(f"max_hz={p.max_hz!r} must be >= 0 (0: every bin)")
        if not 0 <= p.lowrank <= 1:
            raise ParameterError(f"lowrank={p.lowrank!r} outside [0, 1] (the weight of the low-rank prior)")
        if not p.lowrank_hz > 0:
            raise ParameterError(f"lowrank_hz={p.lowrank_hz!r} must be positive")
        if not 0 <= p.lowrank_gate <= 1 or (p.lowrank_gate > 0 and p.lowrank_solver != "power"):
            raise ParameterError(f"lowrank_gate={p.lowrank_gate!r}: must be in [0, 1], and > 0 only with "
                                 "lowrank_solver='power'")
        if p.min_hz < 0:
            raise ParameterError(f"min_hz={p.min_hz!r} must be >= 0 (0: from the lowest bin)")
        if p.lowrank_solver not in LOWRANK_SOLVERS:
            raise ParameterError(f"lowrank_solver={p.lowrank_solver!r}: use one of "
                                 f"{', '.join(LOWRANK_SOLVERS)}")

    def estimate(self, mel: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
        """Magnitude (``spec.domain``) and complex estimate, :func:`joint_tc_inverse` at these parameters."""
        p = self.params
        return joint_tc_inverse(mel, spec, n_iter=int(p.joint_iter), beta=float(p.beta),
                                max_hz=float(p.max_hz) or None, prior_iter=int(p.prior_iter) or None,
                                alpha=float(p.alpha),
                                ratio_steps=int(p.ratio_steps), final_steps=int(p.final_steps),
                                lowrank=float(p.lowrank), lowrank_rank=int(p.lowrank_rank),
                                lowrank_frames=int(p.lowrank_frames), lowrank_hz=float(p.lowrank_hz),
                                lowrank_every=int(p.lowrank_every), average_iter=int(p.average_iter),
                                lowrank_solver=str(p.lowrank_solver), lowrank_gate=float(p.lowrank_gate),
                                min_hz=float(p.min_hz))

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return the magnitude (``spec.domain``); its phase goes to ``context["phase_init"]``."""
        s, x = self.estimate(mel, spec)
        if isinstance(context, MutableMapping):
            context[PHASE_INIT_KEY] = x
        return s
