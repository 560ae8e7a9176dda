"""Collect the evaluation suite's sweeps into ``results/eval/`` (rows, clip list, run facts).

``make eval`` runs the suite's sweeps (``+experiment=eval``, ``eval_degraded``,
``eval_perceptual``), then this command and ``melbench report`` on its ``--rows-csv``::

    python -m melbench.bench.eval_suite OUT SWEEP_DIR... [--rows-csv ROWS.csv]

It writes, in ``OUT``:

* ``rows.csv.gz``: every row of the sweeps (gzip CSV, ``pandas.read_csv`` reads it),
  without the columns that repeat per row (package versions, cache keys, the long
  dataset label);
* ``clips.csv``: one line per clip: kind, source, licence, duration (cropped);
* ``RUN.md``: the commands, each sweep's wall-clock time on this machine (from the
  runners' ``run.json`` and the logs' start lines), row and status counts, the
  versions of the Python packages (from the rows) and of the Debian data packages.

Nothing is trusted without a check: a sweep with an unfinished job is reported
as such in ``RUN.md`` (and on stderr).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

import pandas as pd

from ..datasets.asterisk import LANGUAGES, package_name
from ..datasets.packaged import package_version
from ..datasets.sonic_pi import PACKAGE as SONIC_PI_PACKAGE
from ..report.runs import RUN_DIR_COLUMN, load_runs
from ..results import atomic_write_bytes, atomic_write_text

#: Columns dropped from the committed rows (the same in every row, or bookkeeping).
DROP = ("versions", "plugin_versions", "cell_key", "spec_key", RUN_DIR_COLUMN)


def sweep_times(sweep: Path) -> tuple[float, float, int]:
    """``(first start, last finish, jobs)`` of a sweep, as POSIX seconds.

    The finish times come from each job's ``run.json``; the start from the
    modification time of the sweep's ``multirun.yaml`` (written at launch).
    """
    finished = []
    single = (sweep / "run.json").exists()  # a run directory (one cell), not a sweep
    for info in [sweep / "run.json"] if single else sweep.glob("*/run.json"):
        try:
            d = json.loads(info.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if d.get("complete") and "finished" in d:
            finished.append(float(d["finished"]))
    start_file = sweep / (".hydra/config.yaml" if single else "multirun.yaml")
    start = start_file.stat().st_mtime if start_file.exists() else float("nan")
    return start, (max(finished) if finished else float("nan")), len(finished)


def common_overrides(sweep: Path) -> list[str]:
    """The command-line overrides every job of a sweep shares (the sweep's own ones dropped)."""
    common: list[str] | None = None
    files = [sweep / ".hydra" / "overrides.yaml"] if (sweep / ".hydra").is_dir() else \
        sorted(sweep.glob("*/.hydra/overrides.yaml"))
    for f in files:
        items = [ln.strip()[2:].strip() for ln in f.read_text(encoding="utf-8").splitlines()
                 if ln.strip().startswith("- ")]
        common = items if common is None else [x for x in common if x in items]
    common = common or []
    return sorted(common, key=lambda x: (not x.startswith("+experiment="), x))


def _iso(t: float) -> str:
    if t != t:  # NaN
        return "?"
    return dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def collect(out: Path, sweeps: list[Path], rows_csv: Path | None = None) -> pd.DataFrame:
    """Write ``rows.csv.gz``, ``clips.csv`` and ``RUN.md`` of the sweeps into ``out``.

    Rows of the same (cell, clip, seed) from several sweeps (e.g. a cell of the clean and of
    the perceptual track) are merged into one, each column taking the first value that is
    not missing, after the dataset label is shortened to the dataset's name. ``rows_csv``, if given,
    receives the same rows uncompressed (for ``melbench report``).
    """
    out.mkdir(parents=True, exist_ok=True)
    # each sweep alone: the same (cell, clip) scored in two tracks with different metrics
    # (clean and perceptual) is merged below, not dropped as a duplicate
    loaded = [load_runs([s]) for s in sweeps]
    rows = pd.concat([r.rows for r in loaded], ignore_index=True)
    warnings = [w for r in loaded for w in r.warnings]
    slim = rows.drop(columns=[c for c in DROP if c in rows.columns])
    slim["dataset"] = slim["dataset"].astype(str).str.replace(r"\[.*$", "", regex=True)
    ident = [c for c in ("dataset", "spec", "degrade", "inverter", "phase", "clip", "seed") if c in slim]
    order = slim[ident].drop_duplicates()
    g = slim.groupby(ident, sort=False, dropna=False)
    merged = g.first()  # per column, the first value that is not missing
    if "notes" in slim:
        merged["notes"] = g["notes"].agg(
            lambda x: "; ".join(dict.fromkeys(n for n in x.astype(str) if n and n != "nan")))
    slim = order.merge(merged.reset_index(), on=ident, how="left")[list(slim.columns)]
    if rows_csv is not None:
        atomic_write_text(rows_csv, slim.to_csv(index=False))
    import gzip

    atomic_write_bytes(out / "rows.csv.gz", gzip.compress(slim.to_csv(index=False).encode(), mtime=0))
    clip_cols = [c for c in ("clip", "kind", "source", "licence", "duration") if c in rows.columns]
    clips = rows[rows["degrade"] == "none"][clip_cols].drop_duplicates("clip").sort_values("clip")
    atomic_write_text(out / "clips.csv", clips.to_csv(index=False))

    lines = ["# Evaluation suite: run facts\n",
             "Written by `python -m melbench.bench.eval_suite` (see `make eval`).\n",
             "## Commands\n", "```",
             "make eval-data   # Debian packages (root), ltfatpy signals, G722 decoder, metric extras"]
    for s in sweeps:
        if (s / ".hydra").is_dir():
            lines.append(f"melbench run {' '.join(common_overrides(s)) or '?'} hydra.run.dir={s}")
        else:
            lines.append(f"melbench run -m {' '.join(common_overrides(s)) or '?'} hydra.sweep.dir={s}")
    lines += ["python -m melbench.bench.eval_suite results/eval " + " ".join(str(s) for s in sweeps)
              + " --rows-csv outputs/eval/rows_all.csv",
              "melbench report outputs/eval/rows_all.csv -o results/eval/report",
              "```\n", "## Run time on this machine\n",
              f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
              "the cores were shared with other jobs (load average 10 to 22 on the 2 cores during the run), "
              "so these are upper bounds.\n",
              "| sweep | jobs done | started | finished | wall clock (min) | rows | ok | skipped | failed |",
              "|---|---|---|---|---|---|---|---|---|"]
    total = 0.0
    spans = []
    for s in sweeps:
        start, end, jobs = sweep_times(s)
        spans.append((start, end))
        part = rows[rows[RUN_DIR_COLUMN].map(lambda d, s=s: Path(d) == s or s in Path(d).parents)]
        counts = part["status"].value_counts().to_dict()
        minutes = (end - start) / 60 if end == end and start == start else float("nan")
        total += minutes if minutes == minutes else 0.0
        lines.append(f"| {s.name} | {jobs} | {_iso(start)} | {_iso(end)} | {minutes:.1f} "
                     f"| {len(part)} | {counts.get('ok', 0)} | {counts.get('skipped', 0)} "
                     f"| {counts.get('failed', 0)} |")
    first = min((a for a, _ in spans if a == a), default=float("nan"))
    last = max((b for _, b in spans if b == b), default=float("nan"))
    lines.append(f"\nSum of the sweeps' wall clocks: {total:.1f} min; from the first start to the last "
                 f"finish: {(last - first) / 60:.1f} min (sweeps that ran side by side overlap).\n")
    if warnings:
        lines.append("Warnings while reading the sweeps:\n")
        lines += [f"- {w}" for w in warnings]
        lines.append("")
    kinds = clips["kind"].value_counts().to_dict() if "kind" in clips else {}
    kind_text = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
    lines += ["## Clips\n", f"{len(clips)} clips ({kind_text}), "
              f"{clips['duration'].sum() / 60:.1f} min of audio; list with licences in `clips.csv`.\n",
              "| source | clips | kinds |", "|---|---|---|"]
    for src, g in clips.groupby("source"):
        lines.append(f"| {src} | {len(g)} | {', '.join(sorted(g['kind'].unique()))} |")
    lines += ["", "## Versions\n", "Python packages (from the rows' `versions` column):\n"]
    if "versions" in rows.columns:
        lines += [f"- {v}" for v in sorted(rows["versions"].dropna().astype(str).unique())]
    lines += ["", "Debian data packages:\n"]
    for pkg in [package_name(x) for x in LANGUAGES] + [SONIC_PI_PACKAGE]:
        lines.append(f"- {pkg} {package_version(pkg) or '(not installed)'}")
    lines.append("- ltfatpy 1.1.2 sdist (signals gspi, linus, greasy)")
    atomic_write_text(out / "RUN.md", "\n".join(lines) + "\n")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return slim


def main(argv: list[str] | None = None) -> int:
    """``python -m melbench.bench.eval_suite OUT SWEEP_DIR...``."""
    ap = argparse.ArgumentParser(prog="python -m melbench.bench.eval_suite",
                                 description="Collect the evaluation suite's sweeps into OUT.")
    ap.add_argument("out", type=Path)
    ap.add_argument("sweeps", type=Path, nargs="+")
    ap.add_argument("--rows-csv", type=Path, default=None,
                    help="also write the collected rows, uncompressed, here (input of melbench report)")
    args = ap.parse_args(argv)
    slim = collect(args.out, args.sweeps, args.rows_csv)
    print(f"{len(slim)} rows -> {args.out}/rows.csv.gz, clips.csv, RUN.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
