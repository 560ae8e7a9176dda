"""Execute one run (one cell over a dataset) from a resolved config, and aggregate sweeps."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import registry
from .degrade import from_config as degrade_from_config
from .errors import MelbenchError
from .metric_pool import MetricPool
from .pipeline import run_clip
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
        ``metrics``, ``seed`` (and optional ``trace``).
    out_dir : path
        Run directory; receives ``rows.csv`` (rewritten atomically after each clip)
        and ``summary.md``.
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
        degrade = degrade_from_config(cfg.get("degrade"))
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
    try:
        for clip in tqdm(clips, desc=desc, unit="clip", disable=not echo, leave=False,
                         file=sys.stderr):
            res = run_clip(clip, spec, inverter, phase, metrics, seed=seed, dataset=dataset.label,
                           degrade=degrade, degrade_label=degrade.label if degrade else "none",
                           record_trace=bool(cfg.get("trace", False)), defer=pool.active)
            res.row.update(prov)  # issue 7
            rows.append(res.row)
            pool.submit(res)  # issue 7: fills rows of finished metric jobs as it goes
            write_rows(out_dir / ROWS_FILE, rows)
    except MelbenchError as exc:  # the dataset itself failed (missing folder...)
        pool.finish()  # issue 7
        msg = f"dataset {dataset.label}: {exc}"
        log.error(msg)
        rows.append({"dataset": dataset.label, "clip": "*", "inverter": inverter.label,
                     "phase": phase.label, "seed": seed, "status": "failed", "error": msg})
        write_rows(out_dir / ROWS_FILE, rows)
        raise CellError(msg) from exc
    pool.finish()  # issue 7: wait for the deferred metrics, fill their columns
    write_rows(out_dir / ROWS_FILE, rows)
    df = rows_to_frame(rows)
    text = summary_markdown(df)
    atomic_write_text(out_dir / SUMMARY_FILE, text)
    if echo:
        print(text)
    return df


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
    parts = [read_rows(p) for p in sorted(sweep_dir.glob(f"*/{ROWS_FILE}"))]
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
