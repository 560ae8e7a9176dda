"""Text rendering of report tables: numbers, labels, Markdown and LaTeX cells.

The pieces every table format shares and that need no statistics: number and
interval formatting (:func:`fmt_num`, :func:`fmt_ci`), one group's wide table
(:func:`wide`: cells as rows, metrics as columns), the shortened plugin labels of
tables and figures (:func:`short_labels`, :func:`display_labels`), label wrapping so
that a long label takes several short lines instead of widening a table or a figure
(:func:`wrap_label`), and the Markdown/LaTeX table bodies. The documents built from
the statistics (``results.md``, ``results.tex``) are in :mod:`melbench.report.tables`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..labels import parse_label

#: Longest line of a wrapped plugin label in tables (characters).
LABEL_WIDTH = 28
#: Columns of :func:`wide` that hold plugin labels.
LABEL_COLUMNS = ("inverter", "phase")

def fmt_num(v: Any) -> str:
    """Compact number for tables: 3 decimals, or 3 significant digits when small."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    if x != 0 and abs(x) < 0.01:
        return f"{x:.3g}"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.3f}"


def fmt_ci(mean: float, lo: float, hi: float) -> str:
    """``mean [lo, hi]`` (just the mean without an interval)."""
    if math.isnan(lo) or math.isnan(hi):
        return fmt_num(mean)
    return f"{fmt_num(mean)} [{fmt_num(lo)}, {fmt_num(hi)}]"



def group_title(group: Mapping[str, str]) -> str:
    """``dataset: ..., spec: ..., degrade: ...`` (empty fields left out)."""
    return ", ".join(f"{k}: {v}" for k, v in group.items() if v not in ("", "nan"))


def wide(
    part: pd.DataFrame,
    *,
    mark: tuple[str, str] = ("", ""),
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One group's cells as rows and metrics as columns of ``mean [lo, hi]`` text.

    Parameters
    ----------
    part : pandas.DataFrame
        Rows of the long table for one group.
    mark : (str, str)
        Text put before and after the best value of each column.
    labels : mapping, optional
        Display names of plugin labels (see :func:`display_labels`).

    Returns
    -------
    pandas.DataFrame
        Columns inverter, phase, n, seeds, failed, then one column per metric
        (named ``metric ↓`` / ``metric ↑`` by direction).
    """
    metrics = list(dict.fromkeys(part["metric"]))
    cells = part.drop_duplicates(["inverter", "phase"])[["inverter", "phase"]]
    rows = []
    for inv, ph in cells.itertuples(index=False):
        sub = part[(part["inverter"] == inv) & (part["phase"] == ph)].set_index("metric")
        first = sub.iloc[0]
        labels = labels or {}
        rec: dict[str, Any] = {"inverter": labels.get(inv, inv), "phase": labels.get(ph, ph),
                               "n": int(sub["n"].max()),
                               "seeds": int(first["n_seeds"]), "failed": int(first["n_failed"])}
        for m in metrics:
            if m not in sub.index:
                rec[header(m, part)] = "–"
                continue
            r = sub.loc[m]
            text = fmt_ci(r["mean"], r["ci_low"], r["ci_high"])
            rec[header(m, part)] = f"{mark[0]}{text}{mark[1]}" if bool(r["best"]) else text
        rows.append(rec)
    return pd.DataFrame(rows)


def header(metric: str, part: pd.DataFrame) -> str:
    """Column header with an arrow for the better direction."""
    d = part.loc[part["metric"] == metric, "better"]
    d = d.iloc[0] if len(d) else ""
    return f"{metric} {'↓' if d == 'lower' else '↑' if d == 'higher' else ''}".rstrip()


_LATEX_ESC = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "[": "{[}", "]": "{]}",
}


def latex_escape(text: str) -> str:
    r"""Escape LaTeX specials (brackets braced so that ``\\ [`` is never an argument)."""
    return "".join(_LATEX_ESC.get(ch, ch) for ch in str(text))



def short_labels(labels: Sequence[str]) -> dict[str, str]:
    """Shorter labels: keep only the parameters that differ between same-name plugins.

    ``["fgla[alpha=0.99,n_iter=5]", "fgla[alpha=0.9,n_iter=5]", "gla[n_iter=5]"]`` becomes
    ``fgla[alpha=0.99]``, ``fgla[alpha=0.9]``, ``gla``.
    """
    parsed = {lab: parse_label(lab) for lab in labels}
    by_name: dict[str, list[dict[str, str]]] = {}
    for name, params in parsed.values():
        by_name.setdefault(name, []).append(params)
    out = {}
    for lab, (name, params) in parsed.items():
        peers = by_name[name]
        keep = [k for k in sorted(params) if len({p.get(k) for p in peers}) > 1]
        out[lab] = f"{name}[{','.join(f'{k}={params[k]}' for k in keep)}]" if keep else name
    clashes = {v for v in out.values() if list(out.values()).count(v) > 1}
    return {lab: (lab if short in clashes else short) for lab, short in out.items()}


def cell_label(inverter: str, phase: str, short: Mapping[str, str] | None = None) -> str:
    """``inverter / phase`` (with shortened labels if given)."""
    short = short or {}
    return f"{short.get(inverter, inverter)} / {short.get(phase, phase)}"


def display_labels(stats: pd.DataFrame) -> dict[str, str]:
    """Short display names for every inverter/phase label of a long table."""
    if stats.empty:
        return {}
    return short_labels(sorted(set(stats["inverter"].astype(str)) | set(stats["phase"].astype(str))))


def label_notes(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(short, full)`` pairs for the labels that were shortened."""
    return [(v, k) for k, v in sorted(labels.items()) if v != k]


# --------------------------------------------------------------------------- wrapping

#: Where a label may break: after a separator (``,`` ``>`` ``/`` ``;`` a space) or before an
#: opening bracket, so that each line is a readable piece of the label (a chain step
#: ``fgla:100`` stays whole).
_BREAKS = re.compile(r"(?<=[,>/; ])|(?=\[)")


def wrap_label(text: Any, width: int = LABEL_WIDTH) -> list[str]:
    """Split a plugin or cell label into lines of at most ``width`` characters.

    Lines break at the label grammar's separators (after ``,``, ``>``, ``/``, ``;`` or a
    space, or before ``[``); a piece longer than ``width`` with no separator
    is cut hard. Joining the lines gives the label back unchanged.

    Parameters
    ----------
    text : str
        The label, e.g. ``lws[L=5,batch_alpha=100,...]`` or ``nnls / chain[pghi>fgla:100]``.
    width : int
        Longest line, >= 1.

    Returns
    -------
    list of str
        One element when the label already fits.

    Examples
    --------
    >>> wrap_label("lws[L=5,batch_alpha=100,look_ahead=3]", 16)
    ['lws[L=5,', 'batch_alpha=100,', 'look_ahead=3]']
    """
    text = str(text)
    if width < 1:
        raise ValueError(f"width={width}: must be >= 1")
    if len(text) <= width:
        return [text]
    pieces: list[str] = []
    for p in (p for p in _BREAKS.split(text) if p):
        pieces += [p[i:i + width] for i in range(0, len(p), width)]
    lines = [""]
    for p in pieces:
        if lines[-1] and len(lines[-1]) + len(p) > width:
            lines.append(p)
        else:
            lines[-1] += p
    return lines


def md_table(df: pd.DataFrame, *, width: int = LABEL_WIDTH) -> str:
    """A Markdown (GitHub) table; label columns wrapped with ``<br>`` at ``width`` characters."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rec in df.itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            parts = wrap_label(v, width) if c in LABEL_COLUMNS else [str(v)]
            cells.append("<br>".join(p.replace("|", "\\|") for p in parts))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex_table(w: pd.DataFrame, caption: str, *, width: int = LABEL_WIDTH) -> str:
    r"""One booktabs table of a :func:`wide` frame; best values marked ``\0B..\0E`` go bold.

    Label columns longer than ``width`` become ``\shortstack[l]{..\\..}`` cells (wrapped
    at the label's separators).
    """
    cols = list(w.columns)

    def cell(v: Any, label: bool = False) -> str:
        parts = wrap_label(v, width) if label else [str(v)]
        esc = [latex_escape(p).replace("↓", r"$\downarrow$").replace("↑", r"$\uparrow$")
               .replace("\0B", r"\textbf{").replace("\0E", "}") for p in parts]
        return esc[0] if len(esc) == 1 else r"\shortstack[l]{" + r"\\".join(esc) + "}"

    out = ["\\begin{table}[ht]\n\\centering\n\\small",
           f"\\caption{{{latex_escape(caption)}}}",
           f"\\begin{{tabular}}{{{'ll' + 'r' * (len(cols) - 2)}}}\n\\toprule",
           " & ".join(cell(c) for c in cols) + r" \\", "\\midrule"]
    for rec in w.itertuples(index=False):
        out.append(" & ".join(cell(v, c in LABEL_COLUMNS) for c, v in zip(cols, rec, strict=True))
                   + r" \\")
    out.append("\\bottomrule\n\\end{tabular}\n\\end{table}\n")
    return "\n".join(out)
