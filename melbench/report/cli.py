"""``melbench report RUN_DIR... [-o OUT]``: tables, figures and an HTML page from runs.

Exit codes: 0 report written; 2 bad input (missing or unreadable run
directory, unknown metric, bad option). Incomplete runs are reported as
warnings (stderr and the page) and the report is still written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..results import atomic_write_text

#: Files written (figures and ``audio/`` come on top).
OUTPUTS = ("results.md", "results.csv", "results.tex", "index.html")
#: Written when the rows have kind / source columns (issue 14).
GROUPED_OUTPUTS = ("results_by_kind.md", "results_by_kind.csv", "results_by_source.md",
                   "results_by_source.csv")

EPILOG = """\
outputs (in OUT): results.md, results.csv (long format: one line per cell and metric,
also the format of `melbench compare` baselines; without the @lin SC columns of the other
tables), results.tex, index.html,
results_by_kind.md/.csv and results_by_source.md/.csv (per clip kind / source), PNG figures
(convergence.png when runs used trace=true: SC against the true magnitude, or the
phase stage's consistency when the traces lack it, vs FFT pairs and vs seconds;
pareto_<metric>.png: quality vs seconds, pareto_fft_pairs_<metric>.png: quality vs FFT
pairs; dist_<metric>.png) and audio/ (from runs with save_audio=N: 32-bit float WAVs and
their spectrogram PNGs, shown in index.html beside each clip's scores).

exit codes: 0 written; 2 bad input (missing/half-written run directory, unknown metric).
"""


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``melbench report``."""
    p = argparse.ArgumentParser(
        prog="melbench report", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Comparison tables (mean and 95%% bootstrap CI per cell and metric), figures "
                    "and a static HTML page with audio players, from run or sweep directories.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run or sweep directories")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="output folder (default: RUN_DIR/report for one directory, "
                        "./melbench-report for several)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated metric columns (default: every metric in the rows)")
    p.add_argument("--quality", default=None,
                   help="quality metric of the Pareto and distribution figures "
                        "(default: the first of pesq_wb, stoi, sc_true_db, sc_db present)")
    p.add_argument("--audio-clips", type=int, default=3, metavar="N",
                   help="clips per group in the listening section: players (32-bit float "
                        "WAV), the clip's scores and spectrogram images (default 3; needs runs "
                        "with save_audio=N)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--no-html", action="store_true", help="skip the HTML page")
    p.add_argument("--title", default="melbench report", help="report title")
    p.add_argument("--no-sc-linear", action="store_true",
                   help="leave out the dB-of-mean-linear-SC columns (<sc column>@lin); SC columns "
                        "are always also given as the mean of per-clip dB values")
    p.add_argument("--by", default="kind,source", metavar="COLS",
                   help="clip columns of the grouped tables results_by_<col>.md/.csv (default "
                        "kind,source; a metric that does not apply to a kind, e.g. PESQ on "
                        "music, is left out of that kind's table with the reason); '' = none")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``melbench report``; returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for bad usage
        return int(exc.code or 0)
    from . import html, kinds, plots, tables
    from .runs import RunInputError, load_runs

    try:
        runs = load_runs(args.runs)
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
        stats = tables.cell_stats(runs.rows, metrics, n_boot=args.n_boot, seed=args.seed)
        # results.csv stays the baseline format of `melbench compare` (metric columns of the
        # rows only); the tables shown also give the dB of the mean linear SC
        table_stats = stats if args.no_sc_linear else tables.with_sc_linear(
            stats, runs.rows, n_boot=args.n_boot, seed=args.seed)
        grouped = {}
        for col in [c.strip() for c in args.by.split(",") if c.strip()]:
            if col not in runs.rows.columns or not runs.rows[col].astype(str).str.strip().any():
                continue
            by = ["kind", col] if col == "source" and "kind" in runs.rows.columns else [col]
            grouped[col] = (by, *kinds.grouped_stats(runs.rows, by, metrics,
                                                      sc_linear=not args.no_sc_linear,
                                                      n_boot=args.n_boot, seed=args.seed))
        if args.quality and args.quality not in runs.rows.columns:
            raise KeyError(f"unknown quality metric {args.quality!r}; metrics in these rows: "
                           f"{', '.join(tables.select_metrics(runs.rows))}")
    except RunInputError as exc:
        print(f"melbench report: error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"melbench report: error: {exc.args[0]}", file=sys.stderr)
        return 2
    for w in runs.warnings:
        print(f"melbench report: warning: {w}", file=sys.stderr)

    out = args.out or (Path(args.runs[0]) / "report" if len(args.runs) == 1
                       else Path("melbench-report"))
    out.mkdir(parents=True, exist_ok=True)
    md = tables.to_markdown(table_stats, title=args.title)
    clip_kinds = sorted({str(k) for k in runs.rows.get("kind", []) if str(k) not in ("", "nan")})
    if len(clip_kinds) > 1 and "kind" in grouped:
        md += (f"\nThese tables pool clips of several kinds ({', '.join(clip_kinds)}): a speech metric "
               "(PESQ, STOI...) is averaged over every clip it scored. Per-kind tables, with the "
               "metrics that do not apply left out: results_by_kind.md.\n")
    atomic_write_text(out / "results.md", md)
    atomic_write_text(out / "results.csv", tables.to_csv(stats))
    atomic_write_text(out / "results.tex", tables.to_latex(table_stats))
    for col, (by, gstats, excluded) in grouped.items():
        atomic_write_text(out / f"results_by_{col}.md", kinds.grouped_markdown(
            gstats, by, excluded, title=f"{args.title}: by {' and '.join(by)}"))
        atomic_write_text(out / f"results_by_{col}.csv", gstats.to_csv(index=False))
    directions = dict(zip(stats["metric"], stats["better"], strict=False))
    quality = args.quality or plots.quality_metric(runs.rows)
    # the figures' metrics, also the per-clip scores beside the players
    shown = [quality] if quality else []
    shown += [m for m in plots.QUALITY_ORDER if m in directions and m not in shown][:2]
    figures: list[Path] = []
    if not args.no_plots and not runs.rows.empty:
        better = directions.get(quality) or "lower"
        drawn = [
            plots.convergence(runs.rows, out),
            plots.pareto(runs.rows, out, quality=quality, better=better),
            plots.pareto(runs.rows, out, quality=quality, better=better, cost="fft_pairs"),
        ]
        drawn += [plots.distributions(runs.rows, out, m) for m in shown]
        figures = [f for f in drawn if f is not None]
    if not args.no_html:
        audio = html.find_audio(runs.rows, max_clips=args.audio_clips, metrics=shown)
        html.write_html(out, table_stats, runs.rows, figures=figures, audio=audio,
                        sources=[str(p) for p in args.runs], warnings=runs.warnings,
                        title=args.title)
    written = sorted(p.relative_to(out).as_posix() for p in out.iterdir() if p.is_file())
    print(f"report written to {out}: {', '.join(written)}")
    return 0
