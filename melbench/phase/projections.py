"""Projection-family phase retrieval: GLA, FGLA, AGLA, RAAR and the difference map.

Notation (as in ``docs``/the design notes): ``A`` is the target magnitude,
``P1(X) = STFT(ISTFT(X))`` projects on consistent spectrograms with the spec's own
window, hop and padding, ``P2(X) = A X / |X|`` imposes the magnitude (a bin of
modulus 0 gets phase 0), and ``R_i = 2 P_i - I`` are the reflections.

Every method is a pure function with melbench's phase-function signature
(:mod:`melbench.phase.helpers`) ``f(magnitude, spec, *, init=None, rng=None,
trace=None, n_iter, <its parameters>, init_method, length)`` plus a thin
:class:`~melbench.plugin.PhaseRetriever` with a ``Params`` dataclass. All of them

* validate their input (:func:`~melbench.phase.helpers.check_phase_input`) and their
  parameters (:class:`~melbench.errors.ParameterError`);
* run on a :class:`melbench.stft.Projector` (one ``irfft`` + two compiled passes +
  one ``rfft`` per ``P1``, buffers reused) and fuse their elementwise work
  (momentum, ``P2``, the convergence measure) into one compiled pass per
  iteration (:mod:`melbench.phase.projection_kernels`), so an iteration costs little
  more than the FFT pair;
* project on the longest signal that has the given number of frames (the
  :class:`~melbench.stft.Projector` default), so that the STFT of every clip with
  these frames is a fixed point (a warm start from the true phase stays put);
  the pure functions' ``length=`` selects another length, e.g. librosa's shorter
  natural one, with which ``fgla`` reproduces ``librosa.griffinlim`` exactly;
* accept a warm start (a complex spectrogram, whose phase is used, or an array of
  phases) or start from a seeded uniform random phase ("random") or zero phase;
* return ``P2(x_N)``: the target magnitude with the retrieved phase, shape and
  batch axes of the magnitude, complex64 for float32 input;
* when ``trace`` is a list, append ``{"iter": k, "sc_db": s, "t": seconds}`` for
  ``k = 0 .. n_iter``, where ``s`` is the spectral convergence
  ``20 log10(|| |STFT(ISTFT(P2(x_k)))| - A ||_F / ||A||_F)`` of the output the
  method would return after ``k`` iterations (``k = 0``: the initial phase) and
  ``t`` the seconds from the start of the call to that output (set-up included;
  the trace's own bookkeeping and numba's one-off warm-up excluded). The value for
  ``k`` comes for free from iteration ``k + 1`` (it already computes
  ``P1(P2(x_k))`` or, for RAAR and DM, quantities it is a linear combination of);
  only the last entry costs one extra ``P1``. With batch axes the SC is over the
  whole batch. With ``trace=None`` nothing is measured. Inside a cost ledger
  (:mod:`melbench.costs`, as in every pipeline run) each record also has
  ``fft_pairs``: the FFT pairs the call has used up to that output (the trace's own
  extra projections are not counted). When the trace is a
  :class:`~melbench.phase.helpers.Trace` with a ``reference`` magnitude, each record
  also has ``sc_true_db``: the same SC against the reference (the true magnitude in a
  pipeline run), measured on the same ``P1(P2(x_k))`` with the clock paused.

Size: about 800 lines, over the project's 550-line guide, most of it the five methods'
docstrings (update rules, parameters, papers). The methods share their set-up, tracer
and checks, and each plugin class is a few lines beside its function (the project's
convention: a reader finds the function and its plugin together); the compiled kernels
are in :mod:`melbench.phase.projection_kernels`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ParameterError
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from .helpers import phase_function
from .projection_kernels import (
    ProjectionTracer,
    _k_agla,
    _k_dm_post,
    _k_dm_pre,
    _k_fgla,
    _k_fgla_inplace,
    _k_p2,
    _k_raar,
    _k_raar_q,
    _k_raar_start,
    _v,
    finish,
    setup,
)

INITS = ("random", "zero")

# --------------------------------------------------------------------------- plumbing


def _check_common(n_iter: int, init_method: str) -> None:
    if int(n_iter) != n_iter or n_iter < 0:
        raise ParameterError(f"n_iter={n_iter!r}: must be an integer >= 0")
    if init_method not in INITS:
        raise ParameterError(f"init={init_method!r}: choose 'random' or 'zero'")


# --------------------------------------------------------------------------- algorithms


@phase_function
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
    length: int | None = None,
    checkpoints: Mapping[int, Callable[[np.ndarray], bool]] | None = None,
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013); ``alpha=0`` is GLA.

    Variant: the authors' (and librosa's) momentum on the *consistent* iterate,
    ``t_n = P1(P2(c_{n-1}))``, ``c_n = t_n + alpha (t_n - t_{n-1})`` (no momentum
    on the first step), output ``P2(c_N)``. Each iteration is one ``P1``; with the
    same zero start this is ``librosa.griffinlim(momentum=alpha, init=None)``.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude (non-negative, finite; leading axes are a batch).
    spec : FeatureSpec
        STFT contract (window, hop, framing) the result is consistent with.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: complex spectrogram (its phase is used) or phases in radians.
    rng : Generator or int, optional
        Seed or generator of the random initial phase (``init_method="random"``).
    trace : list or Trace, optional
        Receives one record per iteration ``0 .. n_iter`` (module docstring; keys
        ``iter``, ``sc_db``, ``t``, ``fft_pairs`` in a ledger, ``sc_true_db`` with a
        reference).
    n_iter : int
        Number of iterations (one ``P1`` each).
    alpha : float
        Momentum in [0, 1]; 0 gives Griffin-Lim.
    init_method : {"random", "zero"}
        Initial phase when ``init`` is None (the plugins' ``init`` parameter).
    length : int, optional
        Signal length the consistency projection assumes; default the longest signal
        with this many frames (:class:`melbench.stft.Projector`). Give the clip's
        length to reproduce ``librosa.griffinlim(..., length=...)`` exactly.
    checkpoints : mapping, optional
        ``{k: f}``: after iteration ``k`` (``1 <= k < n_iter``), ``f(x_k)`` is called with
        what ``n_iter=k`` would return; if it returns True the run stops there and
        returns ``x_k``. Otherwise the run goes on unchanged (a look at the iterate,
        e.g. :class:`melbench.inverters.guarded.Guarded` deciding whether to finish).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``P2(c_N)``: the target magnitude with the retrieved phase; complex64 for float32
        input, complex128 for float64.

    Raises
    ------
    InputError
        Bad magnitude or warm start (:func:`~melbench.phase.helpers.check_phase_input`).
    ParameterError
        A parameter out of its range.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Søndergaard, "A fast Griffin-Lim algorithm," IEEE
       WASPAA 2013.
    """
    _check_common(n_iter, init_method)
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha={alpha!r} outside [0, 1] (the momentum is unstable above 1)")
    tr = ProjectionTracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = setup(magnitude, spec, init, init_method, rng, length)
    tr.attach(proj)
    af, al = a.reshape(-1), proj.dtype.type(alpha)
    xin = np.empty_like(x)
    _k_p2(_v(x), af, _v(xin))
    del x  # peak memory: target + three spectrograms + the FFT's frames
    tr.mark()
    tprev = None
    for it in range(int(n_iter)):
        t = proj.project(xin, overwrite=True)  # the FFT may use xin as scratch: it is spent
        if tprev is None:
            num = _k_fgla(_v(t), _v(t), af, al, _v(xin), tr.on)
        else:  # P2(c_n) goes over t_{n-1}, which is not needed any more
            num = _k_fgla_inplace(_v(t), _v(tprev), af, al, tr.on)
            xin = tprev
        tprev = t
        tr.mark()
        tr.add_internal(it, num, _v(t))
        if checkpoints and it + 1 in checkpoints and it + 1 < n_iter:
            x_k = proj.from_internal(xin).copy()  # xin is the next iteration's scratch
            if checkpoints[it + 1](x_k):
                return x_k
    tr.final(int(n_iter), proj, xin, a)
    return proj.from_internal(xin)


@phase_function
def gla(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 100,
    init: np.ndarray | None = None,
    init_method: str = "random",
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Griffin-Lim (Griffin & Lim 1984): ``c_n = P1(P2(c_{n-1}))``, output ``P2(c_N)``.

    Its inconsistency ``|| P1(P2 c) - P2 c ||`` never increases (with constant
    padding, where ``P1`` is an orthogonal projection). :func:`fgla` with ``alpha=0``.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude (non-negative, finite; leading axes are a batch).
    spec : FeatureSpec
        STFT contract (window, hop, framing) the result is consistent with.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: complex spectrogram (its phase is used) or phases in radians.
    rng : Generator or int, optional
        Seed or generator of the random initial phase (``init_method="random"``).
    trace : list or Trace, optional
        Receives one record per iteration ``0 .. n_iter`` (module docstring; keys
        ``iter``, ``sc_db``, ``t``, ``fft_pairs`` in a ledger, ``sc_true_db`` with a
        reference).
    n_iter : int
        Number of iterations (one ``P1`` each).
    init_method : {"random", "zero"}
        Initial phase when ``init`` is None (the plugins' ``init`` parameter).
    length : int, optional
        Signal length the consistency projection assumes; default the longest signal
        with this many frames (:class:`melbench.stft.Projector`). Give the clip's
        length to reproduce ``librosa.griffinlim(..., length=...)`` exactly.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``P2(c_N)``: the target magnitude with the retrieved phase; complex64 for float32
        input, complex128 for float64.

    Raises
    ------
    InputError
        Bad magnitude or warm start (:func:`~melbench.phase.helpers.check_phase_input`).
    ParameterError
        A parameter out of its range.

    References
    ----------
    .. [1] D. W. Griffin and J. S. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. Acoustics, Speech, and Signal Processing 32(2):236-243, 1984.
    """
    return fgla(magnitude, spec, n_iter=n_iter, alpha=0.0, init=init,
                init_method=init_method, rng=rng, trace=trace, length=length)


#: Momentum schedules of :func:`agla`.
AGLA_SCHEDULES = ("constant", "increasing")


def agla_alpha_bound(beta: float, gamma: float) -> float:
    """Largest ``alpha`` of AGLA's proven convergence region (strict bound).

    ``(1 - 1/gamma) beta + 1/gamma - 1/2`` for ``gamma <= 1``, else
    ``1 / (2 beta (gamma - 1) + gamma) - 1/2`` (Nenov et al. 2023, Eq. (10)); at
    ``gamma = 1`` both give 1/2.
    """
    if gamma <= 1:
        return (1 - 1 / gamma) * beta + 1 / gamma - 0.5
    return 1 / (2 * beta * (gamma - 1) + gamma) - 0.5


@phase_function
def agla(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 100,
    alpha: float = 0.99,
    beta: float = 1.1,
    gamma: float = 1.25,
    schedule: str = "constant",
    init: np.ndarray | None = None,
    init_method: str = "random",
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Accelerated Griffin-Lim (Nenov, Nguyen, Balazs et al. 2023, arXiv 2306.12504).

    Variant: ``T = P1 o P2`` (consistent ``t``, Perraudin's order, as the DeepAGLA
    port; another port uses ``P2 o P1`` — the paper's order is unverified here)::

        t_n = (1 - gamma) d_{n-1} + gamma T(c_{n-1})
        c_n = t_n + alpha (t_n - t_{n-1})
        d_n = t_n + beta  (t_n - t_{n-1})

    with ``t_1 = c_1 = d_1 = T(c_0)``; output ``P2(c_N)``. ``gamma = 1`` is
    :func:`fgla` for any ``beta`` (``d`` drops out); ``gamma = 1, alpha = 0`` is GLA.

    **Convergence region.** The paper proves convergence (its Eq. (10), as the DeepAGLA
    port cites it) for ``alpha < (1 - 1/gamma) beta + 1/gamma - 1/2`` when ``gamma <= 1``
    and ``alpha < 1 / (2 beta (gamma - 1) + gamma) - 1/2`` when ``gamma > 1``
    (:func:`agla_alpha_bound`). The defaults (alpha 0.99 as FGLA's momentum; beta 1.1,
    gamma 1.25 as two independent ports) lie far outside it: the bound there is
    ``1/1.8 - 1/2 = 0.056``. The bound is sufficient, not necessary: at the defaults AGLA
    converges and beats FGLA on the bundled clips (``tests/test_projections.py``), while
    alpha = 0.05 inside the region is barely faster than GLA. No warning is raised for
    parameters outside the region (it would fire on the defaults, which are the useful
    setting); the docs say so.

    **Schedules.** ``schedule="constant"``: fixed alpha, beta. ``"increasing"``: the
    iteration-dependent momenta ``alpha_n = (n - 1) / (n + 2)``, ``beta_n = n / (n + 3)``
    (``n`` = 1, 2, ...; alpha and beta are then ignored) of an independent port of the
    paper. The paper's own experiment values could not be checked here (its text was not
    reachable): both presets are documented as the ports' values, unverified.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude (non-negative, finite; leading axes are a batch).
    spec : FeatureSpec
        STFT contract (window, hop, framing) the result is consistent with.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: complex spectrogram (its phase is used) or phases in radians.
    rng : Generator or int, optional
        Seed or generator of the random initial phase (``init_method="random"``).
    trace : list or Trace, optional
        Receives one record per iteration ``0 .. n_iter`` (module docstring; keys
        ``iter``, ``sc_db``, ``t``, ``fft_pairs`` in a ledger, ``sc_true_db`` with a
        reference).
    n_iter : int
        Number of iterations (one ``P1`` each).
    alpha : float
        Momentum of ``c``, in [0, 1].
    beta : float
        Momentum of ``d``, >= 0.
    gamma : float
        Mixing in (0, 2].
    schedule : {"constant", "increasing"}
        Fixed momenta, or the iteration-dependent ones above.
    init_method : {"random", "zero"}
        Initial phase when ``init`` is None (the plugins' ``init`` parameter).
    length : int, optional
        Signal length the consistency projection assumes; default the longest signal
        with this many frames (:class:`melbench.stft.Projector`). Give the clip's
        length to reproduce ``librosa.griffinlim(..., length=...)`` exactly.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``P2(c_N)``: the target magnitude with the retrieved phase; complex64 for float32
        input, complex128 for float64.

    Raises
    ------
    InputError
        Bad magnitude or warm start (:func:`~melbench.phase.helpers.check_phase_input`).
    ParameterError
        A parameter out of its range.

    References
    ----------
    .. [1] R. Nenov, D.-K. Nguyen and P. Balazs, "Faster than fast: accelerating the Griffin-Lim
       algorithm," ICASSP 2023 (arXiv:2306.12504).
    """
    _check_common(n_iter, init_method)
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha={alpha!r} outside [0, 1]")
    if not beta >= 0:
        raise ParameterError(f"beta={beta!r}: must be >= 0")
    if not 0 < gamma <= 2:
        raise ParameterError(f"gamma={gamma!r} outside (0, 2]")
    if schedule not in AGLA_SCHEDULES:
        raise ParameterError(f"agla schedule={schedule!r}; choose one of "
                             f"{', '.join(AGLA_SCHEDULES)}")
    tr = ProjectionTracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = setup(magnitude, spec, init, init_method, rng, length)
    tr.attach(proj)
    af = a.reshape(-1)
    al, be, ga = (proj.dtype.type(v) for v in (alpha, beta, gamma))
    xin = np.empty_like(x)
    _k_p2(_v(x), af, _v(xin))
    del x
    tr.mark()
    tprev = d = None
    for it in range(int(n_iter)):
        u = _v(proj.project(xin, overwrite=True))
        if tprev is None:  # first step: t_1 = d_1 = c_1 = T(c_0)
            tprev, d = u.copy(), u.copy()
        if schedule == "increasing":  # alpha_n = (n - 1) / (n + 2), beta_n = n / (n + 3)
            n = it + 1
            al, be = proj.dtype.type((n - 1) / (n + 2)), proj.dtype.type(n / (n + 3))
        num = _k_agla(u, tprev, d, af, al, be, ga, _v(xin), tr.on)
        tr.mark()
        tr.add_internal(it, num, u)
    tr.final(int(n_iter), proj, xin, a)
    return proj.from_internal(xin)


@phase_function
def raar(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 100,
    beta: float = 0.9,
    init: np.ndarray | None = None,
    init_method: str = "random",
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Relaxed averaged alternating reflections (Luke 2005), as in Peer, Welker & Gerkmann 2022.

    ``x_{n+1} = beta/2 (x_n + R1(R2(x_n))) + (1 - beta) P2(x_n)`` with ``C2`` the
    magnitude set (reflected first) and ``C1`` the consistent set; ``beta = 1`` is
    Douglas-Rachford. One ``P1`` per iteration; output ``P2(x_N)``. ``x`` itself is
    neither consistent nor of the target magnitude.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude (non-negative, finite; leading axes are a batch).
    spec : FeatureSpec
        STFT contract (window, hop, framing) the result is consistent with.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: complex spectrogram (its phase is used) or phases in radians.
    rng : Generator or int, optional
        Seed or generator of the random initial phase (``init_method="random"``).
    trace : list or Trace, optional
        Receives one record per iteration ``0 .. n_iter`` (module docstring; keys
        ``iter``, ``sc_db``, ``t``, ``fft_pairs`` in a ledger, ``sc_true_db`` with a
        reference).
    n_iter : int
        Number of iterations (one ``P1`` each; tracing costs one extra ``P1`` at the start).
    beta : float
        Relaxation in (0, 1] (0.9 as in the reference ports); 1 is Douglas-Rachford.
    init_method : {"random", "zero"}
        Initial phase when ``init`` is None (the plugins' ``init`` parameter).
    length : int, optional
        Signal length the consistency projection assumes; default the longest signal
        with this many frames (:class:`melbench.stft.Projector`). Give the clip's
        length to reproduce ``librosa.griffinlim(..., length=...)`` exactly.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``P2(x_N)``: the target magnitude with the retrieved phase; complex64 for float32
        input, complex128 for float64.

    Raises
    ------
    InputError
        Bad magnitude or warm start (:func:`~melbench.phase.helpers.check_phase_input`).
    ParameterError
        A parameter out of its range.

    References
    ----------
    .. [1] D. R. Luke, "Relaxed averaged alternating reflections for diffraction imaging,"
       Inverse Problems 21(1):37-50, 2005.
    .. [2] R. Peer, S. Welker and T. Gerkmann, "Beyond Griffin-Lim: improved iterative phase
       retrieval for speech," IWAENC 2022.
    """
    _check_common(n_iter, init_method)
    if not 0 < beta <= 1:
        raise ParameterError(f"beta={beta!r} outside (0, 1]")
    tr = ProjectionTracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = setup(magnitude, spec, init, init_method, rng, length)
    tr.attach(proj)
    af, xf, be = a.reshape(-1), _v(x), proj.dtype.type(beta)
    p2, xin = np.empty_like(x), np.empty_like(x)
    q = None
    if tr.on:  # q = P1(x), kept up to date: P1(x_{n+1}) = (P1(R2 x_n) + P1(x_n)) / 2
        with tr.pause():
            q = _v(proj.project(x))
    _k_raar_start(xf, af, _v(p2), _v(xin))
    tr.mark()
    for it in range(int(n_iter)):
        p1 = _v(proj.project(xin, overwrite=True))
        num = _k_raar_q(p1, q, af) if q is not None else 0.0
        _k_raar(p1, xf, _v(p2), af, be, _v(xin))
        tr.mark()
        tr.add_internal(it, num, q)
    tr.final(int(n_iter), proj, p2, a)
    return proj.from_internal(p2)


@phase_function
def dm(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 100,
    beta: float = 0.7,
    init: np.ndarray | None = None,
    init_method: str = "random",
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Difference map (Elser 2003), as in Peer, Welker & Gerkmann 2022.

    ``x_{n+1} = x_n + beta [P1(f2(x_n)) - P2(f1(x_n))]`` with
    ``f2(x) = P2(x) + (P2(x) - x)/beta`` and ``f1(x) = P1(x) - (P1(x) - x)/beta``.
    Two ``P1`` per iteration (compare with the others at equal FFT counts); output
    ``P2(x_N)`` as the reference ports.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Target linear magnitude (non-negative, finite; leading axes are a batch).
    spec : FeatureSpec
        STFT contract (window, hop, framing) the result is consistent with.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: complex spectrogram (its phase is used) or phases in radians.
    rng : Generator or int, optional
        Seed or generator of the random initial phase (``init_method="random"``).
    trace : list or Trace, optional
        Receives one record per iteration ``0 .. n_iter`` (module docstring; keys
        ``iter``, ``sc_db``, ``t``, ``fft_pairs`` in a ledger, ``sc_true_db`` with a
        reference).
    n_iter : int
        Number of iterations (two ``P1`` each).
    beta : float
        Relaxation in (0, 1] (ports use 0.7-0.8; 0.7 did better on the bundled clips).
    init_method : {"random", "zero"}
        Initial phase when ``init`` is None (the plugins' ``init`` parameter).
    length : int, optional
        Signal length the consistency projection assumes; default the longest signal
        with this many frames (:class:`melbench.stft.Projector`). Give the clip's
        length to reproduce ``librosa.griffinlim(..., length=...)`` exactly.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``P2(x_N)``: the target magnitude with the retrieved phase; complex64 for float32
        input, complex128 for float64.

    Raises
    ------
    InputError
        Bad magnitude or warm start (:func:`~melbench.phase.helpers.check_phase_input`).
    ParameterError
        A parameter out of its range.

    References
    ----------
    .. [1] V. Elser, "Phase retrieval by iterated projections," J. Optical Society of America A
       20(1):40-55, 2003.
    .. [2] R. Peer, S. Welker and T. Gerkmann, "Beyond Griffin-Lim: improved iterative phase
       retrieval for speech," IWAENC 2022.
    """
    _check_common(n_iter, init_method)
    if not 0 < beta <= 1:
        raise ParameterError(f"beta={beta!r} outside (0, 1]")
    tr = ProjectionTracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = setup(magnitude, spec, init, init_method, rng, length)
    tr.attach(proj)
    af, xf = a.reshape(-1), _v(x)
    be, inv = proj.dtype.type(beta), proj.dtype.type(1.0 / beta)
    w = proj.dtype.type(1.0 / (1.0 + 1.0 / beta))
    xin = np.empty_like(x)
    tr.mark()
    for it in range(int(n_iter)):
        p1x = _v(proj.project(x))
        _k_dm_pre(xf, af, inv, _v(xin))
        p1f2 = _v(proj.project(xin, overwrite=True))
        num = _k_dm_post(xf, p1x, p1f2, af, be, inv, w, tr.on)
        tr.mark()
        # P1(P2(x)) = w (P1(f2 x) + P1(x) / beta), built only for sc_true_db
        tr.add_internal(it, num, lambda p1f2=p1f2, p1x=p1x: (p1f2 + p1x * inv) * w)
    tr.final(int(n_iter), proj, x, a)
    return finish(proj, x, a)


# --------------------------------------------------------------------------- plugins


def _check_params(p) -> None:
    _check_common(p.n_iter, p.init)


class GLA(PhaseRetriever):
    """Griffin-Lim: alternate projections on consistency and on the magnitude.

    References
    ----------
    .. [1] D. W. Griffin and J. S. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. Acoustics, Speech, and Signal Processing 32(2):236-243, 1984.
    """

    name: ClassVar[str] = "gla"
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of GLA.

        Attributes
        ----------
        n_iter : int
            Iterations (one STFT pair each).
        init : str
            "random" (seeded uniform phase) or "zero" initial phase (without warm start).
        """

        n_iter: int = 100
        init: str = "random"

    def validate(self) -> None:
        """Check ``n_iter >= 0`` and the init choice."""
        _check_params(self.params)

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run :func:`gla`."""
        return gla(magnitude, spec, n_iter=self.params.n_iter, init=init,
                   init_method=self.params.init, rng=rng, trace=trace)


class FGLA(PhaseRetriever):
    """Fast Griffin-Lim: GLA with momentum ``alpha`` on the consistent iterate.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Søndergaard, "A fast Griffin-Lim algorithm," IEEE
       WASPAA 2013.
    """

    name: ClassVar[str] = "fgla"
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of FGLA.

        Attributes
        ----------
        n_iter : int
            Iterations (one STFT pair each).
        alpha : float
            Momentum, in [0, 1] (0.99 as in the paper and librosa).
        init : str
            "random" (seeded uniform phase) or "zero" initial phase (without warm start).
        """

        n_iter: int = 100
        alpha: float = 0.99
        init: str = "random"

    def validate(self) -> None:
        """Check parameters."""
        _check_params(self.params)
        if not 0 <= self.params.alpha <= 1:
            raise ParameterError(f"alpha={self.params.alpha!r} outside [0, 1] (unstable above 1)")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run :func:`fgla`."""
        return fgla(magnitude, spec, n_iter=self.params.n_iter, alpha=self.params.alpha,
                    init=init, init_method=self.params.init, rng=rng, trace=trace)


class AGLA(PhaseRetriever):
    """Accelerated Griffin-Lim (Nenov et al. 2023); ``gamma = 1`` is FGLA.

    The defaults lie outside the paper's proven convergence region
    (:func:`agla_alpha_bound`: alpha < 0.056 at beta 1.1, gamma 1.25) but converge in
    practice; see :func:`agla`.

    References
    ----------
    .. [1] R. Nenov, D.-K. Nguyen and P. Balazs, "Faster than fast: accelerating the Griffin-Lim
       algorithm," ICASSP 2023 (arXiv:2306.12504).
    """

    name: ClassVar[str] = "agla"
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of AGLA.

        Attributes
        ----------
        n_iter : int
            Iterations (one STFT pair each).
        alpha : float
            Momentum of the output sequence, in [0, 1].
        beta : float
            Momentum of the auxiliary sequence, >= 0.
        gamma : float
            Mixing of the auxiliary sequence and the projection, in (0, 2].
        schedule : str
            "constant" (alpha, beta fixed) or "increasing" (``alpha_n = (n-1)/(n+2)``,
            ``beta_n = n/(n+3)``, alpha and beta ignored), see :func:`agla`.
        init : str
            "random" or "zero" initial phase (without warm start).
        """

        n_iter: int = 100
        alpha: float = 0.99
        beta: float = 1.1
        gamma: float = 1.25
        schedule: str = "constant"
        init: str = "random"

    def validate(self) -> None:
        """Check parameters."""
        p = self.params
        _check_params(p)
        if not 0 <= p.alpha <= 1:
            raise ParameterError(f"alpha={p.alpha!r} outside [0, 1]")
        if not p.beta >= 0:
            raise ParameterError(f"beta={p.beta!r}: must be >= 0")
        if not 0 < p.gamma <= 2:
            raise ParameterError(f"gamma={p.gamma!r} outside (0, 2]")
        if p.schedule not in AGLA_SCHEDULES:
            raise ParameterError(f"agla schedule={p.schedule!r}; choose one of "
                                 f"{', '.join(AGLA_SCHEDULES)}")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run :func:`agla`."""
        p = self.params
        return agla(magnitude, spec, n_iter=p.n_iter, alpha=p.alpha, beta=p.beta,
                    gamma=p.gamma, schedule=p.schedule, init=init, init_method=p.init, rng=rng, trace=trace)


class RAAR(PhaseRetriever):
    """Relaxed averaged alternating reflections (Peer, Welker & Gerkmann 2022).

    References
    ----------
    .. [1] D. R. Luke, "Relaxed averaged alternating reflections for diffraction imaging,"
       Inverse Problems 21(1):37-50, 2005.
    .. [2] R. Peer, S. Welker and T. Gerkmann, "Beyond Griffin-Lim: improved iterative phase
       retrieval for speech," IWAENC 2022.
    """

    name: ClassVar[str] = "raar"
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of RAAR.

        Attributes
        ----------
        n_iter : int
            Iterations (one STFT pair each).
        beta : float
            Relaxation in (0, 1]; 1 is Douglas-Rachford.
        init : str
            "random" or "zero" initial phase (without warm start).
        """

        n_iter: int = 100
        beta: float = 0.9
        init: str = "random"

    def validate(self) -> None:
        """Check parameters."""
        _check_params(self.params)
        if not 0 < self.params.beta <= 1:
            raise ParameterError(f"beta={self.params.beta!r} outside (0, 1]")

    #: The pure function the plugin runs (the difference map reuses this class).
    _solver = staticmethod(raar)

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run the relaxed projection method (:func:`raar`, or :func:`dm` for ``DM``)."""
        p = self.params
        return self._solver(magnitude, spec, n_iter=p.n_iter, beta=p.beta, init=init,
                            init_method=p.init, rng=rng, trace=trace)


class DM(RAAR):
    """Difference map (Elser 2003; Peer, Welker & Gerkmann 2022); two STFT pairs per iteration.

    References
    ----------
    .. [1] V. Elser, "Phase retrieval by iterated projections," J. Optical Society of America A
       20(1):40-55, 2003.
    .. [2] R. Peer, S. Welker and T. Gerkmann, "Beyond Griffin-Lim: improved iterative phase
       retrieval for speech," IWAENC 2022.
    """

    name: ClassVar[str] = "dm"

    @dataclass
    class Params:
        """Parameters of the difference map.

        Attributes
        ----------
        n_iter : int
            Iterations (two STFT pairs each).
        beta : float
            Relaxation in (0, 1].
        init : str
            "random" or "zero" initial phase (without warm start).
        """

        n_iter: int = 100
        beta: float = 0.7
        init: str = "random"

    _solver = staticmethod(dm)
