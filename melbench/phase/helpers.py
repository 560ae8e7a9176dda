"""Public helpers for writing phase retrievers: the one phase-function signature.

Every phase function in melbench (and every one a plugin author writes) has the shape::

    f(magnitude, spec, *, init=None, rng=None, trace=None, <method params>) -> np.ndarray

* ``magnitude``: linear STFT magnitude ``(..., n_freq, frames)``, non-negative, finite;
  any number of leading batch axes.
* ``spec``: the :class:`~melbench.spec.FeatureSpec` whose STFT the result must be
  consistent with (window, hop, framing).
* ``init``: optional warm start of the magnitude's shape, a complex spectrogram (its
  phase is used) or real phases in radians.
* ``rng``: seed or :class:`numpy.random.Generator` of every random choice (None: fresh
  entropy, not reproducible).
* ``trace``: None, or a list (usually a :class:`Trace`) receiving one dict per recorded
  iteration (keys in :data:`TRACE_KEYS`).
* returns a complex STFT of the magnitude's shape, complex64 for float32 (and any
  non-float64) input, complex128 for float64.

:func:`phase_function` is the decorator that gives a function this contract: it
validates the input once (:func:`check_phase_input`), turns ``rng`` into a generator,
runs a 2-D core over the leading batch axes if asked (:func:`over_batch`) and casts the
output (:func:`complex_dtype`). :class:`Tracer` records convergence traces with the
keys every report reads. The plugin guide (``docs/plugin_guide.md``) shows them in use.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import costs
from ..errors import InputError
from ..measures import spectral_convergence_db
from ..spec import FeatureSpec

#: Keys of a trace record. ``iter`` (int, iterations done), ``sc_db`` (SC of
#: ``|STFT(ISTFT(X_k))|`` against the *target* magnitude, dB), ``t`` (seconds since the
#: call started, trace bookkeeping excluded) always; ``sc_true_db`` (the same SC against
#: the trace's reference magnitude, the true one in a pipeline run) when the trace carries
#: a reference; ``fft_pairs`` (FFT pairs the call has used, :mod:`melbench.costs`) inside a
#: cost ledger; ``step`` (the chain step) and ``stage`` (lws) where they apply.
TRACE_KEYS: tuple[str, ...] = ("iter", "sc_db", "t", "sc_true_db", "fft_pairs", "step", "stage")


class Trace(list):
    """A convergence trace: a list of record dicts that may carry a reference magnitude.

    Pass one as ``trace=`` to any phase function or plugin; iterative methods append
    one record per iteration (keys :data:`TRACE_KEYS`). With ``reference`` set, each record
    also has ``sc_true_db``: the SC of the iterate's re-analysed magnitude
    ``|STFT(ISTFT(X_k))|`` against it (the pipeline passes the true magnitude of the clip,
    so convergence can be read against the truth and not only against the inverter's
    estimate).

    Parameters
    ----------
    records : iterable of dict, optional
        Initial records.
    reference : np.ndarray [shape=(..., n_freq, frames)], optional
        Reference magnitude, shape of the magnitude given to the phase function.

    Examples
    --------
    >>> tr = Trace(reference=true_mag)                      # doctest: +SKIP
    >>> x = fgla(target, spec, n_iter=50, rng=0, trace=tr)   # doctest: +SKIP
    >>> tr[-1]["sc_db"], tr[-1]["sc_true_db"]                # doctest: +SKIP
    """

    def __init__(self, records: Any = (), *, reference: np.ndarray | None = None) -> None:
        super().__init__(records)
        self.reference = None if reference is None else np.asarray(reference)


def trace_reference(trace: list | None) -> np.ndarray | None:
    """The reference magnitude a trace carries (``Trace.reference``), or None.

    Parameters
    ----------
    trace : list or Trace or None
        A trace as given to a phase function.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)] or None
    """
    return getattr(trace, "reference", None) if trace is not None else None


def sub_trace(trace: list | None) -> list | None:
    """An empty trace carrying ``trace``'s reference (for a method that runs others), or None.

    Parameters
    ----------
    trace : list or Trace or None
        The caller's trace.

    Returns
    -------
    Trace or None
        None when ``trace`` is None (nothing is measured then).
    """
    return None if trace is None else Trace(reference=trace_reference(trace))


def complex_dtype(magnitude: np.ndarray) -> type:
    """Output dtype of a phase function: complex128 for float64 input, else complex64.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        The magnitude given to the phase function.

    Returns
    -------
    type
        ``np.complex128`` or ``np.complex64``.
    """
    return np.complex128 if np.asarray(magnitude).dtype == np.float64 else np.complex64


def init_phase(init: np.ndarray | None) -> np.ndarray | None:
    """Phase in radians (float64) of a warm start given as a complex STFT or as phases.

    Parameters
    ----------
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Complex spectrogram (its angle is taken) or real phases.

    Returns
    -------
    np.ndarray [shape=init.shape] or None
        float64 phases; None when ``init`` is None.
    """
    if init is None:
        return None
    init = np.asarray(init)
    if np.iscomplexobj(init):
        return np.angle(init).astype(np.float64)
    return init.astype(np.float64)


def check_phase_input(
    magnitude: np.ndarray, spec: FeatureSpec, init: np.ndarray | None = None,
    trace: list | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate a phase function's magnitude, warm start and trace.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Linear magnitude: real, finite, non-negative, ``n_freq = spec.n_freq``.
    spec : FeatureSpec
        Gives ``n_freq``.
    init : np.ndarray [shape=magnitude.shape], optional
        Warm start (complex spectrogram or phases): finite, the magnitude's shape.
    trace : list, optional
        Must be None or a list.

    Returns
    -------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        float32 or float64 (other real dtypes become float32).
    init : np.ndarray or None
        As an array.

    Raises
    ------
    InputError
        Naming the problem and the fix (wrong shape, NaN/Inf, negative values, complex
        magnitude, misshapen warm start).
    """
    from ..validation import check_magnitude

    magnitude = check_magnitude(magnitude, spec)
    if init is not None:
        init = np.asarray(init)
        if init.shape != magnitude.shape:
            raise InputError(
                f"warm start has shape {init.shape} but the magnitude has {magnitude.shape}; "
                "give init of the magnitude's shape (a complex STFT or its phases) or None"
            )
        if not np.all(np.isfinite(init)):
            raise InputError("warm start contains NaN or Inf; pass finite phases or init=None")
    if trace is not None and not isinstance(trace, list):
        raise InputError(f"trace must be None or a list (e.g. melbench.phase.helpers.Trace()); "
                         f"got {type(trace).__name__}")
    return magnitude, init


def over_batch(
    fn: Callable[[np.ndarray, np.ndarray | None, np.random.Generator], np.ndarray],
    magnitude: np.ndarray,
    init: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Apply a 2-D ``(n_freq, frames)`` solver over leading batch axes.

    Parameters
    ----------
    fn : callable
        ``fn(mag2d_float64, init2d_or_None, rng) -> complex (n_freq, frames)``.
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Magnitudes; items are processed in C order.
    init : np.ndarray [shape=magnitude.shape], optional
        Warm start, split the same way.
    rng : np.random.Generator
        Passed to every call (one stream shared by the items, in order).

    Returns
    -------
    np.ndarray [shape=magnitude.shape]
        Complex STFT (:func:`complex_dtype` of the magnitude).
    """
    out = np.empty(magnitude.shape, dtype=complex_dtype(magnitude))
    for idx in np.ndindex(*magnitude.shape[:-2]):
        m2 = np.asarray(magnitude[idx], dtype=np.float64)
        i2 = None if init is None else init[idx]
        out[idx] = fn(m2, i2, rng)
    return out


def phase_function(fn: Callable | None = None, *, batched: bool = True) -> Callable:
    """Decorator giving a function melbench's phase-function contract (module docstring).

    The decorated ``core(magnitude, spec, *, init, rng, trace, **params)`` receives a
    validated float32/float64 magnitude (:func:`check_phase_input`), the warm start as an
    array or None, a :class:`numpy.random.Generator` (``np.random.default_rng(rng)``: a
    generator passed in is used as it is, so one stream runs through a chain) and the
    trace. Its result is returned as :func:`complex_dtype` of the magnitude.

    Parameters
    ----------
    fn : callable
        The core (when used as ``@phase_function`` without arguments).
    batched : bool
        True if the core handles leading batch axes itself; False for a 2-D core
        ``(n_freq, frames)``, which is then called once per batch item in C order, with
        the item's magnitude (its dtype kept) and warm start and the shared generator
        and trace.

    Returns
    -------
    callable
        The phase function (``functools.wraps``: name, docstring and signature of the
        core).
    """

    def wrap(core: Callable) -> Callable:
        @functools.wraps(core)
        def phase_fn(magnitude, spec, *, init=None, rng=None, trace=None, **params):
            magnitude, init = check_phase_input(magnitude, spec, init, trace)
            rng = np.random.default_rng(rng)
            cdtype = complex_dtype(magnitude)
            if batched or magnitude.ndim == 2:
                out = core(magnitude, spec, init=init, rng=rng, trace=trace, **params)
                return np.asarray(out).astype(cdtype, copy=False)
            out = np.empty(magnitude.shape, dtype=cdtype)
            for idx in np.ndindex(*magnitude.shape[:-2]):
                out[idx] = core(magnitude[idx], spec, init=None if init is None else init[idx],
                                rng=rng, trace=trace, **params)
            return out

        phase_fn.phase_function = True  # marks the contract (tests/test_docstrings.py)
        return phase_fn

    return wrap(fn) if fn is not None else wrap


class Tracer:
    """Records a phase function's convergence trace (keys :data:`TRACE_KEYS`).

    Create it at the start of the call (the clock starts then); call :meth:`mark` when
    the output after an iteration exists (its time and FFT-pair count are taken there),
    and :meth:`record` with the re-analysed estimate ``STFT(ISTFT(X_k))`` of that output
    (any time later: bookkeeping runs with the clock paused and outside the FFT count).
    With ``trace=None`` nothing is measured and every method returns at once (check
    :attr:`on` to skip building the estimate).

    Parameters
    ----------
    trace : list or Trace or None
        Receives the records; a :class:`Trace` with a ``reference`` adds ``sc_true_db``.
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        The target magnitude (``sc_db`` is measured against it).

    Examples
    --------
    A plain-numpy iteration (as in ``docs/examples/guide_gla.py``)::

        tr = Tracer(trace, magnitude)
        tr.mark()                                   # the initial point, iteration 0
        for k in range(1, n_iter + 1):
            consistent = spec.stft(spec.istft(x, length=n))
            if k == 1:
                tr.record(0, consistent)            # SC of the start, free from here
            x = magnitude * np.exp(1j * np.angle(consistent))
            tr.mark()
            ...
    """

    def __init__(self, trace: list | None, magnitude: np.ndarray) -> None:
        self.trace = trace
        self.on = trace is not None
        self.t0 = time.perf_counter()
        self.paused = 0.0
        self.shape = tuple(np.shape(magnitude))
        self.times: list[float] = []
        self.pairs: list[float | None] = []
        self.norm2 = 0.0
        self.magnitude = None
        self.reference = None
        self.ref_norm2 = 0.0
        if self.on:
            with self.pause():
                self.magnitude = np.asarray(magnitude)
                a = np.asarray(magnitude, dtype=np.float64).reshape(-1)
                self.norm2 = float(np.dot(a, a))
                ref = trace_reference(trace)
                if ref is not None:
                    if ref.shape != self.magnitude.shape:
                        raise InputError(
                            f"the trace's reference magnitude has shape {ref.shape}, the "
                            f"magnitude {self.magnitude.shape}; give Trace(reference=...) "
                            "the true magnitude of the same clip(s)")
                    self.reference = ref
                    r = np.asarray(ref, dtype=np.float64).reshape(-1)
                    self.ref_norm2 = float(np.dot(r, r))

    def now(self) -> float:
        """Seconds since the start of the call, paused bookkeeping excluded."""
        return time.perf_counter() - self.t0 - self.paused

    @contextlib.contextmanager
    def pause(self) -> Iterator[None]:
        """Run bookkeeping with the clock stopped and outside the FFT count."""
        t = time.perf_counter()
        try:
            with costs.uncounted():
                yield
        finally:
            self.paused += time.perf_counter() - t

    def mark(self) -> None:
        """Record the time (and FFT pairs) at which the next iteration's output exists."""
        if self.on:
            self.times.append(self.now())
            self.pairs.append(costs.pairs_so_far(self.shape))

    @staticmethod
    def _db(num2: float, den2: float) -> float:
        if not den2 > 0:
            return math.nan
        return 10.0 * math.log10(max(float(num2), 1e-300) / den2)

    def add(self, it: int, num2: float, true_num2: float | None = None) -> None:
        """Append the record of iteration ``it`` from squared SC numerators.

        For compiled methods that compute ``sum((|e| - a)^2)`` themselves.

        Parameters
        ----------
        it : int
            Iteration count of the output (index of its :meth:`mark`).
        num2 : float
            ``sum((|e| - magnitude)^2)`` of the re-analysed estimate ``e``.
        true_num2 : float, optional
            ``sum((|e| - reference)^2)``; required when the trace has a reference.
        """
        if not self.on:
            return
        rec: dict[str, Any] = {"iter": int(it), "sc_db": float(self._db(num2, self.norm2)),
                               "t": float(self.times[it])}
        if self.reference is not None and true_num2 is not None:
            rec["sc_true_db"] = float(self._db(true_num2, self.ref_norm2))
        if self.pairs[it] is not None:  # cumulative FFT pairs of the call (melbench.costs)
            rec["fft_pairs"] = float(self.pairs[it])
        self.trace.append(rec)

    def record(self, it: int, estimate: np.ndarray, **extra: Any) -> None:
        """Append the record of iteration ``it`` from the re-analysed estimate.

        Parameters
        ----------
        it : int
            Iteration count of the output (index of its :meth:`mark`).
        estimate : np.ndarray [shape=(..., n_freq, frames)]
            ``STFT(ISTFT(X_it))`` (complex) or its magnitude.
        **extra
            More keys for the record (e.g. ``stage``).
        """
        if not self.on:
            return
        with self.pause():
            e = np.abs(np.asarray(estimate))
            rec: dict[str, Any] = {"iter": int(it),
                                   "sc_db": spectral_convergence_db(self.magnitude, e),
                                   "t": float(self.times[it])}
            if self.reference is not None:
                rec["sc_true_db"] = spectral_convergence_db(self.reference, e)
            if self.pairs[it] is not None:
                rec["fft_pairs"] = float(self.pairs[it])
            rec.update(extra)
            self.trace.append(rec)
