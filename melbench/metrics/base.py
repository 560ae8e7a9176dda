"""Helpers shared by metric plugins: a missing value that carries its reason."""

from __future__ import annotations

import math


class Missing(float):
    """A NaN that says why it is missing.

    A metric returns ``Missing("reason")`` for a column it cannot score on this
    clip (while scoring its other columns). It behaves as ``float("nan")``
    everywhere; :func:`melbench.pipeline.score_metric` stores NaN in the row and
    the reason in the row's ``notes``. Use it instead of sentinel values
    (0, 1e-5...), which silently enter averages.

    Parameters
    ----------
    reason : str
        Why the value is missing, e.g. ``"reference is silent"``.

    Examples
    --------
    >>> v = Missing("clip shorter than 0.25 s")
    >>> v != v, v.reason
    (True, 'clip shorter than 0.25 s')
    """

    reason: str

    def __new__(cls, reason: str) -> Missing:
        """Create the NaN carrying ``reason``."""
        obj = super().__new__(cls, math.nan)
        obj.reason = str(reason)
        return obj

    def __reduce__(self) -> tuple[type[Missing], tuple[str]]:
        return (Missing, (self.reason,))

    def __repr__(self) -> str:
        return f"Missing({self.reason!r})"
