"""Cost accounting: the FFT work a plugin call does, and facts it reports about the call.

The unit is the **FFT pair**: one inverse real FFT of every frame of the clip's
spectrogram plus one forward real FFT of every frame, i.e. what one consistency
projection ``P1(X) = STFT(ISTFT(X))`` costs. Work is counted in single-frame real
FFTs (forward or inverse, of the spec's ``n_fft``) and converted with::

    fft_pairs = frame_ffts / (2 * n_frames * batch)

where ``n_frames`` and ``batch`` are those of the clip's spectrogram. So one STFT
alone is half a pair, one projection of a whole spectrogram one pair, and a
frame-by-frame method that transforms ``k`` frames forward and back adds
``k / n_frames`` pairs. Work that is not a real FFT (PGHI's heap integration, LWS's
local weighted sums, NNLS's matrix products) costs 0 pairs: compare such methods
in seconds too (the report plots both).

How a plugin is counted:

* melbench's STFT engine counts itself: :func:`melbench.stft.stft`,
  :func:`melbench.stft.istft` and every :class:`melbench.stft.Projector` projection
  call :func:`add_frame_ffts`. A plugin that uses only ``spec.stft``, ``spec.istft``
  and projectors is counted without doing anything.
* A plugin that transforms frames in its own code (its own scipy/torch FFTs, a
  compiled kernel) reports them with :func:`add_frame_ffts` (or :func:`add_fft_pairs`).
* Bookkeeping that is not part of the method (a convergence trace) runs inside
  :func:`uncounted`.
* A plugin class declares ``counts_ffts = True`` once all of the above holds. The
  pipeline reports ``fft_pairs`` only for plugins (and all their
  :meth:`~melbench.plugin.Plugin.components`) that declare it; for any other plugin
  (e.g. a third-party one written before this existed) the column is missing (NaN)
  and the row's ``notes`` say why. Nothing fails.

Facts: :func:`report` lets a plugin record named values about one call (an iterative
solver's iterations, frames that hit the iteration cap); the pipeline puts them in
the row as ``invert_<name>`` / ``phase_<name>`` columns, and :func:`note` adds a text to
the row's ``notes`` (and so to the run's summary).

Counting uses a :class:`contextvars.ContextVar`, so it is per thread and per task; code
running outside any :func:`ledger` costs nothing to count.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Ledger:
    """What one counted scope (one plugin call) did.

    Attributes
    ----------
    frame_ffts : float
        Single-frame real FFTs (forward or inverse) counted in the scope, nested
        scopes included.
    facts : dict
        Named values reported with :func:`report` (innermost scope only).
    notes : list of str
        Texts added with :func:`note` (innermost scope only).
    """

    frame_ffts: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def fft_pairs(self, n_frames: int, batch: int = 1) -> float:
        """The counted work in FFT pairs of a ``batch`` of spectrograms of ``n_frames`` frames."""
        den = 2 * int(n_frames) * max(int(batch), 1)
        return self.frame_ffts / den if den > 0 else math.nan


_CURRENT: contextvars.ContextVar[Ledger | None] = contextvars.ContextVar(
    "melbench_ledger", default=None)


@contextlib.contextmanager
def ledger() -> Iterator[Ledger]:
    """Count the FFTs (and collect the facts) of the code run inside, e.g. one plugin call.

    Nested ledgers are allowed: an inner one's FFTs are added to the outer one when it
    closes (its facts and notes stay its own).

    Yields
    ------
    Ledger
        Filled while the block runs.
    """
    outer = _CURRENT.get()
    led = Ledger()
    token = _CURRENT.set(led)
    try:
        yield led
    finally:
        _CURRENT.reset(token)
        if outer is not None:
            outer.frame_ffts += led.frame_ffts


@contextlib.contextmanager
def uncounted() -> Iterator[None]:
    """Run bookkeeping (a convergence trace's extra projections) without counting it."""
    token = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def counting() -> bool:
    """True inside a :func:`ledger` (and not inside :func:`uncounted`)."""
    return _CURRENT.get() is not None


def current() -> Ledger | None:
    """The innermost open ledger (None outside one, or inside :func:`uncounted`)."""
    return _CURRENT.get()


def pairs_so_far(like_shape: tuple[int, ...]) -> float | None:
    """FFT pairs counted so far in the current ledger, for spectrograms shaped ``like_shape``.

    For convergence traces (``{"iter", "sc_db", "fft_pairs"}``); None outside a ledger.
    """
    led = _CURRENT.get()
    if led is None or len(like_shape) < 2:
        return None
    batch = 1
    for b in like_shape[:-2]:
        batch *= int(b)
    return led.fft_pairs(like_shape[-1], batch)


def add_frame_ffts(n: float) -> None:
    """Count ``n`` single-frame real FFTs (forward or inverse); no-op outside a ledger.

    Parameters
    ----------
    n : float
        Number of frames transformed (for a batch, frames times items).
    """
    led = _CURRENT.get()
    if led is not None:
        led.frame_ffts += float(n)


def add_fft_pairs(pairs: float, n_frames: int, batch: int = 1) -> None:
    """Count ``pairs`` whole-spectrogram FFT pairs of ``batch`` spectrograms of ``n_frames``."""
    add_frame_ffts(2.0 * float(pairs) * int(n_frames) * max(int(batch), 1))


def report(**facts: Any) -> None:
    """Record named values about the current call (become ``<stage>_<name>`` row columns)."""
    led = _CURRENT.get()
    if led is not None:
        led.facts.update(facts)


def note(text: str) -> None:
    """Add a text to the current call's row ``notes`` (shown in the run's summary)."""
    led = _CURRENT.get()
    if led is not None and text not in led.notes:
        led.notes.append(str(text))


def counts_ffts(plugin: Any) -> bool:
    """True if ``plugin`` and every plugin it runs declare ``counts_ffts = True``."""
    if not getattr(plugin, "counts_ffts", False):
        return False
    comps = getattr(plugin, "components", None)
    return all(counts_ffts(c) for c in (comps() if callable(comps) else []))


def uncounted_plugins(plugin: Any) -> list[str]:
    """Names of ``plugin`` and its components that do not declare ``counts_ffts``."""
    out = [] if getattr(plugin, "counts_ffts", False) else [str(getattr(plugin, "name", plugin))]
    comps = getattr(plugin, "components", None)
    for c in comps() if callable(comps) else []:
        out += [n for n in uncounted_plugins(c) if n not in out]
    return out
