"""The rows and the page of ``melbench bench pipelines``: row schema, Markdown and Pareto plot.

:mod:`melbench.bench.pipelines` measures the rows (one per spec, track, clip and cell,
with the columns :data:`FIELDS`); this module turns them into the committed page
``results/bench_pipelines.md`` (means per spec, track and kind, the robustness of every
cell against ``nnls + fgla:100``, the guard's criteria, the quality presets chosen by
:mod:`melbench.quality` and why) and its Pareto plot.
"""

from __future__ import annotations

import csv
import io
import math
import platform
from pathlib import Path
from typing import Any

import numpy as np

#: The columns of a row (``results/bench_pipelines.csv``).
FIELDS = ("spec", "track", "clip", "kind", "cell", "inverter", "inverter_params", "phase",
          "phase_params", "seconds", "x_librosa", "pesq_wb", "sc_db", "visqol", "visqol_mode",
          "mel_sc_db", "logmel_db", "guard", "status", "error")

LIB = "librosa"


def visqol_mode(kind: str) -> str:
    """ViSQOL's mode for a clip kind: speech mode for speech, audio mode for the rest."""
    return "speech" if kind == "speech" else "audio"


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) and not math.isnan(r[k])
                        else ("" if isinstance(r[k], float) else r[k])) for k in FIELDS})
    return buf.getvalue()


def _f(v: float, fmt: str = ".2f") -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _means(rows, spec, track, kind, cell, key):
    v = [r.get(key, math.nan) for r in rows if r["spec"] == spec and r["track"] == track
         and r["kind"] == kind and r["cell"] == cell and r["status"] == "ok"]
    v = [x for x in v if not math.isnan(x)]
    return sum(v) / len(v) if v else math.nan


def _visqol_note(rows: list[dict[str, Any]]) -> str:
    modes = sorted({r["visqol_mode"] for r in rows if not math.isnan(r.get("visqol", math.nan))})
    tracks = sorted({r["track"] for r in rows if not math.isnan(r.get("visqol", math.nan))})
    if not modes:
        return ("ViSQOL: not measured in this run (visqol-python not installed, or --visqol off).")
    return (f"ViSQOL = MOS-LQO of visqol-python (`melbench.metrics.visqol`; speech mode for speech "
            f"clips, audio mode for music and synthetic ones; modes used: {', '.join(modes)}) on "
            f"the {', '.join(tracks)} track(s).")


def worst_cases(rows: list[dict[str, Any]], cell: str, n: int = 5) -> list[str]:
    """The ``n`` (spec, track, clip) pairs where ``cell`` loses most to the reference.

    Ordered by the loss in units of issue 16's bounds (SC loss / 0.3 dB, PESQ loss / 0.05).
    """
    from .. import quality

    ok = {(r["spec"], r["track"], r["clip"], r["cell"]): r for r in rows if r["status"] == "ok"}
    out = []
    for (s_, t_, c_, name), r in ok.items():
        ref = ok.get((s_, t_, c_, quality.REFERENCE_CELL))
        if name != cell or ref is None:
            continue
        dsc, dp = r["sc_db"] - ref["sc_db"], ref["pesq_wb"] - r["pesq_wb"]
        loss = max(dsc / quality.ISSUE_SC_DB, 0.0 if math.isnan(dp) else dp / quality.ISSUE_PESQ)
        out.append((loss, f"{s_}/{t_}/{c_} ({dsc:+.2f} dB" + ("" if math.isnan(dp) else f", {dp:+.3f}")
                    + ")"))
    return [t for _, t in sorted(out, key=lambda x: -x[0])[:n]]


def criterion_agreement(rows: list[dict[str, Any]], key: str, min_db: float = 0.3) -> tuple[int, int]:
    """How often a reference-free criterion orders two outputs as their true-magnitude SC does.

    Over every (spec, track, clip) and every pair of cells measured there (librosa and the
    oracle left out) whose SC differs by more than ``min_db``: ``(agreeing pairs, pairs)``,
    agreeing when the output with the lower SC also has the lower ``key`` (``mel_sc_db`` or
    ``logmel_db``).
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if (r["status"] == "ok" and r["cell"] != LIB and not r["cell"].startswith("oracle")
                and not math.isnan(r.get(key, math.nan))):
            groups.setdefault((r["spec"], r["track"], r["clip"]), []).append(r)
    agree = total = 0
    for g in groups.values():
        for i, a in enumerate(g):
            for b in g[i + 1:]:
                d_true = a["sc_db"] - b["sc_db"]
                if abs(d_true) <= min_db:
                    continue
                total += 1
                agree += (d_true > 0) == (a[key] - b[key] > 0)
    return agree, total


def guard_section(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: how well each guard criterion predicts the SC ordering; what the guards chose."""
    L = ["", "## Guard: reference-free criteria (`melbench.inverters.guarded`)", "",
         "Each output's audio mel against the given (possibly degraded) mel, no reference needed: "
         "`mel_sc` = mel spectral convergence (dB), `logmel` = mean absolute dB difference. "
         "Agreement = share of the pairs of outputs of one (spec, track, clip) whose true-magnitude "
         "SC differs by more than 0.3 dB that the criterion orders the same way (librosa and the "
         "oracle left out; on the cells' final outputs, the guard itself compares its two "
         "candidates before the phase stage).", "",
         "| criterion | agreeing pairs | pairs | agreement |", "|---|---|---|---|"]
    for key, name in (("mel_sc_db", "mel_sc"), ("logmel_db", "logmel")):
        a, n = criterion_agreement(rows, key)
        L.append(f"| `{name}` | {a} | {n} | {_f(100.0 * a / n if n else math.nan, '.1f')} % |")
    guarded = [r for r in rows if r["status"] == "ok" and r.get("guard")]
    for cell in dict.fromkeys(r["cell"] for r in guarded):
        g = [r for r in guarded if r["cell"] == cell]
        fb = [f"{r['spec']}/{r['track']}/{r['clip']}" for r in g if r["guard"].startswith("fallback")]
        L += ["", f"`{cell}` kept the fallback (`nnls` + `fgla`) on {len(fb)} of {len(g)} rows"
              + (": " + ", ".join(fb) if fb else "") + "."]
    return L


def to_markdown(rows: list[dict[str, Any]], argv: list[str], default: str | None = None) -> str:
    """The results page: targets, presets chosen, means per spec/track/kind, robustness.

    ``default`` is the cell the targets and robustness sections check; None: this table's
    own ``best`` pick (the shipped table), else e.g. the shipped default for a side table.
    """
    from .. import quality

    specs = list(dict.fromkeys(r["spec"] for r in rows))
    tracks = list(dict.fromkeys(r["track"] for r in rows))
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    picks = quality.choose(rows)
    summ = quality.summarize(rows)
    if default is None:
        default = picks[quality.DEFAULT_QUALITY].label
    if default == quality.FALLBACK.label:  # this table chooses nothing: check the shipped default
        default = quality.preset().label
    L = [
        "# Mel -> audio pipelines (`melbench bench pipelines`)", "",
        f"Command: `melbench bench pipelines {' '.join(argv)}`. Machine: {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; shared 2-core machine.",
        "",
        "Seconds = CPU time of the whole mel -> audio call on one thread (after an untimed warm-up; "
        "on the clean track the minimum of `--timing-repeat` calls, 1 unless the command says); "
        "x librosa = that over librosa `mel_to_audio`'s CPU time on the same clip and track in the "
        "same run. PESQ-wb at 16 kHz (speech clips). SC = spectral convergence of the output audio's "
        "STFT magnitude against the true magnitude (dB, lower is better). Cells are "
        "`INVERTER[:N]+PHASE[:N]`; `joint_fgla` and `guarded` hand their phase to the phase retriever "
        "as warm start. " + _visqol_note(rows), "",
        "## Quality presets chosen from this table (`melbench.quality`)", "",
        "| quality | cell | why |", "|---|---|---|",
    ]
    for q in quality.QUALITIES:
        star = " (default)" if q == quality.DEFAULT_QUALITY else ""
        L.append(f"| {q}{star} | `{picks[q].label}` | {picks[q].reason} |")
    L += ["", f"Rules (`melbench.quality`, over the clean speech rows of every spec): best = the "
          f"highest mean PESQ-wb among the robust cells with mean x librosa <= 1; balanced = the "
          f"fastest robust cell within {quality.BALANCED_MARGIN} PESQ of best; fast = the fastest "
          f"cell with mean PESQ-wb >= librosa's. Robust = measured on every (spec, track, clip) "
          f"of `{quality.REFERENCE_CELL}` and nowhere more than {quality.ROBUST_PESQ} PESQ or "
          f"{quality.ROBUST_SC_DB} dB SC worse than it (issue 16's bounds). If no cell within the "
          "time bound is robust, best and balanced are the least-bad complete cell (smallest worst "
          "loss in units of the bounds) and their reasons say so. "
          + quality.metrics_statement(rows) + " Rerunning the benchmark rewrites the CSV and so "
          "the choice.", "", "## Targets (issue 16)", ""]
    sp = [r for r in rows if r["track"] == "clean" and r["kind"] == "speech" and r["status"] == "ok"]
    for s in specs:
        d = _means(rows, s, "clean", "speech", default, "pesq_wb")
        lib = _means(rows, s, "clean", "speech", LIB, "pesq_wb")
        rs = [r["x_librosa"] for r in sp if r["spec"] == s and r["cell"] == default]
        orc = next((c for c in cells if c.startswith("oracle")), None)
        o = _means(rows, s, "clean", "speech", orc, "pesq_wb") if orc else math.nan
        o_txt = "" if math.isnan(o) else f"; oracle `{orc}` (the true magnitude) {_f(o)}"
        L.append(f"- {s}: default `{default}` mean PESQ-wb on speech {_f(d)} (target >= 3.8: "
                 f"{'met' if d >= 3.8 else 'NOT met'}){o_txt}; librosa {_f(lib)}; time x librosa per clip "
                 f"max {_f(max(rs) if rs else math.nan)} (target <= 1: "
                 f"{'met' if rs and max(rs) <= 1 else 'NOT met'})")
        mus = [r for r in rows if r["spec"] == s and r["track"] == "clean" and r["kind"] == "music"
               and r["status"] == "ok"]
        if mus:
            best_m = min(mus, key=lambda r: r["sc_db"] if not r["cell"].startswith("oracle") else 1e9)
            dm = next((r["sc_db"] for r in mus if r["cell"] == default), math.nan)
            om = next((r["sc_db"] for r in mus if orc and r["cell"] == orc), math.nan)
            L.append(f"- {s}: music SC, default {_f(dm)} dB, best non-oracle `{best_m['cell']}` "
                     f"{_f(best_m['sc_db'])} dB (target <= -17 with the default: "
                     f"{'met' if dm <= -17 else 'NOT met'})"
                     + ("" if math.isnan(om) else f"; oracle {_f(om)} dB"))
    ok = {(r["spec"], r["track"], r["clip"], r["cell"]): r for r in rows if r["status"] == "ok"}
    bad = []
    n_cmp = 0
    for (s_, t_, c_, cell), r in ok.items():
        ref = ok.get((s_, t_, c_, quality.REFERENCE_CELL))
        if cell != default or ref is None:
            continue
        n_cmp += 1
        dsc, dp = r["sc_db"] - ref["sc_db"], ref["pesq_wb"] - r["pesq_wb"]
        if dsc > quality.ISSUE_SC_DB or (not math.isnan(dp) and dp > quality.ISSUE_PESQ):
            bad.append(f"{s_}/{t_}/{c_} (SC {r['sc_db']:.2f} vs {ref['sc_db']:.2f} dB"
                       + (f", PESQ {r['pesq_wb']:.2f} vs {ref['pesq_wb']:.2f}" if not math.isnan(dp)
                          else "") + ")")
    L.append(f"- robustness of the default against `{quality.REFERENCE_CELL}` on {n_cmp} (spec, "
             f"track, clip) pairs, issue bounds {quality.ISSUE_SC_DB} dB SC / {quality.ISSUE_PESQ} "
             f"PESQ: " + ("met" if not bad else f"NOT met on {len(bad)}: " + "; ".join(bad)))
    worst = worst_cases(rows, default)
    if worst:
        L.append("- the default's five worst cases against the reference (SC loss dB, PESQ loss; "
                 "negative = better than the reference): " + "; ".join(worst))
    L += ["", "## Cells over all specs (clean speech; robustness over every track)", "",
          "| cell | mean PESQ-wb | mean ViSQOL (clean) | mean x librosa | mean s | worst PESQ loss "
          "vs ref | worst SC loss vs ref (dB) | pairs over the bounds | robust |",
          "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        v = summ.get(c)
        if v:
            L.append(f"| `{c}` | {_f(v['pesq'])} | {_f(v['visqol'])} | {_f(v['ratio'])} | "
                     f"{_f(v['seconds'], '.3f')} | {_f(v['worst_pesq'], '.3f')} | "
                     f"{_f(v['worst_sc'])} | {len(v['fails'])} | {'yes' if v['robust'] else 'no'} |")
    L += guard_section(rows)
    L += ["", "## Means per spec, track and kind", "",
          "| spec | track | kind | cell | PESQ-wb | ViSQOL | SC dB | seconds | x librosa |",
          "|---|---|---|---|---|---|---|---|---|"]
    for s in specs:
        for t in tracks:
            for k in ("speech", "music", "synthetic"):
                for c in cells:
                    sc = _means(rows, s, t, k, c, "sc_db")
                    if math.isnan(sc):
                        continue
                    L.append(f"| {s} | {t} | {k} | `{c}` | {_f(_means(rows, s, t, k, c, 'pesq_wb'))} | "
                             f"{_f(_means(rows, s, t, k, c, 'visqol'))} | {_f(sc)} | "
                             f"{_f(_means(rows, s, t, k, c, 'seconds'), '.3f')} | "
                             f"{_f(_means(rows, s, t, k, c, 'x_librosa'))} |")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        L += ["", "## Failed rows", ""] + [f"- {r['spec']} {r['track']} {r['clip']} `{r['cell']}`: "
                                           f"{r['error']}" for r in failed]
    L += ["", "Per-clip rows: `results/bench_pipelines.csv`; plot: `results/bench_pipelines.png`.", ""]
    return "\n".join(L)


def pareto_plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean PESQ-wb against mean seconds per cell (clean speech), one panel per spec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = list(dict.fromkeys(r["spec"] for r in rows))
    ncols = min(4, len(specs))
    nrows = -(-len(specs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 5 * nrows), squeeze=False)
    for ax in axes.flat[len(specs):]:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, specs, strict=False):
        pts = []
        for c in dict.fromkeys(r["cell"] for r in rows):
            p = _means(rows, s, "clean", "speech", c, "pesq_wb")
            t = _means(rows, s, "clean", "speech", c, "seconds")
            if not (math.isnan(p) or math.isnan(t)):
                pts.append((t, p, c))
        front = [q for q in pts if not any(o[0] <= q[0] and o[1] >= q[1] and o != q for o in pts)]
        for t, p, c in pts:
            color = "tab:red" if c == LIB else ("tab:gray" if c.startswith("oracle") else "tab:blue")
            ax.scatter(t, p, color=color, s=40 if (t, p, c) in front else 15)
            ax.annotate(c, (t, p), fontsize=6, xytext=(3, 3), textcoords="offset points")
        fr = sorted((q for q in front if not q[2].startswith("oracle")), key=lambda q: q[0])
        if fr:
            ax.plot([q[0] for q in fr], [q[1] for q in fr], color="tab:blue", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("CPU seconds per clip (one thread, mean)")
        ax.set_ylabel("mean PESQ-wb (speech)")
        ax.set_title(f"{s}: clean mels (red: librosa mel_to_audio; dashed: Pareto front)", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..results import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
