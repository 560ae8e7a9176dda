"""Execute one run (one cell over a dataset) from a resolved config, and aggregate sweeps."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import registry
from .cache import RowCache, cell_key, clip_key, code_fingerprint, plain_row
from .degrade import stage as degrade_stage
from .errors import MelbenchError
from .metric_pool import MetricPool
from .pipeline import ClipResult, run_clip
from .plugin import Metric
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
from .spec import get_spec

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
        The rows. A cell whose plugins cannot be built gets one row with the reason.
    """
    cfg = _plain(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    seed = int(cfg.get("seed", 0))
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
        rows.append({
            "dataset": _name(cfg.get("dataset")), "clip": "*", "inverter": _name(cfg.get("inverter")),
            "phase": _name(cfg.get("phase")), "seed": seed, "status": "failed", "error": msg,
        })
        write_rows(out_dir / ROWS_FILE, rows)
        raise CellError(msg) from exc

    from tqdm.auto import tqdm

    clips = dataset.clips(spec)
    desc = f"{inverter.label} / {phase.label}"
    # issue 7: provenance columns; slow (deferred) metrics scored in worker processes
    prov = provenance_fields([dataset, inverter, phase, *metrics])
    pool = MetricPool(cfg.get("metric_jobs", 2), metrics)
    # issue 9: content-keyed row cache (resume), saved audio, progress
    trace = bool(cfg.get("trace", False))
    degrade_label = degrade.label if degrade else "none"
    key, key_desc = cell_key(
        dataset=dataset.label, spec_key=spec.key(), inverter=inverter.label, phase=phase.label,
        metrics=[m.label for m in metrics], seed=seed, degrade=degrade_label, trace=trace,
        code=code_fingerprint([dataset, inverter, phase, *metrics, degrade]),
    )
    cache = RowCache(cfg.get("cache_dir"), key, key_desc, force=bool(cfg.get("force", False)))
    save_audio = int(cfg.get("save_audio", 0) or 0)
    _write_run_info(out_dir, key, complete=False)
    waiting: list[tuple[str, ClipResult, Path | None]] = []  # computed rows not cached yet

    def store_finished() -> None:
        for item in list(waiting):
            ckey, res, wav = item
            if not res.deferred:  # final once every deferred metric is filled
                res.row.update(plain_row(res.row))  # same values as a row read from the cache
                cache.put(ckey, res.row, wav)
                waiting.remove(item)

    warmed = False  # plugins run once, untimed, before the first computed clip
    bar = tqdm(clips, desc=desc, unit="clip", leave=False, file=sys.stderr,
               disable=None if cfg.get("progress", True) else True)
    try:
        for i, clip in enumerate(bar):
            ckey = clip_key(clip)
            row = cache.get(ckey, clip.id)
            if row is not None and i < save_audio and not _restore_audio(
                    out_dir, clip, spec, cache.audio(ckey)):
                row = None  # audio requested but not cached: recompute the clip
            if row is not None:
                rows.append(row)
            else:
                if not warmed:
                    _warm_up(spec, inverter, phase)
                    warmed = True
                res = run_clip(clip, spec, inverter, phase, metrics, seed=seed,
                               dataset=dataset.label, degrade=degrade, degrade_label=degrade_label,
                               record_trace=trace, defer=pool.active)
                res.row.update(prov)  # issue 7
                res.row["cell_key"] = key
                res.row = plain_row(res.row)
                wav = _save_audio(out_dir, clip, spec, res.audio) if i < save_audio else None
                rows.append(res.row)
                pool.submit(res)  # issue 7: fills rows of finished metric jobs as it goes
                waiting.append((ckey, res, wav))
            store_finished()
            bar.set_postfix(cached=cache.hits, refresh=False)
            write_rows(out_dir / ROWS_FILE, rows)
    except MelbenchError as exc:  # the dataset itself failed (missing folder...)
        pool.finish()  # issue 7
        store_finished()
        msg = f"dataset {dataset.label}: {exc}"
        log.error(msg)
        rows.append({"dataset": dataset.label, "clip": "*", "inverter": inverter.label,
                     "phase": phase.label, "seed": seed, "status": "failed", "error": msg,
                     "cell_key": key})
        write_rows(out_dir / ROWS_FILE, rows)
        _write_run_info(out_dir, key, complete=True, n_rows=len(rows), error=msg)
        raise CellError(msg) from exc
    finally:
        bar.close()
    pool.finish()  # issue 7: wait for the deferred metrics, fill their columns
    store_finished()
    write_rows(out_dir / ROWS_FILE, rows)
    df = rows_to_frame(rows)
    text = summary_markdown(df)
    atomic_write_text(out_dir / SUMMARY_FILE, text)
    _write_run_info(out_dir, key, complete=True, n_rows=len(rows), from_cache=cache.hits,
                    computed=len(rows) - cache.hits)
    if cache.enabled:
        log.info("%s: %d clip(s) from the cache, %d computed", desc, cache.hits,
                 len(rows) - cache.hits)
    if echo:
        print(text)
    return df


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


def _warm_up(spec: Any, inverter: Any, phase: Any) -> None:
    """Run the cell's plugins once on half a second of synthetic audio, untimed.

    One-off costs (numba compilation on a fresh install, cached operators, imports) then
    do not land in the first clip's stage times. Failures are ignored here: the real
    clips report them.
    """
    from .testing import conformance_signal

    try:
        y = conformance_signal(spec.sample_rate, seconds=max(0.5, 2 * spec.n_fft / spec.sample_rate))
        mag = spec.magnitude(y)
        target = inverter(spec.mel_from_magnitude(mag), spec, context={"reference_magnitude": mag})
        phase(target, spec, rng=0)
    except Exception as exc:  # noqa: BLE001 - the clips will say what is wrong
        log.debug("warm-up failed: %s", exc)


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
