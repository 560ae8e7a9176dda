"""``guarded``'s batches: a stack of mels solved one item at a time, each with its own choice."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

from ..spec import FeatureSpec

#: Context key of the guard's record: ``{"chosen", "inner", "fallback", "criterion", ...}``
#: (a list of them for a batch).
GUARD_KEY = "guard"


def solve_items(solve: Callable[..., np.ndarray], mel: np.ndarray, spec: FeatureSpec,
                context: Mapping[str, Any]) -> np.ndarray:
    """A batch of mels solved one item at a time, each with its own guard choice.

    Parameters
    ----------
    solve : callable
        The single-item ``solve(mel, spec, context=ctx)`` of a guard (``guarded`` or a
        subclass); it sets ``ctx["phase_init"]`` and ``ctx["guard"]``.
    mel : np.ndarray [shape=(..., n_mels, frames)]
        The batch.
    spec : FeatureSpec
        The mels' contract.
    context : Mapping
        The pipeline's context: gets the stacked ``phase_init``, the list of the items'
        guard records and ``phase_final`` when every item's phase is final (one phase stage
        runs for the whole batch, so it is skipped only if no item needs it).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        The items' outputs, stacked.
    """
    from ..plugin import PHASE_FINAL_KEY
    from .joint_fgla import PHASE_INIT_KEY

    outs, inits, records, final = [], [], [], []
    for m in mel.reshape(-1, *mel.shape[-2:]):
        ctx: dict[str, Any] = {}
        outs.append(solve(m, spec, context=ctx))
        inits.append(ctx[PHASE_INIT_KEY])
        records.append(ctx[GUARD_KEY])
        final.append(bool(ctx.get(PHASE_FINAL_KEY)))
    shape = (*mel.shape[:-2], spec.n_freq, mel.shape[-1])
    if isinstance(context, MutableMapping):
        context[PHASE_INIT_KEY] = np.stack(inits).reshape(shape)
        context[GUARD_KEY] = records
        if all(final):
            context[PHASE_FINAL_KEY] = True
    return np.stack(outs).reshape(shape)
