"""Direct waveform optimisation of a mel loss: the gradient of ``||f(mel(|STFT x|)) - f(m)||^2``.

Every other method in melbench iterates on a spectrogram (magnitude, phase or both) and
turns it into audio at the end. Here the unknown is the waveform ``x`` itself, so every
iterate is consistent by construction, and the loss

``L(x) = sum_{b,t} w_b (f(P_bt(x)) - f(m_bt))^2 / sum_{b,t} w_b f(m_bt)^2``

with ``P(x) = B |STFT x|^p`` (``B`` the spec's filterbank, ``p`` its power) is minimised
by L-BFGS (``scipy.optimize.minimize``) with its exact gradient (:func:`mel_loss_grad`).
``f`` is the identity, a power compression ``(P + d)^c`` or ``log(P + d)`` with a floor
``d`` relative to the mel's peak. The gradient is the chain rule down to the complex
STFT, ``G = dL/dA * S / |S|`` (``A = |S|``), then the adjoint of the real-to-complex STFT:
the half-spectrum weights of ``rfft``'s adjoint (:func:`rfft_adjoint`), the window,
overlap-add of the frames and the adjoint of the framing's padding (cropping for zero
padding, folding back for reflect padding). One loss-and-gradient costs one STFT and one
adjoint, about one FGLA iteration.

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

import math

import numpy as np
import scipy.fft
import scipy.optimize

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
    return scipy.fft.irfft(h, n=n_fft, axis=-1) * n_fft


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
    n_fft, hop = spec.n_fft, spec.hop_length
    frames = rfft_adjoint(np.swapaxes(g, -1, -2), n_fft)
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
    exponent: float = 0.3,
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
    m = np.asarray(mel, dtype=dt)
    basis = spec.mel_basis(dt)
    s = spec.stft(x, dtype=dt)
    a2 = s.real**2 + s.imag**2
    a = np.sqrt(a2 + dt(max(float(spec.mag_eps), _MAG_EPS_REL * float(a2.max(initial=0.0)) + 1e-30)))
    q = a * a if spec.power == 2 else a
    p = basis @ q
    w = np.ones(m.shape[0], dt) if band_weight is None else np.asarray(band_weight, dtype=dt)
    w = w[:, None]
    d = dt(floor_rel * float(m.max(initial=0.0)) + 1e-30)
    if compression == "identity":
        fp, fm, dfp = p, m, np.ones_like(p)
    elif compression == "power":
        fp, fm = (p + d) ** exponent, (m + d) ** exponent
        dfp = exponent * (p + d) ** (exponent - 1.0)
    else:
        fp, fm, dfp = np.log(p + d), np.log(m + d), 1.0 / (p + d)
    r = fp - fm
    if compression == "log":
        norm = float(np.sum(w * np.ones_like(fm)))
    else:
        norm = float(np.sum(w * fm * fm, dtype=np.float64))
    norm = max(norm, 1e-30)
    loss = float(np.sum(w * r * r, dtype=np.float64)) / norm
    dp = (2.0 / norm) * (w * r * dfp)
    dq = basis.T @ dp
    da = 2.0 * a * dq if spec.power == 2 else dq
    g = da * s / a
    return loss, stft_adjoint(g, spec, x.shape[-1])


def refine_waveform(
    x0: np.ndarray,
    mel: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 30,
    compression: str = "power",
    exponent: float = 0.3,
    floor_rel: float = 1e-5,
    band_weight: np.ndarray | None = None,
    history: int = 10,
    dtype: type = np.float32,
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
        L-BFGS iterations (``maxiter``; function evaluations are capped at
        ``n_iter + 5``, each one STFT and one adjoint).
    compression, exponent, floor_rel, band_weight
        As :func:`mel_loss_grad`.
    history : int
        L-BFGS memory (``maxcor``).
    dtype : dtype
        Working precision of the STFT and the mel (L-BFGS itself works in float64).
    trace : list, optional
        Receives ``{"evals": k, "loss": L}`` per function evaluation.

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
        The refined waveform, in ``x0``'s dtype.
    """
    _check(compression, floor_rel)
    if n_iter <= 0:
        return np.array(x0, copy=True)
    mel = np.asarray(mel, dtype=dtype)

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = mel_loss_grad(v.astype(dtype), mel, spec, compression=compression, exponent=exponent,
                                   floor_rel=floor_rel, band_weight=band_weight)
        if trace is not None:
            trace.append({"evals": len(trace) + 1, "loss": loss})
        return loss, grad.astype(np.float64)

    res = scipy.optimize.minimize(
        fun, np.asarray(x0, dtype=np.float64), jac=True, method="L-BFGS-B",
        options={"maxiter": int(n_iter), "maxfun": int(n_iter) + 5, "maxcor": int(history),
                 "ftol": 0.0, "gtol": 0.0},
    )
    return res.x.astype(np.asarray(x0).dtype, copy=False)
