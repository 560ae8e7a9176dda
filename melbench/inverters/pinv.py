"""``pinv``: Moore-Penrose pseudo-inverse of the filterbank, negatives clipped."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..plugin import Inverter
from ..spec import FeatureSpec


@functools.lru_cache(maxsize=16)
def pinv_operator(spec: FeatureSpec, dtype_str: str = "<f4") -> np.ndarray:
    """Pseudo-inverse of ``spec``'s mel basis, ``(n_freq, n_mels)``, cached per spec."""
    op = np.linalg.pinv(spec.mel_basis(np.float64)).astype(dtype_str)
    op.setflags(write=False)
    return op


def mel_pinv_inverse(mel: np.ndarray, spec: FeatureSpec, *, clip: bool = True) -> np.ndarray:
    """Minimum-norm least-squares inverse ``pinv(M) m``, negatives clipped to 0.

    Parameters
    ----------
    mel : np.ndarray [shape=(..., n_mels, frames)]
        Linear mel in the spec's domain.
    spec : FeatureSpec
        The contract the mel was made with.
    clip : bool
        Clip negative values to zero (a spectrogram is non-negative).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        Linear spectrogram in the spec's domain, the mel's dtype.

    References
    ----------
    .. [1] R. Penrose, "A generalized inverse for matrices," Proc. Cambridge Philosophical
       Society 51(3):406-413, 1955.
    """
    out = np.matmul(pinv_operator(spec, np.dtype(mel.dtype).str), mel)
    return np.maximum(out, 0, out=out) if clip else out


class Pinv(Inverter):
    """Pseudo-inverse of the filterbank with negatives clipped to zero.

    References
    ----------
    .. [1] R. Penrose, "A generalized inverse for matrices," Proc. Cambridge Philosophical
       Society 51(3):406-413, 1955.
    """

    name: ClassVar[str] = "pinv"
    counts_ffts: ClassVar[bool] = True

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return ``max(pinv(M) m, 0)``."""
        return mel_pinv_inverse(mel, spec)
