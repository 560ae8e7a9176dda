"""The path of one clip through one cell, ending in one result row.

::

    clip.audio --spec.mel--> mel --(degrade)--> mel' --inverter--> |S|
    |S| --phase--> X --spec.istft--> audio' --metrics--> row

Every failure is caught here and recorded in the row (``status``, ``error``,
``notes``) so that a sweep never dies on one clip.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import costs
from .columns import CLIP_COLUMNS, COST_COLUMNS, blank_row, failure_row
from .datasets.base import Clip
from .errors import MelbenchError, SkipCell
from .metrics.base import Missing
from .phase.helpers import Trace
from .plugin import Inverter, Metric, PhaseRetriever, phase_stage
from .spec import FeatureSpec
from .validation import check_audio, check_frames, check_mel, check_output_level

#: Type of an optional mel degradation stage: (mel, spec, rng) -> mel.
Degrade = Callable[[np.ndarray, FeatureSpec, np.random.Generator], np.ndarray]


@dataclass
class ClipResult:
    """A row plus what was produced along the way (kept only in memory)."""

    row: dict[str, Any]
    audio: np.ndarray | None = None
    trace: list[dict[str, float]] = field(default_factory=list)
    #: Notes of each metric, aligned with the ``metrics`` given to :func:`run_clip`.
    metric_notes: list[list[str]] = field(default_factory=list)
    #: Notes about the clip itself (e.g. a reference wav cut short), before the metrics'.
    clip_notes: list[str] = field(default_factory=list)
    #: Notes of the inverter and phase stages (:func:`melbench.costs.note`, uncounted FFTs).
    stage_notes: list[str] = field(default_factory=list)
    #: Indices of metrics left for the caller to score (``defer=True``), and their context.
    deferred: list[int] = field(default_factory=list)
    context: dict[str, Any] | None = None


def _error_text(stage: str, exc: BaseException) -> str:
    if isinstance(exc, MelbenchError):
        return f"{stage}: {exc}"
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{stage}: {type(exc).__name__}: {exc}{where}"


def score_metric(metric: Metric, ctx: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Score one metric on one clip's context; never raises.

    Runs in the clip loop and, for deferred metrics, in worker processes (same
    code, so the numbers are the same).

    Parameters
    ----------
    metric : Metric
        The metric.
    ctx : mapping
        The context :func:`run_clip` builds.

    Returns
    -------
    values : dict
        ``{column: value}``; a :class:`~melbench.metrics.base.Missing` becomes NaN.
    notes : list of str
        ``"metric: reason"`` for each missing value (grouped by reason; the
        columns are named unless all of the metric's columns share it).
    """
    name = metric.name
    if metric.needs_reference and ctx.get("reference") is None:
        return {}, [f"{name}: no reference audio"]
    try:
        values = dict(metric.compute(ctx))
    except Exception as exc:  # noqa: BLE001
        return {}, [_error_text(name, exc).replace(f"{name}: {name}: ", f"{name}: ")]
    out: dict[str, Any] = {}
    reasons: dict[str, list[str]] = {}
    for k, v in values.items():
        if isinstance(v, Missing):
            reasons.setdefault(v.reason, []).append(k)
            v = math.nan
        out[k] = v
    for c in metric.columns:
        v = out.get(c, math.nan)
        if isinstance(v, float) and math.isnan(v) and not any(c in cs for cs in reasons.values()):
            reasons.setdefault("no value (the metric gave no reason)", []).append(c)
    notes = []
    for reason, cols in reasons.items():
        own = [c for c in cols if c in metric.columns]
        whole = set(own) == set(metric.columns)
        notes.append(f"{name}: {reason}" if whole else f"{name} ({', '.join(cols)}): {reason}")
    return out, notes


def join_notes(metric_notes: Sequence[Sequence[str]]) -> str:
    """The row's ``notes`` text from each metric's notes (in metric order)."""
    return "; ".join(n for notes in metric_notes for n in notes)


def run_clip(
    clip: Clip,
    spec: FeatureSpec,
    inverter: Inverter,
    phase: PhaseRetriever,
    metrics: Sequence[Metric],
    *,
    seed: int = 0,
    dataset: str = "",
    degrade: Degrade | None = None,
    degrade_label: str = "none",
    record_trace: bool = False,
    defer: bool = False,
) -> ClipResult:
    """Take one clip through one (inverter, phase) cell and score it.

    Parameters
    ----------
    clip : Clip
        Audio (and/or a precomputed mel) at ``spec.sample_rate``.
    spec : FeatureSpec
        The contract shared by all stages.
    inverter, phase : Inverter, PhaseRetriever
        The cell's plugins.
    metrics : sequence of Metric
        Scored in order; each failure becomes NaN plus a note.
    seed : int
        Seeds the phase retriever's (and the degradation's) random numbers.
    dataset : str
        Dataset label for the row.
    degrade : callable, optional
        ``(mel, spec, rng) -> mel`` applied before inversion.
    degrade_label : str
        Its label for the row.
    record_trace : bool
        Ask the phase retriever for a per-iteration convergence trace.
    defer : bool
        Leave metrics whose class sets ``deferred = True`` (slow ones: PESQ, STOI)
        unscored, noted "pending", with their indices in ``result.deferred`` and
        the context in ``result.context``, for the caller to score (in parallel,
        see :mod:`melbench.metric_pool`) with :func:`score_metric`.

    Returns
    -------
    ClipResult
        ``row`` always has every ID/status column; metric columns are filled where scored.
    """
    row = blank_row(
        dataset=dataset, clip=clip.id, kind=clip.meta.get("kind", ""),
        **{c: str(clip.meta.get(c, "")) for c in CLIP_COLUMNS},
        spec=str(spec), spec_key=spec.key(), degrade=degrade_label,
        inverter=inverter.label, phase=phase.label, seed=seed, duration=clip.duration,
    )
    for c in COST_COLUMNS:
        row[c] = math.nan
    for m in metrics:
        for c in m.columns:
            row[c] = math.nan
    result = ClipResult(row=row)

    def fail(stage: str, exc: BaseException, status: str = "failed") -> ClipResult:
        failure_row(row, _error_text(stage, exc), status=status)
        if result.stage_notes:
            row["notes"] = join_notes([result.stage_notes])
        return result

    def account(stage: str, plugin: Inverter | PhaseRetriever, led: costs.Ledger,
                like: np.ndarray) -> None:
        """Cost column, facts and notes of one stage (``like``: the clip's spectrogram)."""
        like = np.asarray(like)
        if costs.counts_ffts(plugin):
            batch = int(np.prod(like.shape[:-2], dtype=np.int64)) if like.ndim > 2 else 1
            row[f"fft_pairs_{stage}"] = led.fft_pairs(like.shape[-1], batch)
        else:
            names = ", ".join(costs.uncounted_plugins(plugin))
            result.stage_notes.append(
                f"fft_pairs_{stage}: not counted (plugin {names} does not declare counts_ffts)")
        for k, v in led.facts.items():
            row[f"{stage}_{k}"] = v
        result.stage_notes.extend(n for n in led.notes if n not in result.stage_notes)

    if clip.error:
        failure_row(row, f"load: {clip.error}")
        return result
    for plugin in (inverter, phase):
        reason = plugin.skip(spec)
        if reason:
            return fail(plugin.kind, SkipCell(reason), status="skipped")

    reference = true_mag = None
    try:
        if clip.audio is not None:
            reference = check_audio(clip.audio, f"clip {clip.id!r} audio")
            if not np.any(reference):
                raise SkipCell(f"clip {clip.id!r} is silent (all samples are zero)")
            if reference.shape[-1] < spec.n_fft:
                raise SkipCell(
                    f"clip {clip.id!r} is too short: {reference.shape[-1]} samples, shorter than "
                    f"one frame (n_fft={spec.n_fft})"
                )
            true_mag = spec.magnitude(reference)
        if clip.mel is not None:
            mel = check_mel(clip.mel, spec, values=True)  # a user's mel: check its values too
            check_frames(mel.shape[-1], spec, f"clip {clip.id!r} mel")
        elif true_mag is not None:
            mel = spec.mel_from_magnitude(true_mag)
        else:
            raise SkipCell(f"clip {clip.id!r} has neither audio nor a mel")
        if degrade is not None:
            mel = degrade(mel, spec, np.random.default_rng([seed, 1]))
    except Exception as exc:  # noqa: BLE001
        return fail("prepare", exc, "skipped" if isinstance(exc, SkipCell) else "failed")

    times = {"invert": 0.0, "phase": 0.0, "synth": 0.0}
    try:
        with costs.ledger() as led:
            t0 = time.perf_counter()
            inv_context: dict[str, Any] = {"reference_magnitude": true_mag}
            target = inverter(mel, spec, context=inv_context)
            times["invert"] = time.perf_counter() - t0
        account("invert", inverter, led, target)
    except Exception as exc:  # noqa: BLE001
        return fail("invert", exc)
    try:
        # the true magnitude (when there is one) rides along: records get sc_true_db
        trace: list | None = Trace(reference=true_mag) if record_trace else None
        with costs.ledger() as led:
            t0 = time.perf_counter()
            # a joint inverter (joint_fgla) hands its phase estimate on as the warm start
            # (or as the final estimate: guarded keeping its fallback)
            x = phase_stage(phase, target, spec, inv_context, rng=seed, trace=trace)
            times["phase"] = time.perf_counter() - t0
        account("phase", phase, led, target)
        result.trace = list(trace) if trace else []  # the records, without the reference
    except Exception as exc:  # noqa: BLE001
        return fail("phase", exc)
    row["fft_pairs"] = row["fft_pairs_invert"] + row["fft_pairs_phase"]
    try:
        length = reference.shape[-1] if reference is not None else spec.n_samples(target.shape[-1])
        t0 = time.perf_counter()
        y = spec.istft(x, length=length)
        times["synth"] = time.perf_counter() - t0
        est_mag = spec.magnitude(y)
    except Exception as exc:  # noqa: BLE001
        return fail("synth", exc)
    try:
        check_output_level(y, mel, spec)
    except Exception as exc:  # noqa: BLE001
        return fail("output", exc)
    result.audio = y

    if reference is None:
        row["duration"] = y.shape[-1] / spec.sample_rate
    ctx: dict[str, Any] = {
        "reference": reference, "estimate": y, "spec": spec, "sample_rate": spec.sample_rate,
        "mel": mel, "mel_linear": spec.decompress(mel), "target_magnitude": target,
        "true_magnitude": true_mag, "estimate_stft": None, "estimate_magnitude": est_mag,
        "times": times, "duration": row["duration"], "clip": clip,
    }
    result.metric_notes = [[] for _ in metrics]
    for i, m in enumerate(metrics):
        if defer and getattr(m, "deferred", False) and not (m.needs_reference and reference is None):
            result.deferred.append(i)
            result.metric_notes[i] = [f"{m.name}: pending (scored after the clip loop)"]
            continue
        values, result.metric_notes[i] = score_metric(m, ctx)
        row.update(values)
    if result.deferred:
        result.context = ctx
    result.clip_notes = [f"load: {clip.meta['note']}"] if clip.meta.get("note") else []
    row["notes"] = join_notes([result.clip_notes, result.stage_notes, *result.metric_notes])
    if record_trace:
        row["trace"] = json.dumps(result.trace)
    return result


def summarize_row_values(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts of rows by status (for progress messages)."""
    out: dict[str, int] = {}
    for r in rows:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out
