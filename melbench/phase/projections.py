"""Projection-family phase retrieval: GLA, FGLA, AGLA, RAAR and the difference map.

Notation (as in ``docs``/the design notes): ``A`` is the target magnitude,
``P1(X) = STFT(ISTFT(X))`` projects on consistent spectrograms with the spec's own
window, hop and padding, ``P2(X) = A X / |X|`` imposes the magnitude (a bin of
modulus 0 gets phase 0), and ``R_i = 2 P_i - I`` are the reflections.

Every method is a pure function ``f(magnitude, spec, *, n_iter, ..., init,
init_method, rng, trace)`` plus a thin :class:`~melbench.plugin.PhaseRetriever`
with a ``Params`` dataclass. All of them

* run on a :class:`melbench.stft.Projector` (one ``irfft`` + two compiled passes +
  one ``rfft`` per ``P1``, buffers reused) and fuse their elementwise work
  (momentum, ``P2``, the convergence measure) into one compiled pass per
  iteration, so an iteration costs little more than the FFT pair;
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
  extra projections are not counted).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

from .. import costs
from ..errors import ParameterError
from ..plugin import PhaseRetriever, initial_spectrogram
from ..spec import FeatureSpec
from ..stft import Projector

INITS = ("random", "zero")

# --------------------------------------------------------------------------- kernels
# Kernels take flat float views of the complex arrays (``re, im`` interleaved: element k
# is ``z[2k] + i z[2k+1]``) and the flat real target ``a``, so batch axes cost nothing
# and LLVM vectorises the loops. Arithmetic stays in the arrays' precision: scalars are
# passed in that dtype and constants are float32 (exact, and promoted for float64).
# ``error_model="numpy"`` matters: numba's default checks every float division for zero
# and that branch alone keeps LLVM from vectorising (about 5x slower).
# ``want`` asks for the squared SC numerator sum((|e| - a)^2) of the consistent estimate
# ``e`` (returned, float64); the loops are duplicated so the common no-trace path has no
# reduction in it.

_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_HALF = np.float32(0.5)


_BIAS = np.float32(1e-18)  # tiny real offset: modulus 0 -> phase 0 without a branch
_TINY = np.float32(1e-37)  # keeps the square root away from 0 (normal in float32)


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def _p2(re, im, a):  # pragma: no cover - compiled
    """``P2`` of one value: ``a (re, im) / |(re, im)|``; modulus 0 -> ``(a, 0)``.

    Computed on ``re + 1e-18``: exact for 0 (phase 0) and below rounding for any value an
    STFT of audio holds, and branch-free (about 1.5x faster than selecting the 0 case).
    """
    re = re + _BIAS
    s = a / np.sqrt(re * re + im * im + _TINY)
    return re * s, im * s


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_p2(x, a, out):  # pragma: no cover - compiled
    """``out = P2(x)``."""
    for k in range(a.shape[0]):
        out[2 * k], out[2 * k + 1] = _p2(x[2 * k], x[2 * k + 1], a[k])


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_sc(e, a):  # pragma: no cover - compiled
    """``sum((|e| - a)^2)`` in float64."""
    acc = 0.0
    for k in range(a.shape[0]):
        d = np.float64(np.sqrt(e[2 * k] * e[2 * k] + e[2 * k + 1] * e[2 * k + 1]) - a[k])
        acc += d * d
    return acc


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_fgla(t, tprev, a, alpha, xin, want):  # pragma: no cover - compiled
    """``c = t + alpha (t - tprev)``; ``xin = P2(c)`` (``xin`` may be ``tprev``)."""
    acc = 0.0
    if want:
        acc = _k_sc(t, a)
    for k in range(a.shape[0]):
        tr, ti = t[2 * k], t[2 * k + 1]
        cr = tr + alpha * (tr - tprev[2 * k])
        ci = ti + alpha * (ti - tprev[2 * k + 1])
        xin[2 * k], xin[2 * k + 1] = _p2(cr, ci, a[k])
    return acc


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_fgla_inplace(t, tpx, a, alpha, want):  # pragma: no cover - compiled
    """:func:`_k_fgla` writing ``xin`` over ``tprev``.

    One array instead of two possibly aliased ones: no aliasing test that would send
    LLVM to its scalar loop, and one memory stream less.
    """
    acc = 0.0
    if want:
        acc = _k_sc(t, a)
    for k in range(a.shape[0]):
        tr, ti = t[2 * k], t[2 * k + 1]
        cr = tr + alpha * (tr - tpx[2 * k])
        ci = ti + alpha * (ti - tpx[2 * k + 1])
        tpx[2 * k], tpx[2 * k + 1] = _p2(cr, ci, a[k])
    return acc


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_agla(u, tprev, d, a, alpha, beta, gamma, xin, want):  # pragma: no cover - compiled
    """AGLA step from ``u = P1(P2(c))``; updates ``tprev`` and ``d`` in place."""
    acc = 0.0
    if want:
        acc = _k_sc(u, a)
    g1 = _ONE - gamma
    for k in range(a.shape[0]):
        pr, pi = tprev[2 * k], tprev[2 * k + 1]
        tr = g1 * d[2 * k] + gamma * u[2 * k]
        ti = g1 * d[2 * k + 1] + gamma * u[2 * k + 1]
        xin[2 * k], xin[2 * k + 1] = _p2(tr + alpha * (tr - pr), ti + alpha * (ti - pi), a[k])
        d[2 * k] = tr + beta * (tr - pr)
        d[2 * k + 1] = ti + beta * (ti - pi)
        tprev[2 * k] = tr
        tprev[2 * k + 1] = ti
    return acc


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_raar_start(x, a, p2, xin):  # pragma: no cover - compiled
    """``p2 = P2(x)``; ``xin = R2(x) = 2 p2 - x``."""
    for k in range(a.shape[0]):
        r, i = _p2(x[2 * k], x[2 * k + 1], a[k])
        p2[2 * k], p2[2 * k + 1] = r, i
        xin[2 * k] = _TWO * r - x[2 * k]
        xin[2 * k + 1] = _TWO * i - x[2 * k + 1]


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_raar_q(p1, q, a):  # pragma: no cover - compiled
    """``q <- (p1 + q) / 2 = P1(P2(x))``; returns its SC numerator (see :func:`_k_raar`)."""
    for j in range(q.shape[0]):
        q[j] = _HALF * (p1[j] + q[j])
    return _k_sc(q, a)


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_raar(p1, x, p2, a, beta, xin):  # pragma: no cover - compiled
    """RAAR update from ``p1 = P1(R2(x))``, then the next ``p2``/``xin``.

    ``x <- beta x + beta p1 + (1 - 2 beta) p2`` (the expanded form of
    ``beta/2 (x + R1 R2 x) + (1 - beta) P2 x``).
    """
    b2 = _ONE - _TWO * beta
    for k in range(a.shape[0]):
        nr = beta * (x[2 * k] + p1[2 * k]) + b2 * p2[2 * k]
        ni = beta * (x[2 * k + 1] + p1[2 * k + 1]) + b2 * p2[2 * k + 1]
        x[2 * k], x[2 * k + 1] = nr, ni
        r, i = _p2(nr, ni, a[k])
        p2[2 * k], p2[2 * k + 1] = r, i
        xin[2 * k] = _TWO * r - nr
        xin[2 * k + 1] = _TWO * i - ni


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_dm_pre(x, a, inv, xin):  # pragma: no cover - compiled
    """``xin = f2(x) = P2(x) + (P2(x) - x) / beta`` (``inv = 1 / beta``)."""
    for k in range(a.shape[0]):
        xr, xi = x[2 * k], x[2 * k + 1]
        r, i = _p2(xr, xi, a[k])
        xin[2 * k] = r + (r - xr) * inv
        xin[2 * k + 1] = i + (i - xi) * inv


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _k_dm_post(x, p1x, p1f2, a, beta, inv, w, want):  # pragma: no cover - compiled
    """``x <- x + beta (P1(f2(x)) - P2(f1(x)))``, ``f1 = P1 x - (P1 x - x) / beta``.

    ``P1(P2(x)) = w (P1(f2 x) + P1(x) / beta)`` with ``w = 1 / (1 + 1 / beta)`` gives
    the SC for free.
    """
    acc = 0.0
    if want:
        for k in range(a.shape[0]):
            er = (p1f2[2 * k] + p1x[2 * k] * inv) * w
            ei = (p1f2[2 * k + 1] + p1x[2 * k + 1] * inv) * w
            dd = np.float64(np.sqrt(er * er + ei * ei) - a[k])
            acc += dd * dd
    for k in range(a.shape[0]):
        xr, xi = x[2 * k], x[2 * k + 1]
        ar, ai = p1x[2 * k], p1x[2 * k + 1]
        r, i = _p2(ar - (ar - xr) * inv, ai - (ai - xi) * inv, a[k])
        x[2 * k] = xr + beta * (p1f2[2 * k] - r)
        x[2 * k + 1] = xi + beta * (p1f2[2 * k + 1] - i)
    return acc


def _v(z: np.ndarray) -> np.ndarray:
    """Flat real view of a contiguous complex array."""
    return z.reshape(-1).view(z.real.dtype)


# --------------------------------------------------------------------------- plumbing


class _Tracer:
    """Appends ``{"iter", "sc_db", "t"}`` records; measures nothing when ``trace`` is None."""

    def __init__(self, trace: list | None, magnitude: np.ndarray) -> None:
        _warm(np.dtype(np.float64 if np.asarray(magnitude).dtype == np.float64 else np.float32))
        self.trace = trace
        self.on = trace is not None
        self.shape = tuple(np.shape(magnitude))
        self.t0 = time.perf_counter()
        self.paused = 0.0
        self.norm2 = 0.0
        if self.on:
            a = np.asarray(magnitude, dtype=np.float64).reshape(-1)
            self.norm2 = float(np.dot(a, a))
            self.paused += time.perf_counter() - self.t0
        self.times: list[float] = []
        self.pairs: list[float | None] = []

    def now(self) -> float:
        return time.perf_counter() - self.t0 - self.paused

    def mark(self) -> None:
        """Record the time at which the output after the current iteration exists."""
        if self.on:
            self.times.append(self.now())
            self.pairs.append(costs.pairs_so_far(self.shape))

    def add(self, it: int, num2: float) -> None:
        if not self.on:
            return
        if self.norm2 > 0:
            sc = 10.0 * math.log10(max(num2, 1e-300) / self.norm2)
        else:
            sc = math.nan
        rec = {"iter": int(it), "sc_db": float(sc), "t": float(self.times[it])}
        if self.pairs[it] is not None:  # cumulative FFT pairs of the call (melbench.costs)
            rec["fft_pairs"] = float(self.pairs[it])
        self.trace.append(rec)

    def final(self, it: int, proj: Projector, x: np.ndarray, a: np.ndarray) -> None:
        """Last entry: SC of ``P1(P2(x))`` (one extra projection, not timed)."""
        if not self.on:
            return
        t = time.perf_counter()
        p2 = np.empty_like(x)
        _k_p2(_v(x), a.reshape(-1), _v(p2))
        with costs.uncounted():  # bookkeeping, not the method's work
            e = proj.project(p2, overwrite=True)
        self.paused += time.perf_counter() - t
        self.add(it, _k_sc(_v(e), a.reshape(-1)))


def _check_common(n_iter: int, init_method: str) -> None:
    if int(n_iter) != n_iter or n_iter < 0:
        raise ParameterError(f"n_iter={n_iter!r}: must be an integer >= 0")
    if init_method not in INITS:
        raise ParameterError(f"init={init_method!r}: choose 'random' or 'zero'")


_WARM: set = set()


def _warm(dtype: np.dtype) -> None:
    """Run every kernel once on tiny arrays, once per process and dtype.

    numba's first call in a process costs about a second even from its cache; paying
    it here keeps it out of the timed iterations and out of the trace's times.
    """
    if dtype in _WARM:
        return
    c = np.complex64 if dtype == np.float32 else np.complex128
    z, a, h = _v(np.ones(2, c)), np.ones(2, dtype), dtype.type(0.5)
    _k_p2(z, a, z.copy())
    _k_sc(z, a)
    _k_fgla(z, z, a, h, z.copy(), True)
    _k_fgla_inplace(z, z.copy(), a, h, True)
    _k_agla(z, z.copy(), z.copy(), a, h, h, h, z.copy(), True)
    _k_raar_start(z, a, z.copy(), z.copy())
    _k_raar_q(z, z.copy(), a)
    _k_raar(z, z.copy(), z.copy(), a, h, z.copy())
    _k_dm_pre(z, a, h, z.copy())
    _k_dm_post(z.copy(), z, z, a, h, h, h, True)
    with costs.uncounted():  # warm-up, not the method's work
        for mode in ("constant", "reflect"):  # the STFT engine's kernels
            Projector(n_fft=4, hop_length=2, window=np.ones(4), n_frames=3, pad_mode=mode,
                      dtype=dtype).project(np.ones((1, 3, 3), c))
    _WARM.add(dtype)


def _setup(magnitude, spec: FeatureSpec, init, init_method: str, rng, length=None):
    """Projector, internal target ``a`` and starting point ``x`` (frame-major, contiguous)."""
    mag = np.asarray(magnitude)
    if mag.dtype not in (np.float32, np.float64):
        mag = mag.astype(np.float32)
    rng = np.random.default_rng(rng)
    proj = Projector.from_spec(spec, mag.shape[-1], batch_shape=mag.shape[:-2], dtype=mag.dtype,
                               length=length)
    a = proj.to_internal(mag, proj.dtype)
    if init is None and init_method == "random":
        # the phases of plugin.initial_spectrogram (same generator stream), built in the
        # working precision: a third of its peak memory
        phase = proj.to_internal(rng.uniform(-np.pi, np.pi, size=mag.shape), proj.dtype)
        x = np.exp(phase * proj.cdtype.type(1j))
        x *= a
        return proj, a, x
    c0 = initial_spectrogram(mag, init, rng, how=init_method)
    x = proj.to_internal(c0, proj.cdtype)
    return proj, a, x


def _finish(proj: Projector, x: np.ndarray, a: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _k_p2(_v(x), a.reshape(-1), _v(out))
    return proj.from_internal(out)


# --------------------------------------------------------------------------- algorithms


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
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013); ``alpha=0`` is GLA.

    Variant: the authors' (and librosa's) momentum on the *consistent* iterate,
    ``t_n = P1(P2(c_{n-1}))``, ``c_n = t_n + alpha (t_n - t_{n-1})`` (no momentum
    on the first step), output ``P2(c_N)``. Each iteration is one ``P1``; with the
    same zero start this is ``librosa.griffinlim(momentum=alpha, init=None)``.

    Parameters
    ----------
    magnitude : np.ndarray, shape (..., n_freq, frames)
        Target linear magnitude.
    spec : FeatureSpec
        STFT contract.
    n_iter : int
        Number of iterations (one ``P1`` each).
    alpha : float
        Momentum in [0, 1]; 0 gives Griffin-Lim.
    init : np.ndarray, optional
        Warm start: complex spectrogram (its phase is used) or phases in radians.
    init_method : {"random", "zero"}
        Initial phase when ``init`` is None.
    rng : Generator or int, optional
        Seed for the random initial phase.
    trace : list, optional
        Receives ``{"iter", "sc_db", "t"}`` for ``iter = 0 .. n_iter`` (module docstring).
    length : int, optional
        Signal length the consistency projection assumes; default the longest signal
        with this many frames (:class:`melbench.stft.Projector`). Give the clip's
        length to reproduce ``librosa.griffinlim(..., length=...)`` exactly.

    Returns
    -------
    np.ndarray
        ``P2(c_N)``, complex, shape of ``magnitude``.
    """
    _check_common(n_iter, init_method)
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha={alpha!r} outside [0, 1] (the momentum is unstable above 1)")
    tr = _Tracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = _setup(magnitude, spec, init, init_method, rng, length)
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
        tr.add(it, num)
    tr.final(int(n_iter), proj, xin, a)
    return proj.from_internal(xin)


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
    padding, where ``P1`` is an orthogonal projection). Parameters as :func:`fgla`
    (without ``alpha``).

    Returns
    -------
    np.ndarray
        ``P2(c_N)``, complex, shape of ``magnitude``.
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
    magnitude, spec, n_iter, init, init_method, rng, trace, length
        As :func:`fgla`.
    alpha, beta : float
        Momenta of ``c`` and ``d`` (alpha in [0, 1], beta >= 0).
    gamma : float
        Mixing in (0, 2].
    schedule : {"constant", "increasing"}
        Fixed momenta, or the iteration-dependent ones above.

    Returns
    -------
    np.ndarray
        ``P2(c_N)``, complex, shape of ``magnitude``.
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
    tr = _Tracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = _setup(magnitude, spec, init, init_method, rng, length)
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
        tr.add(it, num)
    tr.final(int(n_iter), proj, xin, a)
    return proj.from_internal(xin)


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
    magnitude, spec, n_iter, init, init_method, rng, trace, length
        As :func:`fgla` (tracing costs one extra ``P1`` at the start).
    beta : float
        Relaxation in (0, 1] (0.9 as in the reference ports).

    Returns
    -------
    np.ndarray
        ``P2(x_N)``, complex, shape of ``magnitude``.
    """
    _check_common(n_iter, init_method)
    if not 0 < beta <= 1:
        raise ParameterError(f"beta={beta!r} outside (0, 1]")
    tr = _Tracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = _setup(magnitude, spec, init, init_method, rng, length)
    af, xf, be = a.reshape(-1), _v(x), proj.dtype.type(beta)
    p2, xin = np.empty_like(x), np.empty_like(x)
    q = None
    if tr.on:  # q = P1(x), kept up to date: P1(x_{n+1}) = (P1(R2 x_n) + P1(x_n)) / 2
        t = time.perf_counter()
        with costs.uncounted():
            q = _v(proj.project(x))
        tr.paused += time.perf_counter() - t
    _k_raar_start(xf, af, _v(p2), _v(xin))
    tr.mark()
    for it in range(int(n_iter)):
        p1 = _v(proj.project(xin, overwrite=True))
        num = _k_raar_q(p1, q, af) if q is not None else 0.0
        _k_raar(p1, xf, _v(p2), af, be, _v(xin))
        tr.mark()
        tr.add(it, num)
    tr.final(int(n_iter), proj, p2, a)
    return proj.from_internal(p2)


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
    magnitude, spec, n_iter, init, init_method, rng, trace, length
        As :func:`fgla`.
    beta : float
        Relaxation in (0, 1] (ports use 0.7-0.8; 0.7 did better on the bundled clips).

    Returns
    -------
    np.ndarray
        ``P2(x_N)``, complex, shape of ``magnitude``.
    """
    _check_common(n_iter, init_method)
    if not 0 < beta <= 1:
        raise ParameterError(f"beta={beta!r} outside (0, 1]")
    tr = _Tracer(trace, magnitude)  # the clock starts here (after numba's warm-up)
    proj, a, x = _setup(magnitude, spec, init, init_method, rng, length)
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
        tr.add(it, num)
    tr.final(int(n_iter), proj, x, a)
    return _finish(proj, x, a)


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
