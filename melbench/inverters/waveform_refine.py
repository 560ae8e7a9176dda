"""Direct waveform optimisation of a mel loss: the gradient of ``||f(mel(|STFT x|)) - f(m)||^2``.

Every other method in melbench iterates on a spectrogram (magnitude, phase or both) and
turns it into audio at the end. Here the unknown is the waveform ``x`` itself, so every
iterate is consistent by construction, and the loss

``L(x) = sum_{b,t} w_b (f(P_bt(x)) - f(m_bt))^2 / sum_{b,t} w_b f(m_bt)^2``

with ``P(x) = B |STFT x|^p`` (``B`` the spec's filterbank, ``p`` its power) is minimised
by L-BFGS (:func:`lbfgs`, or scipy's L-BFGS-B) with its exact gradient (:func:`mel_loss_grad`).
``f`` is the identity, a power compression ``(P + d)^c`` or ``log(P + d)`` with a floor
``d`` relative to the mel's peak. The gradient is the chain rule down to the complex
STFT, ``G = dL/dA * S / |S|`` (``A = |S|``), then the adjoint of the real-to-complex STFT:
the half-spectrum weights of ``rfft``'s adjoint (:func:`rfft_adjoint`), the window,
overlap-add of the frames and the adjoint of the framing's padding (cropping for zero
padding, folding back for reflect padding). One loss-and-gradient costs one STFT, one
inverse FFT of the frames and the filterbank products: about twice an FGLA iteration's
time (``results/speech_wave.md``, "The solver's cost").

The refinement starts from another cell's audio (the guard's output). Its fixed points are
stationary points of the mel loss on the signal, not the joint iteration's
(alternating projections between consistent spectrograms and spectrograms with the given
mel). Measured in ``results/speech_wave.md``.

References
----------
.. [1] D. Griffin and J. Lim, "Signal estimation from modified short-time Fourier
   transform", IEEE TASSP 32(2), 1984 (the consistent set and its projection).
.. [2] R. Decorsiere, P. L. Sondergaard, E. N. MacDonald and T. Dau, "Inversion of
   auditory spectrograms, traditional spectrograms, and other envelope
   representations", IEEE/ACM TASLP 23(1), 2015 (gradient descent on the signal with
   the STFT's adjoint, by L-BFGS).
.. [3] J. Nocedal, "Updating quasi-Newton matrices with limited storage", Mathematics
   of Computation 35, 1980 (L-BFGS).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft
import scipy.linalg
import scipy.optimize

from .. import costs as _costs
from ..errors import ParameterError
from ..framing import frame_padding
from ..spec import FeatureSpec
from ..stft import _overlap_add

#: Loss compressions :func:`mel_loss_grad` knows.
COMPRESSIONS = ("identity", "power", "log")

#: Magnitude floor (squared, relative to the largest squared STFT magnitude) in ``A = sqrt(|S|^2 + e)``,
#: so the gradient ``S / |S|`` stays finite where the signal's spectrum vanishes.
_MAG_EPS_REL = 1e-12


def rfft_adjoint(g: np.ndarray, n_fft: int) -> np.ndarray:
    """The gradient in the real frame of a real loss given its gradient in ``rfft(frame)``.

    Parameters
    ----------
    g : np.ndarray [shape=(..., n_fft // 2 + 1)], complex
        ``dL/dRe S_k + i dL/dIm S_k`` for ``S = rfft(frame)``.
    n_fft : int
        Frame length (even).

    Returns
    -------
    np.ndarray [shape=(..., n_fft)], real
        ``dL/dframe_n = sum_k Re(g_k exp(2 pi i k n / n_fft))`` over the half spectrum
        (every ``k`` in ``0..n_fft/2`` once): ``irfft`` counts ``1..n_fft/2-1`` twice, so
        those bins are halved, and ``irfft``'s ``1 / n_fft`` is undone.
    """
    h = np.array(g, copy=True)
    h[..., 1 : n_fft // 2] *= 0.5
    # irfft takes Re of the DC and Nyquist bins, as the adjoint does (Im of those S_k is 0).
    out = scipy.fft.irfft(h, n=n_fft, axis=-1) * n_fft
    _costs.add_frame_ffts(out.size // n_fft)  # cost accounting (melbench.costs)
    return out


def stft_adjoint(g: np.ndarray, spec: FeatureSpec, n_samples: int) -> np.ndarray:
    """Adjoint of ``x -> spec.stft(x)`` (a real-linear map) applied to a complex gradient.

    Parameters
    ----------
    g : np.ndarray [shape=(n_freq, frames)], complex
        Gradient of a real loss in the STFT's real and imaginary parts.
    spec : FeatureSpec
        The STFT contract (framing "center", "same" or "none"; pad modes "constant" and
        "reflect").
    n_samples : int
        Length of the signal the STFT was taken of.

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
        ``dL/dx`` (float32 for a complex64 ``g``, else float64).
    """
    frames = rfft_adjoint(np.swapaxes(g, -1, -2), spec.n_fft)
    return _frames_adjoint(frames, spec, n_samples)


def _frames_adjoint(frames: np.ndarray, spec: FeatureSpec, n_samples: int) -> np.ndarray:
    """Adjoint of windowed framing (with the framing's padding): ``(frames, n_fft)`` -> ``(n_samples,)``."""
    n_fft, hop = spec.n_fft, spec.hop_length
    p = frame_padding(spec.framing, n_fft, hop)
    total = n_samples + 2 * p
    out = np.zeros(total, dtype=frames.dtype)
    ola = _overlap_add(frames, hop, spec.window_array)  # the window, then overlap-add
    out[: ola.shape[-1]] = ola
    if not p:
        return out
    core = out[p : p + n_samples].copy()
    if spec.pad_mode == "reflect":  # padded[p - j] = x[j], padded[p + n - 1 + j] = x[n - 1 - j]
        core[1 : p + 1] += out[p - 1 :: -1][:p]
        core[n_samples - 1 - p : n_samples - 1] += out[p + n_samples :][::-1][:p]
    elif spec.pad_mode != "constant":
        raise ParameterError(f"pad_mode={spec.pad_mode!r}: the waveform gradient knows 'constant' "
                             "and 'reflect' padding")
    return core


def _check(compression: str, floor_rel: float) -> None:
    if compression not in COMPRESSIONS:
        raise ParameterError(f"compression={compression!r}; choose one of {', '.join(COMPRESSIONS)}")
    if not floor_rel > 0 or not math.isfinite(floor_rel):
        raise ParameterError(f"floor_rel={floor_rel!r} must be a positive finite number "
                             "(the loss floor relative to the mel's peak)")


def mel_loss_grad(
    x: np.ndarray,
    mel: np.ndarray,
    spec: FeatureSpec,
    *,
    compression: str = "power",
    exponent: float = 0.5,
    floor_rel: float = 1e-5,
    band_weight: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Normalised mel loss of a waveform and its exact gradient.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,)]
        The waveform; float32 input is computed in float32, anything else in float64.
    mel : np.ndarray [shape=(n_mels, frames)]
        The given *linear* mel in ``spec.domain``; ``frames == spec.n_frames(n_samples)``.
    spec : FeatureSpec
        The contract the mel was made with.
    compression : {"identity", "power", "log"}
        ``f``: ``P``, ``(P + d)^exponent`` or ``log(P + d)``, ``d = floor_rel * max(mel)``.
    exponent : float
        The power of ``"power"`` (in (0, 1]).
    floor_rel : float
        The floor ``d`` relative to the mel's peak (``"power"`` and ``"log"``).
    band_weight : np.ndarray [shape=(n_mels,)], optional
        Weight ``w_b`` of each band in the loss (default all 1).

    Returns
    -------
    loss : float
        ``sum w (f(P) - f(m))^2 / sum w f(m)^2`` (for ``"log"``, the denominator is the
        number of weighted entries, ``sum_{b,t} w_b``).
    grad : np.ndarray [shape=(n_samples,)]
        ``dL/dx``, in the working precision.
    """
    _check(compression, floor_rel)
    x = np.asarray(x)
    dt = np.float32 if x.dtype == np.float32 else np.float64
    x = x.astype(dt, copy=False)
    m = np.asarray(mel, dtype=dt).T  # (frames, n_mels): the frame-major layout of the FFTs
    basis = spec.mel_basis(dt)
    s = np.swapaxes(spec.stft(x, dtype=dt), -1, -2)  # (frames, n_freq), contiguous
    a2 = s.real * s.real
    a2 += s.imag * s.imag
    a = np.sqrt(a2 + dt(max(float(spec.mag_eps), _MAG_EPS_REL * float(a2.max(initial=0.0)) + 1e-30)))
    p = (a2 if spec.power == 2 and spec.mag_eps == 0 else (a * a if spec.power == 2 else a)) @ basis.T
    w = np.ones(m.shape[1], dt) if band_weight is None else np.asarray(band_weight, dtype=dt)
    d = dt(floor_rel * float(m.max(initial=0.0)) + 1e-30)
    if compression == "identity":
        r = p - m
        norm = float(np.sum(w * m * m, dtype=np.float64))
        wr = w * r
    else:
        if compression == "power":
            fp, fm = (p + d) ** dt(exponent), (m + d) ** dt(exponent)
            dfp = dt(exponent) * fp / (p + d)
            norm = float(np.sum(w * fm * fm, dtype=np.float64))
        else:
            fp, fm, dfp = np.log(p + d), np.log(m + d), 1 / (p + d)
            norm = float(np.sum(w) * m.shape[0])
        r = fp - fm
        wr = w * r * dfp
    norm = max(norm, 1e-30)
    loss = float(np.sum(w * r * r, dtype=np.float64)) / norm
    dq = wr @ basis  # (frames, n_freq); the 2 / norm and rfft's adjoint weights come below
    bins = _adjoint_bin_weights(spec.n_fft, dt) * dt(2.0 / norm)
    factor = dq / a
    if spec.power == 2:
        factor *= 2 * a
    factor *= bins
    frames = scipy.fft.irfft(s * factor, n=spec.n_fft, axis=-1)
    _costs.add_frame_ffts(frames.shape[0])  # cost accounting (melbench.costs)
    return loss, _frames_adjoint(frames, spec, x.shape[-1])


@functools.lru_cache(maxsize=8)
def _adjoint_bin_weights(n_fft: int, dtype: type) -> np.ndarray:
    """``n_fft`` times 1 (DC, Nyquist) or 1/2 (the rest): ``rfft``'s adjoint through ``irfft``."""
    w = np.full(n_fft // 2 + 1, 0.5 * n_fft, dtype=dtype)
    w[0] = w[-1] = n_fft
    w.setflags(write=False)
    return w


def lbfgs_direction(g: np.ndarray, s_mat: np.ndarray, y_mat: np.ndarray, sy: np.ndarray,
                    yy: np.ndarray, order: list[int]) -> np.ndarray:
    """``-H g`` for the L-BFGS inverse Hessian of the pairs ``(s_i, y_i)``, in compact form.

    Parameters
    ----------
    g : np.ndarray [shape=(n,)]
        Gradient.
    s_mat, y_mat : np.ndarray [shape=(m, n)]
        Steps and gradient changes, one pair per row (slot); unused rows are ignored.
    sy, yy : np.ndarray [shape=(m, m)], float64
        ``sy[i, j] = s_i . y_j`` and ``yy[i, j] = y_i . y_j`` by slot.
    order : list of int
        The used slots, oldest pair first (at least one; each ``s_i . y_i`` > 0).

    Returns
    -------
    np.ndarray [shape=(n,)]
        The direction, equal to the two-loop recursion's with ``H_0 = gamma I``,
        ``gamma = s_k . y_k / y_k . y_k`` of the newest pair (Byrd, Nocedal and
        Schnabel's compact form: two products with the ``(m, n)`` matrices instead of
        ``4 m`` vector updates).

    References
    ----------
    .. [1] R. H. Byrd, J. Nocedal and R. B. Schnabel, "Representations of quasi-Newton
       matrices and their use in limited memory methods", Mathematical Programming 63, 1994.
    """
    o = np.asarray(order)
    sy_o, yy_o = sy[np.ix_(o, o)], yy[np.ix_(o, o)]
    gamma = sy_o[-1, -1] / yy_o[-1, -1]
    r = np.triu(sy_o)
    a = np.asarray(s_mat @ g, np.float64)[o]
    b = np.asarray(y_mat @ g, np.float64)[o]
    r_inv_a = scipy.linalg.solve_triangular(r, a, lower=False)
    inner = np.diag(sy_o) * r_inv_a + gamma * (yy_o @ r_inv_a) - gamma * b
    cs = np.zeros(s_mat.shape[0], g.dtype)
    cy = np.zeros(s_mat.shape[0], g.dtype)
    cs[o] = scipy.linalg.solve_triangular(r, inner, lower=False, trans="T")
    cy[o] = -gamma * r_inv_a
    return -(g.dtype.type(gamma) * g + cs @ s_mat + cy @ y_mat)


def lbfgs(
    fun,
    x0: np.ndarray,
    n_iter: int,
    *,
    history: int = 10,
    max_backtracks: int = 30,
) -> tuple[np.ndarray, int]:
    """Minimise ``fun`` by L-BFGS (compact form) with a backtracking Armijo line search.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (loss, grad)``, ``grad`` of ``x``'s shape.
    x0 : np.ndarray [shape=(n,)]
        Start (its dtype is the working precision).
    n_iter : int
        Iterations (each one evaluation, plus one per backtracking step); fewer when a
        step lowers the loss by no more than 4 ulp of the working precision (stalled).
    history : int
        Pairs ``(s, y)`` kept.
    max_backtracks : int
        Halvings of the step before an iteration gives up (and the run stops). 30, not 8:
        at the "none" framing the start's edge samples (where the window sums vanish) are
        hundreds of times the signal's peak, the first step scaled by that peak needs
        about 20 halvings, and with 8 the run stopped after 10 evaluations
        (``tests/test_conformance.py``, framings).

    Returns
    -------
    x : np.ndarray [shape=(n,)]
        The last accepted iterate.
    evals : int
        Evaluations of ``fun``.

    References
    ----------
    .. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer 2006,
       Algorithms 7.4-7.5 (L-BFGS) and 3.1 (backtracking).
    """
    x = np.array(x0, copy=True)
    dt = x.dtype
    f, g = fun(x)
    g = g.astype(dt, copy=False)
    evals = 1
    m = int(history)
    s_mat = np.zeros((m, x.size), dt)
    y_mat = np.zeros((m, x.size), dt)
    sy = np.zeros((m, m))
    yy = np.zeros((m, m))
    order: list[int] = []

    def steepest() -> np.ndarray:  # a first step moving the largest sample by 1 % of the peak
        return -g * dt.type(1e-2 * max(float(np.abs(x).max()), 1e-3) / max(float(np.abs(g).max()), 1e-30))

    for _ in range(int(n_iter)):
        d = lbfgs_direction(g, s_mat, y_mat, sy, yy, order) if order else steepest()
        slope = float(g @ d)
        if not slope < 0:  # not a descent direction: forget the pairs
            order.clear()
            d = steepest()
            slope = float(g @ d)
            if not slope < 0:
                break
        t, accepted = 1.0, False
        for _ in range(int(max_backtracks) + 1):
            x_new = x + dt.type(t) * d
            f_new, g_new = fun(x_new)
            evals += 1
            if f_new <= f + 1e-4 * t * slope:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        g_new = g_new.astype(dt, copy=False)
        s_k, y_k = x_new - x, g_new - g
        if float(s_k @ y_k) > 1e-12 * float(y_k @ y_k):  # curvature condition, else skipped
            slot = order.pop(0) if len(order) == m else next(i for i in range(m) if i not in order)
            s_mat[slot], y_mat[slot] = s_k, y_k
            order.append(slot)
            sy[slot, :] = np.asarray(y_mat @ s_k, np.float64)  # s_slot . y_j
            sy[:, slot] = np.asarray(s_mat @ y_k, np.float64)  # s_i . y_slot
            yy[slot, :] = yy[:, slot] = np.asarray(y_mat @ y_k, np.float64)
        stalled = f - f_new <= 4 * np.finfo(dt).eps * abs(f)  # no progress left at this precision
        x, f, g = x_new, f_new, g_new
        if stalled:
            break
    return x, evals


def refine_waveform(
    x0: np.ndarray,
    mel: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 24,
    compression: str = "power",
    exponent: float = 0.5,
    floor_rel: float = 1e-5,
    band_weight: np.ndarray | None = None,
    history: int = 10,
    dtype: type = np.float32,
    solver: str = "own",
    trace: list | None = None,
) -> np.ndarray:
    """L-BFGS on the waveform from ``x0`` for the loss of :func:`mel_loss_grad`.

    Parameters
    ----------
    x0 : np.ndarray [shape=(n_samples,)]
        Start (another cell's audio).
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        The contract.
    n_iter : int
        L-BFGS iterations (about one loss-and-gradient each: one STFT and one adjoint).
    compression, exponent, floor_rel, band_weight
        As :func:`mel_loss_grad`.
    history : int
        L-BFGS memory (pairs kept).
    dtype : dtype
        Working precision of the STFT and the mel.
    solver : {"own", "scipy"}
        :func:`lbfgs` (the two-loop recursion here, in ``dtype``), or scipy's L-BFGS-B
        (float64, about 1.8x the time per iteration, measured in ``results/speech_wave.md``).
    trace : list, optional
        Receives ``{"evals": k, "loss": L}`` per function evaluation.

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
        The refined waveform, in ``x0``'s dtype.
    """
    _check(compression, floor_rel)
    if solver not in ("own", "scipy"):
        raise ParameterError(f"solver={solver!r}; choose 'own' or 'scipy'")
    if n_iter <= 0:
        return np.array(x0, copy=True)
    mel = np.asarray(mel, dtype=dtype)

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = mel_loss_grad(v.astype(dtype, copy=False), mel, spec, compression=compression,
                                   exponent=exponent, floor_rel=floor_rel, band_weight=band_weight)
        if trace is not None:
            trace.append({"evals": len(trace) + 1, "loss": loss})
        return loss, grad

    if solver == "own":
        x, _ = lbfgs(fun, np.asarray(x0, dtype=dtype), int(n_iter), history=int(history))
        return x.astype(np.asarray(x0).dtype, copy=False)
    res = scipy.optimize.minimize(
        lambda v: (lambda lg: (lg[0], lg[1].astype(np.float64)))(fun(v)),
        np.asarray(x0, dtype=np.float64), jac=True, method="L-BFGS-B",
        options={"maxiter": int(n_iter), "maxfun": int(n_iter) + 5, "maxcor": int(history),
                 "ftol": 0.0, "gtol": 0.0},
    )
    return res.x.astype(np.asarray(x0).dtype, copy=False)
