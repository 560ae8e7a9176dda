"""What material a clip holds, and the input checks and notes shared by the evaluation metrics.

The evaluation metrics (ViSQOL, DNSMOS, WORLD/SPTK MCD, MR-STFT) choose what to
score from the clip's *kind* (``"speech"``, ``"music"``, ``"other"``...), which
a dataset records in ``clip.meta["kind"]`` (the pipeline copies it to the
row's ``kind`` column); a context may also carry it directly as ``ctx["kind"]``.
Labels that name a format rather than a material (``"mel"`` from the ``mels``
dataset, ``"audio"`` from ``folder``, ``"unknown"``) count as an unknown kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np

from ..errors import SkipCell
from .base import Missing

#: Kind labels that say nothing about the material (a format or a placeholder).
UNSPECIFIED_KINDS = frozenset({"", "mel", "audio", "unknown"})


def clip_kind(ctx: Mapping[str, Any]) -> str:
    """The clip's kind of material, lower case; ``""`` if unknown.

    Parameters
    ----------
    ctx : mapping
        A metric context (see :class:`melbench.plugin.Metric`): ``ctx["kind"]``
        if given, else ``ctx["clip"].meta["kind"]``.

    Returns
    -------
    str
        E.g. ``"speech"``, ``"music"``, ``"other"``, or ``""`` (unknown, including the
        labels in :data:`UNSPECIFIED_KINDS`).
    """
    kind = ctx.get("kind")
    if not kind:
        meta = getattr(ctx.get("clip"), "meta", None) or {}
        kind = meta.get("kind")
    kind = str(kind or "").strip().lower()
    return "" if kind in UNSPECIFIED_KINDS else kind


def check_signal(x: Any, what: str) -> np.ndarray:
    """A finite, mono, non-empty float64 signal, or :class:`SkipCell` naming the problem.

    Parameters
    ----------
    x : array_like
        Signal ``(n_samples,)``.
    what : str
        Its name in the message ("reference", "estimate").

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
        float64 copy-free view where possible, shape ``(n_samples,)``.
    """
    if x is None:
        raise SkipCell(f"no {what} audio")
    y = np.asarray(x, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise SkipCell(f"needs a mono 1-D {what}; got shape {y.shape}")
    bad = ~np.isfinite(y)
    if bad.any():
        raise SkipCell(f"{what} contains {int(np.isnan(y).sum())} NaN and "
                       f"{int(np.isinf(y).sum())} Inf samples")
    return y


def check_pair(reference: Any, estimate: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (reference, estimate) pair of equal length; a silent reference is a skip."""
    ref = check_signal(reference, "reference")
    est = check_signal(estimate, "estimate")
    if ref.shape != est.shape:
        raise SkipCell(f"reference and estimate lengths differ ({ref.size} vs {est.size} samples)")
    if not np.any(ref):
        raise SkipCell("reference is silent (all samples are zero)")
    return ref, est


def resample_to(y: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample with soxr (quality "VHQ", float64); a float64 copy when the rates agree."""
    y = np.asarray(y, dtype=np.float64)
    if int(rate_in) == int(rate_out):
        return y.copy()
    import soxr

    return soxr.resample(y, int(rate_in), int(rate_out), quality="VHQ")


def resample_note(rate_in: int, rate_out: int) -> str:
    """``"22050->16000 Hz (soxr VHQ)"`` or ``"not resampled (16000 Hz)"``."""
    if int(rate_in) == int(rate_out):
        return f"not resampled ({int(rate_out)} Hz)"
    return f"{int(rate_in)}->{int(rate_out)} Hz (soxr VHQ)"


def dist_version(name: str) -> str:
    """Installed version of distribution ``name``, or ``"absent"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def missing_package(module: str, extra: str, distribution: str) -> Missing | None:
    """None if ``module`` imports, else a :class:`Missing` naming the install command.

    Parameters
    ----------
    module : str
        Module to import (e.g. ``"visqol"``).
    extra : str
        melbench's optional extra that installs it (e.g. ``"visqol"``).
    distribution : str
        The PyPI distribution (e.g. ``"visqol-python"``).
    """
    try:
        __import__(module)
    except ImportError as exc:
        return Missing(f"{distribution} is not installed ({exc}); install melbench's "
                       f"'{extra}' extra (`pip install -e '.[{extra}]'` in melbench's clone)")
    return None
