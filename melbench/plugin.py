"""Base classes of melbench's plugin kinds.

A plugin is a small class holding a ``Params`` dataclass; the numerical work
lives in pure functions beside it. Four kinds exist, each discovered through
its own entry-point group (see :mod:`melbench.registry`):

========== ====================== ======================================================
kind       entry-point group      role
========== ====================== ======================================================
inverter   melbench.inverters     mel (as the spec describes it) -> linear magnitude
phase      melbench.phase         linear magnitude -> complex STFT
metric     melbench.metrics       one clip's context -> named numbers
dataset    melbench.datasets      yields :class:`~melbench.datasets.base.Clip` objects
degrade    melbench.degradations  mel -> perturbed mel of the same form (before inversion)
========== ====================== ======================================================

An instance prints as its canonical label, e.g. ``fgla[alpha=0.99,n_iter=100]``:
the key of result tables and, with the code version, of caches.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import ParameterError
from .spec import FeatureSpec


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    return str(v)


class Plugin:
    """Common base: a name, a kind, a ``Params`` dataclass and a canonical label."""

    #: Registry name (the entry-point name); set by subclasses.
    name: ClassVar[str] = ""
    #: Plugin kind: "inverter", "phase", "metric", "dataset" or "degrade".
    kind: ClassVar[str] = ""
    #: True if every FFT a call does is counted (:mod:`melbench.costs`): the STFT engine's
    #: own transforms are counted automatically, anything else the plugin reports itself.
    #: Rows get ``fft_pairs`` only for plugins declaring it (else NaN and a note).
    counts_ffts: ClassVar[bool] = False

    @dataclass
    class Params:
        """No parameters."""

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        if params is not None and kwargs:
            raise ParameterError("give either a Params instance or keyword parameters, not both")
        if params is None:
            params = self._make_params(kwargs)
        elif isinstance(params, Mapping):
            params = self._make_params(dict(params))
        self.params = params
        self.validate()

    @classmethod
    def _make_params(cls, values: dict[str, Any]) -> Any:
        fields = {f.name for f in dataclasses.fields(cls.Params)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ParameterError(
                f"{cls.kind} {cls.name!r} has no parameter(s) {unknown}; "
                f"its parameters are: {sorted(fields) or 'none'}"
            )
        return cls.Params(**values)

    def validate(self) -> None:
        """Check parameter values; raise :class:`ParameterError` naming the bad one."""

    def param_dict(self) -> dict[str, Any]:
        """Parameters as a plain, JSON-serialisable dict."""
        return json.loads(json.dumps(dataclasses.asdict(self.params), default=str))

    @property
    def label(self) -> str:
        """Canonical name with sorted parameters, e.g. ``fgla[alpha=0.99,n_iter=100]``."""
        p = self.param_dict()
        if not p:
            return self.name
        return f"{self.name}[{','.join(f'{k}={_fmt(p[k])}' for k in sorted(p))}]"

    def skip(self, spec: FeatureSpec) -> str | None:
        """Return a reason to decline this spec (recorded in the row), or None."""
        return None

    def components(self) -> list[Plugin]:
        """Plugins this one runs internally (e.g. a chain's steps); part of its cache key."""
        return []

    def __repr__(self) -> str:
        return self.label


# --------------------------------------------------------------------------- inverters


class Inverter(Plugin):
    """Mel -> linear magnitude.

    Callers use :meth:`__call__` with the mel exactly as the spec describes it
    (compressed or not, power or magnitude). The base class validates it,
    undoes the compression, hands :meth:`solve` the linear mel in the domain it
    was made in (``spec.domain``: power or magnitude), and converts the result
    to linear magnitude ``(..., n_freq, frames)``. Subclasses implement :meth:`solve`.
    """

    kind: ClassVar[str] = "inverter"
    #: True if the plugin needs ``context["reference_magnitude"]`` (e.g. ``oracle``).
    needs_reference: ClassVar[bool] = False

    def __call__(
        self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """Invert a mel (as described by ``spec``) to linear magnitude."""
        from .validation import check_mel

        mel = check_mel(mel, spec)
        lin = spec.decompress(mel)
        out = self.solve(lin, spec, context={} if context is None else context)
        out = np.asarray(out)
        if spec.power == 2:
            out = np.sqrt(np.maximum(out, 0))
        return out.astype(mel.dtype, copy=False)

    def solve(
        self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]
    ) -> np.ndarray:
        """Map a linear mel to that domain's linear spectrogram.

        The mel ``(..., n_mels, frames)`` is in ``spec.domain``; return
        ``(..., n_freq, frames)`` in the same domain (power if ``spec.power == 2``).
        """
        raise NotImplementedError


# --------------------------------------------------------------------------- phase


class PhaseRetriever(Plugin):
    """Linear magnitude -> complex STFT consistent with it.

    :meth:`__call__` validates the magnitude and the warm start
    (:func:`melbench.phase.helpers.check_phase_input`) and calls :meth:`retrieve`, which
    calls the method's phase function (the signature every phase function shares:
    :mod:`melbench.phase.helpers`). ``init`` is an optional warm start: a complex spectrogram
    (its phase is used) or a real array of phases in radians, shape like the
    magnitude. ``rng`` seeds random initialisation. ``trace``, when a list,
    receives per-iteration records (dicts with at least ``iter`` and ``sc_db``)
    for methods that iterate.
    """

    kind: ClassVar[str] = "phase"
    #: The parameter that counts iterations (what ``chain`` steps ``NAME:N`` set); None for
    #: non-iterative methods.
    iterations_param: ClassVar[str | None] = "n_iter"
    #: True if ``init`` is a warm start the method refines (from the true phase it must stay
    #: near-perfectly consistent: :func:`melbench.testing.check_phase`); False if it ignores
    #: ``init`` or uses only part of it (e.g. SPSI's first frame).
    warm_start: ClassVar[bool] = True

    def __call__(
        self,
        magnitude: np.ndarray,
        spec: FeatureSpec,
        *,
        init: np.ndarray | None = None,
        rng: np.random.Generator | int | None = None,
        trace: list | None = None,
    ) -> np.ndarray:
        """Retrieve a complex STFT whose magnitude approximates ``magnitude``.

        Parameters
        ----------
        magnitude : np.ndarray [shape=(..., n_freq, frames)]
            Linear magnitude: real, finite, non-negative.
        spec : FeatureSpec
            The STFT contract.
        init : np.ndarray [shape=(..., n_freq, frames)], optional
            Warm start: complex spectrogram (its phase is used) or phases in radians.
        rng : Generator or int, optional
            Seed or generator of every random choice.
        trace : list or melbench.phase.helpers.Trace, optional
            Receives per-iteration records (keys in the plugin guide).

        Returns
        -------
        np.ndarray [shape=(..., n_freq, frames)]
            Complex STFT (complex64 for float32 input).
        """
        from .phase.helpers import check_phase_input

        magnitude, init = check_phase_input(magnitude, spec, init, trace)
        rng = np.random.default_rng(rng)
        return self.retrieve(magnitude, spec, init=init, rng=rng, trace=trace)

    def retrieve(
        self,
        magnitude: np.ndarray,
        spec: FeatureSpec,
        *,
        init: np.ndarray | None,
        rng: np.random.Generator,
        trace: list | None,
    ) -> np.ndarray:
        """Return a complex STFT ``(..., n_freq, frames)``; subclasses implement this."""
        raise NotImplementedError


#: Context key by which an inverter declares the complex estimate it put under
#: ``"phase_init"`` final: :func:`phase_stage` returns it instead of running the phase stage.
PHASE_FINAL_KEY = "phase_final"


def phase_stage(
    phase: PhaseRetriever,
    magnitude: np.ndarray,
    spec: FeatureSpec,
    context: Mapping[str, Any],
    *,
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
) -> np.ndarray:
    """The phase stage of a cell: ``phase`` warm-started from the inverter's estimate.

    The inverter's complex estimate (``context["phase_init"]``, if any) is the warm start;
    when the inverter also set ``context["phase_final"]`` (``guarded`` keeping its
    fallback, whose phase is already the ``nnls`` + ``fgla`` result) that estimate is
    returned as it is and ``phase`` is not run.

    Parameters
    ----------
    phase : PhaseRetriever
        The cell's phase retriever.
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        The inverter's output (linear magnitude).
    spec : FeatureSpec
        The STFT contract.
    context : Mapping
        The context the inverter was called with.
    rng, trace
        As for :meth:`PhaseRetriever.__call__`.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        Complex STFT.

    Raises
    ------
    InputError
        A final estimate that is not a complex array of the magnitude's shape.
    """
    init = context.get("phase_init")
    if not context.get(PHASE_FINAL_KEY):
        return phase(magnitude, spec, init=init, rng=rng, trace=trace)
    from .errors import InputError

    x = None if init is None else np.asarray(init)
    if x is None or not np.iscomplexobj(x) or x.shape != np.shape(magnitude):
        got = "none" if x is None else f"{x.dtype} {x.shape}"
        raise InputError(f"context['{PHASE_FINAL_KEY}'] is set but context['phase_init'] is "
                         f"{got}, not a complex {np.shape(magnitude)} estimate: the inverter "
                         "must hand on the final estimate it declares")
    return x


def initial_spectrogram(
    magnitude: np.ndarray,
    init: np.ndarray | None,
    rng: np.random.Generator,
    how: str = "random",
) -> np.ndarray:
    """Complex starting point ``|S| e^{i phi}`` from a warm start or a seeded init.

    Parameters
    ----------
    magnitude : np.ndarray
        Target magnitude.
    init : np.ndarray, optional
        Complex spectrogram (its phase is taken) or real phases in radians.
    rng : np.random.Generator
        Source of random phases.
    how : {"random", "zero"}
        Initialisation when ``init`` is None: uniform random phase or zero phase.

    Returns
    -------
    np.ndarray
        Complex array (complex64 for float32 magnitude).
    """
    cdtype = np.complex128 if magnitude.dtype == np.float64 else np.complex64
    if init is not None:
        if np.iscomplexobj(init):
            a = np.abs(init)
            unit = np.where(a > 0, init / np.where(a > 0, a, 1), 1)
            return (magnitude * unit).astype(cdtype)
        return (magnitude * np.exp(1j * init)).astype(cdtype)
    if how == "zero":
        return magnitude.astype(cdtype)
    if how != "random":
        raise ParameterError(f"init={how!r}; choose 'random' or 'zero'")
    phase = rng.uniform(-np.pi, np.pi, size=magnitude.shape)
    return (magnitude * np.exp(1j * phase)).astype(cdtype)


# --------------------------------------------------------------------------- metrics


class Metric(Plugin):
    """One clip's context -> named numbers.

    :meth:`compute` receives a mapping with (where available) ``reference``
    (audio or None), ``estimate`` (audio), ``spec``, ``mel`` (as given to the
    inverter), ``target_magnitude`` (the inverter's output), ``true_magnitude``
    (of the reference), ``estimate_stft`` and ``times`` (seconds per stage),
    and returns ``{column: value}``. A metric that cannot score a clip raises
    :class:`~melbench.errors.SkipCell` (or any error): the pipeline records
    NaN with the reason and goes on. To explain one missing column while
    scoring the others, return :class:`melbench.metrics.base.Missing` ("reason")
    for it: NaN in the row, the reason in ``notes``. Never return sentinels.
    """

    kind: ClassVar[str] = "metric"
    #: Columns this metric produces (for tables and the conformance suite).
    columns: ClassVar[tuple[str, ...]] = ()
    #: "lower" or "higher" is better, per column (for reports and regression checks).
    better: ClassVar[dict[str, str]] = {}
    #: True if the metric needs reference audio.
    needs_reference: ClassVar[bool] = True
    #: True for slow metrics (PESQ, STOI): scored after the clip loop in worker processes
    #: (``metric_jobs``), with identical results; timing is unaffected.
    deferred: ClassVar[bool] = False

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return ``{column: value}`` for one clip."""
        raise NotImplementedError


# --------------------------------------------------------------------------- datasets


class Dataset(Plugin):
    """A source of clips: :meth:`clips` yields :class:`~melbench.datasets.base.Clip`."""

    kind: ClassVar[str] = "dataset"

    def clips(self, spec: FeatureSpec):
        """Yield clips resampled to ``spec.sample_rate`` (mono float32)."""
        raise NotImplementedError


# --------------------------------------------------------------------------- degradations


class Degradation(Plugin):
    """A mel perturbation ``(mel, spec, rng) -> mel`` applied before inversion.

    It stands for what a model's predicted mels are like (noisy, over-smoothed,
    coarse); see :mod:`melbench.degrade`. The name ``none`` is the ground-truth
    track: the pipeline skips the stage for it.
    """

    kind: ClassVar[str] = "degrade"

    def __call__(self, mel: np.ndarray, spec: FeatureSpec, rng: np.random.Generator) -> np.ndarray:
        """Return the degraded mel.

        Parameters
        ----------
        mel : np.ndarray [shape=(..., n_mels, frames)]
            Mel as the spec describes it (compressed or not).
        spec : FeatureSpec
            The features' description.
        rng : np.random.Generator
            Seeded source of randomness (the pipeline passes
            ``numpy.random.default_rng([seed, 1])``).

        Returns
        -------
        np.ndarray [shape=(..., n_mels, frames)]
            Same form (domain, compression, dtype) as ``mel``.
        """
        raise NotImplementedError


KINDS: dict[str, type[Plugin]] = {
    "inverter": Inverter,
    "phase": PhaseRetriever,
    "metric": Metric,
    "dataset": Dataset,
    "degrade": Degradation,
}
