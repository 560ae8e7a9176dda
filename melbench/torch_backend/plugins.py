"""The torch backend as plugins: ``pinv_torch``, ``nnls_torch``, ``gla_torch``, ``fgla_torch``.

Each takes numpy arrays like every plugin (so sweeps compare it with the numpy
methods), moves them to ``device``, runs the tensor function and brings the
result back. ``device`` ("cpu", "cuda", "cuda:1", ...) is a parameter, so it is
part of the plugin's label and therefore of every row. A device that is not
available is declined (recorded in the row as the reason), not failed. Without
torch installed, the registry lists these plugins as unavailable with the
install hint. torch itself is imported on first use, not when the registry
loads these classes (``import torch`` takes seconds and hundreds of MB).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ._require import require_torch

require_torch(import_it=False)

import numpy as np  # noqa: E402

from ..errors import ParameterError  # noqa: E402
from ..phase.projections import _check_common  # noqa: E402
from ..plugin import Inverter, PhaseRetriever  # noqa: E402
from ..spec import FeatureSpec  # noqa: E402


def check_framing(spec: FeatureSpec) -> str | None:
    """Why the torch backend cannot follow ``spec`` (see :func:`.ops.check_framing`)."""
    from .ops import check_framing as check

    return check(spec)


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot be used here (None if it can)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        return f"device={device!r} is not a torch device ({exc}); use 'cpu' or 'cuda'"
    if dev.type == "cuda" and not torch.cuda.is_available():
        return f"device={device!r}: CUDA is not available on this machine (torch {torch.__version__})"
    if dev.type not in ("cpu", "cuda"):
        return f"device={device!r}: only 'cpu' and 'cuda' devices are supported"
    return None


def _bad_device(device: str) -> None:
    import torch

    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"device={device!r} is not a torch device ({exc}); use 'cpu' or "
                             "'cuda'") from None


class _TorchPlugin:
    """Mixin: declines specs the backend cannot follow and unavailable devices."""

    params: Any

    def skip(self, spec: FeatureSpec) -> str | None:
        """Reason to decline ``spec`` on this device, or None."""
        return check_framing(spec) or device_problem(self.params.device)

    def _to(self, x: np.ndarray):
        import torch

        return torch.from_numpy(np.ascontiguousarray(x)).to(self.params.device)


class PinvTorch(_TorchPlugin, Inverter):
    """Clipped pseudo-inverse of the filterbank on a torch device (``pinv`` on tensors).

    References
    ----------
    .. [1] R. Penrose, "A generalized inverse for matrices," Proc. Cambridge Philosophical
       Society 51(3):406-413, 1955.
    """

    name: ClassVar[str] = "pinv_torch"

    @dataclass
    class Params:
        """Parameters of ``pinv_torch``.

        Attributes
        ----------
        device : str
            torch device: "cpu", "cuda", "cuda:1", ...
        """

        device: str = "cpu"

    def validate(self) -> None:
        """Check that the device name parses."""
        _bad_device(self.params.device)

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return ``max(pinv(M) m, 0)``."""
        from .inverters import pinv

        return pinv(self._to(mel), spec).cpu().numpy()


class NNLSTorch(_TorchPlugin, Inverter):
    """Converged NNLS (FISTA, adaptive restart, pinv start) on a torch device (``nnls``).

    References
    ----------
    .. [1] A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding algorithm for
       linear inverse problems," SIAM J. Imaging Sciences 2(1):183-202, 2009.
    .. [2] B. O'Donoghue and E. Candès, "Adaptive restart for accelerated gradient schemes,"
       Foundations of Computational Mathematics 15(3):715-732, 2015.
    """

    name: ClassVar[str] = "nnls_torch"

    @dataclass
    class Params:
        """Parameters of ``nnls_torch`` (as ``nnls``, plus the device).

        Attributes
        ----------
        max_iter : int
            Iteration bound per frame.
        tol : float
            Stop a frame when its gradient mapping is at most ``tol * ||M^T m||``.
        start : str
            "pinv" (clipped pseudo-inverse) or "zeros".
        device : str
            torch device.
        """

        max_iter: int = 500
        tol: float = 1e-5
        start: str = "pinv"
        device: str = "cpu"

    def validate(self) -> None:
        """Check the iteration bound, tolerance, start and device."""
        p = self.params
        if int(p.max_iter) != p.max_iter or p.max_iter < 0:
            raise ParameterError(f"max_iter={p.max_iter!r} must be a non-negative integer")
        if not p.tol >= 0:
            raise ParameterError(f"tol={p.tol!r} must be >= 0")
        if p.start not in ("pinv", "zeros"):
            raise ParameterError(f"start={p.start!r}; choose 'pinv' or 'zeros'")
        _bad_device(p.device)

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return the non-negative least-squares spectrogram in ``spec.domain``."""
        p = self.params
        from .inverters import nnls

        out = nnls(self._to(mel), spec, max_iter=int(p.max_iter), tol=p.tol, start=p.start)
        return out.cpu().numpy()


class FGLATorch(_TorchPlugin, PhaseRetriever):
    """Fast Griffin-Lim on a torch device (``fgla`` on tensors; ``alpha=0`` is GLA).

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Søndergaard, "A fast Griffin-Lim algorithm," IEEE
       WASPAA 2013.
    """

    name: ClassVar[str] = "fgla_torch"

    @dataclass
    class Params:
        """Parameters of ``fgla_torch``.

        Attributes
        ----------
        n_iter : int
            Iterations.
        alpha : float
            Momentum in [0, 1].
        init : str
            "random" (seeded uniform phase, the same draw as ``fgla``) or "zero".
        device : str
            torch device.
        """

        n_iter: int = 100
        alpha: float = 0.99
        init: str = "random"
        device: str = "cpu"

    def validate(self) -> None:
        """Check ``n_iter``, ``alpha``, the init choice and the device."""
        _check_common(self.params.n_iter, self.params.init)
        if not 0 <= self.params.alpha <= 1:
            raise ParameterError(f"alpha={self.params.alpha!r} outside [0, 1] (unstable above 1)")
        _bad_device(self.params.device)

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run FGLA on the device; the result comes back as a numpy array."""
        p = self.params
        from .phase import fgla

        x = fgla(self._to(magnitude), spec, init=None if init is None else self._to(init),
                 rng=rng, trace=trace, n_iter=int(p.n_iter), alpha=p.alpha, init_method=p.init)
        return x.cpu().numpy()


class GLATorch(FGLATorch):
    """Griffin-Lim on a torch device (``gla`` on tensors).

    References
    ----------
    .. [1] D. W. Griffin and J. S. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. Acoustics, Speech, and Signal Processing 32(2):236-243, 1984.
    """

    name: ClassVar[str] = "gla_torch"

    @dataclass
    class Params:
        """Parameters of ``gla_torch``.

        Attributes
        ----------
        n_iter : int
            Iterations.
        init : str
            "random" or "zero".
        device : str
            torch device.
        """

        n_iter: int = 100
        init: str = "random"
        device: str = "cpu"

    def validate(self) -> None:
        """Check ``n_iter``, the init choice and the device."""
        _check_common(self.params.n_iter, self.params.init)
        _bad_device(self.params.device)

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run GLA on the device; the result comes back as a numpy array."""
        p = self.params
        from .phase import gla

        x = gla(self._to(magnitude), spec, init=None if init is None else self._to(init),
                rng=rng, trace=trace, n_iter=int(p.n_iter), init_method=p.init)
        return x.cpu().numpy()
