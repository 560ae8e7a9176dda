"""The Hydra application behind ``melbench run`` (single runs and ``-m`` sweeps)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from . import runner

log = logging.getLogger("melbench")

#: Set when a run's cell (or, in a sweep, any cell) could not run; the CLI exits 1.
FAILED: list[str] = []


def task(cfg: DictConfig) -> Any:
    """Hydra task: run one cell into Hydra's output directory."""
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    plain = runner._plain(cfg)
    plain["cache_dir"] = resolve_cache_dir(plain.get("cache_dir"), hc.runtime.cwd)
    try:
        df = runner.run(plain, hc.runtime.output_dir, echo=not multirun)
    except runner.CellError as exc:
        print(f"melbench: error: {exc}", file=sys.stderr)
        FAILED.append(str(exc))
        return None
    if multirun:
        n_ok = int((df["status"] == "ok").sum())
        log.info("cell done: %d/%d clips scored -> %s", n_ok, len(df), hc.runtime.output_dir)
        _report_progress(Path(hc.sweep.dir))
    return None


def resolve_cache_dir(cache_dir: Any, cwd: str | Path) -> str | None:
    """Absolute cache directory (relative paths are taken from the launch directory).

    Launchers may run jobs elsewhere (SLURM nodes, other working directories); the
    original working directory recorded by Hydra keeps every job on the same cache.
    """
    if cache_dir in (None, "", "null", "none", False):
        return None
    p = Path(str(cache_dir)).expanduser()
    return str(p if p.is_absolute() else Path(cwd) / p)


# --------------------------------------------------------------------------- sweep progress

#: Written at the sweep root when a sweep starts: cell count and start time.
SWEEP_INFO_FILE = ".melbench_sweep.json"


def count_cells(config: DictConfig) -> int | None:
    """Number of jobs a basic-sweeper multirun will launch (None if it cannot be told)."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = OmegaConf.select(config, "hydra.sweeper.params") or {}
        args = [f"{k}={v}" for k, v in params.items()]
        args += list(OmegaConf.select(config, "hydra.overrides.task") or [])
        overrides = OverridesParser.create().parse_overrides(args)
        batches = BasicSweeper.split_arguments(overrides, None)
        return sum(len(b) for b in batches)
    except Exception:  # noqa: BLE001 - another sweeper, an unusual override: no total
        return None


def _report_progress(sweep_dir: Path) -> None:
    """Print ``cells [####----] k/N`` after each finished cell of a sweep."""
    try:
        info = json.loads((sweep_dir / SWEEP_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    started, total = float(info.get("started", 0)), info.get("n_cells")
    done = 0
    for p in sweep_dir.glob(f"*/{runner.RUN_INFO_FILE}"):
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        done += bool(r.get("complete")) and float(r.get("finished", 0)) >= started
    if total:
        width = 20
        filled = min(width, round(width * done / total))
        print(f"melbench: cells [{'#' * filled}{'-' * (width - filled)}] {done}/{total}",
              file=sys.stderr, flush=True)
    else:
        print(f"melbench: cells done: {done}", file=sys.stderr, flush=True)


class AggregateSweep(Callback):
    """Sweep bookkeeping: cell count at the start; one table of every cell's rows at the end."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Record the number of cells and the start time (for the cell progress line)."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        n = count_cells(config)
        runner.atomic_write_text(sweep_dir / SWEEP_INFO_FILE,
                                 json.dumps({"n_cells": n, "started": time.time()}))
        if n:
            print(f"melbench: sweep of {n} cell(s) -> {sweep_dir}", file=sys.stderr, flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Write ``rows.csv``/``summary.md`` at the sweep root and print the summary.

        A cell that could not run (a ``clip == "*"`` failed row, also from jobs run in
        other processes by a launcher) marks the sweep failed: ``melbench run -m`` exits 1,
        as a single run of that cell does.
        """
        df = runner.aggregate(config.hydra.sweep.dir)
        if not df.empty and {"clip", "status"} <= set(df.columns):
            bad = df[(df["clip"].astype(str) == "*") & (df["status"] == "failed")]
            for err in bad.get("error", []):
                if str(err) not in FAILED:
                    FAILED.append(str(err))
            if len(bad):
                print(f"melbench: {len(bad)} cell(s) of the sweep failed (see above); exit status 1",
                      file=sys.stderr)
