"""Peer, Welker & Gerkmann (2022): RAAR, DM and their FGLA hybrids at equal FFT budgets.

T. Peer, S. Welker, T. Gerkmann, "Beyond Griffin-Lim: Improved Iterative Phase Retrieval for
Speech", IWAENC 2022 (arXiv:2205.05496). Data: ``paper.yaml`` beside this file.
"""

from __future__ import annotations

import pandas as pd

from ..data import Paper
from ..keys import display, display_params
from ..render import Section, claim, md_table
from ..stats import budget_curves, column_db_of_mean, column_mean, ok_rows, ordering, with_keys

#: FFT-pair budgets at which the report reads the convergence traces.
PEER_BUDGETS = (25, 50, 100, 200, 400)
#: Table order of the method keys.
PEER_ORDER = ("gla", "fgla", "raar", "dm", "raar>fgla", "dm>fgla")

CAPTION = (
    "SC in dB (lower is better) against the true magnitude of speech clips. 'at N pairs': from "
    "the convergence traces, the SC each method had after N FFT pairs (dB of the mean over "
    "clips), so methods of different cost per iteration (DM: two pairs) are compared at equal "
    "work; the hybrids switch method half-way. Margins in brackets are in favour of the claim."
)


def _claims(final: dict[str, float], curves: dict[str, dict], full: float) -> list[list[str]]:
    claims = []
    best = ordering(final)
    if "dm>fgla" in final and len(best) > 1:
        others = {k: v for k, v in final.items() if k != "dm>fgla"}
        runner_up = ordering(others)[0]
        claims.append(["The DM/FGLA hybrid reconstructs best at an equal budget",
                       claim(best[0] == "dm>fgla", others[runner_up] - final["dm>fgla"])
                       + f" (vs {display(runner_up)})"])
    if "dm>fgla" in curves and "fgla" in curves:
        shared = [b for b in PEER_BUDGETS if b in curves["dm>fgla"] and b in curves["fgla"]
                  and b < full]
        if shared:
            wins = [b for b in shared if curves["dm>fgla"][b] < curves["fgla"][b]]
            claims.append(["The DM/FGLA hybrid converges faster than FGLA (SC along the way)",
                           claim(len(wins) == len(shared))
                           + f" (ahead at {len(wins)} of {len(shared)} budgets: "
                           + ", ".join(f"{b} pairs {curves['fgla'][b] - curves['dm>fgla'][b]:+.1f} dB"
                                       for b in shared) + ")"])
    for k in ("raar", "dm"):
        if k in final and "gla" in final:
            claims.append([f"{display(k)} beats GLA at an equal budget",
                           claim(final[k] < final["gla"], final["gla"] - final[k])])
        if k in final and "fgla" in final:
            claims.append([f"{display(k)} beats FGLA at an equal budget",
                           claim(final[k] < final["fgla"], final["fgla"] - final[k])])
    return claims


def build(rows: pd.DataFrame, paper: Paper) -> list[Section]:
    """The equal-budget table with the abstract's claims checked, then the discussion."""
    ok = with_keys(ok_rows(rows))
    if ok.empty:
        return [Section("Results", "(no scored rows)")]
    methods = [k for k in PEER_ORDER if k in set(ok["method"])]
    methods += [k for k in dict.fromkeys(ok["method"]) if k not in methods]
    body, final, curves, pairs = [], {}, {}, {}
    for k in methods:
        g = ok[ok["method"] == k]
        label = g["phase"].iloc[0]
        final[k] = column_db_of_mean(g, "sc_db")
        pairs[k] = column_mean(g, "fft_pairs")
        curves[k] = budget_curves(g, PEER_BUDGETS)
        body.append([display(k), display_params(label), pairs[k], column_mean(g, "sc_db"), final[k],
                     *[curves[k].get(b, float("nan")) for b in PEER_BUDGETS],
                     column_mean(g, "t_phase")])
    table = md_table(["method", "parameters", "FFT pairs / clip", "SC, mean of dB",
                      "SC, dB of mean", *[f"at {b} pairs" for b in PEER_BUDGETS],
                      "seconds / clip"], body)
    lines = []
    finite = [v for v in pairs.values() if v == v]
    if finite:
        same = max(finite) - min(finite) < 1e-6
        lines.append(("Every cell used the same budget: " if same else "Budgets differ: ")
                     + ", ".join(f"{display(k)} {pairs[k]:g}" for k in methods if pairs[k] == pairs[k])
                     + " FFT pairs per clip (counted, `fft_pairs`).")
    full = max(finite) if finite else float("nan")
    best = ordering(final)
    if best:
        lines.append("Final SC at the full budget, best first (dB of the mean): "
                     + " > ".join(f"{display(k)} ({final[k]:.1f})" for k in best) + ".")
    ct = md_table(["claim (from the paper's abstract and title)", "here"], _claims(final, curves, full))
    text = (table + "\n" + CAPTION + "\n\n" + "\n".join(f"- {x}" for x in lines) + "\n\n" + ct)
    return [Section("Equal-budget comparison beside Peer et al. (2022)", text),
            Section("Discussion", paper.discussion)]
