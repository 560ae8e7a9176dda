"""Execute one run (one cell over a dataset) from a resolved config, and aggregate sweeps.

:func:`run` is three steps: :func:`set_up` (plugins, cache key, row cache),
:func:`run_clips` (the clip loop: cache, warm-up, metric pool, progress, saved audio)
and :func:`finish` (summary and ``run.json``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import registry
from .cache import RowCache, cell_key, clip_key, code_fingerprint, plain_row
from .columns import failure_row
from .datasets.base import Clip
from .degrade import stage as degrade_stage
from .errors import MelbenchError
from .metric_pool import MetricPool
from .pipeline import ClipResult, run_clip
from .plugin import Dataset, Degradation, Inverter, Metric, PhaseRetriever
from .provenance import row_fields as provenance_fields
from .results import (
    ROWS_FILE,
    SUMMARY_FILE,
    atomic_write_text,
    read_rows,
    rows_to_frame,
    summary_markdown,
    write_rows,
)
from .spec import FeatureSpec, get_spec
from .workers import warm_up

#: Written at the start (``complete: false``) and end of every run (see melbench.report.runs).
RUN_INFO_FILE = "run.json"

log = logging.getLogger("melbench")


def resolve_metrics(names: Any, params: Mapping[str, Any] | None = None) -> list[Metric]:
    """Instantiate metrics from a list of names (or "all" for every available metric)."""
    if isinstance(names, str):
        names = registry.available("metric") if names == "all" else [n.strip() for n in names.split(",")]
    params = dict(params or {})
    return [registry.create("metric", n, params.get(n)) for n in names]


def _plain(cfg: Any) -> Any:
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, (DictConfig, ListConfig)):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return cfg


def run(cfg: Mapping[str, Any], out_dir: str | Path, *, echo: bool = True) -> pd.DataFrame:
    """Run one cell (inverter x phase x spec x dataset) and write its results.

    Three steps: :func:`set_up` builds the cell (plugins, cache key, row cache),
    :func:`run_clips` takes every clip through it, :func:`finish` writes the summary.

    Parameters
    ----------
    cfg : mapping
        Resolved config with ``spec``, ``dataset``, ``inverter``, ``phase``,
        ``metrics``, ``seed`` (and optional ``trace``, ``degrade``, ``metric_jobs``;
        issue 9: ``cache_dir`` (None disables the cache), ``force`` (recompute cached
        clips), ``save_audio`` (first N clips' wavs into ``out_dir/audio``),
        ``progress`` (clip progress bar on a terminal)).
    out_dir : path
        Run directory; receives ``rows.csv`` (rewritten atomically after each clip),
        ``summary.md`` and ``run.json`` (cell key; ``complete`` once finished).
        Clips whose row is in the cache under this cell's content key
        (:mod:`melbench.cache`) are not recomputed; failed clips are never cached.
    echo : bool
        Print the summary table.

    Returns
    -------
    pandas.DataFrame
        The rows.

    Raises
    ------
    CellError
        When the cell's plugins cannot be built or its dataset fails; ``rows.csv`` then
        holds one ``clip == "*"`` row with the reason (:func:`melbench.columns.failure_row`).
    """
    cfg = _plain(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cell = set_up(cfg, out_dir)
    rows = run_clips(cell, out_dir, metric_jobs=cfg.get("metric_jobs", 2),
                     save_audio=int(cfg.get("save_audio", 0) or 0),
                     progress=bool(cfg.get("progress", True)))
    return finish(cell, rows, out_dir, echo=echo)


@dataclass
class CellRun:
    """A cell ready to run: its plugins, content key and row cache (made by :func:`set_up`)."""

    spec: FeatureSpec
    dataset: Dataset
    inverter: Inverter
    phase: PhaseRetriever
    metrics: list[Metric]
    degrade: Degradation | None
    seed: int
    trace: bool
    #: Content key of the cell (:func:`melbench.cache.cell_key`), in every computed row.
    key: str
    cache: RowCache
    #: Provenance columns (plugin packages and versions), in every computed row.
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def degrade_label(self) -> str:
        """The degradation's label for the rows ("none" without one)."""
        return self.degrade.label if self.degrade else "none"

    @property
    def description(self) -> str:
        """``inverter / phase`` (progress bar, log lines)."""
        return f"{self.inverter.label} / {self.phase.label}"

    def failure_row(self, error: str) -> dict[str, Any]:
        """The ``clip == "*"`` row of this cell failing as a whole."""
        return failure_row(
            None, error, dataset=self.dataset.label, clip="*", spec=str(self.spec),
            spec_key=self.spec.key(), degrade=self.degrade_label, inverter=self.inverter.label,
            phase=self.phase.label, seed=self.seed, cell_key=self.key,
        )


def set_up(cfg: Mapping[str, Any], out_dir: Path) -> CellRun:
    """Build a run's cell from its plain config; write ``run.json`` (``complete: false``).

    Raises
    ------
    CellError
        A plugin (or the spec, or the metrics) cannot be built; ``out_dir/rows.csv`` then
        holds the cell's failure row.
    """
    seed = int(cfg.get("seed", 0))
    spec = None
    try:
        spec = get_spec(cfg.get("spec"))
        dataset = registry.from_config("dataset", cfg["dataset"])
        inverter = registry.from_config("inverter", cfg["inverter"])
        phase = registry.from_config("phase", cfg["phase"])
        metrics = resolve_metrics(cfg.get("metrics", ["sc"]), cfg.get("metric_params"))
        degrade = degrade_stage(cfg.get("degrade"))
    except (MelbenchError, KeyError, TypeError, ValueError) as exc:
        msg = f"cannot set up this cell: {exc}"
        log.error(msg)
        row = failure_row(
            None, msg, dataset=_name(cfg.get("dataset")), clip="*",
            spec=str(spec) if spec is not None else "", spec_key=spec.key() if spec is not None else "",
            degrade=_name(cfg.get("degrade") or "none"), inverter=_name(cfg.get("inverter")),
            phase=_name(cfg.get("phase")), seed=seed,
        )
        write_rows(out_dir / ROWS_FILE, [row])
        raise CellError(msg) from exc
    trace = bool(cfg.get("trace", False))
    plugins = [dataset, inverter, phase, *metrics]
    key, key_desc = cell_key(
        dataset=dataset.label, spec_key=spec.key(), inverter=inverter.label, phase=phase.label,
        metrics=[m.label for m in metrics], seed=seed,
        degrade=degrade.label if degrade else "none", trace=trace,
        code=code_fingerprint([*plugins, degrade]),
    )
    # issue 9: content-keyed row cache (resume); issue 7: provenance columns
    cache = RowCache(cfg.get("cache_dir"), key, key_desc, force=bool(cfg.get("force", False)))
    cell = CellRun(spec=spec, dataset=dataset, inverter=inverter, phase=phase, metrics=metrics,
                   degrade=degrade, seed=seed, trace=trace, key=key, cache=cache,
                   provenance=provenance_fields(plugins))
    _write_run_info(out_dir, key, complete=False)
    return cell


def run_clips(cell: CellRun, out_dir: Path, *, metric_jobs: Any = 2, save_audio: int = 0,
              progress: bool = True) -> list[dict[str, Any]]:
    """Take every clip of the cell's dataset through the cell: the clip loop.

    A clip whose row is cached is taken from the cache (and its audio restored when
    ``save_audio`` asks for it; without cached audio it is recomputed). The plugins are
    warmed up once, untimed, before the first computed clip. Slow metrics are scored in
    worker processes (:class:`~melbench.metric_pool.MetricPool`); a row is cached once
    all its metrics are in. ``rows.csv`` is rewritten after every clip.

    Parameters
    ----------
    cell : CellRun
        From :func:`set_up`.
    out_dir : Path
        The run directory.
    metric_jobs : int or str
        Worker processes for deferred metrics (``metric_jobs`` of the config).
    save_audio : int
        Save the first this many clips' estimate and reference wavs.
    progress : bool
        Show a clip progress bar on a terminal.

    Returns
    -------
    list of dict
        One row per clip, in the dataset's order.

    Raises
    ------
    CellError
        The dataset itself failed (a missing folder...): its failure row ends the rows
        written, and ``run.json`` records the error.
    """
    from tqdm.auto import tqdm

    rows: list[dict[str, Any]] = []
    clips = cell.dataset.clips(cell.spec)
    pool = MetricPool(metric_jobs, cell.metrics)  # issue 7
    pending = _PendingRows(cell.cache)
    warmed = False  # plugins run once, untimed, before the first computed clip
    bar = tqdm(clips, desc=cell.description, unit="clip", leave=False, file=sys.stderr,
               disable=None if progress else True)
    try:
        for i, clip in enumerate(bar):
            ckey = clip_key(clip)
            row = cell.cache.get(ckey, clip.id)
            if row is not None and i < save_audio and not _restore_audio(
                    out_dir, clip, cell.spec, cell.cache.audio(ckey)):
                row = None  # audio requested but not cached: recompute the clip
            if row is not None:
                rows.append(row)
            else:
                if not warmed:
                    warm_up(cell.spec, cell.inverter, cell.phase)
                    warmed = True
                res = _compute_clip(cell, clip, defer=pool.active)
                wav = _save_audio(out_dir, clip, cell.spec, res.audio) if i < save_audio else None
                rows.append(res.row)
                pool.submit(res)  # issue 7: fills rows of finished metric jobs as it goes
                pending.add(ckey, res, wav)
            pending.store_finished()
            bar.set_postfix(cached=cell.cache.hits, refresh=False)
            write_rows(out_dir / ROWS_FILE, rows)
    except MelbenchError as exc:  # the dataset itself failed (missing folder...)
        pool.finish()  # issue 7
        pending.store_finished()
        msg = f"dataset {cell.dataset.label}: {exc}"
        log.error(msg)
        rows.append(cell.failure_row(msg))
        write_rows(out_dir / ROWS_FILE, rows)
        _write_run_info(out_dir, cell.key, complete=True, n_rows=len(rows), error=msg)
        raise CellError(msg) from exc
    finally:
        bar.close()
    pool.finish()  # issue 7: wait for the deferred metrics, fill their columns
    pending.store_finished()
    return rows


def finish(cell: CellRun, rows: list[dict[str, Any]], out_dir: Path, *, echo: bool = True) -> pd.DataFrame:
    """Write the final ``rows.csv``, ``summary.md`` and ``run.json`` (``complete: true``).

    Returns
    -------
    pandas.DataFrame
        The rows (:func:`melbench.results.rows_to_frame`).
    """
    write_rows(out_dir / ROWS_FILE, rows)
    df = rows_to_frame(rows)
    text = summary_markdown(df)
    atomic_write_text(out_dir / SUMMARY_FILE, text)
    hits = cell.cache.hits
    _write_run_info(out_dir, cell.key, complete=True, n_rows=len(rows), from_cache=hits,
                    computed=len(rows) - hits)
    if cell.cache.enabled:
        log.info("%s: %d clip(s) from the cache, %d computed", cell.description, hits,
                 len(rows) - hits)
    if echo:
        print(text)
    return df


def _compute_clip(cell: CellRun, clip: Clip, *, defer: bool) -> ClipResult:
    """One clip through the cell (:func:`melbench.pipeline.run_clip`), with the run's columns."""
    res = run_clip(clip, cell.spec, cell.inverter, cell.phase, cell.metrics, seed=cell.seed,
                   dataset=cell.dataset.label, degrade=cell.degrade,
                   degrade_label=cell.degrade_label, record_trace=cell.trace, defer=defer)
    res.row.update(cell.provenance)  # issue 7
    res.row["cell_key"] = cell.key
    res.row = plain_row(res.row)
    return res


class _PendingRows:
    """Computed rows not cached yet: a row is cached once every deferred metric is in."""

    def __init__(self, cache: RowCache) -> None:
        self.cache = cache
        self.waiting: list[tuple[str, ClipResult, Path | None]] = []

    def add(self, ckey: str, res: ClipResult, wav: Path | None) -> None:
        self.waiting.append((ckey, res, wav))

    def store_finished(self) -> None:
        for item in list(self.waiting):
            ckey, res, wav = item
            if not res.deferred:  # final once every deferred metric is filled
                res.row.update(plain_row(res.row))  # same values as a row read from the cache
                self.cache.put(ckey, res.row, wav)
                self.waiting.remove(item)


def _write_run_info(out_dir: Path, key: str, **fields: Any) -> None:
    """``run.json``: the cell key and whether the run finished (read by reports)."""
    from ._version import __version__

    info = {"cell_key": key, "melbench": __version__, **fields}
    if fields.get("complete"):
        info["finished"] = time.time()
    atomic_write_text(out_dir / RUN_INFO_FILE, json.dumps(info, indent=1) + "\n")


def _save_audio(out_dir: Path, clip: Any, spec: Any, estimate: Any) -> Path | None:
    """Write the estimate and the reference of a clip into ``out_dir/audio`` (32-bit float wav)."""
    import numpy as np
    import soundfile as sf

    est_path, ref_path = audio_paths(out_dir, clip.id)
    est_path.parent.mkdir(parents=True, exist_ok=True)
    if clip.audio is not None:
        _atomic_wav(ref_path, np.asarray(clip.audio), spec.sample_rate, sf)
    if estimate is None:
        return None
    _atomic_wav(est_path, np.asarray(estimate), spec.sample_rate, sf)
    return est_path


def _restore_audio(out_dir: Path, clip: Any, spec: Any, cached: Path | None) -> bool:
    """Copy a cached estimate (and write the reference) into the run; False if not cached."""
    import shutil

    if cached is None:
        return False
    est_path, _ = audio_paths(out_dir, clip.id)
    _save_audio(out_dir, clip, spec, None)
    est_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, est_path)
    return True


def _atomic_wav(path: Path, audio: Any, sample_rate: int, sf: Any) -> None:
    import os

    import numpy as np

    tmp = path.with_name(f".{path.name}.tmp")
    sf.write(tmp, np.asarray(audio, dtype=np.float32), sample_rate, subtype="FLOAT", format="WAV")
    os.replace(tmp, path)


def _name(node: Any) -> str:
    if isinstance(node, Mapping):
        return str(node.get("name", "?"))
    return str(node)


class CellError(MelbenchError):
    """A whole cell could not run (bad plugin parameters, unavailable plugin, bad dataset)."""


def aggregate(sweep_dir: str | Path, *, echo: bool = True) -> pd.DataFrame:
    """Concatenate every ``rows.csv`` under a sweep directory into one table.

    Writes ``rows.csv`` and ``summary.md`` at the top of ``sweep_dir`` and prints
    the summary (one line per cell).
    """
    sweep_dir = Path(sweep_dir)
    files = sorted(sweep_dir.glob(f"*/{ROWS_FILE}"),
                   key=lambda p: (0, int(p.parent.name), "") if p.parent.name.isdigit()
                   else (1, 0, p.parent.name))
    parts = [read_rows(p) for p in files]
    if not parts:
        return pd.DataFrame()
    df = pd.concat(parts, ignore_index=True)
    write_rows(sweep_dir / ROWS_FILE, df)
    text = summary_markdown(df)
    atomic_write_text(sweep_dir / SUMMARY_FILE, text)
    if echo:
        print(text)
    return df


#: Folder of saved audio inside a run directory (``save_audio=N``).
AUDIO_DIR = "audio"


def _safe_name(clip_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(clip_id)) or "clip"


def audio_paths(run_dir: str | Path, clip_id: str) -> tuple[Path, Path]:
    """Where a run saves a clip's audio: ``(estimate, reference)`` wav paths."""
    base = Path(run_dir) / AUDIO_DIR / _safe_name(clip_id)
    return base.with_name(base.name + ".wav"), base.with_name(base.name + ".ref.wav")
