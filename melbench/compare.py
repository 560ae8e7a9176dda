"""``melbench compare BASELINE RUN...``: the regression gate.

Compares a run (or sweep) with a committed baseline table, cell by cell
(dataset, spec, degrade, inverter, phase) and metric by metric:

- **quality**: a metric regresses when it is worse than the baseline mean by
  more than its tolerance (defaults: ``*_db`` 0.5 dB, ``pesq*`` 0.05,
  ``stoi``/``estoi`` 0.02; ``--tol METRIC=VALUE``, globs allowed); the better
  direction comes from the metric plugins' ``better`` (see
  :func:`melbench.report.tables.metric_directions`);
- **time**: absolute times are noisy across machines, so each cell's time
  (its smallest real-time factor over clips, ``rtf``: one-time warm-up costs
  such as JIT compilation land on a first clip only) is divided by a reference
  cell's measured *in the same run* (``--time-reference``; default the
  baseline's median-time cell) and that ratio is compared with the
  baseline's ratio (regression when more than ``--time-tol`` times larger,
  default 2; cells under ``--time-min-rtf`` are not gated);
- **coverage**: a baseline cell missing from the run, or fewer clips scored,
  is a regression.

The baseline is the long table of :func:`melbench.report.tables.cell_stats`
(``results.csv`` of ``melbench report``), written with ``--update``.

Exit codes: 0 no regression; 1 regression(s); 2 usage or input error (missing
or half-written run, unreadable baseline, baseline for different cells,
unknown metric).
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import CELL_COLUMNS, GROUP_COLUMNS, STATS_COLUMNS, TIME_COLUMNS
from .errors import MelbenchError
from .report.runs import RunInputError, load_runs
from .report.tables import cell_stats, short_labels

#: Default quality tolerances by metric-name pattern (first match wins).
DEFAULT_TOLERANCES: dict[str, float] = {
    "*_db": 0.5, "pesq*": 0.05, "stoi": 0.02, "estoi": 0.02,
}
#: Exit codes.
OK, REGRESSION, USAGE = 0, 1, 2

EPILOG = """\
exit codes: 0 no regression; 1 regression(s) found; 2 usage or input error (missing or
half-written run directory, unreadable baseline, baseline for different cells, unknown metric).

create or refresh a baseline:  melbench compare --update BASELINE.csv RUN_DIR
"""


class CompareInputError(MelbenchError):
    """The baseline or the run cannot be compared (exit code 2)."""


def is_time_metric(metric: str) -> bool:
    """Timing columns are gated by the time-ratio check, not by quality tolerances."""
    return metric.startswith("t_") or metric == "rtf"


def tolerance_for(metric: str, tolerances: Mapping[str, float]) -> float | None:
    """Tolerance of a metric: exact name first, then the first matching glob."""
    if metric in tolerances:
        return float(tolerances[metric])
    for pattern, tol in tolerances.items():
        if fnmatch.fnmatchcase(metric, pattern):
            return float(tol)
    return None


@dataclass
class Options:
    """What to check and how strictly."""

    tolerances: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    metrics: list[str] | None = None
    time_tol: float | None = 2.0
    time_reference: str | None = None
    time_min_rtf: float = 0.01
    allow_missing: bool = False


@dataclass
class Finding:
    """One checked (cell, metric) pair that regressed, improved or was noted."""

    kind: str  # "regression", "improved", "note"
    cell: tuple[str, ...]
    what: str
    message: str


@dataclass
class Comparison:
    """The outcome of :func:`compare`."""

    findings: list[Finding] = field(default_factory=list)
    n_checks: int = 0
    n_cells: int = 0
    time_reference: dict[tuple[str, ...], str] = field(default_factory=dict)

    @property
    def regressions(self) -> list[Finding]:
        """Findings that fail the gate."""
        return [f for f in self.findings if f.kind == "regression"]


def read_baseline(path: str | Path) -> pd.DataFrame:
    """Read a baseline table (CSV) or compute one from a run/sweep directory.

    Raises
    ------
    CompareInputError
        If the file is missing, unreadable or lacks the baseline columns.
    """
    path = Path(path)
    if path.is_dir():
        runs = load_runs([path])
        return cell_stats(runs.rows)
    if not path.is_file():
        raise CompareInputError(
            f"baseline {path} does not exist; create it from a trusted run with "
            f"`melbench compare --update {path} RUN_DIR`"
        )
    try:
        df = pd.read_csv(path, keep_default_na=False, na_values=["", "nan", "NaN"],
                         dtype={c: str for c in (*CELL_COLUMNS, "metric", "better")})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CompareInputError(f"baseline {path} cannot be read: {exc}") from exc
    missing = [c for c in (*CELL_COLUMNS, "metric", "mean") if c not in df.columns]
    if missing:
        raise CompareInputError(
            f"baseline {path} is not a melbench baseline table (missing column(s) {missing}); "
            "it must be the long table written by `melbench compare --update` or the "
            "results.csv of `melbench report`"
        )
    for c in (*CELL_COLUMNS, "metric", "better"):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    df["mean"] = pd.to_numeric(df["mean"], errors="coerce")
    return df


def _cells(df: pd.DataFrame) -> list[tuple[str, ...]]:
    return list(dict.fromkeys(map(tuple, df[list(CELL_COLUMNS)].astype(str).to_numpy())))


def _fmt_cell(cell: Sequence[str], labels: Mapping[str, str]) -> str:
    inv, ph = cell[3], cell[4]
    return f"{labels.get(inv, inv)} / {labels.get(ph, ph)}"


def _seconds(stats: pd.DataFrame) -> dict[tuple[str, ...], float]:
    """Time per cell: the smallest real-time factor over clips (``rtf`` ``min``).

    The minimum over clips ignores one-time costs (JIT compilation, caches) that
    land on a cell's first clip. Without ``rtf``, the sum of the stage-time means.
    """
    out: dict[tuple[str, ...], float] = {}
    r = stats[stats["metric"] == "rtf"]
    col = "min" if "min" in stats.columns else "mean"
    if not r.empty:
        for rec in r.to_dict("records"):
            out[tuple(str(rec[c]) for c in CELL_COLUMNS)] = float(rec[col])
        return out
    t = stats[stats["metric"].isin(TIME_COLUMNS)]
    for cell, g in t.groupby(list(CELL_COLUMNS), sort=False):
        vals = pd.to_numeric(g["mean"], errors="coerce")
        out[tuple(map(str, cell))] = float(vals.sum(min_count=1))
    return out


def _match_reference(cells: Sequence[tuple[str, ...]], spec: str) -> list[tuple[str, ...]]:
    """Cells matching ``INVERTER/PHASE`` (each part a full label or a plugin name)."""
    if "/" not in spec:
        raise CompareInputError(f"--time-reference {spec!r}: expected INVERTER/PHASE, e.g. pinv/gla")
    want_inv, want_ph = (s.strip() for s in spec.split("/", 1))

    def ok(label: str, want: str) -> bool:
        return label == want or label.split("[", 1)[0] == want

    return [c for c in cells if ok(c[3], want_inv) and ok(c[4], want_ph)]


def compare(baseline: pd.DataFrame, run: pd.DataFrame, options: Options | None = None) -> Comparison:
    """Compare run statistics with baseline statistics (both long tables).

    Parameters
    ----------
    baseline, run : pandas.DataFrame
        Long tables as returned by :func:`~melbench.report.tables.cell_stats`.
    options : Options, optional
        Tolerances and selections.

    Returns
    -------
    Comparison

    Raises
    ------
    CompareInputError
        If no cell is shared, or a requested or baseline metric is missing from the run.
    """
    opt = options or Options()
    res = Comparison()
    base_cells, run_cells = _cells(baseline), _cells(run)
    common = [c for c in base_cells if c in set(run_cells)]
    labels = short_labels(sorted({c[i] for c in base_cells + run_cells for i in (3, 4)}))
    if not common:
        def show(cells: list[tuple[str, ...]]) -> str:
            txt = "; ".join(f"{_fmt_cell(c, labels)} ({c[0]}, {c[1]}, {c[2]})" for c in cells[:4])
            return txt + (f"; ... ({len(cells)} in all)" if len(cells) > 4 else "")

        raise CompareInputError(
            "the baseline is for different cells than the run (no (dataset, spec, degrade, "
            f"inverter, phase) in common).\n  baseline: {show(base_cells)}\n  run:      "
            f"{show(run_cells)}\nrun the baseline's sweep, or compare with the right baseline"
        )
    base_metrics = list(dict.fromkeys(baseline["metric"]))
    run_metrics = set(run["metric"])
    if opt.metrics:
        unknown = [m for m in opt.metrics if m not in base_metrics]
        if unknown:
            raise CompareInputError(f"unknown metric(s) {unknown}; metrics in the baseline: "
                                    f"{', '.join(base_metrics)}")
        base_metrics = list(opt.metrics)
    for pattern in opt.tolerances:
        if pattern not in DEFAULT_TOLERANCES and not any(
                fnmatch.fnmatchcase(m, pattern) for m in base_metrics):
            raise CompareInputError(f"--tol {pattern}: unknown metric; metrics in the baseline: "
                                    f"{', '.join(base_metrics)}")
    absent = [m for m in base_metrics if m not in run_metrics
              and not (opt.time_tol is None and is_time_metric(m))]
    if absent:
        raise CompareInputError(
            f"metric(s) {absent} are in the baseline but not in the run (was the metric set "
            f"changed?); run metrics: {', '.join(sorted(run_metrics))}"
        )
    res.n_cells = len(common)

    def add(kind: str, cell: tuple[str, ...], what: str, msg: str) -> None:
        res.findings.append(Finding(kind, cell, what, msg))

    for cell in base_cells:
        if cell not in common:
            kind = "note" if opt.allow_missing else "regression"
            add(kind, cell, "cell", "missing from the run")
    for cell in run_cells:
        if cell not in set(base_cells):
            add("note", cell, "cell", "not in the baseline (not gated)")

    b = baseline.set_index([*CELL_COLUMNS, "metric"]).sort_index()
    r = run.set_index([*CELL_COLUMNS, "metric"]).sort_index()
    quality = [m for m in base_metrics if not is_time_metric(m)]
    for cell in common:
        # coverage: fewer clips scored than in the baseline
        if "n_ok" in baseline.columns and quality:
            nb = int(b.loc[(*cell, quality[0]), "n_ok"])
            nr = int(r.loc[(*cell, quality[0]), "n_ok"])
            res.n_checks += 1
            if nr < nb:
                add("regression", cell, "clips", f"{nr} clip(s) scored, baseline {nb} "
                    f"({int(r.loc[(*cell, quality[0]), 'n_failed'])} failed or skipped)")
        for m in quality:
            tol = tolerance_for(m, opt.tolerances)
            direction = str(b.loc[(*cell, m), "better"]) if "better" in b.columns else ""
            if tol is None or direction not in ("lower", "higher"):
                continue
            bv, rv = float(b.loc[(*cell, m), "mean"]), float(r.loc[(*cell, m), "mean"])
            res.n_checks += 1
            if math.isnan(bv):
                continue
            if math.isnan(rv):
                add("regression", cell, m, f"not scored (baseline {bv:.4g})")
                continue
            if math.isinf(bv) and bv == rv:
                continue
            worse = (rv - bv) if direction == "lower" else (bv - rv)
            if worse > tol:
                add("regression", cell, m,
                    f"{bv:.4g} -> {rv:.4g} (worse by {worse:.3g} > tolerance {tol:g})")
            elif worse < -tol:
                add("improved", cell, m,
                    f"{bv:.4g} -> {rv:.4g} (better by {-worse:.3g}; consider updating the baseline)")
    if opt.time_tol is not None and any(is_time_metric(m) for m in base_metrics):
        _check_time(baseline, run, common, opt, res, add)
    return res


def _check_time(baseline, run, common, opt, res, add) -> None:  # noqa: ANN001
    """Seconds per clip relative to a reference cell of the same run (see module doc)."""
    bsec, rsec = _seconds(baseline), _seconds(run)
    if not bsec or not rsec:
        return
    by_group: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for cell in common:
        by_group.setdefault(cell[: len(GROUP_COLUMNS)], []).append(cell)
    for group, cells in by_group.items():
        timed = [c for c in cells if np.isfinite(bsec.get(c, np.nan))
                 and np.isfinite(rsec.get(c, np.nan)) and bsec[c] > 0 and rsec[c] > 0]
        if len(timed) < 2:
            continue
        if opt.time_reference:
            refs = _match_reference(timed, opt.time_reference)
            if not refs:
                raise CompareInputError(
                    f"--time-reference {opt.time_reference!r} matches no cell of group "
                    f"{group}; cells: {', '.join(c[3] + '/' + c[4] for c in timed)}")
            if len(refs) > 1:
                raise CompareInputError(
                    f"--time-reference {opt.time_reference!r} is ambiguous: "
                    f"{', '.join(c[3] + '/' + c[4] for c in refs)}; give full labels")
            ref = refs[0]
        else:
            ordered = sorted(timed, key=lambda c: (bsec[c], c))
            ref = ordered[(len(ordered) - 1) // 2]  # the median cell: neither tiny nor huge
        res.time_reference[group] = f"{ref[3]} / {ref[4]}"
        for cell in timed:
            if cell == ref:
                continue
            res.n_checks += 1
            if rsec[cell] < opt.time_min_rtf and bsec[cell] < opt.time_min_rtf:
                continue
            rb, rr = bsec[cell] / bsec[ref], rsec[cell] / rsec[ref]
            if rr > rb * opt.time_tol:
                add("regression", cell, "time",
                    f"{rr:.2f}x the reference's time (baseline {rb:.2f}x; "
                    f"tolerance x{opt.time_tol:g})")


def format_comparison(res: Comparison, *, verbose: bool = False) -> str:
    """Human-readable report: regressions first, then improvements and notes."""
    cells = {f.cell for f in res.findings}
    labels = short_labels(sorted({c[i] for c in cells for i in (3, 4)}))
    lines = []
    for group, ref in res.time_reference.items():
        lines.append(f"time reference ({', '.join(group)}): {ref}")
    order = {"regression": 0, "improved": 1, "note": 2}
    for f in sorted(res.findings, key=lambda f: order[f.kind]):
        if f.kind == "note" and not verbose and f.what != "cell":
            continue
        tag = {"regression": "REGRESSION", "improved": "improved  ", "note": "note      "}[f.kind]
        where = f"{_fmt_cell(f.cell, labels)} [{f.cell[0]}, {f.cell[1]}, {f.cell[2]}]"
        lines.append(f"{tag} {where} {f.what}: {f.message}")
    n = len(res.regressions)
    lines.append(f"{'FAIL' if n else 'OK'}: {n} regression(s) in {res.n_checks} check(s) "
                 f"over {res.n_cells} cell(s)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``melbench compare``."""
    p = argparse.ArgumentParser(
        prog="melbench compare", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare a run with a committed baseline, per cell and metric; "
                    "exit 1 if anything regressed beyond its tolerance.",
    )
    p.add_argument("baseline", type=Path,
                   help="baseline table (CSV from --update or `melbench report`), or a run dir")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run or sweep directories")
    p.add_argument("--tol", action="append", default=[], metavar="METRIC=VALUE",
                   help="quality tolerance (globs allowed: '*_db=1.0'); defaults: "
                        + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_TOLERANCES.items()))
    p.add_argument("--metrics", default=None, help="comma-separated metrics to check (default all)")
    p.add_argument("--time-tol", type=_positive, default=2.0,
                   help="allowed growth factor of the time ratio to the reference (default 2)")
    p.add_argument("--no-time", action="store_true", help="skip the time check")
    p.add_argument("--time-reference", default=None, metavar="INVERTER/PHASE",
                   help="reference cell of the time ratio (default: the baseline's median-time "
                        "cell of each group)")
    p.add_argument("--time-min-rtf", type=float, default=0.01,
                   help="cells whose time (real-time factor: seconds per second of audio) is "
                        "below this in run and baseline are not time-gated (default 0.01)")
    p.add_argument("--allow-missing", action="store_true",
                   help="baseline cells absent from the run are notes, not regressions")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="compare even if a run did not finish")
    p.add_argument("--update", action="store_true",
                   help="write the run's statistics to BASELINE instead of comparing")
    p.add_argument("-v", "--verbose", action="store_true", help="print every note")
    return p


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0")
    return value


def _parse_tolerances(items: Sequence[str]) -> dict[str, float]:
    tol = dict(DEFAULT_TOLERANCES)
    for item in items:
        if "=" not in item:
            raise CompareInputError(f"--tol {item!r}: expected METRIC=VALUE, e.g. sc_db=0.5")
        k, v = item.split("=", 1)
        try:
            value = float(v)
        except ValueError as exc:
            raise CompareInputError(f"--tol {item!r}: {v!r} is not a number") from exc
        if not value >= 0:
            raise CompareInputError(f"--tol {item!r}: a tolerance must be >= 0")
        tol[k.strip()] = value
    return tol


def main(argv: list[str] | None = None) -> int:
    """Run ``melbench compare``; returns the exit code (0 ok, 1 regression, 2 input error)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        runs = load_runs(args.runs)
        if runs.incomplete and not args.allow_incomplete:
            raise CompareInputError(
                "the run is incomplete:\n  " + "\n  ".join(runs.warnings)
                + "\nfinish it (rerun the same command; done clips come from the cache) "
                "or pass --allow-incomplete")
        for w in runs.warnings:
            print(f"melbench compare: warning: {w}", file=sys.stderr)
        if args.update:
            return _update(args.baseline, runs.rows)
        baseline = read_baseline(args.baseline)
        metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
        run_stats = cell_stats(runs.rows, n_boot=200)
        opt = Options(
            tolerances=_parse_tolerances(args.tol), metrics=metrics,
            time_tol=None if args.no_time else args.time_tol,
            time_reference=args.time_reference, time_min_rtf=args.time_min_rtf,
            allow_missing=args.allow_missing,
        )
        res = compare(baseline, run_stats, opt)
    except (CompareInputError, RunInputError) as exc:
        print(f"melbench compare: error: {exc}", file=sys.stderr)
        return USAGE
    print(f"melbench compare: baseline {args.baseline} vs {', '.join(map(str, args.runs))}")
    print(format_comparison(res, verbose=args.verbose))
    return REGRESSION if res.regressions else OK


def _update(path: Path, rows: pd.DataFrame) -> int:
    from .results import atomic_write_text

    if rows.empty:
        raise CompareInputError("the run has no rows; nothing to write")
    stats = cell_stats(rows)
    failed = int((rows["status"] != "ok").sum()) if "status" in rows.columns else 0
    if failed:
        print(f"melbench compare: warning: {failed} row(s) not scored in the run; the baseline "
              "records them (n_failed) and will flag runs that score fewer clips", file=sys.stderr)
    atomic_write_text(path, stats[list(STATS_COLUMNS)].to_csv(index=False))
    print(f"baseline written: {path} ({stats[list(CELL_COLUMNS)].drop_duplicates().shape[0]} "
          f"cell(s), {stats['metric'].nunique()} metric(s))")
    return OK
