"""The registry of paper reproductions: each folder's data file joined to its report code.

A reproduction ``<name>`` is the Hydra experiment ``conf/experiment/<name>.yaml`` plus the
folder ``melbench/papers/<name>/`` holding ``paper.yaml`` (its data, see
:mod:`melbench.papers.data`) and ``experiment.py``, whose ``build(rows, paper)`` returns
the report's sections. :func:`write_report` turns a run's rows into
``results/papers/<name>/README.md`` and ``rows.csv``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..results import atomic_write_text, read_rows, write_rows
from .data import Paper, load_paper
from .render import Section, render

__all__ = ["EXPERIMENTS", "EXPERIMENT_NAMES", "PaperExperiment", "load_rows", "missing_plugins",
           "write_report"]

#: Rows file written beside each report.
ROWS_FILE = "rows.csv"
#: The same, gzip-compressed: written instead when the CSV would exceed :data:`MAX_PLAIN_ROWS`
#: bytes (runs with convergence traces), so committed results stay small.
ROWS_FILE_GZ = "rows.csv.gz"
MAX_PLAIN_ROWS = 1_000_000
#: Report file.
README_FILE = "README.md"
#: The reproductions, in the order ``melbench papers list`` shows them (folder names).
EXPERIMENT_NAMES = ("librosa_thread", "prusa2017_pghi", "marafioti2021_redundancy",
                    "beyond_papers", "peer2022_beyond_gl", "nenov2023_agla")


@dataclass(frozen=True)
class PaperExperiment:
    """A reproduction: its validated data file and the code that builds its report sections."""

    name: str
    paper: Paper
    build: Callable[[pd.DataFrame, Paper], list[Section]]

    @property
    def title(self) -> str:
        """The report's title."""
        return self.paper.title

    @property
    def needs(self) -> dict[str, list[str]]:
        """Plugins the experiment's cells use, by kind."""
        return self.paper.needs

    @property
    def command(self) -> str:
        """The documented command that produces the run."""
        return (f"melbench run -m +experiment={self.name} "
                f"hydra.sweep.dir=outputs/papers/{self.name}")


def load_experiment(name: str) -> PaperExperiment:
    """Load ``melbench/papers/<name>/`` (data validated; notes the code needs checked)."""
    paper = load_paper(name)
    module = importlib.import_module(f"{__package__}.{name}.experiment")
    for key in getattr(module, "REQUIRED_NOTES", ()):
        paper.note(key)  # an InputError naming the file and the key if missing
    if getattr(module, "REQUIRES_PUBLISHED", False):
        paper.table()
    return PaperExperiment(name=name, paper=paper, build=module.build)


#: Every reproduction by name.
EXPERIMENTS: dict[str, PaperExperiment] = {n: load_experiment(n) for n in EXPERIMENT_NAMES}


def missing_plugins(name: str) -> dict[str, list[str]]:
    """Plugins an experiment needs that are not registered/available in this process."""
    from .. import registry

    out: dict[str, list[str]] = {}
    for kind, names in EXPERIMENTS[name].needs.items():
        have = set(registry.available(kind))
        miss = [n for n in names if n not in have]
        if miss:
            out[kind] = miss
    return out


def load_rows(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Rows of run/sweep directories or rows files (per-cell files in a sweep, no duplicates)."""
    try:
        from ..report.runs import load_runs
    except ImportError:  # pragma: no cover - the report package is part of melbench
        load_runs = None
    if load_runs is not None:
        rows = load_runs(paths).rows
        return rows.drop(columns=[c for c in rows.columns if c.startswith("_")])
    frames = []
    for p in map(Path, paths):
        files = [p] if p.is_file() else sorted(p.glob(f"*/{ROWS_FILE}")) or [p / ROWS_FILE]
        frames += [read_rows(f) for f in files]
    return pd.concat(frames, ignore_index=True)


def _report_extras(out: Path) -> list[str]:
    if not (out / "report").is_dir():
        return []
    return sorted(f"report/{f.name}" for f in (out / "report").iterdir()
                  if f.suffix in (".md", ".png"))


def write_report(name: str, paths: Sequence[str | Path], out_dir: str | Path, *,
                 command: str | None = None, melbench_report: bool = False,
                 note: str = "") -> Path:
    """Read a run's rows, write ``README.md`` and ``rows.csv`` (``rows.csv.gz`` if large) into ``out_dir``.

    Parameters
    ----------
    name : str
        Experiment name (a key of :data:`EXPERIMENTS`).
    paths : sequence of path
        Sweep/run directories or rows files.
    out_dir : path
        Output folder (created).
    command : str, optional
        The command that produced the run, if not the documented one.
    melbench_report : bool
        Also run ``melbench report`` on the rows into ``out_dir/report`` (Markdown, CSV and
        LaTeX tables with bootstrap intervals, and the figures; no HTML page).
    note : str
        What the run changed against the documented set-up (shown on the page).

    Returns
    -------
    Path
        The README written.

    Raises
    ------
    InputError
        Unknown experiment, or no rows in ``paths``.
    """
    if name not in EXPERIMENTS:
        raise InputError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    rows = load_rows(paths)
    if rows.empty:
        raise InputError(f"no rows in {', '.join(map(str, paths))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / (ROWS_FILE_GZ if len(rows.to_csv(index=False)) > MAX_PLAIN_ROWS
                       else ROWS_FILE)
    same = len(paths) == 1 and Path(paths[0]).resolve() == rows_path.resolve()
    if not same:
        write_rows(rows_path, rows)
        stale = out / (ROWS_FILE if rows_path.name == ROWS_FILE_GZ else ROWS_FILE_GZ)
        stale.unlink(missing_ok=True)  # one rows file per page
    if melbench_report:
        from ..report import cli as report_cli

        report_cli.main([str(rows_path), "-o", str(out / "report"), "--no-html",
                         "--title", exp.title])
    shown = out.as_posix()
    try:  # the page names its folder as a path inside the repository when it is one
        shown = out.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        pass
    text = render(exp, rows, command=command, out=shown, extras=_report_extras(out), note=note,
                  rows_file=rows_path.name)
    atomic_write_text(out / README_FILE, text)
    return out / README_FILE
