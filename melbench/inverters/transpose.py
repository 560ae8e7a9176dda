"""``transpose``: the filterbank's transpose, rescaled so a flat spectrum maps back flat."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..plugin import Inverter
from ..spec import FeatureSpec


@functools.lru_cache(maxsize=16)
def _transpose_operator(spec: FeatureSpec, dtype_str: str) -> np.ndarray:
    basis = spec.mel_basis(np.float64)
    gain = basis.T @ basis.sum(axis=1)  # M^T M 1: what a flat spectrum comes back as
    op = np.where(gain[:, None] > 0, basis.T / np.where(gain > 0, gain, 1.0)[:, None], 0.0)
    op = op.astype(dtype_str)
    op.setflags(write=False)
    return op


def mel_transpose_inverse(mel: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Apply ``diag(1 / M^T M 1) M^T`` to a linear mel ``(..., n_mels, frames)``.

    The per-frequency gain makes a flat spectrum map back exactly flat (bins no
    band covers come back as zero).

    Parameters
    ----------
    mel : np.ndarray [shape=(..., n_mels, frames)]
        Linear mel in the spec's domain.
    spec : FeatureSpec
        The contract the mel was made with.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        Linear spectrogram in the spec's domain, the mel's dtype.

    References
    ----------
    .. [1] D. P. W. Ellis, "PLP and RASTA (and MFCC, and inversion) in Matlab," 2005,
       http://www.ee.columbia.edu/~dpwe/resources/matlab/rastamat/ (``invaudspec``: the
       transposed, normalised filterbank).
    """
    op = _transpose_operator(spec, np.dtype(mel.dtype).str)
    return np.matmul(op, mel)


class Transpose(Inverter):
    """Transpose of the mel filterbank with a per-frequency gain (flat stays flat).

    References
    ----------
    .. [1] D. P. W. Ellis, "PLP and RASTA (and MFCC, and inversion) in Matlab," 2005,
       http://www.ee.columbia.edu/~dpwe/resources/matlab/rastamat/ (``invaudspec``: the
       transposed, normalised filterbank).
    """

    name: ClassVar[str] = "transpose"
    counts_ffts: ClassVar[bool] = True

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return the rescaled transpose applied to the linear mel."""
        return mel_transpose_inverse(mel, spec)
