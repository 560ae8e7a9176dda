"""Find and load result rows from run and sweep directories, with clear errors.

A *run directory* holds ``rows.csv`` (one cell); a *sweep directory* holds one
run directory per cell (Hydra's job sub-directories) and, once the sweep ended,
an aggregated ``rows.csv`` at its top. Reports read the per-cell files (they
know where each cell's saved audio is); a half-finished sweep (a job directory
without rows, or a run whose ``run.json`` says it did not finish) is reported.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import MelbenchError
from ..results import ROWS_FILE, read_rows

#: Marker written by the runner at the start (``complete: false``) and end of each run.
RUN_INFO_FILE = "run.json"
#: Column added to loaded rows: the directory that holds the row's ``rows.csv``.
RUN_DIR_COLUMN = "_run_dir"
#: Columns every rows file must have.
REQUIRED_COLUMNS = ("clip", "inverter", "phase", "status")
#: Cell columns filled with a placeholder when an older rows file lacks them.
CELL_DEFAULTS = {"dataset": "", "spec": "", "degrade": "none"}


class RunInputError(MelbenchError):
    """A run directory or rows file is missing, unreadable or not melbench's (exit code 2)."""


@dataclass
class Runs:
    """Rows loaded from one or more run/sweep directories.

    Attributes
    ----------
    rows : pandas.DataFrame
        All rows, with :data:`RUN_DIR_COLUMN` naming each row's run directory.
    files : list of Path
        The ``rows.csv`` files read.
    incomplete : list of Path
        Run directories that did not finish (killed, or still running).
    warnings : list of str
        Human-readable notes (incomplete runs, duplicates dropped...).
    """

    rows: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    incomplete: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _natural_key(p: Path) -> tuple:
    parts = []
    for part in p.parts:
        parts.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return tuple(parts)


def find_rows_files(path: str | Path) -> list[Path]:
    """The ``rows.csv`` files of a run directory, a sweep directory or a rows file.

    In a sweep, the per-cell files are returned and the aggregate at the top is
    ignored (it repeats them).

    Raises
    ------
    RunInputError
        If ``path`` does not exist or holds no rows file.
    """
    path = Path(path)
    if not path.exists():
        raise RunInputError(f"{path}: no such run directory")
    if path.is_file():
        if not path.name.endswith((".csv", ".csv.gz")):
            raise RunInputError(f"{path}: expected a run directory or a rows .csv (or .csv.gz) file")
        return [path]
    found = sorted(path.rglob(ROWS_FILE), key=_natural_key)
    dirs = {f.parent for f in found}
    # a rows.csv whose directory contains other run directories is an aggregate: skip it
    leaves = [f for f in found if not any(d != f.parent and f.parent in d.parents for d in dirs)]
    if not leaves:
        raise RunInputError(
            f"{path}: no {ROWS_FILE} found; is this a melbench run or sweep directory? "
            "(`melbench run` writes rows.csv into Hydra's output directory, "
            "outputs/runs/<time>/ or outputs/sweeps/<time>/<job>/)"
        )
    return leaves


def _job_dirs_without_rows(path: Path) -> list[Path]:
    """Hydra job directories (with ``.hydra/``) under ``path`` that have no rows file."""
    if not path.is_dir():
        return []
    out = []
    for hydra_dir in path.rglob(".hydra"):
        job = hydra_dir.parent
        if not (job / ROWS_FILE).exists() and not any(job.rglob(ROWS_FILE)):
            out.append(job)
    return sorted(out, key=_natural_key)


def run_info(run_dir: str | Path) -> dict | None:
    """The runner's ``run.json`` of a run directory (None if absent or unreadable)."""
    p = Path(run_dir) / RUN_INFO_FILE
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_rows_file(path: Path) -> pd.DataFrame:
    """Read one rows file, turning parse failures into :class:`RunInputError`."""
    try:
        df = read_rows(path)
    except pd.errors.EmptyDataError as exc:
        raise RunInputError(f"{path}: empty file (the run wrote nothing; rerun it)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, EOFError,
            gzip.BadGzipFile) as exc:  # a cut .gz fails its own length/CRC check
        raise RunInputError(
            f"{path}: cannot be parsed as a rows table ({type(exc).__name__}: {exc}); "
            "the file is corrupt or half-written: rerun the run (cached clips are reused)"
        ) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise RunInputError(
            f"{path}: not a melbench rows file (missing column(s) {missing}; "
            f"columns found: {list(df.columns)[:12]})"
        )
    blank = df[list(REQUIRED_COLUMNS)].isna().any(axis=1) | (
        df[list(REQUIRED_COLUMNS)].astype(str).apply(lambda c: c.str.strip()) == "").any(axis=1)
    truncated = False
    if not path.name.endswith(".gz"):  # (gzip checks its own end)
        try:
            with open(path, "rb") as fh:
                fh.seek(-1, 2)
                truncated = fh.read(1) != b"\n"
        except OSError:
            pass
    if blank.any() or truncated:
        where = f"row {int(blank.to_numpy().argmax()) + 1} lacks {list(REQUIRED_COLUMNS)}" \
            if blank.any() else "the last line is cut"
        raise RunInputError(
            f"{path}: half-written or corrupt rows file ({where}); melbench writes rows "
            "atomically, so the file was cut or edited by something else: rerun the run "
            "(cached clips are reused)"
        )
    return df


def load_runs(paths: Iterable[str | Path]) -> Runs:
    """Load and concatenate the rows of run/sweep directories.

    Parameters
    ----------
    paths : iterable of path
        Run directories, sweep directories or rows files.

    Returns
    -------
    Runs
        Rows with :data:`RUN_DIR_COLUMN`; duplicate (cell, clip, seed) rows keep the last one.

    Raises
    ------
    RunInputError
        If a path is missing, holds no rows, or a rows file is unreadable.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise RunInputError("no run directory given")
    runs = Runs(rows=pd.DataFrame())
    frames = []
    for p in paths:
        files = find_rows_files(p)
        for job in _job_dirs_without_rows(p):
            runs.incomplete.append(job)
            runs.warnings.append(f"{job}: job directory without {ROWS_FILE} "
                                 "(sweep interrupted or still running?)")
        for f in files:
            df = read_rows_file(f)
            info = run_info(f.parent)
            if info is not None and not info.get("complete", True):
                runs.incomplete.append(f.parent)
                runs.warnings.append(
                    f"{f.parent}: run did not finish ({len(df)} row(s) written); "
                    "rerun the same command to complete it (finished clips come from the cache)"
                )
            df[RUN_DIR_COLUMN] = str(f.parent)
            runs.files.append(f)
            frames.append(df)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for c, v in CELL_DEFAULTS.items():
        if c not in rows.columns:
            rows[c] = v
        rows[c] = rows[c].astype(object).where(rows[c].notna(), v).astype(str)
    for c in ("error", "notes"):
        if c in rows.columns:
            rows[c] = rows[c].fillna("").astype(str)
    ident = [c for c in ("dataset", "spec", "degrade", "inverter", "phase", "clip", "seed")
             if c in rows.columns]
    dup = rows.duplicated(subset=ident, keep="last")
    if dup.any():
        runs.warnings.append(f"{int(dup.sum())} duplicate row(s) (same cell, clip and seed in "
                             "several runs) dropped; the last one read is kept")
        rows = rows[~dup].reset_index(drop=True)
    runs.rows = rows
    return runs


def cell_columns(df: pd.DataFrame, *, with_seed: bool = False) -> list[str]:
    """The cell-identifying columns present in ``df`` (seed only if asked)."""
    cols: Sequence[str] = ("dataset", "spec", "degrade", "inverter", "phase")
    out = [c for c in cols if c in df.columns]
    if with_seed and "seed" in df.columns:
        out.append("seed")
    return out
