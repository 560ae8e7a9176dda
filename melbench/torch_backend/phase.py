"""Griffin-Lim (GLA) and fast Griffin-Lim (FGLA) on tensors, batched, any device.

The update rules are those of :func:`melbench.phase.projections.fgla` (Perraudin,
Balazs & Sondergaard 2013, momentum on the consistent iterate)::

    t_n = P1(P2(c_{n-1})),   c_n = t_n + alpha (t_n - t_{n-1})   (c_1 = t_1),

output ``P2(c_N)``, where ``P1`` is :class:`~melbench.torch_backend.ops.TorchProjector`
and ``P2(X) = A X / |X|`` (modulus 0 -> phase 0). ``alpha = 0`` is GLA (Griffin &
Lim 1984). Each iteration is one inverse and one forward real FFT over all frames
of the batch plus a few elementwise passes.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError, ParameterError
from ..phase.helpers import Tracer
from ..spec import FeatureSpec
from .ops import TorchProjector, complex_dtype, decompress, real_dtype

_BIAS = 1e-18  # modulus 0 -> phase 0, as the numpy kernels (re + 1e-18)
_TINY = 1e-37


def p2(c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``A c / |c|`` in place on ``c`` (a bin of modulus 0 gets phase 0)."""
    c.real.add_(_BIAS)
    s = torch.rsqrt(c.real.square() + c.imag.square() + _TINY).mul_(a)
    return c.mul_(s)


def _initial(magnitude: torch.Tensor, init: torch.Tensor | np.ndarray | None, init_method: str,
            rng: np.random.Generator | torch.Generator | int | None) -> torch.Tensor:
    """Complex start ``|S| e^{i phi}``: a warm start (complex or phases), random or zero phase.

    With a numpy ``Generator`` (or an int seed) the random phases are drawn exactly as
    the numpy path draws them (``rng.uniform(-pi, pi, magnitude.shape)``), so the same
    seed gives the same start; a ``torch.Generator`` draws on the tensor's device.
    """
    a = magnitude
    cd = complex_dtype(a.dtype)
    if init is not None:
        init = torch.as_tensor(init, device=a.device)
        if tuple(init.shape) != tuple(a.shape):
            raise InputError(f"warm start has shape {tuple(init.shape)} but the magnitude has "
                             f"{tuple(a.shape)}")
        if not bool(torch.isfinite(init).all()):
            raise InputError("warm start contains NaN or Inf")
        if init.is_complex():
            m = init.abs()
            unit = torch.where(m > 0, init / torch.where(m > 0, m, torch.ones_like(m)),
                               torch.ones_like(init))
            return (a * unit).to(cd)
        return torch.polar(a, init.to(a.dtype))
    if init_method == "zero":
        return a.to(cd)
    if init_method != "random":
        raise ParameterError(f"init={init_method!r}; choose 'random' or 'zero'")
    if isinstance(rng, torch.Generator):
        phase = (torch.rand(a.shape, generator=rng, device=rng.device, dtype=a.dtype)
                 .to(a.device) * (2 * math.pi) - math.pi)
    else:
        g = np.random.default_rng(rng)
        phase = torch.as_tensor(g.uniform(-np.pi, np.pi, size=tuple(a.shape)).astype(
            np.float64 if a.dtype == torch.float64 else np.float32), device=a.device)
    return torch.polar(a, phase)


def _check(magnitude: torch.Tensor, spec: FeatureSpec, n_iter: int, alpha: float) -> None:
    if not isinstance(magnitude, torch.Tensor):
        raise InputError(f"magnitude must be a torch.Tensor; got {type(magnitude).__name__} "
                         "(the numpy functions are melbench.phase.projections.fgla/gla)")
    if magnitude.ndim < 2 or magnitude.shape[-2] != spec.n_freq:
        raise InputError(f"magnitude has shape {tuple(magnitude.shape)}; spec {spec} needs "
                         f"(..., {spec.n_freq}, frames)")
    if magnitude.is_complex():
        raise InputError("magnitude is complex; pass |S| (a real, non-negative tensor)")
    if not bool(torch.isfinite(magnitude).all()):
        raise InputError("magnitude contains NaN or Inf; fix the upstream model output (e.g. "
                         "log of zero without a floor) before inverting")
    if bool((magnitude < 0).any()):
        raise InputError(f"magnitude has negative values (min {float(magnitude.min()):.3g}); a "
                         "linear magnitude is >= 0 (is it log-compressed?)")
    if int(n_iter) != n_iter or n_iter < 0:
        raise ParameterError(f"n_iter={n_iter!r}: must be an integer >= 0")
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha={alpha!r} outside [0, 1] (the momentum is unstable above 1)")


def fgla(
    magnitude: torch.Tensor,
    spec: FeatureSpec,
    *,
    init: torch.Tensor | np.ndarray | None = None,
    rng: np.random.Generator | torch.Generator | int | None = None,
    trace: list | None = None,
    n_iter: int = 100,
    alpha: float = 0.99,
    init_method: str = "random",
    length: int | None = None,
) -> torch.Tensor:
    """Fast Griffin-Lim on a tensor ``(..., n_freq, frames)`` (any device); ``alpha=0`` is GLA.

    The signature of every melbench phase function (:mod:`melbench.phase.helpers`), on
    tensors.

    Parameters
    ----------
    magnitude : torch.Tensor [shape=(..., n_freq, frames)]
        Target linear magnitude (float32, or float64), on the device to compute on.
    spec : FeatureSpec
        STFT contract.
    init : torch.Tensor or np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start: complex spectrogram (its phase is used) or phases in radians.
    rng : numpy Generator, int, torch.Generator, optional
        Seed of the random start (numpy seeds reproduce the numpy path's start).
    trace : list or Trace, optional
        Receives ``iter``, ``sc_db``, ``t`` (and ``sc_true_db`` with a reference,
        ``fft_pairs`` in a ledger) for ``iter = 0 .. n_iter``, as the numpy ``fgla``;
        measuring synchronises the device once per iteration.
    n_iter : int
        Iterations (one ``P1`` each).
    alpha : float
        Momentum in [0, 1].
    init_method : {"random", "zero"}
        Start when ``init`` is None.
    length : int, optional
        Signal length the projection assumes (see :class:`TorchProjector`).

    Returns
    -------
    torch.Tensor [shape=(..., n_freq, frames)]
        ``P2(c_N)``: complex (complex64 for float32), shape and device of ``magnitude``.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Søndergaard, "A fast Griffin-Lim algorithm," IEEE
       WASPAA 2013.
    """
    _check(magnitude, spec, n_iter, alpha)
    if trace is not None and not isinstance(trace, list):
        raise InputError(f"trace must be None or a list; got {type(trace).__name__}")
    on = trace is not None
    tr = Tracer(trace, magnitude.detach().cpu().numpy() if on else magnitude)
    a = magnitude.to(real_dtype(magnitude))
    lead = tuple(a.shape[:-2])
    a = a.reshape(-1, *a.shape[-2:])
    proj = TorchProjector(spec, a.shape[-1], device=a.device, dtype=a.dtype, length=length)
    ref = None
    if tr.reference is not None:
        with tr.pause():
            ref = proj.to_internal(torch.as_tensor(tr.reference, device=a.device)
                                   .to(a.dtype).reshape(a.shape))

    def record(it: int, e: torch.Tensor) -> None:  # e = P1(P2(c_it)), internal layout
        with tr.pause():
            m = e.abs()
            num2 = float((m - a).square().sum())
            true2 = None if ref is None else float((m - ref).square().sum())
        tr.add(it, num2, true2)

    with torch.no_grad():
        x0 = _initial(a, None if init is None else torch.as_tensor(init).reshape(a.shape),
                     init_method, rng)
        a = proj.to_internal(a)
        xin = p2(proj.to_internal(x0), a)
        del x0
        tr.mark()
        tprev = None
        for it in range(int(n_iter)):
            t = proj(xin)
            if on:
                record(it, t)
            if tprev is None:
                xin = p2(t.clone(), a)
            else:  # c = (1 + alpha) t - alpha t_prev, written over t_prev
                xin = p2(tprev.mul_(-alpha).add_(t, alpha=1.0 + alpha), a)
            tprev = t
            if on:
                if xin.device.type == "cuda":
                    torch.cuda.synchronize(xin.device)
                tr.mark()
        if on:
            with tr.pause():
                e = proj(xin.clone())
            record(int(n_iter), e)
        xin = proj.from_internal(xin)
    return xin.reshape(*lead, *xin.shape[-2:])


def gla(magnitude: torch.Tensor, spec: FeatureSpec, *, init=None, rng=None, trace=None,
        n_iter: int = 100, **kwargs) -> torch.Tensor:
    """Griffin-Lim (Griffin & Lim 1984): :func:`fgla` with ``alpha=0`` (same keywords).

    Parameters
    ----------
    magnitude : torch.Tensor [shape=(..., n_freq, frames)]
        Target linear magnitude, on the device to compute on.
    spec : FeatureSpec
        STFT contract.
    init : torch.Tensor or np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start (complex spectrogram or phases).
    rng : numpy Generator, int, torch.Generator, optional
        Seed of the random start.
    trace : list or Trace, optional
        Receives the records (as :func:`fgla`).
    n_iter : int
        Iterations.
    **kwargs
        ``init_method``, ``length``: as :func:`fgla`.

    Returns
    -------
    torch.Tensor [shape=(..., n_freq, frames)]
        Complex, shape and device of ``magnitude``.

    References
    ----------
    .. [1] D. W. Griffin and J. S. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. Acoustics, Speech, and Signal Processing 32(2):236-243, 1984.
    """
    return fgla(magnitude, spec, init=init, rng=rng, trace=trace, n_iter=n_iter, alpha=0.0,
                **kwargs)


def invert(
    mel: torch.Tensor,
    spec: FeatureSpec,
    *,
    inverter: str = "nnls",
    n_iter: int = 100,
    alpha: float = 0.99,
    rng: np.random.Generator | torch.Generator | int | None = 0,
    length: int | None = None,
) -> torch.Tensor:
    """Mel (as the spec describes it) -> audio, all on the mel's device.

    Parameters
    ----------
    mel : torch.Tensor [shape=(..., n_mels, frames)]
        Compressed or not, power or magnitude, exactly as ``spec`` says.
    spec : FeatureSpec
        The contract the mel was made with.
    inverter : {"nnls", "pinv"}
        Mel -> linear spectrogram (:func:`~melbench.torch_backend.nnls` or ``pinv``).
    n_iter, alpha, rng
        FGLA iterations, momentum (0 = GLA), seed of the random start.
    length : int, optional
        Output samples (default: what the frame count implies).

    Returns
    -------
    torch.Tensor [shape=(..., n_samples)]

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Søndergaard, "A fast Griffin-Lim algorithm," IEEE
       WASPAA 2013.
    """
    from .inverters import nnls, pinv
    from .ops import istft

    if mel.ndim < 2 or mel.shape[-2] != spec.n_mels:
        raise InputError(f"mel has shape {tuple(mel.shape)}; spec {spec} needs (..., {spec.n_mels}, "
                         "frames)")
    if not bool(torch.isfinite(mel).all()):
        raise InputError("mel contains NaN or Inf")
    lin = decompress(mel.to(real_dtype(mel)), spec)
    if inverter == "nnls":
        s = nnls(lin, spec)
    elif inverter == "pinv":
        s = pinv(lin, spec)
    else:
        raise ParameterError(f"inverter={inverter!r}; choose 'nnls' or 'pinv'")
    mag = s.clamp_min(0).sqrt() if spec.power == 2 else s
    x = fgla(mag, spec, n_iter=n_iter, alpha=alpha, rng=rng)
    n = spec.n_samples(x.shape[-1]) if length is None else int(length)
    return istft(x, spec, length=n)
