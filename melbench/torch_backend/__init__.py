"""melbench on PyTorch tensors (CPU or CUDA): batched GLA/FGLA, pseudo-inverse and NNLS.

Install with ``pip install "melbench[torch]"``. The functions take and return
tensors on any device and follow a :class:`~melbench.spec.FeatureSpec` exactly as
the numpy path does (same STFT conventions, same consistency projection, same
update rules), so results equal :mod:`melbench.phase.projections` and
:mod:`melbench.inverters` within float32 rounding::

    import torch, melbench
    from melbench import torch_backend as mt

    spec = melbench.spec.get_spec("tts22k")
    mel = model(text)                                   # (B, n_mels, frames), log mel, CUDA
    audio = mt.invert(mel, spec, n_iter=100)            # (B, n_samples) on the same device

Lower-level pieces: :func:`decompress`, :func:`pinv`, :func:`nnls` (linear mel ->
linear spectrogram in ``spec.domain``), :func:`fgla`/:func:`gla` (magnitude ->
complex STFT), :func:`stft`/:func:`istft`, :class:`TorchProjector`. The registered
plugins ``pinv_torch``, ``nnls_torch``, ``gla_torch`` and ``fgla_torch``
(:mod:`melbench.torch_backend.plugins`) put them into sweeps; their ``device``
parameter is part of their label, so it is recorded in every row.
"""

from ._require import require_torch

require_torch()

from .inverters import nnls, pinv  # noqa: E402
from .ops import TorchProjector, decompress, istft, stft  # noqa: E402
from .phase import fgla, gla, invert  # noqa: E402

__all__ = ["TorchProjector", "decompress", "fgla", "gla", "invert", "istft", "nnls", "pinv", "stft"]
