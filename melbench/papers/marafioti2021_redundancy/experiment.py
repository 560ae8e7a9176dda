"""Marafioti, Holighaus & Majdak (2021): PGHI against FGLA over STFT redundancy.

A. Marafioti, N. Holighaus, P. Majdak, "Time-Frequency Phase Retrieval for Audio: The Effect
of Transform Parameters", IEEE Trans. Signal Processing 69:3585-3596, 2021 (arXiv:2106.05148).
Data: ``paper.yaml`` beside this file. :func:`marafioti_sections` is shared with
``beyond_papers``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ..data import Paper, Published
from ..keys import display
from ..render import Section, md_table
from ..stats import column_db_of_mean, column_mean, ok_rows, ordering, with_keys

#: The registry checks that ``paper.yaml`` has a ``published`` table.
REQUIRES_PUBLISHED = True

CAPTION = (
    "`sc_db`: SC in the run's own STFT (that window and hop); `sc_fixed_db`: SC of the same "
    "output in one fixed STFT (2048 channels, hop 128, Gaussian window), the paper's way of "
    "making redundancies comparable. Mean of the dB values over clips (melbench) and, last per "
    "method, the dB of the mean linear SC (the paper's aggregation; winners and trends below "
    "use it). Lower is better."
)


def redundancy(spec_name: str) -> int | None:
    """Redundancy of a ``..._r<N>`` spec name (None for other specs)."""
    m = re.search(r"_r(\d+)$", str(spec_name))
    return int(m.group(1)) if m else None


def family(spec_name: str) -> str:
    """The spec name without its ``_r<N>`` suffix (one window family of the sweep)."""
    return re.sub(r"_r\d+$", "", str(spec_name))


def _table(ok: pd.DataFrame, pub_table: Published) -> tuple[str, list[str]]:
    published = pub_table.rows
    methods = [k for k in ("pghi", "fgla") if k in set(ok["method"])]
    extra = [k for k in dict.fromkeys(ok["method"]) if k not in ("pghi", "fgla")]
    reds = sorted({int(r) for r in ok["red"]}, reverse=True)
    header = ["win/hop", "hop"]
    for k in methods + extra:
        header += [f"{display(k)} sc_db", f"{display(k)} sc_fixed_db",
                   f"{display(k)} sc_fixed, dB of mean"]
    header += ["paper PGHI", "paper FGLA", "winner here (sc_fixed)", "winner in paper"]
    body = []
    ours: dict[int, dict[str, float]] = {}
    for r in reds:
        g = ok[ok["red"] == r]
        line: list[Any] = [r, 1024 // r]
        ours[r] = {}
        for k in methods + extra:
            gk = g[g["method"] == k]
            line += [column_mean(gk, "sc_db"), column_mean(gk, "sc_fixed_db"),
                     column_db_of_mean(gk, "sc_fixed_db")]
            ours[r][k] = column_db_of_mean(gk, "sc_fixed_db")  # the paper's aggregation
        pub = published.get(r, (math.nan, math.nan))
        line += list(pub)
        best = ordering({k: ours[r].get(k, math.nan) for k in ("pghi", "fgla")})
        line.append(display(best[0]) if len(best) == 2 else "–")
        line.append("PGHI" if pub[0] < pub[1] else "FGLA" if pub[1] < pub[0] else "–")
        body.append(line)
    notes = []
    agree = total = 0
    for r in reds:
        pub = published.get(r)
        p, f = ours[r].get("pghi", math.nan), ours[r].get("fgla", math.nan)
        if pub is None or p != p or f != f:
            continue
        total += 1
        same = (p < f) == (pub[0] < pub[1])
        agree += same
        notes.append(f"Redundancy {r}: PGHI {'beats' if p < f else 'loses to'} FGLA by "
                     f"{abs(f - p):.1f} dB here; in the paper PGHI "
                     f"{'beats' if pub[0] < pub[1] else 'loses to'} FGLA by {abs(pub[1] - pub[0]):.1f} dB"
                     + ("" if same else " (**winner differs**)") + ".")
    if total:
        notes.insert(0, f"The winner of PGHI vs FGLA agrees with the paper at {agree} of {total} "
                        "redundancies (measured with `sc_fixed_db`, the paper's kind of measure, "
                        "aggregated as the paper: dB of the mean linear SC).")
    asc = sorted(reds)
    for k in ("pghi", "fgla"):
        seq = [ours[r].get(k, math.nan) for r in asc]
        in_paper = [r for r in asc if r in published]
        pub = [published[r][0 if k == "pghi" else 1] for r in in_paper]
        if all(v == v for v in seq) and len(seq) > 1:
            mono = all(b < a for a, b in zip(seq, seq[1:], strict=False))
            best_r = asc[int(np.argmin(seq))]
            pub_best = in_paper[int(np.argmin(pub))] if pub else None
            notes.append(f"{display(k)} over redundancy {asc[0]} → {asc[-1]}: "
                         + ", ".join(f"{v:.1f}" for v in seq) + " dB; "
                         + ("improves monotonically" if mono else f"best at {best_r}")
                         + (f" (paper: best at {pub_best})" if pub_best else "") + ".")
    return md_table(header, body), notes


def marafioti_sections(rows: pd.DataFrame, paper: Paper) -> list[Section]:
    """One redundancy table per window family (specs ``<family>_r<N>``), beside the paper's."""
    ok = with_keys(ok_rows(rows))
    ok["red"] = ok["spec"].map(redundancy)
    ok = ok[ok["red"].notna()]
    if ok.empty:
        return [Section("Results", "(no scored rows with a marafioti2021*_r<N> spec)")]
    ok["family"] = ok["spec"].map(family)
    secs = []
    for fam in dict.fromkeys(ok["family"]):
        table, notes = _table(ok[ok["family"] == fam], paper.table())
        where = f" ({paper.table().where})" if paper.table().where else ""
        body_text = (table + "\n" + CAPTION + "\n\n"
                     f"Published columns{where}, source {paper.table().source}.\n\n"
                     + "\n".join(f"- {n}" for n in notes) + "\n")
        title = paper.notes.get(fam, fam)
        secs.append(Section(f"Redundancy sweep beside Marafioti et al. (2021): {title}", body_text))
    return secs


def build(rows: pd.DataFrame, paper: Paper) -> list[Section]:
    """The report's sections: a redundancy table per window family, then the discussion."""
    return [*marafioti_sections(rows, paper), Section("Discussion", paper.discussion)]
