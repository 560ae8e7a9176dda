"""The Hydra application behind ``melbench run`` (single runs and ``-m`` sweeps)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from . import runner

log = logging.getLogger("melbench")

#: Set when a single (non-sweep) run could not set up its cell; the CLI exits 1.
FAILED: list[str] = []


def task(cfg: DictConfig) -> Any:
    """Hydra task: run one cell into Hydra's output directory."""
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        df = runner.run(cfg, hc.runtime.output_dir, echo=not multirun)
    except runner.CellError as exc:
        print(f"melbench: error: {exc}", file=sys.stderr)
        if not multirun:
            FAILED.append(str(exc))
        return None
    if multirun:
        n_ok = int((df["status"] == "ok").sum())
        log.info("cell done: %d/%d clips scored -> %s", n_ok, len(df), hc.runtime.output_dir)
    return None


class AggregateSweep(Callback):
    """At the end of a sweep, gather every cell's rows into one table and print it."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Write ``rows.csv``/``summary.md`` at the sweep root and print the summary."""
        runner.aggregate(config.hydra.sweep.dir)
