"""Markdown rendering of the paper reports: tables, verdicts and the page around the sections."""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .data import Paper
from .keys import display, method_key
from .stats import ordering

__all__ = ["Section", "claim", "gap_lines", "md_table", "order_text", "render", "report_commands"]


@dataclass
class Section:
    """A titled piece of a report (Markdown body)."""

    title: str
    body: str


class Reproduction(Protocol):
    """What :func:`render` needs of a reproduction (:class:`~melbench.papers.registry.PaperExperiment`)."""

    name: str
    paper: Paper
    build: Callable[[pd.DataFrame, Paper], list[Section]]

    @property
    def command(self) -> str:
        """The documented command that produces the run."""
        ...


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (float, np.floating)):
        if abs(v) < 0.01 and v != 0:
            return f"{v:.2g}"
        return f"{v:.{digits}f}"
    return str(v)


def md_table(header: Sequence[str], body: Iterable[Sequence[Any]], digits: int = 2) -> str:
    """A GitHub Markdown table (floats with ``digits`` decimals, NaN as ``–``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for rec in body:
        lines.append("| " + " | ".join(_fmt(v, digits) for v in rec) + " |")
    return "\n".join(lines) + "\n"


def claim(ok: bool | None, margin: float | None = None, unit: str = "dB") -> str:
    """``holds`` / ``**does not hold**`` with the margin in favour of the claim, if given."""
    if ok is None:
        return "–"
    text = "holds" if ok else "**does not hold**"
    if margin is not None and margin == margin:
        text += f" ({margin:+.2f} {unit})"
    return text


def order_text(values: Mapping[str, float]) -> str:
    """Display names best first, joined by ``" < "``."""
    return " < ".join(display(k) for k in ordering(values))


def gap_lines(ours: Mapping[str, float], paper: Mapping[str, float],
              pairs: Sequence[tuple[str, str]]) -> list[str]:
    """One line per ``(better, worse)`` pair: the gap here and in the paper, and whether signs agree."""
    lines = []
    for better, worse in pairs:
        if better in ours and worse in ours and better in paper and worse in paper:
            g_ours = ours[worse] - ours[better]
            g_paper = paper[worse] - paper[better]
            if g_ours != g_ours:
                continue
            verdict = "same sign" if (g_ours > 0) == (g_paper > 0) else "**opposite sign**"
            lines.append(f"{display(better)} vs {display(worse)}: {g_ours:+.1f} dB here, "
                         f"{g_paper:+.1f} dB in the paper ({verdict}; positive = "
                         f"{display(better)} better)")
    return lines


def _versions(rows: pd.DataFrame) -> list[str]:
    out = []
    if "versions" in rows and rows["versions"].notna().any():
        out.append("Run: " + str(rows["versions"].dropna().iloc[0]))
    try:
        import numba

        numba_v = numba.__version__
    except ImportError:  # pragma: no cover
        numba_v = "absent"
    from ..provenance import package_version

    out.append(f"Report written with: melbench {package_version('melbench')}, numpy {np.__version__}, "
               f"scipy {package_version('scipy')}, numba {numba_v}, pandas {pd.__version__}, "
               f"Python {platform.python_version()} ({platform.machine()})")
    stages = [c for c in ("t_invert", "t_phase", "t_synth") if c in rows]
    if stages:
        total = float(pd.to_numeric(rows[stages].stack(), errors="coerce").sum())
        out.append(f"Compute time of the pipeline stages summed over all rows: {total:.0f} s "
                   "(2 cores shared with other jobs; the sweep's wall time adds start-up and "
                   "metrics)")
    if "plugin_versions" in rows:
        plugins: set[str] = set()
        for text in rows["plugin_versions"].dropna().astype(str):
            plugins.update(p.strip() for p in text.split(";") if p.strip())
        if plugins:
            out.append("Plugins: " + "; ".join(sorted(plugins)))
    return out


def _failures(rows: pd.DataFrame) -> str:
    if "status" not in rows:
        return ""
    bad = rows[rows["status"] != "ok"]
    if bad.empty:
        return ""
    lines = ["Rows not scored (kept in rows.csv):", ""]
    seen = set()
    for r in bad.itertuples(index=False):
        key = (r.inverter, r.phase, str(r.error)[:160])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- {method_key(r.inverter)} / {method_key(r.phase)} ({r.spec}): "
                     f"{r.status}: {str(r.error)[:300]}")
    return "\n".join(lines) + "\n"


def _cells(rows: pd.DataFrame) -> str:
    """Each (inverter, phase) label of the run with its specs and mel tracks."""
    body = []
    keys = [c for c in ("inverter", "phase") if c in rows]
    for (inv, ph), g in rows.groupby(keys, sort=False):
        specs = ", ".join(dict.fromkeys(g["spec"].astype(str))) if "spec" in g else ""
        degr = ", ".join(dict.fromkeys(g["degrade"].astype(str))) if "degrade" in g else ""
        body.append([f"`{inv}`", f"`{ph}`", specs, degr, len(g)])
    return md_table(["inverter", "phase", "specs", "mel track", "rows"], body)


def report_commands(name: str, out: str, run_command: str = "") -> str:
    """The command that writes a reproduction's page from its sweep directory.

    The sweep directory is the ``hydra.sweep.dir=`` of ``run_command`` if it names one,
    else ``outputs/papers/<name>``.
    """
    sweep = f"outputs/papers/{name}"
    for word in run_command.split():
        if word.startswith("hydra.sweep.dir="):
            sweep = word.split("=", 1)[1]
    return f"melbench papers report {name} {sweep} -o {out}"


def render(exp: Reproduction, rows: pd.DataFrame, *, command: str | None = None,
           out: str | None = None, extras: Sequence[str] = (), note: str = "",
           rows_file: str = "rows.csv") -> str:
    """The Markdown report of one reproduction from its rows.

    Parameters
    ----------
    exp : PaperExperiment
        The reproduction (its data file and its section builder).
    rows : pandas.DataFrame
        The run's rows.
    command : str, optional
        The command that produced the run (default: the documented one, ``exp.command``).
    out : str, optional
        The report's folder as the commands on the page name it (default
        ``results/papers/<name>``).
    extras : sequence of str
        Files beside the report (``melbench report``'s tables and figures) to link.
    note : str
        What this run changed against the documented set-up (e.g. other material); shown
        under the summary and first in the set-up list.
    rows_file : str
        Name of the rows file beside the page (``rows.csv``, or ``rows.csv.gz`` for large runs).
    """
    out = out or f"results/papers/{exp.name}"
    paper = exp.paper
    parts = [f"# {paper.title}\n", paper.summary.strip() + "\n"]
    if note:
        parts.append(f"**This run:** {note}\n")
    parts.append("Sources: " + " ".join(f"[{i + 1}] {c}" for i, c in enumerate(paper.citations)) + "\n")
    parts.append("## Command\n")
    command = command or exp.command
    parts.append("```sh\n" + command + "\n" + report_commands(exp.name, out, command) + "\n```\n")
    parts.append(f"`{rows_file}` here holds every row of that run ({len(rows)} rows). "
                 "Regenerate this page from it "
                 f"with `melbench papers report {exp.name} {out}/{rows_file} -o {out}`, or make "
                 f"the generic tables, plots and HTML page with `melbench report {out}/{rows_file} "
                 "-o <folder>`.\n")
    if extras:
        parts.append("Also here, made by `melbench report` from the same rows: "
                     + ", ".join(f"[`{e}`]({e})" for e in extras) + ".\n")
    for sec in exp.build(rows, paper):
        parts.append(f"## {sec.title}\n")
        parts.append(sec.body.rstrip() + "\n")
    fails = _failures(rows)
    if fails:
        parts.append(fails)
    parts.append("## Cells: the exact plugin parameters\n")
    parts.append(_cells(rows))
    parts.append("## Set-up: the paper and here\n")
    parts.append("The paper (what was checked in the authors' code):\n")
    parts.append("\n".join(f"- {s}" for s in paper.paper_setup) + "\n")
    parts.append("Here:\n")
    here = ([f"This run: {note} The documented set-up, which the command line overrides:"]
            if note else [])
    parts.append("\n".join(f"- {s}" for s in [*here, *paper.melbench_setup]) + "\n")
    parts.append("## Versions\n")
    parts.append("\n".join(f"- {v}" for v in _versions(rows)) + "\n")
    return "\n".join(parts)
