"""``oracle``: pass the reference's true magnitude through, to judge the phase stage alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from ..plugin import Inverter
from ..spec import FeatureSpec


class Oracle(Inverter):
    """Ignore the mel and return the reference audio's true linear magnitude.

    This is how the phase-retrieval literature evaluates phase retrievers: with
    the exact magnitude, so that only the phase step is judged. It needs the
    reference magnitude in ``context["reference_magnitude"]`` (the pipeline
    provides it when the clip has audio).

    References
    ----------
    .. [1] N. Sturmel and L. Daudet, "Signal reconstruction from STFT magnitude: a state of
       the art," Proc. DAFx 2011 (phase retrievers judged from the true magnitude).
    """

    name: ClassVar[str] = "oracle"
    counts_ffts: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = True

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return ``context["reference_magnitude"]`` in the spec's domain."""
        ref = context.get("reference_magnitude")
        if ref is None:
            raise InputError(
                "inverter 'oracle' needs the reference audio's magnitude, but this clip has no "
                "reference audio (e.g. a model-predicted mel); choose another inverter"
            )
        ref = np.asarray(ref)
        if ref.shape[-1] != mel.shape[-1] or ref.shape[-2] != spec.n_freq:
            raise InputError(
                f"reference magnitude has shape {ref.shape}; expected (..., {spec.n_freq}, "
                f"{mel.shape[-1]}) to match the mel"
            )
        return ref**2 if spec.power == 2 else ref
