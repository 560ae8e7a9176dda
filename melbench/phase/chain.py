"""``chain``: run phase retrievers one after another, each warm-started by the previous one.

Step syntax (one string per step, or one string with steps separated by ``>``)::

    NAME[:N_ITER][:KEY=VALUE]...

``NAME`` is any registered phase plugin (``melbench list``), ``N_ITER`` sets its
iteration count (the plugin's ``iterations_param``: ``n_iter`` for the projection
methods, ``batch_iterations`` for ``lws``) and ``KEY=VALUE`` any other parameter
(numbers, true/false and words are parsed). From the command line::

    melbench run phase=chain 'phase.steps=[raar:300,fgla:100]'
    melbench run phase=chain 'phase.steps="pghi>fgla:200"'
    melbench run phase=chain "phase.steps=['dm:50:beta=0.7','fgla:100:alpha=0.95']"

The first step gets the chain's warm start (if any) and every later step the
previous step's output as its warm start; all steps share the seeded generator.
The label lists the steps, e.g. ``chain[raar:300>fgla:100]``.

Convergence traces continue across steps: iteration numbers are cumulative,
times add up the steps' own clocks (a step that traces reports its time without its
trace bookkeeping or one-off JIT warm-up; one that does not is timed whole), and
each record names its ``step``. An iterative step's own ``iter = 0`` record (the SC of its warm start)
repeats the previous step's last one and is dropped; a step that records no
trace (e.g. a non-iterative initialiser) gets one record, the SC of its output,
at the current iteration count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import costs
from ..errors import MelbenchError, ParameterError
from ..measures import spectral_convergence_db
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from ..stft import Projector
from .helpers import phase_function, sub_trace, trace_reference


def _parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def split_steps(steps: str | list | tuple) -> list[str]:
    """Flatten ``steps`` (a list of step strings, or strings joined by ``>``) into step strings.

    Parameters
    ----------
    steps : str or list of str
        E.g. ``["raar:300", "fgla:100"]`` or ``"pghi>fgla:200"``.

    Returns
    -------
    list of str
        One stripped string per step.
    """
    if isinstance(steps, str):
        items = [steps]
    else:
        try:
            items = [str(s) for s in steps]
        except TypeError:
            raise ParameterError(f"steps={steps!r}: give a list of steps or 'a>b' text") from None
    out = []
    for item in items:
        out.extend(s.strip() for s in item.split(">") if s.strip())
    if not out:
        raise ParameterError(f"steps={steps!r}: no steps given; e.g. steps=[raar:300,fgla:100]")
    return out


def parse_step(text: str) -> tuple[str, dict[str, Any]]:
    """Parse ``NAME[:N_ITER][:KEY=VALUE]...`` into ``(name, params)``.

    Parameters
    ----------
    text : str
        One step, e.g. ``"fgla:100:alpha=0.95"``.

    Returns
    -------
    tuple
        Plugin name and its parameter mapping.
    """
    parts = [p.strip() for p in text.split(":")]
    name, rest = parts[0], parts[1:]
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ParameterError(
            f"chain step {text!r}: expected NAME[:N_ITER][:KEY=VALUE]..., e.g. 'fgla:100'"
        )
    params: dict[str, Any] = {}
    for i, part in enumerate(rest):
        if "=" in part:
            key, _, value = part.partition("=")
            key = key.strip()
            if not key:
                raise ParameterError(f"chain step {text!r}: empty parameter name in {part!r}")
            params[key] = _parse_value(value.strip())
        elif i == 0:
            try:
                n = int(part)
            except ValueError:
                raise ParameterError(
                    f"chain step {text!r}: {part!r} is not an iteration count; "
                    "use NAME:N_ITER or NAME:KEY=VALUE"
                ) from None
            params["n_iter"] = n
        else:
            raise ParameterError(
                f"chain step {text!r}: {part!r} should be KEY=VALUE (only the first field "
                "after the name may be a bare iteration count)"
            )
    return name, params


def _step_text(name: str, params: dict[str, Any], counter: str | None = "n_iter") -> str:
    parts = [name]
    if counter in params:
        parts.append(str(params[counter]))
    parts += [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
              for k, v in sorted(params.items()) if k != counter]
    return ":".join(parts)


def _output_record(x: np.ndarray, magnitude: np.ndarray, spec: FeatureSpec, proj: Projector,
                   reference: np.ndarray | None) -> dict[str, float]:
    """``sc_db`` (and ``sc_true_db``) of ``|P1(x)|``, for a step that records no trace."""
    with costs.uncounted():  # trace bookkeeping, not the chain's work
        e = np.abs(proj(x.astype(proj.cdtype, copy=False)))
    rec = {"sc_db": spectral_convergence_db(magnitude, e)}
    if reference is not None:
        rec["sc_true_db"] = spectral_convergence_db(reference, e)
    return rec


def run_steps(
    steps: list[tuple[str, PhaseRetriever]],
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    init: np.ndarray | None,
    rng: np.random.Generator,
    trace: list | None,
) -> np.ndarray:
    """Run ``(text, plugin)`` steps in order, each warm-started by the previous output.

    The trace continues across the steps (module docstring); each step's own trace
    carries the caller's reference magnitude (:func:`~melbench.phase.helpers.sub_trace`).

    Parameters
    ----------
    steps : list of (str, PhaseRetriever)
        Step texts (for the records' ``step``) and plugins.
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Validated linear magnitude.
    spec : FeatureSpec
        STFT contract.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start of the first step.
    rng : np.random.Generator
        Shared by every step (one stream).
    trace : list, optional
        Receives the records.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        The last step's output.
    """
    x = init
    offset = 0
    start = 0.0  # time of the previous steps, each by its own account
    proj = None
    reference = trace_reference(trace)
    for i, (text, plugin) in enumerate(steps):
        sub = sub_trace(trace)
        t_step = time.perf_counter()
        x = plugin(magnitude, spec, init=x, rng=rng, trace=sub)
        t_step = time.perf_counter() - t_step
        if trace is None:
            continue
        if sub:
            last = offset
            for rec in sub:
                it = int(rec.get("iter", 0))
                if i > 0 and it == 0:
                    continue  # the SC of the warm start: the previous step's last record
                rec = dict(rec)
                rec["iter"] = offset + it
                rec["t"] = start + float(rec.get("t", 0.0))
                rec["step"] = text
                trace.append(rec)
                last = max(last, offset + it)
            offset = last
            start += float(sub[-1].get("t", t_step))
        else:
            start += t_step
            if proj is None:
                proj = Projector.from_spec(spec, magnitude.shape[-1],
                                           batch_shape=magnitude.shape[:-2],
                                           dtype=np.float64 if magnitude.dtype == np.float64
                                           else np.float32)
            rec = {"iter": offset, **_output_record(x, magnitude, spec, proj, reference),
                   "t": start, "step": text}
            pairs = costs.pairs_so_far(magnitude.shape)
            if pairs is not None:
                rec["fft_pairs"] = pairs
            trace.append(rec)
    return x


@phase_function
def chain(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    init: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    steps: str | list[str] = ("raar:100", "fgla:100"),
) -> np.ndarray:
    """Phase retrievers run in sequence, each warm-started by the previous one's output.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Linear magnitude (non-negative, finite).
    spec : FeatureSpec
        STFT contract.
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Warm start of the first step.
    rng : Generator or int, optional
        One generator shared by every step.
    trace : list or Trace, optional
        Receives the steps' records, continued across steps (module docstring).
    steps : list of str, or str
        ``NAME[:N_ITER][:KEY=VALUE]...`` per step, or one string joined by ``>``.

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        The last step's output, complex64 for float32 input.

    Raises
    ------
    InputError
        Bad magnitude or warm start.
    ParameterError
        An unknown step or parameter.

    References
    ----------
    .. [1] R. Peer, S. Welker and T. Gerkmann, "Beyond Griffin-Lim: improved iterative phase
       retrieval for speech," IWAENC 2022 (chained methods, e.g. RAAR then FGLA).
    .. [2] Z. Průša, P. Balazs and P. L. Søndergaard, "A noniterative method for reconstruction
       of phase from STFT magnitude," IEEE/ACM TASLP 25(5), 2017 (PGHI as FGLA's start).
    """
    plugin = Chain(steps=list(steps) if isinstance(steps, tuple) else steps)
    return run_steps(plugin.steps, magnitude, spec, init=init, rng=rng, trace=trace)


class Chain(PhaseRetriever):
    """Phase retrievers run in sequence, each initialised by the previous one's output.

    References
    ----------
    .. [1] R. Peer, S. Welker and T. Gerkmann, "Beyond Griffin-Lim: improved iterative phase
       retrieval for speech," IWAENC 2022 (chained methods, e.g. RAAR then FGLA).
    """

    name: ClassVar[str] = "chain"
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of the chain.

        Attributes
        ----------
        steps : list of str, or str
            Steps ``NAME[:N_ITER][:KEY=VALUE]...`` in order, as a list
            (``[raar:300,fgla:100]``) or one string joined by ``>`` (``"pghi>fgla:200"``).
        """

        steps: str | list[str] = field(default_factory=lambda: ["raar:100", "fgla:100"])

    def validate(self) -> None:
        """Parse every step and build its plugin (unknown names and bad values raise)."""
        from .. import registry

        self._steps: list[tuple[str, PhaseRetriever]] = []
        for text in split_steps(self.params.steps):
            name, params = parse_step(text)
            if name == self.name:
                raise ParameterError(f"chain step {text!r}: a chain cannot contain a chain")
            if "n_iter" in params:
                try:
                    counter = registry.get("phase", name).iterations_param
                except MelbenchError as exc:
                    raise ParameterError(f"chain step {text!r}: {exc}") from exc
                if counter is None:
                    raise ParameterError(
                        f"chain step {text!r}: {name} is not iterative; write it without a count"
                    )
                params[counter] = params.pop("n_iter")
            try:
                plugin = registry.create("phase", name, params)
            except MelbenchError as exc:
                raise ParameterError(f"chain step {text!r}: {exc}") from exc
            except TypeError as exc:  # a Params dataclass rejecting a value's type
                raise ParameterError(f"chain step {text!r}: {exc}") from exc
            self._steps.append((_step_text(name, params, plugin.iterations_param), plugin))

    @property
    def steps(self) -> list[tuple[str, PhaseRetriever]]:
        """``(step text, plugin)`` pairs in order."""
        return list(self._steps)

    def components(self) -> list[PhaseRetriever]:
        """The step plugins (their code is part of the chain's cache key)."""
        return [plugin for _, plugin in self._steps]

    @property
    def label(self) -> str:
        """``chain[step>step...]`` with each step as written (normalised)."""
        return f"{self.name}[{'>'.join(t for t, _ in self._steps)}]"

    def skip(self, spec: FeatureSpec) -> str | None:
        """Decline the spec if any step does."""
        for text, plugin in self._steps:
            reason = plugin.skip(spec)
            if reason:
                return f"step {text}: {reason}"
        return None

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run the steps in order (:func:`run_steps`); the trace continues across them."""
        return run_steps(self._steps, magnitude, spec, init=init, rng=rng, trace=trace)
