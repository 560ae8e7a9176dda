"""Many mels at once: :func:`invert_batch` (API) and the files of ``melbench invert --jobs``.

Mels are independent problems, so throughput scales with processes: both entry points
hand their items to the worker pool of :mod:`melbench.workers` (one BLAS/OpenMP thread
per worker, the cell's plugins rebuilt and warmed up once per worker, largest item
first). Memory is bounded: a worker holds one item; in file mode it writes the wav
itself and returns only a small :class:`FileResult` (with its peak resident memory).
When a worker process could not rebuild the plugins (one registered only in this
process, with spawned workers) the batch runs in this process and says why.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MelbenchError
from .plugin import Inverter, PhaseRetriever
from .spec import FeatureSpec
from .workers import WORKER, Cell, not_rebuildable, peak_rss_mib, resolve_jobs, run_in_pool

# --------------------------------------------------------------------------- files


@dataclass
class FileJob:
    """One mel file to convert.

    ``dst`` is the output audio path (None: write WAV bytes to stdout, one process only);
    a file holding a batch of mels writes ``<stem>_<i><suffix>`` per item.
    """

    src: Path
    dst: Path | None
    clip_id: str
    transpose: bool = False
    key: str | None = None
    subtype: str = "FLOAT"
    fmt: str = "WAV"


@dataclass
class FileResult:
    """Outcome of one :class:`FileJob`: what failed (name, reason), how much was written."""

    src: Path
    failures: list[tuple[str, str]] = field(default_factory=list)
    n_written: int = 0
    n_clipped: int = 0
    pid: int = 0
    peak_rss_mib: float = float("nan")

    @property
    def error(self) -> str | None:
        """The first failure's reason (None if the file converted completely)."""
        return self.failures[0][1] if self.failures else None


def _item_path(dst: Path, index: int | None) -> Path:
    return dst if index is None else dst.with_name(f"{dst.stem}_{index}{dst.suffix}")


def convert_file(job: FileJob, spec: FeatureSpec, inverter: Inverter, phase: PhaseRetriever,
                 seed: int = 0) -> FileResult:
    """Load one mel file (one mel or a batch), run each through the cell, write the audio.

    Each mel goes through :func:`melbench.pipeline.run_clip`. Never raises for a bad
    file: the reasons are in :attr:`FileResult.failures` (prefixed ``load:``, the
    pipeline's stage, or ``write``).
    """
    import io

    import soundfile as sf

    from .datasets.base import Clip
    from .datasets.mels import load_mel_file
    from .errors import InputError
    from .pipeline import run_clip

    res = FileResult(job.src, pid=os.getpid())
    f = job.src
    try:
        arr = load_mel_file(f, transpose=job.transpose, key=job.key, batch=True)
    except InputError as exc:
        res.failures.append((str(f), f"load: {exc}"))
        return res
    items = [(None, arr)] if arr.ndim == 2 else list(enumerate(arr))
    if job.dst is None and len(items) > 1:
        res.failures.append((str(f), f"holds a batch of {len(items)} mels: -o - writes one; give a "
                                     "folder to -o"))
        return res
    subtype = job.subtype.upper()
    for index, mel in items:
        name = str(f) if index is None else f"{f}[{index}]"
        clip = Clip(id=job.clip_id if index is None else f"{job.clip_id}_{index}", mel=mel,
                    sample_rate=spec.sample_rate, meta={"kind": "mel"})
        out = run_clip(clip, spec, inverter, phase, [], seed=seed, dataset="invert")
        if out.row["status"] != "ok" or out.audio is None:
            why = out.row["error"] or out.row["status"]
            if "looks transposed" in why and not job.transpose:
                why += "; or run with --transpose"
            res.failures.append((name, why))
            continue
        y = np.asarray(out.audio, dtype=np.float32)
        if not subtype.startswith(("FLOAT", "DOUBLE")) and np.max(np.abs(y)) > 1.0:
            res.n_clipped += 1
        try:
            if job.dst is None:
                buf = io.BytesIO()
                sf.write(buf, y, spec.sample_rate, subtype=subtype, format="WAV")
                sys.stdout.buffer.write(buf.getvalue())
                sys.stdout.buffer.flush()
            else:
                target = _item_path(job.dst, index)
                target.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(target), y, spec.sample_rate, subtype=subtype, format=job.fmt)
            res.n_written += 1
        except Exception as exc:  # noqa: BLE001 - soundfile/OS errors
            where = "stdout" if job.dst is None else _item_path(job.dst, index)
            res.failures.append((name, f"write {where}: {exc}"))
    return res


def _convert_in_worker(job: FileJob) -> FileResult:
    w = WORKER
    res = convert_file(job, w["cell"].spec, w["inverter"], w["phase"], w["cell"].seed)
    res.peak_rss_mib = peak_rss_mib()
    return res


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def convert_files(
    jobs_list: Sequence[FileJob],
    spec: FeatureSpec,
    inverter: Inverter,
    phase: PhaseRetriever,
    *,
    seed: int = 0,
    jobs: int | None = None,
    progress: bool = True,
    note: Callable[[str], None] | None = None,
) -> list[FileResult]:
    """Convert mel files with ``jobs`` worker processes (1: in this process).

    Parameters
    ----------
    jobs_list : sequence of FileJob
        The files.
    spec, inverter, phase, seed
        The cell (as ``melbench invert`` builds it).
    jobs : int, optional
        Worker processes; None or 0 = all cores; capped at the number of files.
    progress : bool
        Show a tqdm bar on stderr.
    note : callable, optional
        Receives one-line messages (e.g. why the batch runs in this process).

    Returns
    -------
    list of FileResult
        In the order of ``jobs_list``.
    """
    from tqdm.auto import tqdm

    n = resolve_jobs(jobs, len(jobs_list))
    why = not_rebuildable(inverter, phase) if n > 1 else None
    if why:
        if note:
            note(f"running in one process: {why}")
        n = 1
    results: list[FileResult | None] = [None] * len(jobs_list)

    def bar():  # created after the workers are forked (tqdm may start a monitor thread)
        return tqdm(total=len(jobs_list), desc="invert", unit="file", disable=not progress,
                    file=sys.stderr)

    if n == 1:
        with bar() as b:
            for i, job in enumerate(jobs_list):
                results[i] = convert_file(job, spec, inverter, phase, seed)
                results[i].peak_rss_mib = peak_rss_mib()  # type: ignore[union-attr]
                b.update()
        return results  # type: ignore[return-value]
    order = sorted(range(len(jobs_list)), key=lambda i: -_size(jobs_list[i].src))
    cell = Cell.of(spec, inverter, phase, seed)
    b = None
    try:
        for i, res in run_in_pool(_convert_in_worker, jobs_list, order, cell, n):
            b = b or bar()
            results[i] = res
            b.update()
    finally:
        if b is not None:
            b.close()
    return results  # type: ignore[return-value]


def worker_memory(results: Sequence[FileResult]) -> dict[int, float]:
    """Peak RSS (MiB) per worker process id, from the results it returned."""
    out: dict[int, float] = {}
    for r in results:
        if r.pid and r.peak_rss_mib == r.peak_rss_mib:
            out[r.pid] = max(out.get(r.pid, 0.0), r.peak_rss_mib)
    return out


# --------------------------------------------------------------------------- API


@dataclass
class _Item:
    mel: np.ndarray
    length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _invert_item(item: _Item, spec: FeatureSpec, inverter: Inverter, phase: PhaseRetriever,
                 seed: int) -> np.ndarray | MelbenchError:
    from .api import invert

    try:
        return invert(item.mel, spec, inverter, phase, seed=seed, length=item.length)
    except MelbenchError as exc:
        return exc


def _invert_in_worker(item: _Item) -> np.ndarray | MelbenchError:
    w = WORKER
    return _invert_item(item, w["cell"].spec, w["inverter"], w["phase"], w["cell"].seed)


def invert_batch(
    mels: Sequence[np.ndarray],
    spec: Any = None,
    inverter: str | Inverter | None = None,
    phase: str | PhaseRetriever | None = None,
    *,
    seed: int = 0,
    lengths: Sequence[int | None] | None = None,
    jobs: int | None = 1,
    errors: str = "raise",
    inverter_params: Mapping[str, Any] | None = None,
    phase_params: Mapping[str, Any] | None = None,
    **params: Any,
) -> list[np.ndarray | MelbenchError]:
    """Invert a list of mels of different lengths, optionally in worker processes.

    Each item gives exactly ``melbench.invert(mels[i], spec, inverter, phase,
    seed=seed, length=lengths[i])`` (the same seed for every item, as
    ``melbench invert`` does for every file), whatever ``jobs`` is.

    Parameters
    ----------
    mels : sequence of np.ndarray
        Mels ``(n_mels, frames_i)`` (frame counts may differ), as ``spec`` describes them.
    spec, inverter, phase, inverter_params, phase_params, **params
        As :func:`melbench.invert`.
    seed : int
        Seed of each item's random phase initialisation.
    lengths : sequence of int or None, optional
        Output length in samples per item (default: what its frame count implies).
    jobs : int, optional
        Worker processes: 1 (default) = this process; None or 0 = all cores.
        Workers run with one BLAS/numba thread each.
    errors : {"raise", "return"}
        On a bad item (:class:`~melbench.errors.MelbenchError`, e.g. a transposed
        mel): raise it, naming the item's index ("raise"), or put the exception in
        that item's place and go on ("return").

    Returns
    -------
    list
        Audio ``(n_samples_i,)`` per item at ``spec.sample_rate`` (or the exception,
        with ``errors="return"``).

    Raises
    ------
    MelbenchError
        Bad spec, plugin or parameters (before any item runs); with
        ``errors="raise"``, the first failing item's error (message prefixed ``mels[i]``).
    """
    from .api import _split_params, make_plugin, resolve_spec
    from .errors import ParameterError

    if errors not in ("raise", "return"):
        raise ParameterError(f"errors={errors!r}; choose 'raise' or 'return'")
    if isinstance(mels, np.ndarray):
        raise ParameterError(
            f"mels is one array of shape {mels.shape}; pass a list of (n_mels, frames) arrays "
            "(or use melbench.invert for a stacked batch of equal lengths)")
    mels = list(mels)
    if lengths is not None and len(lengths) != len(mels):
        raise ParameterError(f"{len(lengths)} lengths for {len(mels)} mels; give one per mel")
    fs = resolve_spec(spec)
    inv_extra, ph_extra = _split_params(params, inverter, phase)
    inv = make_plugin("inverter", inverter, {**dict(inverter_params or {}), **inv_extra})
    ph = make_plugin("phase", phase, {**dict(phase_params or {}), **ph_extra})
    for p in (inv, ph):
        reason = p.skip(fs)
        if reason:
            raise ParameterError(f"{p.kind} {p.label} declines spec {fs}: {reason}")
    items = [_Item(np.asarray(m), None if lengths is None else lengths[i]) for i, m in enumerate(mels)]
    n = resolve_jobs(jobs, len(items))
    if n > 1 and not_rebuildable(inv, ph):
        n = 1
    out: list[Any] = [None] * len(items)
    if n == 1:
        for i, it in enumerate(items):
            out[i] = _invert_item(it, fs, inv, ph, seed)  # type: ignore[arg-type]
            if errors == "raise" and isinstance(out[i], MelbenchError):
                raise _with_index(out[i], i)
        return out
    order = sorted(range(len(items)), key=lambda i: -items[i].mel.size)
    for i, res in run_in_pool(_invert_in_worker, items, order, Cell.of(fs, inv, ph, seed), n):
        out[i] = res
    if errors == "raise":
        for i, res in enumerate(out):
            if isinstance(res, MelbenchError):
                raise _with_index(res, i)
    return out


def _with_index(exc: MelbenchError, i: int) -> MelbenchError:
    try:
        new = type(exc)(f"mels[{i}]: {exc}")
    except Exception:  # noqa: BLE001 - an exception type with another signature
        return exc
    new.__cause__ = exc.__cause__
    return new
