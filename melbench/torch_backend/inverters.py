"""Mel -> linear spectrogram on tensors: clipped pseudo-inverse and NNLS (FISTA), batched.

Both take the *linear* mel in ``spec.domain`` ``(..., n_mels, frames)`` (undo
compression with :func:`~melbench.torch_backend.ops.decompress`) and return
``(..., n_freq, frames)`` in the same domain, like the numpy inverters'
``solve``. :func:`nnls` runs the algorithm of :func:`melbench.inverters.nnls.nnls_solve`
(FISTA with step ``1/||M||^2``, adaptive restart of O'Donoghue & Candes 2015, per
frame stopping on the gradient mapping), warm-started from the clipped
pseudo-inverse, on all frames at once with the dense filterbank; finished frames
leave the working set, so each frame runs exactly the iterations it would alone.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..errors import InputError, ParameterError
from ..spec import FeatureSpec
from .ops import constant, real_dtype


def _check_mel(mel: torch.Tensor, spec: FeatureSpec) -> None:
    if not isinstance(mel, torch.Tensor):
        raise InputError(f"mel must be a torch.Tensor; got {type(mel).__name__}")
    if mel.ndim < 2 or mel.shape[-2] != spec.n_mels:
        raise InputError(f"mel has shape {tuple(mel.shape)}; spec {spec} needs (..., "
                         f"{spec.n_mels}, frames)")


def pinv(mel: torch.Tensor, spec: FeatureSpec, *, clip: bool = True) -> torch.Tensor:
    """``max(pinv(M) m, 0)`` for a linear mel tensor ``(..., n_mels, frames)``.

    Parameters
    ----------
    mel : torch.Tensor [shape=(..., n_mels, frames)]
        Linear mel in ``spec.domain``, on the device to compute on.
    spec : FeatureSpec
        The contract the mel was made with (gives the filterbank).
    clip : bool
        Clip negative values to zero.

    Returns
    -------
    torch.Tensor [shape=(..., n_freq, frames)]
        On the mel's device, float32 unless the mel is float64.

    References
    ----------
    .. [1] R. Penrose, "A generalized inverse for matrices," Proc. Cambridge Philosophical
       Society 51(3):406-413, 1955.
    """
    _check_mel(mel, spec)
    m = mel.to(real_dtype(mel))
    out = torch.matmul(constant("pinv", spec, m.device, m.dtype), m)
    return out.clamp_min_(0) if clip else out


@functools.lru_cache(maxsize=16)
def _lipschitz(spec: FeatureSpec) -> float:
    basis = spec.mel_basis(np.float64)
    return float(np.linalg.eigvalsh(basis @ basis.T)[-1])


def nnls(
    mel: torch.Tensor,
    spec: FeatureSpec,
    *,
    max_iter: int = 500,
    tol: float = 1e-5,
    start: str | torch.Tensor = "pinv",
    restart: bool = True,
) -> torch.Tensor:
    """Non-negative least squares ``min_{s >= 0} ||M s - m||^2`` per frame, on tensors.

    Parameters
    ----------
    mel : torch.Tensor [shape=(..., n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Gives the filterbank ``M``.
    max_iter : int
        Iteration bound per frame.
    tol : float
        Stop a frame when ``L ||y - P(y - grad f(y) / L)||`` is at most ``tol ||M^T m||``
        (as :func:`melbench.inverters.nnls.nnls_solve`).
    start : {"pinv", "zeros"} or tensor
        Warm start (the clipped pseudo-inverse by default).
    restart : bool
        Adaptive (gradient) restart of the momentum.

    Returns
    -------
    torch.Tensor [shape=(..., n_freq, frames)]
        Non-negative, in ``spec.domain``, on the mel's device.

    References
    ----------
    .. [1] A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding algorithm for
       linear inverse problems," SIAM J. Imaging Sciences 2(1):183-202, 2009.
    .. [2] B. O'Donoghue and E. Candès, "Adaptive restart for accelerated gradient schemes,"
       Foundations of Computational Mathematics 15(3):715-732, 2015.
    """
    _check_mel(mel, spec)
    if int(max_iter) != max_iter or max_iter < 0:
        raise ParameterError(f"max_iter={max_iter!r} must be a non-negative integer")
    if not tol >= 0:
        raise ParameterError(f"tol={tol!r} must be >= 0")
    dt = real_dtype(mel)
    dev = mel.device
    lead, n_frames = tuple(mel.shape[:-2]), mel.shape[-1]
    # columns = all frames of all items: (n_mels, K)
    m = mel.to(dt).reshape(-1, spec.n_mels, n_frames).permute(1, 0, 2).reshape(spec.n_mels, -1)
    basis = constant("mel_basis", spec, dev, dt)
    if isinstance(start, torch.Tensor):
        want = (*lead, spec.n_freq, n_frames)
        if tuple(start.shape) != want:
            raise ParameterError(f"start has shape {tuple(start.shape)}; expected {want}")
        x = start.to(dev, dt).reshape(-1, spec.n_freq, n_frames).permute(1, 0, 2)
        x = x.reshape(spec.n_freq, -1).clamp_min(0)
    elif start == "pinv":
        x = pinv(m, spec)
    elif start == "zeros":
        x = torch.zeros(spec.n_freq, m.shape[1], dtype=dt, device=dev)
    else:
        raise ParameterError(f"start={start!r}; choose 'pinv', 'zeros' or a tensor")
    x = x.contiguous()
    lip = _lipschitz(spec)
    with torch.no_grad():
        b = basis.T @ m  # M^T m, (n_freq, K)
        thr = tol * torch.linalg.vector_norm(b.double(), dim=0)
        todo = thr > 0
        x[:, ~todo] = 0
        if lip > 0 and max_iter > 0:
            _fista(basis, lip, b, x, thr, todo, int(max_iter), restart)
    out = x.reshape(spec.n_freq, -1, n_frames).permute(1, 0, 2)
    return out.reshape(*lead, spec.n_freq, n_frames).contiguous()


def _fista(basis: torch.Tensor, lip: float, b: torch.Tensor, x: torch.Tensor, thr: torch.Tensor,
           todo: torch.Tensor, max_iter: int, restart: bool) -> None:
    """FISTA on the columns ``todo`` of ``x`` (updated in place); finished columns drop out."""
    idx = torch.nonzero(todo).flatten()
    if idx.numel() == 0:
        return
    step = 1.0 / lip
    basis_t = basis.T.contiguous()
    xb = x[:, idx].clone()
    y = xb.clone()
    bb = b[:, idx]
    th = thr[idx]
    t = torch.ones(idx.numel(), dtype=torch.float64, device=x.device)
    it = 0
    while idx.numel():
        g = basis_t @ (basis @ y)  # M^T M y, in the numpy kernel's order
        v = torch.add(y, g.sub_(bb), alpha=-step).clamp_min_(0)  # max(y - (g - b) / L, 0)
        d = y - v
        gm = torch.linalg.vector_norm(d.double(), dim=0)
        if restart:
            up = (d * (v - xb)).sum(0, dtype=torch.float64)
            t = torch.where(up > 0, torch.ones_like(t), t)
        t_new = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t * t))
        beta = ((t - 1.0) / t_new).to(x.dtype)
        t = t_new
        y = v + beta * (v - xb)
        xb = v
        it += 1
        done = (gm * lip <= th) if it < max_iter else torch.ones_like(th, dtype=torch.bool)
        if bool(done.any()):
            x[:, idx[done]] = xb[:, done]
            keep = ~done
            idx, xb, y, bb, th, t = idx[keep], xb[:, keep], y[:, keep], bb[:, keep], th[keep], t[keep]
