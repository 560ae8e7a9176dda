"""Průša, Balazs & Søndergaard (2017): Table 1's methods from the true magnitude, beside the table.

Z. Průša, P. Balazs, P. L. Søndergaard, "A Noniterative Method for Reconstruction of Phase
From STFT Magnitude", IEEE/ACM TASLP 25(5):1154-1164, 2017 (Sec. V, Table 1). Data:
``paper.yaml`` beside this file. :func:`prusa_sections` is shared with ``beyond_papers``.
"""

from __future__ import annotations

import math

import pandas as pd

from ..data import Paper, Published
from ..keys import display
from ..render import Section, gap_lines, md_table, order_text
from ..stats import kendall_tau, method_means, ok_rows, ordering, pairwise_agreement

#: The registry checks that ``paper.yaml`` has a ``published`` table.
REQUIRES_PUBLISHED = True
#: Method pairs whose gaps the report compares with the paper's (better first).
PRUSA_GAPS = [("pghi", "spsi"), ("fgla", "gla"), ("pghi>fgla", "fgla"), ("pghi>gla", "gla"),
              ("pghi>fgla", "pghi"), ("rtisi_la", "fgla"), ("pghi", "gla")]

CAPTION = (
    "SC in dB (lower is better) of the output's re-analysed magnitude against the given "
    "(true) magnitude, `sc_db`, aggregated over clips two ways: melbench's mean of the dB "
    "values, and the papers' dB of the mean linear SC (`20 log10(mean(10^(sc_db/20)))`; the "
    "speech, music and all orderings and gaps below use this one). FFT pairs: counted per "
    "clip (`fft_pairs`, melbench.costs; one pair = one inverse plus one forward FFT of every "
    "frame; PGHI, SPSI and LWS do no FFTs). Seconds: phase-retrieval wall time per clip on 2 "
    "shared cores."
)


def prusa_sections(rows: pd.DataFrame, published: Published, *, beyond: bool = False) -> list[Section]:
    """One table per spec: melbench's SC (both aggregates) beside the published columns.

    Parameters
    ----------
    rows : pandas.DataFrame
        The run's rows (``sc_db``, ``kind``, ``fft_pairs``, ``t_phase``).
    published : Published
        Table 1 (columns ``all`` and ``speech``, by method key).
    beyond : bool
        Title and list the methods the paper did not have (the ``beyond_papers`` report).
    """
    if method_means(rows).empty:
        return [Section("Results", "(no scored rows)")]
    table_rows = published.rows
    sections = []
    specs = sorted(ok_rows(rows)["spec"].unique()) if "spec" in rows else []
    for spec in specs or [None]:
        part = rows if spec is None else rows[rows["spec"] == spec]
        m = method_means(part)
        paper_keys = list(table_rows)
        extra = [k for k in m["method"] if k not in table_rows]
        order = [k for k in paper_keys if k in set(m["method"])] + extra
        missing = [k for k in paper_keys if k not in set(m["method"])]
        body = []
        mm = m.set_index("method")
        for k in order + missing:
            have = k in mm.index
            pub = table_rows.get(k, (math.nan, math.nan))
            body.append([
                display(k) + ("" if k in table_rows else " *(not in the paper)*"),
                mm.at[k, "iters"] if have else "",
                mm.at[k, "fft_pairs"] if have else math.nan,
                mm.at[k, "all"] if have else "not run",
                mm.at[k, "all_lin"] if have else "–", mm.at[k, "speech_lin"] if have else "–",
                mm.at[k, "music_lin"] if have else "–", pub[0], pub[1],
                mm.at[k, "t_phase"] if have else math.nan,
            ])
        table = md_table(
            ["method", "iterations", "FFT pairs", "melbench all, mean of dB",
             "melbench all, dB of mean", "speech, dB of mean", "music, dB of mean",
             "paper all (SQAM) †", "paper speech †", "seconds / clip"], body, digits=2)
        # orderings and gaps use the papers' aggregation (dB of the mean linear SC)
        ours_all = {k: float(v) for k, v in mm["all_lin"].items()}
        ours_sp = {k: float(v) for k, v in mm["speech_lin"].items()}
        paper_all = published.column("all")
        paper_sp = published.column("speech")
        lines = []
        a, t, flipped = pairwise_agreement(ours_all, paper_all)
        tau = kendall_tau(ours_all, paper_all)
        here = order_text({k: ours_all[k] for k in ours_all if k in table_rows})
        lines.append(f"Ordering, all clips, best first. Here: {here.replace(' < ', ' > ')}.")
        lines.append("Paper (all SQAM files): "
                     + order_text({k: v for k, v in paper_all.items() if k in ours_all})
                     .replace(" < ", " > ") + ".")
        lines.append(f"Pairs of the paper's methods ordered as in the paper: {a} of {t}"
                     + (f" (Kendall tau {tau:.2f})" if tau == tau else "")
                     + (f"; reversed: {', '.join(flipped)}" if flipped else "") + ".")
        a2, t2, fl2 = pairwise_agreement(ours_sp, paper_sp)
        if t2:
            lines.append(f"Speech clips against the paper's speech column: {a2} of {t2} pairs agree"
                         + (f"; reversed: {', '.join(fl2)}" if fl2 else "") + ".")
        lines += gap_lines(ours_all, paper_all, PRUSA_GAPS)
        if beyond and extra:
            best = ordering(ours_all)
            lines.append("All methods here, best first: "
                         + " > ".join(f"{display(k)} ({ours_all[k]:.1f})" for k in best) + ".")
        title = f"Table 1 beside melbench ({spec})" if spec else "Table 1 beside melbench"
        if beyond:
            title = f"Prusa et al.'s Table 1 extended ({spec})" if spec else "Table 1 extended"
        where = f" ({published.where})" if published.where else ""
        body_text = (table + "\n" + CAPTION + "\n\n"
                     f"† Published columns{where}, source {published.source}.\n\n"
                     + "\n".join(f"- {s}" for s in lines) + "\n")
        sections.append(Section(title, body_text))
    return sections


def build(rows: pd.DataFrame, paper: Paper) -> list[Section]:
    """The report's sections: Table 1 beside melbench per spec, then the discussion."""
    return [*prusa_sections(rows, paper.table()), Section("Discussion", paper.discussion)]
