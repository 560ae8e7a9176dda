"""Compiled kernels and plumbing of the projection methods (:mod:`melbench.phase.projections`).

The numba kernels fuse each method's elementwise work (momentum, ``P2``, the convergence
measure) into one pass per iteration; :class:`ProjectionTracer` is the public
:class:`~melbench.phase.helpers.Tracer` working on the projector's internal
(frame-major) layout; :func:`setup` builds the projector, the target and the starting
point. Kept apart from the public functions so that those read as the update rules of
the papers.
"""

from __future__ import annotations

import numba
import numpy as np

from .. import costs
from ..kernel_flags import FASTMATH
from ..plugin import initial_spectrogram
from ..spec import FeatureSpec
from ..stft import Projector
from .helpers import Tracer

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


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _p2(re, im, a):  # pragma: no cover - compiled
    """``P2`` of one value: ``a (re, im) / |(re, im)|``; modulus 0 -> ``(a, 0)``.

    Computed on ``re + 1e-18``: exact for 0 (phase 0) and below rounding for any value an
    STFT of audio holds, and branch-free (about 1.5x faster than selecting the 0 case).
    """
    re = re + _BIAS
    s = a / np.sqrt(re * re + im * im + _TINY)
    return re * s, im * s


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_p2(x, a, out):  # pragma: no cover - compiled
    """``out = P2(x)``."""
    for k in range(a.shape[0]):
        out[2 * k], out[2 * k + 1] = _p2(x[2 * k], x[2 * k + 1], a[k])


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_sc(e, a):  # pragma: no cover - compiled
    """``sum((|e| - a)^2)`` in float64."""
    acc = 0.0
    for k in range(a.shape[0]):
        d = np.float64(np.sqrt(e[2 * k] * e[2 * k] + e[2 * k + 1] * e[2 * k + 1]) - a[k])
        acc += d * d
    return acc


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
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


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
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


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
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


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_raar_start(x, a, p2, xin):  # pragma: no cover - compiled
    """``p2 = P2(x)``; ``xin = R2(x) = 2 p2 - x``."""
    for k in range(a.shape[0]):
        r, i = _p2(x[2 * k], x[2 * k + 1], a[k])
        p2[2 * k], p2[2 * k + 1] = r, i
        xin[2 * k] = _TWO * r - x[2 * k]
        xin[2 * k + 1] = _TWO * i - x[2 * k + 1]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_raar_q(p1, q, a):  # pragma: no cover - compiled
    """``q <- (p1 + q) / 2 = P1(P2(x))``; returns its SC numerator (see :func:`_k_raar`)."""
    for j in range(q.shape[0]):
        q[j] = _HALF * (p1[j] + q[j])
    return _k_sc(q, a)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
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


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _k_dm_pre(x, a, inv, xin):  # pragma: no cover - compiled
    """``xin = f2(x) = P2(x) + (P2(x) - x) / beta`` (``inv = 1 / beta``)."""
    for k in range(a.shape[0]):
        xr, xi = x[2 * k], x[2 * k + 1]
        r, i = _p2(xr, xi, a[k])
        xin[2 * k] = r + (r - xr) * inv
        xin[2 * k + 1] = i + (i - xi) * inv


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
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


WARMED: set = set()


def warm(dtype: np.dtype) -> None:
    """Run every kernel once on tiny arrays, once per process and dtype.

    numba's first call in a process costs about a second even from its cache; paying
    it here keeps it out of the timed iterations and out of the trace's times.
    """
    if dtype in WARMED:
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
    WARMED.add(dtype)



class ProjectionTracer(Tracer):
    """:class:`~melbench.phase.helpers.Tracer` on a projector's internal layout.

    The kernels return the squared SC numerator ``sum((|e| - a)^2)`` of the re-analysed
    estimate ``e`` for free; :meth:`add_internal` adds the one against the trace's
    reference (``sc_true_db``) from ``e`` itself, with the clock paused. Creating it runs
    numba's one-off warm-up first (not timed).
    """

    def __init__(self, trace: list | None, magnitude: np.ndarray) -> None:
        warm(np.dtype(np.float64 if np.asarray(magnitude).dtype == np.float64 else np.float32))
        super().__init__(trace, magnitude)
        self.ref_internal: np.ndarray | None = None

    def attach(self, proj: Projector) -> None:
        """Convert the reference magnitude to the projector's layout (once, not timed)."""
        if self.on and self.reference is not None:
            with self.pause():
                self.ref_internal = proj.to_internal(self.reference, proj.dtype).reshape(-1)

    def add_internal(self, it: int, num2: float, e) -> None:
        """Record iteration ``it``: ``num2`` from the kernel, ``e`` the flat estimate.

        ``e`` is a flat float view (:func:`_v`) of ``P1(P2(x_it))``, or a callable
        building it (called only when there is a reference), or None.
        """
        if not self.on:
            return
        true2 = None
        if self.ref_internal is not None and e is not None:
            with self.pause():
                true2 = _k_sc(e() if callable(e) else e, self.ref_internal)
        self.add(it, num2, true2)

    def final(self, it: int, proj: Projector, x: np.ndarray, a: np.ndarray) -> None:
        """Last entry: SC of ``P1(P2(x))`` (one extra projection, not timed, not counted)."""
        if not self.on:
            return
        with self.pause():
            p2 = np.empty_like(x)
            _k_p2(_v(x), a.reshape(-1), _v(p2))
            e = _v(proj.project(p2, overwrite=True))
            num2 = _k_sc(e, a.reshape(-1))
        self.add_internal(it, num2, e)


def setup(magnitude, spec: FeatureSpec, init, init_method: str, rng, length=None):
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


def finish(proj: Projector, x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Output ``P2(x)`` in the magnitude's layout."""
    out = np.empty_like(x)
    _k_p2(_v(x), a.reshape(-1), _v(out))
    return proj.from_internal(out)
