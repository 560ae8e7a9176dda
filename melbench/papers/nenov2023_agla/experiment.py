"""Nenov et al. (2023): AGLA against FGLA, iterations to the same spectral convergence.

R. Nenov, D.-K. Nguyen, P. Balazs, R. I. Bot, "Accelerated Griffin-Lim algorithm: A fast and
provably converging numerical method for phase retrieval", arXiv:2306.12504, 2023 (ICASSP
2023: "Faster than fast: accelerating the Griffin-Lim algorithm"). Data: ``paper.yaml``
beside this file.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..data import Paper
from ..keys import display_params, method_key, n_iter_of
from ..render import Section, claim, md_table
from ..stats import column_db_of_mean, column_mean, first_reach, ok_rows, trace_sc, with_keys

#: FGLA iterations whose SC AGLA has to reach.
AGLA_TARGETS = (25, 50, 100, 200, 300)

CAPTION = (
    "Per clip and target: the SC FGLA has after N iterations, and the first iteration at which "
    "AGLA is at or below it (convergence traces, true magnitude, random initial phase, seed 0). "
    "Both cost one FFT pair per iteration (counted), so fewer iterations is less work."
)


def _pairs_per_iteration(g: pd.DataFrame, label: str) -> float:
    return column_mean(g, "fft_pairs") / max(float(n_iter_of(label) or 1), 1.0)


def build(rows: pd.DataFrame, paper: Paper) -> list[Section]:
    """Per AGLA variant: targets reached in fewer iterations, then per clip and target."""
    ok = with_keys(ok_rows(rows))
    fg = ok[ok["method"] == "fgla"]
    variants = [lab for lab in dict.fromkeys(ok["phase"]) if method_key(lab) == "agla"]
    if fg.empty or not variants or "trace" not in ok:
        return [Section("Results", "(needs FGLA and AGLA rows with convergence traces)")]
    body, summary = [], []
    for lab in variants:
        ag = ok[ok["phase"] == lab]
        fewer = total = 0
        ratios = []
        for clip in dict.fromkeys(fg["clip"]):
            f_rows, a_rows = fg[fg["clip"] == clip], ag[ag["clip"] == clip]
            if f_rows.empty or a_rows.empty:
                continue
            f_sc = trace_sc(f_rows["trace"].iloc[0], AGLA_TARGETS)
            for it in AGLA_TARGETS:
                if it not in f_sc:
                    continue
                hit = first_reach(a_rows["trace"].iloc[0], f_sc[it])
                total += 1
                fewer += hit is not None and hit < it
                if hit:
                    ratios.append(it / hit)
                body.append([display_params(lab), clip, f_rows["kind"].iloc[0], it, f_sc[it],
                             hit if hit is not None else "not reached",
                             it / hit if hit else math.nan])
        summary.append([display_params(lab), f"{fewer} of {total}",
                        float(np.median(ratios)) if ratios else math.nan,
                        _pairs_per_iteration(ag, lab), _pairs_per_iteration(fg, fg["phase"].iloc[0]),
                        column_db_of_mean(ag, "sc_db"), column_db_of_mean(fg, "sc_db"),
                        claim(total > 0 and fewer == total)])
    table = md_table(["AGLA variant", "clip", "kind", "FGLA iterations", "FGLA SC (dB)",
                      "AGLA iterations to reach it", "FGLA / AGLA iterations"], body)
    st = md_table(["AGLA variant", "targets reached in fewer iterations", "median speed-up",
                   "AGLA FFT pairs / iteration", "FGLA FFT pairs / iteration",
                   "AGLA final SC (dB of mean)", "FGLA final SC (dB of mean)",
                   "claim: fewer iterations for the same SC"], summary)
    text = st + "\n" + CAPTION + "\n\n" + table
    return [Section("AGLA against FGLA: iterations to the same SC", text),
            Section("Discussion", paper.discussion)]
