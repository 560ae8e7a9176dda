"""Quality presets ``fast`` / ``balanced`` / ``best``: cells chosen from a committed benchmark.

``melbench bench pipelines`` measures every cell (inverter + phase retriever)
side by side with librosa's ``mel_to_audio`` and writes one row per (spec,
track, clip, cell) to ``results/bench_pipelines.csv``. This module reads that
table (the copy shipped inside the package, ``melbench/_results/``, in a wheel;
the repository's ``results/`` in a checkout) and picks, over the clean-mel
speech rows of every spec measured:

* ``best`` (the default): the highest mean PESQ-wb among the *robust* cells no
  slower than librosa (time bound: mean per-clip ratio ``t(cell) / t(librosa)``
  at most 1);
* ``balanced``: the fastest robust cell within :data:`BALANCED_MARGIN` PESQ of
  ``best`` (quality bound);
* ``fast``: the fastest cell at least as good as librosa in mean PESQ-wb.

A cell is *robust* when it was measured on every (spec, track, clip) the reference
has (clean and every degraded mel) and on each it loses at most :data:`ROBUST_PESQ` PESQ and
:data:`ROBUST_SC_DB` dB SC to ``nnls`` + ``fgla`` (the previous default): issue 16's
bounds. ``best`` and ``balanced`` are chosen among the cells other than the reference
(which meets its own bound trivially); if none of them within the time bound is
robust, they fall to the *least-bad* complete cell (the smallest worst loss, each
loss divided by its bound) and their reasons say so. Metrics used: PESQ-wb (ranking,
and robustness on speech), SC against the true magnitude (robustness), CPU time
against librosa's (time bound);
ViSQOL, where the table has it, is reported, not used (:func:`metrics_statement`). The
API's and ``melbench invert``'s default is :data:`DEFAULT_QUALITY`.
Regenerating the benchmark (``make bench-pipelines``) updates the choice: the
rules are fixed here, the cells come from the table.
"""

from __future__ import annotations

import csv
import functools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ParameterError

QUALITIES = ("fast", "balanced", "best")
#: Quality used when no inverter/phase retriever is named.
DEFAULT_QUALITY = "best"
#: ``balanced`` may be this much below ``best`` in mean PESQ-wb.
BALANCED_MARGIN = 0.05
#: Issue 16's robustness bounds against the reference cell, per clip and track.
ISSUE_PESQ = 0.05
ISSUE_SC_DB = 0.3
#: The selection's robustness bounds: issue 16's.
ROBUST_PESQ = ISSUE_PESQ
ROBUST_SC_DB = ISSUE_SC_DB
#: The reference cell of the robustness rule and the fallback when no table is found.
REFERENCE_CELL = "nnls+fgla:100"
#: Label of librosa's ``mel_to_audio`` rows.
LIBROSA = "librosa"
#: Columns the table must have.
COLUMNS = ("spec", "track", "clip", "kind", "cell", "inverter", "inverter_params", "phase",
           "phase_params", "seconds", "pesq_wb", "sc_db", "status")

#: Numeric columns a table may have (read as NaN when absent): ViSQOL and the guard criteria.
OPTIONAL_NUMBERS = ("visqol", "mel_sc_db", "logmel_db")

_PKG = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Cell:
    """A pipeline: inverter and phase retriever with their parameters, and why it was picked."""

    label: str
    inverter: str
    inverter_params: Mapping[str, Any] = field(default_factory=dict)
    phase: str = "fgla"
    phase_params: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""


FALLBACK = Cell(REFERENCE_CELL, "nnls", {}, "fgla", {"n_iter": 100},
                "no benchmark table found: the previous default")


def table_path() -> Path | None:
    """The shipped ``bench_pipelines.csv`` (wheel copy first, then the checkout's), or None."""
    for p in (_PKG / "_results" / "bench_pipelines.csv",
              _PKG.parent / "results" / "bench_pipelines.csv"):
        if p.is_file():
            return p
    return None


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``bench_pipelines.csv``, numbers parsed; checks the columns.

    Raises
    ------
    ParameterError
        The file lacks a column this module needs (an old or foreign table).
    """
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ParameterError(f"{path} is not a bench_pipelines table: no column(s) {missing}; "
                                 "regenerate it with `melbench bench pipelines`")
        rows = []
        for r in reader:
            for c in ("seconds", "pesq_wb", "sc_db", *OPTIONAL_NUMBERS):
                if c not in r:  # an optional column of an older table
                    r[c] = math.nan
                    continue
                try:
                    r[c] = float(r[c]) if r[c] not in ("", None) else math.nan
                except ValueError:
                    r[c] = math.nan
            rows.append(r)
    return rows


def _mean(xs: Iterable[float]) -> float:
    v = [x for x in xs if not math.isnan(x)]
    return sum(v) / len(v) if v else math.nan


def summarize(rows: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per cell: mean PESQ (clean speech), mean time ratio to librosa, robustness.

    Returns
    -------
    dict
        ``cell -> {"pesq", "ratio", "seconds", "n", "robust", "worst_pesq", "worst_sc",
        "row"}`` where ``worst_*`` are the largest per-clip losses to :data:`REFERENCE_CELL`
        (PESQ points, dB SC; over every track) and ``row`` one of its rows (names, params).
    """
    ok = [r for r in rows if r["status"] == "ok"]
    by_key = {(r["spec"], r["track"], r["clip"], r["cell"]): r for r in ok}
    lib_t = {(r["spec"], r["clip"]): r["seconds"] for r in ok
             if r["cell"] == LIBROSA and r["track"] == "clean"}
    cells: dict[str, dict[str, Any]] = defaultdict(lambda: {"pesq": [], "ratio": [], "seconds": [],
                                                            "dp": [], "dsc": [], "visqol": [],
                                                            "where": []})
    for r in ok:
        c = cells[r["cell"]]
        c["row"] = r
        if r["track"] == "clean":
            c["visqol"].append(r.get("visqol", math.nan))
        if r["track"] == "clean" and r["kind"] == "speech":
            c["pesq"].append(r["pesq_wb"])
            c["seconds"].append(r["seconds"])
            lt = lib_t.get((r["spec"], r["clip"]))
            if lt and lt > 0:
                c["ratio"].append(r["seconds"] / lt)
        ref = by_key.get((r["spec"], r["track"], r["clip"], REFERENCE_CELL))
        if ref is not None:
            c["matched"] = c.get("matched", 0) + 1
            c["dp"].append(ref["pesq_wb"] - r["pesq_wb"])  # > 0: worse than the reference
            c["dsc"].append(r["sc_db"] - ref["sc_db"])  # > 0: worse
            c["where"].append(f"{r['spec']}/{r['track']}/{r['clip']}")
    n_ref = sum(1 for r in ok if r["cell"] == REFERENCE_CELL)
    out = {}
    for name, c in cells.items():
        dp = [x for x in c["dp"] if not math.isnan(x)]
        dsc = [x for x in c["dsc"] if not math.isnan(x)]
        worst_p = max(dp) if dp else math.nan
        worst_s = max(dsc) if dsc else math.nan
        # each pair's loss in units of its bound; > 1 breaks the bound
        scored = [(w, max(s_ / ROBUST_SC_DB, 0.0 if math.isnan(p_) else p_ / ROBUST_PESQ))
                  for w, s_, p_ in zip(c["where"], c["dsc"], c["dp"], strict=True)
                  if not math.isnan(s_)]
        losses = [x for _, x in scored]
        fails = [w for w, x in scored if x > 1.0]
        complete = c.get("matched", 0) == n_ref > 0
        out[name] = {
            "pesq": _mean(c["pesq"]), "ratio": _mean(c["ratio"]), "seconds": _mean(c["seconds"]),
            "visqol": _mean(c["visqol"]),
            "n": len(c["pesq"]), "worst_pesq": worst_p, "worst_sc": worst_s,
            "loss": max(losses) if losses else math.nan, "fails": fails, "complete": complete,
            "robust": (complete and worst_s <= ROBUST_SC_DB
                       and (not dp or worst_p <= ROBUST_PESQ)),
            "row": c["row"],
        }
    return out


def metrics_statement(rows: list[Mapping[str, Any]]) -> str:
    """Which metrics the rules of this module used on ``rows`` (for the results page)."""
    n_v = sum(1 for r in rows if r["status"] == "ok" and not math.isnan(r.get("visqol", math.nan)))
    visqol = (f"ViSQOL (MOS-LQO, measured on {n_v} rows) is reported, not used by the rules"
              if n_v else "ViSQOL was not measured in this table")
    return ("Metrics used by the rules: mean PESQ-wb on clean speech (ranking; `fast` against "
            "librosa), PESQ-wb and SC against the true magnitude per (spec, track, clip) "
            f"(robustness, bounds {ROBUST_PESQ} PESQ / {ROBUST_SC_DB} dB against "
            f"`{REFERENCE_CELL}`), CPU time over librosa's (time bound); {visqol}.")


def _f(v: float, fmt: str = ".2f") -> str:
    return "n/a" if v is None or math.isnan(v) else format(v, fmt)


def _cell(name: str, s: Mapping[str, Any], reason: str) -> Cell:
    r = s["row"]
    return Cell(name, r["inverter"], json.loads(r["inverter_params"] or "{}"), r["phase"],
                json.loads(r["phase_params"] or "{}"), reason)


def choose(rows: list[Mapping[str, Any]],
           available: Iterable[str] | None = None) -> dict[str, Cell]:
    """Apply the rules of this module to benchmark rows: ``{quality: Cell}``.

    Parameters
    ----------
    rows : list of mapping
        Rows as :func:`read_table` returns them.
    available : iterable of str, optional
        Cell labels that may be chosen (e.g. only those whose plugins are installed);
        default every cell except librosa and the oracle.

    Returns
    -------
    dict
        A :class:`Cell` for each of :data:`QUALITIES`; :data:`FALLBACK` where no cell
        qualifies (e.g. a table without librosa rows), with the reason.
    """
    summ = summarize(rows)
    allowed = set(available) if available is not None else set(summ)
    cand = {k: v for k, v in summ.items()
            if k in allowed and k != LIBROSA and not k.startswith("oracle")
            and not math.isnan(v["pesq"])}
    lib = summ.get(LIBROSA)
    picks: dict[str, Cell] = {}
    # best/balanced are chosen among the cells other than the reference (which meets its own
    # bound trivially); the reference is the fallback only when nothing else was measured
    timed = {k: v for k, v in cand.items() if v["ratio"] <= 1.0 and k != REFERENCE_CELL}
    in_time = {k: v for k, v in timed.items() if v["robust"]}
    if in_time:
        best = max(in_time, key=lambda k: in_time[k]["pesq"])
        b = in_time[best]
        picks["best"] = _cell(best, b, f"highest mean PESQ-wb ({b['pesq']:.2f}) of the robust cells "
                              f"no slower than librosa (x{b['ratio']:.2f} its time)")
        near = {k: v for k, v in in_time.items() if v["pesq"] >= b["pesq"] - BALANCED_MARGIN}
        bal = min(near, key=lambda k: near[k]["ratio"])
        v = near[bal]
        picks["balanced"] = _cell(bal, v, f"fastest robust cell (x{v['ratio']:.2f} librosa's time) "
                                  f"within {BALANCED_MARGIN} PESQ of best (mean {v['pesq']:.2f})")
    else:  # no robust cell in time: the least-bad complete one, said so
        complete = {k: v for k, v in timed.items() if v["complete"] and not math.isnan(v["loss"])}
        if complete:
            best = min(complete, key=lambda k: (complete[k]["loss"], -complete[k]["pesq"]))
            b = complete[best]
            why = (f"NO cell no slower than librosa meets the robustness bounds ({ROBUST_SC_DB} dB "
                   f"SC / {ROBUST_PESQ} PESQ against `{REFERENCE_CELL}`) on every clip: least-bad "
                   f"= the smallest worst loss in units of the bounds ({b['loss']:.2f}: "
                   f"{_f(b['worst_sc'])} dB SC, {_f(b['worst_pesq'], '.3f')} PESQ; fails on "
                   f"{len(b['fails'])}), mean PESQ-wb {b['pesq']:.2f}, x{b['ratio']:.2f} librosa's time")
            picks["best"] = _cell(best, b, why)
            near = {k: v for k, v in complete.items() if v["loss"] <= b["loss"]
                    and v["pesq"] >= b["pesq"] - BALANCED_MARGIN}
            bal = min(near, key=lambda k: near[k]["ratio"])
            v = near[bal]
            picks["balanced"] = _cell(bal, v, f"no robust cell (see best): the fastest cell "
                                      f"(x{v['ratio']:.2f} librosa's time) no less robust than best "
                                      f"and within {BALANCED_MARGIN} PESQ of it (mean {v['pesq']:.2f})")
    if lib is not None and not math.isnan(lib["pesq"]):
        good = {k: v for k, v in cand.items() if v["pesq"] >= lib["pesq"]}
        if good:
            fast = min(good, key=lambda k: good[k]["ratio"])
            v = good[fast]
            picks["fast"] = _cell(fast, v, f"fastest cell (x{v['ratio']:.2f} librosa's time) at least "
                                  f"as good as librosa (mean PESQ {v['pesq']:.2f} >= {lib['pesq']:.2f})")
    for q in QUALITIES:
        if q not in picks:
            picks[q] = Cell(FALLBACK.label, FALLBACK.inverter, FALLBACK.inverter_params,
                            FALLBACK.phase, FALLBACK.phase_params,
                            "no cell of the table meets the rule: the previous default")
    return picks


@functools.lru_cache(maxsize=4)
def _presets(path: str | None) -> dict[str, Cell]:
    if path is None:
        return {q: FALLBACK for q in QUALITIES}
    from . import registry

    rows = read_table(path)
    inv, ph = set(registry.available("inverter")), set(registry.available("phase"))
    usable = {r["cell"] for r in rows if r["inverter"] in inv and r["phase"] in ph}
    return choose(rows, usable)


def preset(quality: str | None = None) -> Cell:
    """The cell of a quality preset (default :data:`DEFAULT_QUALITY`), from the shipped table.

    Raises
    ------
    ParameterError
        Unknown quality name.
    """
    q = DEFAULT_QUALITY if quality is None else str(quality)
    if q not in QUALITIES:
        raise ParameterError(f"quality={quality!r}; choose one of {', '.join(QUALITIES)}")
    p = table_path()
    return _presets(str(p) if p is not None else None)[q]
