"""``melbench papers``: list the paper reproductions, run one, or write its report.

::

    melbench papers list
    melbench papers run NAME [HYDRA_OVERRIDE...] [-o OUT] [--note TEXT]
    melbench papers report NAME RUN_DIR_OR_ROWS_CSV... [-o OUT] [--command CMD] [--note TEXT]

``run`` is ``melbench run -m +experiment=NAME hydra.sweep.dir=outputs/papers/NAME`` (plus
any overrides, e.g. another dataset) followed by ``report``. Exit codes: 0 written; 1 the
run failed (some cell); 2 bad input (unknown experiment, no rows, bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import MelbenchError

__all__ = ["main", "parser"]

PROG = "melbench papers"


def parser() -> argparse.ArgumentParser:
    """Argument parser of ``melbench papers``."""
    from .registry import EXPERIMENTS

    names = ", ".join(EXPERIMENTS)
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Paper reproductions: each is a Hydra experiment "
                    "(conf/experiment/<name>.yaml) whose report puts melbench's numbers beside "
                    "the paper's (results/papers/<name>/README.md + rows.csv).",
        epilog=f"experiments: {names}\nexit codes: 0 written; 1 a cell of the run failed; "
               "2 bad input (unknown experiment, no rows).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command_name", metavar="{list,run,report}")
    sub.add_parser("list", help="list the experiments with the command of each",
                   description="List the experiments with the command of each.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--out", type=Path, default=None,
                        help="output folder (default results/papers/<experiment>)")
    common.add_argument("--note", default="",
                        help="what this run changed against the documented set-up (e.g. "
                             "'evaluation-suite speech, 10 clips'); shown on the page")
    common.add_argument("--melbench-report", action="store_true",
                        help="also write `melbench report`'s tables and figures into OUT/report")
    run = sub.add_parser("run", parents=[common], help="run the sweep, then write the report",
                         description="Run `melbench run -m +experiment=NAME "
                                     "hydra.sweep.dir=outputs/papers/NAME [OVERRIDE...]`, then "
                                     "write the report from its rows.")
    run.add_argument("experiment", help=f"experiment name ({names})")
    run.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                     help="Hydra overrides for the sweep (e.g. dataset=asterisk dataset.subset=10)")
    rep = sub.add_parser("report", parents=[common],
                         help="write the report from a run's rows",
                         description="Write README.md + rows.csv from the rows of "
                                     "`melbench run -m +experiment=NAME` (sweep directories or "
                                     "a rows.csv, e.g. the committed one to regenerate the page).")
    rep.add_argument("experiment", help=f"experiment name ({names})")
    rep.add_argument("runs", nargs="*", metavar="RUN_DIR", help="sweep/run directories or rows.csv")
    rep.add_argument("--command", default=None,
                     help="the command that produced the run, if not the documented one")
    return p


def _error(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run ``melbench papers``; returns the exit code."""
    from .registry import EXPERIMENTS, write_report

    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command_name is None:
        p.print_usage(sys.stderr)
        return 2
    if args.command_name == "list":
        for name, exp in EXPERIMENTS.items():
            print(f"{name:26s} {exp.title}\n{'':26s} {exp.command}")
        return 0
    if args.experiment not in EXPERIMENTS:
        return _error(f"unknown experiment {args.experiment!r}; known: {', '.join(EXPERIMENTS)}")
    name = args.experiment
    out = args.out or Path("results/papers") / name
    command = None
    if args.command_name == "run":
        from .. import cli as melbench_cli

        sweep = f"outputs/papers/{name}"
        for o in args.overrides:
            if o.startswith("hydra.sweep.dir="):
                sweep = o.split("=", 1)[1]
        overrides = [o for o in args.overrides if not o.startswith("hydra.sweep.dir=")]
        run_argv = ["run", "-m", f"+experiment={name}", *overrides, f"hydra.sweep.dir={sweep}"]
        command = "melbench " + " ".join(run_argv)
        rc = melbench_cli.main(run_argv)
        if rc != 0:
            print(f"{PROG}: the run exited with {rc}; the report is written from the rows "
                  "that exist", file=sys.stderr)
        runs = [sweep]
    else:
        if not args.runs:
            return _error("give the run directory (or rows.csv) to report")
        runs, command, rc = args.runs, args.command, 0
    try:
        path = write_report(name, runs, out, command=command,
                            melbench_report=args.melbench_report, note=args.note)
    except (MelbenchError, OSError, ValueError) as exc:
        return _error(f"{type(exc).__name__}: {exc}")
    print(f"report written to {path}")
    return 1 if rc else 0
