"""The Hydra application behind ``melbench run`` (single runs and ``-m`` sweeps).

:func:`run_app` is the app as a function: it takes the command's arguments (Hydra
overrides and flags, as ``melbench run`` gets them), runs Hydra on melbench's packaged
config without touching ``sys.argv``, and returns a :class:`RunOutcome`. Hydra's
``@hydra.main`` reads ``sys.argv`` and returns nothing, so :func:`run_app` parses the
arguments with Hydra's own parser and calls the runner ``@hydra.main`` calls.

The outcome is gathered from two places, both in the calling process: :func:`task`
(a cell of a single run, or of a sweep on the in-process launcher) and
:class:`AggregateSweep` (the end of a sweep, from the rows every job wrote, so that
cells run in other processes by a launcher count too). They report to the outcome of
the :func:`run_app` call in progress (a context variable, set for the duration of the
call), never to a module-level list.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from . import runner

log = logging.getLogger("melbench")

#: Program name shown in Hydra's usage and help texts.
PROG = "melbench run"


@dataclass
class RunOutcome:
    """What a :func:`run_app` call did.

    Attributes
    ----------
    failed : list of str
        The reason of each cell that could not run (set-up or dataset failure), once.
    hydra_exit : int or None
        Hydra's exit status when Hydra stopped by itself (0 after ``--help``, 1 for a bad
        override or config), else None.
    """

    failed: list[str] = field(default_factory=list)
    hydra_exit: int | None = None

    @property
    def exit_code(self) -> int:
        """The command's exit status: Hydra's own, else 1 if a cell failed, else 0."""
        if self.hydra_exit is not None:
            return self.hydra_exit
        return 1 if self.failed else 0

    def add_failure(self, reason: str) -> None:
        """Record a failed cell (each reason once)."""
        if reason not in self.failed:
            self.failed.append(reason)


_OUTCOME: contextvars.ContextVar[RunOutcome | None] = contextvars.ContextVar(
    "melbench_run_outcome", default=None)


def run_app(args: Sequence[str]) -> RunOutcome:
    """Run ``melbench run`` with ``args`` (Hydra overrides and flags) and return its outcome.

    Parameters
    ----------
    args : sequence of str
        What follows ``melbench run`` on the command line: overrides
        (``inverter=pinv``, ``+experiment=eval``), ``-m`` for a sweep, Hydra's flags
        (``--help``, ``--cfg job``, ``hydra/launcher=joblib``...).

    Returns
    -------
    RunOutcome
        Failed cells and Hydra's own exit status; ``.exit_code`` is the command's.

    Notes
    -----
    The config groups of the installed plugins must be registered first
    (:func:`melbench.hydra_configs.register_hydra_configs`; the CLI does it).
    """
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser
    from hydra.main import _get_rerun_conf

    from .resources import config_dir

    outcome = RunOutcome()
    parser = get_args_parser()
    parser.prog = PROG
    token = _OUTCOME.set(outcome)
    try:
        # what @hydra.main(version_base="1.3", config_path=..., config_name="config") runs,
        # with the arguments given instead of sys.argv
        version.setbase("1.3")
        parsed = parser.parse_args(list(args))
        if parsed.experimental_rerun is not None:
            task(_get_rerun_conf(parsed.experimental_rerun, parsed.overrides))
        else:
            _run_hydra(args=parsed, args_parser=parser, task_function=task,
                       config_path=str(config_dir()), config_name="config")
    except SystemExit as exc:  # help, or Hydra's own clear message on a bad override
        code = exc.code
        outcome.hydra_exit = code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        _OUTCOME.reset(token)
    return outcome


def _report_failure(reason: str) -> None:
    outcome = _OUTCOME.get()
    if outcome is not None:  # None in a launcher's worker process: the sweep's end counts it
        outcome.add_failure(reason)


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
        _report_failure(str(exc))
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
                _report_failure(str(err))
            if len(bad):
                print(f"melbench: {len(bad)} cell(s) of the sweep failed (see above); exit status 1",
                      file=sys.stderr)
