"""melbench on PyTorch tensors (CPU or CUDA): batched GLA/FGLA, pseudo-inverse and NNLS.

Install with ``pip install -e ".[torch]"`` in melbench's clone. The functions take and return
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

# The functions are imported (and torch with them) on first use, so that the registry can
# load the plugin classes in melbench.torch_backend.plugins without paying for torch.
_LAZY = {
    "nnls": "inverters", "pinv": "inverters",
    "TorchProjector": "ops", "decompress": "ops", "istft": "ops", "stft": "ops",
    "fgla": "phase", "gla": "phase", "invert": "phase",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    """Import ``name`` from its module on first use (raises the install hint without torch)."""
    if name in _LAZY:
        import importlib

        from ._require import require_torch

        require_torch()
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
