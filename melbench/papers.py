"""Published results beside melbench's: the paper-reproduction reports of ``results/papers/``.

Each reproduction is a Hydra experiment (``conf/experiment/<name>.yaml``) plus an
entry of :data:`EXPERIMENTS` here holding the published numbers (with their
citations) and the code that turns a run's rows into a side-by-side report::

    melbench run -m +experiment=prusa2017_pghi hydra.sweep.dir=outputs/papers/prusa2017_pghi
    python -m melbench.papers prusa2017_pghi outputs/papers/prusa2017_pghi -o results/papers/prusa2017_pghi

The second command writes ``README.md`` (melbench's table, the published one
beside it, the exact command, versions and a discussion of orderings and gaps)
and ``rows.csv`` (every row of the run, the input of ``melbench report`` too).
Given a ``rows.csv`` instead of a run directory, it regenerates the report from
the committed rows. ``python -m melbench.papers --list`` lists the experiments.

Published numbers are compared by *ordering and gaps*, never by absolute value:
the papers used other material (EBU SQAM, MOCHA-TIMIT, LJSpeech), other signal
lengths, and LTFAT's periodic discrete Gabor transform instead of melbench's
zero-padded centred STFT.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .labels import plugin_name
from .results import atomic_write_text, read_rows, write_rows

#: Rows file written beside each report.
ROWS_FILE = "rows.csv"
#: Report file.
README_FILE = "README.md"

# --------------------------------------------------------------------------- citations

PRUSA2017 = (
    "Z. Průša, P. Balazs, P. L. Søndergaard, \"A Noniterative Method for Reconstruction of "
    "Phase From STFT Magnitude\", IEEE/ACM Trans. Audio, Speech, and Language Processing "
    "25(5):1154-1164, 2017, doi:10.1109/TASLP.2017.2678166. Reproducible-research code: "
    "https://github.com/ltfat/phaseret (`repr_fig3.m`, `repr_fig4.m`, `comparetoall.m`)."
)
MARAFIOTI2021 = (
    "A. Marafioti, N. Holighaus, P. Majdak, \"Time-Frequency Phase Retrieval for Audio: The "
    "Effect of Transform Parameters\", IEEE Trans. Signal Processing 69:3585-3596, 2021, "
    "doi:10.1109/TSP.2021.3088581. Code: https://github.com/andimarafioti/phaseRetrievalEvaluation "
    "(`test stft parameters/testWindowsfor_PGHI_GLA.m`, `evalFGLAOnFolder.m`)."
)
LIBROSA_THREAD = (
    "librosa issue #434 \"Synthetic phase for inverse transforms\" "
    "(https://github.com/librosa/librosa/issues/434), narrowed in #843 and implemented in "
    "PR #844 (`librosa.feature.inverse.mel_to_stft`, `librosa.griffinlim`); the claims as "
    "summarised in the project's design notes (ALGORITHMS.md)."
)
BEYOND_REFS = (
    "AGLA: R. Nenov, D.-K. Nguyen, P. Balazs, \"Faster than fast: accelerating the Griffin-Lim "
    "algorithm\", ICASSP 2023. RAAR and difference map: R. Peer, S. Welker, T. Gerkmann, "
    "\"Beyond Griffin-Lim: improved iterative phase retrieval for speech\", IWAENC 2022. "
    "LWS: J. Le Roux, H. Kameoka, N. Ono, S. Sagayama, \"Fast signal reconstruction from "
    "magnitude STFT spectrogram based on spectrogram consistency\", DAFx 2010."
)

PEER2022 = (
    "T. Peer, S. Welker, T. Gerkmann, \"Beyond Griffin-Lim: Improved Iterative Phase Retrieval "
    "for Speech\", Int. Workshop on Acoustic Signal Enhancement (IWAENC) 2022, "
    "arXiv:2205.05496."
)
NENOV2023 = (
    "R. Nenov, D.-K. Nguyen, P. Balazs, R. I. Bot, \"Accelerated Griffin-Lim algorithm: A fast "
    "and provably converging numerical method for phase retrieval\", arXiv:2306.12504, 2023 "
    "(ICASSP 2023 short version \"Faster than fast: accelerating the Griffin-Lim algorithm\")."
)

# --------------------------------------------------------------------------- published numbers

#: Where :data:`PRUSA2017_TABLE` comes from, as far as it could be traced. The numbers were
#: taken from the project's design notes (ALGORITHMS.md); the authors' ``repr_table1.m``
#: computes only PGHI and SPSI, and neither the paper's Table 1 nor a script printing these
#: numbers could be read here (the paper text reachable offline stops before its tables), so
#: the published columns are marked unverified in the reports.
PRUSA2017_SOURCE = (
    "**unverified**: quoted from the project's design notes (ALGORITHMS.md); the authors' "
    "`repr_table1.m` computes only PGHI and SPSI, and the paper's Table 1 could not be read "
    "here to confirm the values, their window or their speech set"
)

#: Prusa et al. 2017, "Table 1": SC in dB after 200 iterations, mean over all files / speech
#: (source unverified, see :data:`PRUSA2017_SOURCE`).
PRUSA2017_TABLE: dict[str, tuple[float, float]] = {
    "spsi": (-19.97, -17.61),
    "pghi": (-27.89, -25.86),
    "gla": (-23.17, -27.09),
    "fgla": (-35.90, -39.76),
    "rtisi_la": (-40.04, -31.69),
    "pghi>gla": (-37.23, -34.10),
    "pghi>fgla": (-44.80, -43.63),
}
#: Marafioti et al. 2021, LJSpeech, 1024 channels: SC in dB by redundancy (PGHI, FGLA).
MARAFIOTI2021_TABLE: dict[int, tuple[float, float]] = {
    32: (-50.87, -25.17),
    16: (-40.72, -28.89),
    8: (-30.73, -31.93),
    4: (-22.07, -28.57),
    2: (-14.88, -15.61),
}
#: Measurements made earlier for this project (ALGORITHMS.md; librosa 1.0, lws 1.2.8) on
#: the bundled arctic clip (speech) and vibe_ace (music), n_fft 1024, hop 256, 80 mels.
#: Not published numbers: shown as a second reference for the librosa-thread claims.
THREAD_REFERENCE: dict[str, str] = {
    "transpose": "-7.5 / -9.6 dB magnitude SC (speech / music)",
    "pinv": "-9.9 / -14.8 dB magnitude SC; librosa's mel_to_stft returns exactly this",
    "nnls": "-11.2 / -15.0 dB magnitude SC when run to convergence",
    "gla": "-20.2 dB SC after 100 iterations (true magnitude, speech), PESQ-wb 3.66",
    "fgla": "-27.6 dB SC after 100 iterations (true magnitude, speech), PESQ-wb 3.98",
    "lws": "reference lws package, Hann window: -27.7 dB SC, PESQ-wb 3.76, 0.23 s",
}

#: Display names of method keys (see :func:`method_key`).
DISPLAY: dict[str, str] = {
    "spsi": "SPSI", "pghi": "PGHI", "gla": "GLA", "fgla": "FGLA", "rtisi_la": "RTISI-LA",
    "pghi>gla": "PGHI then GLA", "pghi>fgla": "PGHI then FGLA", "agla": "AGLA", "raar": "RAAR",
    "dm": "DM", "lws": "LWS (melbench)", "pghi>raar": "PGHI then RAAR", "pghi>agla": "PGHI then AGLA",
    "raar>fgla": "RAAR then FGLA", "pghi>dm": "PGHI then DM", "dm>fgla": "DM then FGLA",
    "transpose": "transpose",
    "pinv": "pinv", "nnls": "nnls", "oracle": "true magnitude",
}

# --------------------------------------------------------------------------- row helpers


def method_key(label: str) -> str:
    """A method key from a phase (or inverter) label.

    Chains become their step names joined by ``>``:
    ``"chain[pghi>fgla:200:init=zero]"`` -> ``"pghi>fgla"``; other labels their name.
    """
    label = str(label)
    name = plugin_name(label)
    if name == "chain" and "[" in label:
        inner = label.split("[", 1)[1].rsplit("]", 1)[0]
        return ">".join(step.split(":", 1)[0].strip() for step in inner.split(">") if step.strip())
    return name


def display(key: str) -> str:
    """Human-readable name of a method key."""
    if key in DISPLAY:
        return DISPLAY[key]
    return " then ".join(DISPLAY.get(k, k) for k in key.split(">"))


def n_iter_of(label: str) -> str:
    """Total iterations stated in a phase label (``""`` if none): ``chain[pghi>fgla:200]`` -> 200."""
    label = str(label)
    if plugin_name(label) == "chain":
        counts = [int(m) for m in re.findall(r":(\d+)(?=[:>\]])", label)]
        return str(sum(counts)) if counts else ""
    m = re.search(r"n_iter=(\d+)", label)
    return m.group(1) if m else ""


def load_rows(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Rows of run/sweep directories or rows files (per-cell files in a sweep, no duplicates)."""
    try:
        from .report.runs import load_runs
    except ImportError:  # pragma: no cover - the report package is part of melbench
        load_runs = None
    if load_runs is not None:
        rows = load_runs(paths).rows
        return rows.drop(columns=[c for c in rows.columns if c.startswith("_")])
    frames = []
    for p in map(Path, paths):
        files = [p] if p.is_file() else sorted(p.glob(f"*/{ROWS_FILE}")) or [p / ROWS_FILE]
        frames += [read_rows(f) for f in files]
    return pd.concat(frames, ignore_index=True)


def _ok(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["status"] == "ok"] if "status" in rows else rows


def _with_keys(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["method"] = rows["phase"].map(method_key)
    rows["inv"] = rows["inverter"].map(method_key)
    return rows


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (float, np.floating)):
        if abs(v) < 0.01 and v != 0:
            return f"{v:.2g}"
        return f"{v:.{digits}f}"
    return str(v)


def md_table(header: Sequence[str], body: Iterable[Sequence[Any]], digits: int = 2) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for rec in body:
        lines.append("| " + " | ".join(_fmt(v, digits) for v in rec) + " |")
    return "\n".join(lines) + "\n"


def _mean(df: pd.DataFrame, col: str) -> float:
    if col not in df or df.empty:
        return math.nan
    v = pd.to_numeric(df[col], errors="coerce").dropna()
    return float(v.mean()) if len(v) else math.nan


def db_of_mean(values_db: Iterable[float]) -> float:
    """The papers' aggregation of SC: ``20 log10(mean(10^(x/20)))`` (dB of the mean linear SC).

    melbench's tables average the dB values (the mean of ``x``); the papers' scripts average
    the linear SC over files and then take dB, which weighs the worst files more (the dB of
    the mean is never below the mean of the dB, by Jensen's inequality). NaN values are
    left out; NaN if none is left; -inf only if every value is -inf.
    """
    v = np.asarray([float(x) for x in values_db], dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan
    lin = float(np.mean(10.0 ** (v / 20.0)))
    return 20.0 * math.log10(lin) if lin > 0 else -math.inf


def _db_mean(df: pd.DataFrame, col: str) -> float:
    if col not in df or df.empty:
        return math.nan
    return db_of_mean(pd.to_numeric(df[col], errors="coerce"))


def ordering(values: Mapping[str, float], lower_is_better: bool = True) -> list[str]:
    """Keys sorted best first (NaN last)."""
    items = [(k, v) for k, v in values.items() if v == v]
    items.sort(key=lambda kv: kv[1] if lower_is_better else -kv[1])
    return [k for k, _ in items]


def pairwise_agreement(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[int, int, list[str]]:
    """How many method pairs two tables order the same way.

    Returns
    -------
    agree, total : int
        Concordant pairs and pairs compared (keys present with numbers in both).
    flipped : list of str
        ``"X vs Y"`` for each discordant pair.
    """
    keys = [k for k in a if k in b and a[k] == a[k] and b[k] == b[k]]
    agree = total = 0
    flipped = []
    for i, x in enumerate(keys):
        for y in keys[i + 1:]:
            da, db = a[x] - a[y], b[x] - b[y]
            if da == 0 or db == 0:
                continue
            total += 1
            if (da > 0) == (db > 0):
                agree += 1
            else:
                flipped.append(f"{display(x)} vs {display(y)}")
    return agree, total, flipped


def kendall_tau(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Kendall's tau between two tables over their common keys (NaN with fewer than 3)."""
    agree, total, _ = pairwise_agreement(a, b)
    if total < 3:
        return math.nan
    return (2 * agree - total) / total


# --------------------------------------------------------------------------- report pieces


@dataclass
class Section:
    """A titled piece of a report (Markdown body)."""

    title: str
    body: str


@dataclass
class PaperExperiment:
    """A reproduction: the experiment config, the citations, and how to report it."""

    name: str
    title: str
    citations: list[str]
    summary: str
    paper_setup: list[str]
    melbench_setup: list[str]
    build: Callable[[pd.DataFrame], list[Section]]
    needs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The documented command that produces the run."""
        return (f"melbench run -m +experiment={self.name} "
                f"hydra.sweep.dir=outputs/papers/{self.name}")


def _versions(rows: pd.DataFrame) -> list[str]:
    out = []
    if "versions" in rows and rows["versions"].notna().any():
        out.append("Run: " + str(rows["versions"].dropna().iloc[0]))
    try:
        import numba

        numba_v = numba.__version__
    except ImportError:  # pragma: no cover
        numba_v = "absent"
    from .provenance import package_version

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


def render(exp: PaperExperiment, rows: pd.DataFrame, *, command: str | None = None,
           source: str = "", extras: Sequence[str] = ()) -> str:
    """The Markdown report of one reproduction from its rows (``extras``: files beside it)."""
    parts = [f"# {exp.title}\n", exp.summary.strip() + "\n"]
    parts.append("Sources: " + " ".join(f"[{i + 1}] {c}" for i, c in enumerate(exp.citations)) + "\n")
    parts.append("## Command\n")
    parts.append("```sh\n" + (command or exp.command) + "\n"
                 f"python -m melbench.papers {exp.name} outputs/papers/{exp.name} "
                 f"-o results/papers/{exp.name}\n```\n")
    parts.append(f"`rows.csv` here holds every row of that run ({len(rows)} rows). "
                 "Regenerate this page from it "
                 f"with `python -m melbench.papers {exp.name} results/papers/{exp.name}/rows.csv "
                 f"-o results/papers/{exp.name}`, or make the generic tables, plots and HTML page "
                 f"with `melbench report results/papers/{exp.name}/rows.csv -o <folder>`.\n")
    if extras:
        parts.append("Also here, made by `melbench report` from the same rows: "
                     + ", ".join(f"[`{e}`]({e})" for e in extras) + ".\n")
    for sec in exp.build(rows):
        parts.append(f"## {sec.title}\n")
        parts.append(sec.body.rstrip() + "\n")
    fails = _failures(rows)
    if fails:
        parts.append(fails)
    parts.append("## Cells: the exact plugin parameters\n")
    parts.append(_cells(rows))
    parts.append("## Set-up: the paper and here\n")
    parts.append("The paper (what was checked in the authors' code):\n")
    parts.append("\n".join(f"- {s}" for s in exp.paper_setup) + "\n")
    parts.append("Here:\n")
    parts.append("\n".join(f"- {s}" for s in exp.melbench_setup) + "\n")
    parts.append("## Versions\n")
    parts.append("\n".join(f"- {v}" for v in _versions(rows)) + "\n")
    return "\n".join(parts)


def write_report(name: str, paths: Sequence[str | Path], out_dir: str | Path, *,
                 command: str | None = None, melbench_report: bool = False) -> Path:
    """Read a run's rows, write ``README.md`` and ``rows.csv`` into ``out_dir``.

    Parameters
    ----------
    name : str
        Experiment name (a key of :data:`EXPERIMENTS`).
    paths : sequence of path
        Sweep/run directories or rows files.
    out_dir : path
        Output folder (created).
    command : str, optional
        The command that produced the run, if not the documented one.
    melbench_report : bool
        Also run ``melbench report`` on the rows into ``out_dir/report`` (Markdown, CSV and
        LaTeX tables with bootstrap intervals, and the figures; no HTML page).

    Returns
    -------
    Path
        The README written.
    """
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown paper experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    rows = load_rows(paths)
    if rows.empty:
        raise ValueError(f"no rows in {', '.join(map(str, paths))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = ", ".join(str(p) for p in paths)
    same = len(paths) == 1 and Path(paths[0]).resolve() == (out / ROWS_FILE).resolve()
    if not same:
        write_rows(out / ROWS_FILE, rows)
    extras: list[str] = []
    if melbench_report:
        from .report import cli as report_cli

        code = report_cli.main([str(out / ROWS_FILE), "-o", str(out / "report"), "--no-html",
                                "--title", exp.title])
        if code == 0:
            extras = sorted(f"report/{f.name}" for f in (out / "report").iterdir()
                            if f.suffix in (".md", ".png"))
    elif (out / "report").is_dir():
        extras = sorted(f"report/{f.name}" for f in (out / "report").iterdir()
                        if f.suffix in (".md", ".png"))
    text = render(exp, rows, command=command, source="" if same else src, extras=extras)
    atomic_write_text(out / README_FILE, text)
    return out / README_FILE


# --------------------------------------------------------------------------- Prusa et al. 2017


def _method_means(rows: pd.DataFrame, col: str = "sc_db") -> pd.DataFrame:
    """Per phase method over all clips, speech clips and music clips: ``col`` aggregated.

    ``all``/``speech``/``music`` are melbench's aggregation (mean of the dB values),
    ``all_lin``/``speech_lin``/``music_lin`` the papers' (:func:`db_of_mean`);
    ``fft_pairs`` is the mean counted cost per clip (NaN where not counted).
    """
    rows = _with_keys(_ok(rows))
    out = []
    for key, g in rows.groupby("method", sort=False):
        sp = g[g["kind"] == "speech"] if "kind" in g else g.iloc[:0]
        mu = g[g["kind"] == "music"] if "kind" in g else g.iloc[:0]
        out.append({
            "method": key, "all": _mean(g, col), "speech": _mean(sp, col),
            "music": _mean(mu, col), "all_lin": _db_mean(g, col), "speech_lin": _db_mean(sp, col),
            "music_lin": _db_mean(mu, col), "fft_pairs": _mean(g, "fft_pairs"),
            "t_phase": _mean(g, "t_phase"), "n": len(g), "iters": n_iter_of(g["phase"].iloc[0]),
        })
    return pd.DataFrame(out)


def _order_text(values: Mapping[str, float]) -> str:
    return " < ".join(display(k) for k in ordering(values))


def _gap_lines(ours: Mapping[str, float], paper: Mapping[str, float],
               pairs: Sequence[tuple[str, str]]) -> list[str]:
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


PRUSA_GAPS = [("pghi", "spsi"), ("fgla", "gla"), ("pghi>fgla", "fgla"), ("pghi>gla", "gla"),
              ("pghi>fgla", "pghi"), ("rtisi_la", "fgla"), ("pghi", "gla")]


def _prusa_sections(rows: pd.DataFrame, *, beyond: bool = False) -> list[Section]:
    means = _method_means(rows)
    if means.empty:
        return [Section("Results", "(no scored rows)")]
    sections = []
    specs = sorted(_ok(rows)["spec"].unique()) if "spec" in rows else []
    for spec in specs or [None]:
        part = rows if spec is None else rows[rows["spec"] == spec]
        m = _method_means(part)
        paper_keys = list(PRUSA2017_TABLE)
        extra = [k for k in m["method"] if k not in PRUSA2017_TABLE]
        order = [k for k in paper_keys if k in set(m["method"])] + extra
        missing = [k for k in paper_keys if k not in set(m["method"])]
        body = []
        mm = m.set_index("method")
        for k in order + missing:
            have = k in mm.index
            pub = PRUSA2017_TABLE.get(k, (math.nan, math.nan))
            body.append([
                display(k) + ("" if k in PRUSA2017_TABLE else " *(not in the paper)*"),
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
        paper_all = {k: v[0] for k, v in PRUSA2017_TABLE.items()}
        paper_sp = {k: v[1] for k, v in PRUSA2017_TABLE.items()}
        lines = []
        a, t, flipped = pairwise_agreement(ours_all, paper_all)
        tau = kendall_tau(ours_all, paper_all)
        lines.append(f"Ordering, all clips, best first. Here: {_order_text({k: ours_all[k] for k in ours_all if k in PRUSA2017_TABLE})}"  # noqa: E501
                     .replace(" < ", " > ") + ".")
        lines.append("Paper (all SQAM files): "
                     + _order_text({k: v for k, v in paper_all.items() if k in ours_all})
                     .replace(" < ", " > ") + ".")
        lines.append(f"Pairs of the paper's methods ordered as in the paper: {a} of {t}"
                     + (f" (Kendall tau {tau:.2f})" if tau == tau else "")
                     + (f"; reversed: {', '.join(flipped)}" if flipped else "") + ".")
        a2, t2, fl2 = pairwise_agreement(ours_sp, paper_sp)
        if t2:
            lines.append(f"Speech clips against the paper's speech column: {a2} of {t2} pairs agree"
                         + (f"; reversed: {', '.join(fl2)}" if fl2 else "") + ".")
        lines += _gap_lines(ours_all, paper_all, PRUSA_GAPS)
        if beyond and extra:
            best = ordering(ours_all)
            lines.append("All methods here, best first: "
                         + " > ".join(f"{display(k)} ({ours_all[k]:.1f})" for k in best) + ".")
        title = f"Table 1 beside melbench ({spec})" if spec else "Table 1 beside melbench"
        if beyond:
            title = f"Prusa et al.'s Table 1 extended ({spec})" if spec else "Table 1 extended"
        body_text = (table + "\nSC in dB (lower is better) of the output's re-analysed magnitude "
                     "against the given (true) magnitude, `sc_db`, aggregated over clips two "
                     "ways: melbench's mean of the dB values, and the papers' dB of the mean "
                     "linear SC (`20 log10(mean(10^(sc_db/20)))`; the speech, music and all "
                     "orderings and gaps below use this one). FFT pairs: counted per clip "
                     "(`fft_pairs`, melbench.costs; one pair = one inverse plus one forward "
                     "FFT of every frame; PGHI, SPSI and LWS do no FFTs). Seconds: phase-retrieval "
                     "wall time per clip on 2 shared cores.\n\n"
                     f"† Published columns, source {PRUSA2017_SOURCE}.\n\n"
                     + "\n".join(f"- {s}" for s in lines) + "\n")
        sections.append(Section(title, body_text))
    return sections


def _prusa_build(rows: pd.DataFrame) -> list[Section]:
    secs = _prusa_sections(rows)
    secs.append(Section("Discussion", PRUSA_DISCUSSION))
    return secs


PRUSA_DISCUSSION = """\
- Compare orderings and gaps, not absolute values. The paper averages 70 EBU SQAM excerpts
  (first 10 s, 44.1 kHz; music and a few speech tracks); here three bundled clips (two
  narrow-band speech recordings, one 8 s music excerpt) resampled to 44.1 kHz, so most
  high bins of the speech clips are empty. Fewer, band-limited clips move absolute SC values
  by several dB. The paper's speech column is its speech material (SQAM's speech tracks or
  MOCHA-TIMIT; which one was not verified), ours two clips.
- LTFAT's DGT is periodic (no edges) and synthesises with the canonical dual window;
  melbench's STFT is centred with zero padding and synthesises by least squares (the same
  dual up to the edges), so the first and last frames differ. Iteration counts (200) and
  starts (zero phase, or PGHI's output for the chains) are the paper's.
- RTISI-LA runs 25 re-estimation rounds per frame as in the paper's script (the last of
  its `rtisiiters`; at redundancy 8 that is about 200 FFT pairs per clip, counted in the
  FFT pairs column: the paper's budget equals the 200-iteration cells'), with the
  look-ahead of every overlapping frame. PGHI uses the plugin's tolerances (1e-1, then
  1e-10) where the script used 1e-1 then 1e-4, in the PGHI row and in the chains alike.
- Times are wall-clock seconds per clip on 2 cores shared with other jobs (load average
  around 8 during these runs): compare them within a table only.
"""

# --------------------------------------------------------------------------- Marafioti et al. 2021


def _redundancy(spec_name: str) -> int | None:
    """Redundancy of a ``..._r<N>`` spec name (None for other specs)."""
    m = re.search(r"_r(\d+)$", str(spec_name))
    return int(m.group(1)) if m else None


def _family(spec_name: str) -> str:
    """The spec name without its ``_r<N>`` suffix (one window family of the sweep)."""
    return re.sub(r"_r\d+$", "", str(spec_name))


FAMILY_TITLES = {
    "marafioti2021": "Hann window of 1024 samples at every hop",
    "marafioti2021_gauss": "Gaussian window following the lattice (gamma = hop x 1024), as the paper",
}


def _marafioti_table(ok: pd.DataFrame) -> tuple[str, list[str], dict[int, dict[str, float]]]:
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
            line += [_mean(gk, "sc_db"), _mean(gk, "sc_fixed_db"), _db_mean(gk, "sc_fixed_db")]
            ours[r][k] = _db_mean(gk, "sc_fixed_db")  # the paper's aggregation
        pub = MARAFIOTI2021_TABLE.get(r, (math.nan, math.nan))
        line += list(pub)
        best = ordering({k: ours[r].get(k, math.nan) for k in ("pghi", "fgla")})
        line.append(display(best[0]) if len(best) == 2 else "–")
        line.append("PGHI" if pub[0] < pub[1] else "FGLA" if pub[1] < pub[0] else "–")
        body.append(line)
    notes = []
    agree = total = 0
    for r in reds:
        pub = MARAFIOTI2021_TABLE.get(r)
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
        pub = [MARAFIOTI2021_TABLE[r][0 if k == "pghi" else 1] for r in asc if r in MARAFIOTI2021_TABLE]
        if all(v == v for v in seq) and len(seq) > 1:
            mono = all(b < a for a, b in zip(seq, seq[1:], strict=False))
            best_r = asc[int(np.argmin(seq))]
            pub_best = [r for r in asc if r in MARAFIOTI2021_TABLE][int(np.argmin(pub))] if pub else None
            notes.append(f"{display(k)} over redundancy {asc[0]} → {asc[-1]}: "
                         + ", ".join(f"{v:.1f}" for v in seq) + " dB; "
                         + ("improves monotonically" if mono else f"best at {best_r}")
                         + (f" (paper: best at {pub_best})" if pub_best else "") + ".")
    return md_table(header, body), notes, ours


def _marafioti_build(rows: pd.DataFrame, *, beyond: bool = False) -> list[Section]:
    ok = _with_keys(_ok(rows))
    ok["red"] = ok["spec"].map(_redundancy)
    ok = ok[ok["red"].notna()]
    if ok.empty:
        return [Section("Results", "(no scored rows with a marafioti2021*_r<N> spec)")]
    ok["family"] = ok["spec"].map(_family)
    secs = []
    for fam in dict.fromkeys(ok["family"]):
        table, notes, _ = _marafioti_table(ok[ok["family"] == fam])
        body_text = (table + "\n`sc_db`: SC in the run's own STFT (that window and hop); "
                     "`sc_fixed_db`: SC of the same output in one fixed STFT (2048 channels, hop "
                     "128, Gaussian window), the paper's way of making redundancies comparable. "
                     "Mean of the dB values over clips (melbench) and, last per method, the dB "
                     "of the mean linear SC (the paper's aggregation; winners and trends below "
                     "use it). Lower is better.\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
        title = FAMILY_TITLES.get(fam, fam)
        secs.append(Section(f"Redundancy sweep beside Marafioti et al. (2021): {title}", body_text))
    if not beyond:
        secs.append(Section("Discussion", MARAFIOTI_DISCUSSION))
    return secs


MARAFIOTI_DISCUSSION = """\
- The paper's shape to look for: PGHI improves steeply with redundancy and wins clearly at
  16 and 32; FGLA (100 iterations) peaks around redundancy 8 and beats PGHI at 4 and 8;
  both are poor at 2. Compare that shape, not the dB values.
- Data: the paper uses 128 LJSpeech excerpts of 5.6 s (22.05 kHz, full band); here two
  bundled speech clips (CMU ARCTIC, 16 kHz, and an 8 kHz telephone-band prompt), resampled
  to 22.05 kHz, so their upper bands are empty. Use a local LJSpeech copy for a closer
  match: `dataset=ljspeech dataset.root=/path/to/LJSpeech-1.1 dataset.subset=128
  dataset.max_duration=5.57`.
- Window: the paper's scripts use a full-length Gaussian window whose width follows the
  lattice (lambda = a*M, so it widens as the hop grows) and LTFAT's periodic DGT. Two
  variants run here: a 1024-sample Hann window at every hop (the common STFT set-up), and
  melbench's truncated Gaussian with the paper's gamma = a*M (support 438 to 877 samples
  for redundancy 32 to 8; at 4 and 2 the paper's window would exceed n_fft = 1024 and is
  capped there, so gamma is smaller than the paper's). PGHI's phase-gradient relation is
  exact for Gaussians only, so the Gaussian tables are the closer reproduction of its trend.
- Why a fixed measure: at low redundancy a magnitude can be almost consistent in its own
  coarse STFT and still far from the signal's magnitude; compare `sc_db` with `sc_fixed_db`
  at redundancy 2, where they differ by up to 20 dB. The own-STFT SC flatters low
  redundancies, so the paper (and the winner columns here) use the fixed one.
- FGLA starts from zero phase and runs 100 iterations with alpha 0.99, as phaseret's `gla`
  defaults the paper calls; PGHI uses a relative tolerance of 1e-7 as in the paper's code
  where the plugin exposes one (see the experiment file).
"""

# --------------------------------------------------------------------------- beyond the papers


def _beyond_build(rows: pd.DataFrame) -> list[Section]:
    secs: list[Section] = []
    prusa_rows = rows[~rows["spec"].astype(str).str.contains("marafioti")]
    if not prusa_rows.empty:
        secs += _prusa_sections(prusa_rows, beyond=True)
    mar = rows[rows["spec"].astype(str).str.contains("marafioti")]
    if not mar.empty:
        secs += _marafioti_build(mar, beyond=True)
    secs.append(Section("Discussion", BEYOND_DISCUSSION))
    return secs


BEYOND_DISCUSSION = """\
- Rows marked *not in the paper* are methods the 2017 paper did not have: AGLA (2023),
  RAAR and the difference map (2022), and melbench's own LWS; published columns show "–".
  All get the same true magnitude, the same spec and the same budget of 200 FFT pairs
  where iterative: 200 iterations, the difference map 100 (it costs two pairs per
  iteration; the FFT pairs column shows the counted cost of every cell).
- Every iterative method starts from zero phase (as the paper's GLA and FGLA) and runs
  melbench's default parameters (listed under "Cells" below), untuned for this material.
  Their own papers report them ahead of FGLA with other starts, parameters and iteration
  budgets; where they trail FGLA here, that is a statement about this set-up (200
  iterations, zero start, redundancy 8), not a refutation.
- The mel -> magnitude step (transpose, pinv, nnls and the inverter that beats nnls) is
  not part of these phase-retrieval tables; its extension of the librosa thread's claims
  is in `results/papers/librosa_thread/`.
- The same caveats as the paper reproductions apply: bundled clips, not SQAM/LJSpeech;
  orderings and gaps matter, absolute values do not.
"""

# --------------------------------------------------------------------------- librosa thread

CONVERGENCE_ITERS = (1, 5, 10, 25, 50, 100, 200)


def trace_sc(trace_json: str, iters: Sequence[int] = CONVERGENCE_ITERS) -> dict[int, float]:
    """SC (dB) at given iterations from a row's ``trace`` JSON (last record at or before each)."""
    try:
        recs = json.loads(trace_json) if isinstance(trace_json, str) and trace_json else []
    except ValueError:
        return {}
    pts = sorted((int(r.get("iter", 0)), float(r.get("sc_db", math.nan))) for r in recs
                 if isinstance(r, Mapping))
    out = {}
    for it in iters:
        before = [v for i, v in pts if i <= it]
        if pts and it <= pts[-1][0] and before:
            out[it] = before[-1]
    return out


def trace_at(trace_json: str, xs: Sequence[float], field: str = "fft_pairs") -> dict[float, float]:
    """SC (dB) from a row's ``trace`` JSON after ``x`` units of ``field`` (iterations, FFT pairs).

    For each ``x``: the SC of the last record whose ``field`` is at most ``x`` (the output
    the method had after that much work); left out when the trace ends before ``x`` or has
    no such field (e.g. a trace written before cost accounting).
    """
    try:
        recs = json.loads(trace_json) if isinstance(trace_json, str) and trace_json else []
    except ValueError:
        return {}
    pts = sorted((float(r[field]), float(r.get("sc_db", math.nan))) for r in recs
                 if isinstance(r, Mapping) and field in r)
    out = {}
    for x in xs:
        before = [v for c, v in pts if c <= x + 1e-9]
        if pts and x <= pts[-1][0] + 1e-9 and before:
            out[x] = before[-1]
    return out


def _claim(ok: bool | None, margin: float | None = None, unit: str = "dB") -> str:
    """``holds`` / ``does not hold`` with the margin in favour of the claim, if given."""
    if ok is None:
        return "–"
    text = "holds" if ok else "**does not hold**"
    if margin is not None and margin == margin:
        text += f" ({margin:+.2f} {unit})"
    return text


def _thread_build(rows: pd.DataFrame) -> list[Section]:
    ok = _with_keys(_ok(rows))
    secs = []
    specs = [s for s in dict.fromkeys(ok["spec"])]
    degrades = [d for d in dict.fromkeys(ok["degrade"])] if "degrade" in ok else ["none"]
    classic = ("transpose", "pinv", "nnls")
    inverters = [k for k in dict.fromkeys(ok["inv"]) if k != "oracle"]
    inverters = [k for k in classic if k in inverters] + [k for k in inverters if k not in classic]
    new = [k for k in inverters if k not in classic]

    # --- (1, 2) the mel -> magnitude step
    body = []
    verdicts = []
    for spec in specs:
        for deg in degrades:
            for kind in ("speech", "music"):
                g = ok[(ok["spec"] == spec) & (ok["degrade"] == deg) & (ok["kind"] == kind)
                       & (ok["method"] == "fgla")]
                if g.empty:
                    continue
                mags = {k: _mean(g[g["inv"] == k], "mag_sc_true_db") for k in inverters}
                for k in inverters:
                    gk = g[g["inv"] == k]
                    if gk.empty:
                        continue
                    body.append([spec, deg, kind, k, mags[k], _mean(gk, "sc_true_db"),
                                 _mean(gk, "pesq_wb"), _mean(gk, "t_invert")])
                v = {}
                for better, worse in [("pinv", "transpose"), ("nnls", "pinv"),
                                      *[(k, "nnls") for k in new]]:
                    if better in mags and worse in mags and mags[better] == mags[better]:
                        gain = mags[worse] - mags[better]
                        v[f"{better} beats {worse}"] = (gain > 0, gain)
                verdicts.append((spec, deg, kind, v))
    table = md_table(["spec", "degrade", "clips", "inverter", "magnitude SC (dB)",
                      "SC vs true after FGLA (dB)", "PESQ-wb after FGLA", "seconds (invert)"], body)
    claim_names = list(dict.fromkeys(c for *_, v in verdicts for c in v))
    vt = md_table(["spec", "degrade", "clips", *claim_names],
                  [[s, d, k, *[_claim(*v[c]) if c in v else "–" for c in claim_names]]
                   for s, d, k, v in verdicts])
    ref = "\n".join(f"- {k}: {THREAD_REFERENCE[k]}" for k in ("transpose", "pinv", "nnls"))
    secs.append(Section(
        "Claims 1-2: pinv beats transpose; NNLS beats pinv (and the inverter that beats NNLS)",
        table + "\nMagnitude SC: the inverter's linear magnitude against the reference's true "
        "magnitude (`mag_sc_true_db`, the mel -> magnitude step alone). The later columns run "
        "FGLA (100 iterations) on that magnitude. Lower SC is better.\n\n" + vt
        + "\nEarlier measurements for this project (not published; ALGORITHMS.md):\n\n" + ref + "\n"))

    # --- (3) LWS vs GLA on speech, and speed
    body = []
    checks = []
    for spec in specs:
        for inv in [k for k in dict.fromkeys(ok["inv"]) if k in ("oracle", "nnls")]:
            g = ok[(ok["spec"] == spec) & (ok["inv"] == inv) & (ok["kind"] == "speech")
                   & (ok["degrade"] == "none")]
            res = {}
            for k in ("gla", "fgla", "lws"):
                gk = g[g["method"] == k]
                if gk.empty:
                    continue
                res[k] = (_mean(gk, "sc_db"), _mean(gk, "sc_true_db"), _mean(gk, "pesq_wb"),
                          _mean(gk, "t_phase"))
                body.append([spec, display(inv), display(k), n_iter_of(gk["phase"].iloc[0]), *res[k]])
            if "gla" in res and "lws" in res:
                lw, gl = res["lws"], res["gla"]
                checks.append([
                    spec, display(inv), _claim(lw[0] < gl[0], gl[0] - lw[0]),
                    _claim(lw[2] > gl[2], lw[2] - gl[2], "PESQ") if lw[2] == lw[2] else "–",
                    _claim(lw[3] < gl[3]), gl[3] / lw[3] if lw[3] else math.nan])
    table = md_table(["spec", "magnitude", "phase", "iterations", "SC vs given (dB)",
                      "SC vs true (dB)", "PESQ-wb", "seconds (phase)"], body)
    ct = md_table(["spec", "magnitude", "LWS better SC", "LWS better PESQ", "LWS faster",
                   "GLA seconds / LWS seconds"], checks)
    ref = "\n".join(f"- {k}: {THREAD_REFERENCE[k]}" for k in ("gla", "fgla", "lws"))
    slow = [c for c in checks if c[4].startswith("**does not")]
    if slow:
        ratios = [c[5] for c in slow if c[5] == c[5]]
        ct += ("\nSpeed: melbench's LWS took " + (f"{1 / max(ratios):.1f}-{1 / min(ratios):.1f}x"
               if ratios else "more than") + " the time of 100 GLA iterations in these runs, so the "
               "speed half of the claim does not hold for this implementation at this commit "
               "(the thread meant the `lws` package, measured at 0.23 s for the arctic clip "
               "in ALGORITHMS.md); its quality half is judged by the SC and PESQ columns.\n")
    secs.append(Section("Claim 3: LWS beats Griffin-Lim on speech, and is faster",
                        table + "\nSpeech clips, clean mels; GLA and FGLA run 100 iterations "
                        "(librosa's `griffinlim` defaults to 32), LWS its `speech` schedule. "
                        "Margins in brackets are in favour of LWS (dB of SC, PESQ points).\n\n" + ct
                        + "\nEarlier measurements for this project (ALGORITHMS.md):\n\n" + ref + "\n"))

    # --- (4) convergence
    conv = ok[(ok["inv"] == "oracle") & ok["method"].isin(["gla", "fgla"]) & (ok["degrade"] == "none")]
    body = []
    reach = []
    if "trace" in conv:
        for spec in specs:
            curves = {}
            for k in ("gla", "fgla"):
                g = conv[(conv["spec"] == spec) & (conv["method"] == k)]
                pts = [trace_sc(t) for t in g["trace"]]
                pts = [p for p in pts if p]
                if not pts:
                    continue
                iters = [i for i in CONVERGENCE_ITERS if all(i in p for p in pts)]
                curves[k] = {i: float(np.mean([p[i] for p in pts])) for i in iters}
                body.append([spec, display(k), *[curves[k].get(i, math.nan) for i in CONVERGENCE_ITERS]])
            if "gla" in curves and "fgla" in curves and curves["gla"]:
                last = max(curves["gla"])
                target = curves["gla"][last]
                hit = [i for i in sorted(curves["fgla"]) if curves["fgla"][i] <= target]
                reach.append(f"{spec}: GLA after {last} iterations reaches {target:.1f} dB; FGLA "
                             + (f"is there by iteration {hit[0]}" if hit else "does not get there")
                             + "; GLA improves by "
                             f"{curves['gla'].get(10, math.nan) - target:.1f} dB from iteration 10 "
                             f"to {last}.")
    table = md_table(["spec", "method", *[f"it {i}" for i in CONVERGENCE_ITERS]], body)
    secs.append(Section("Claim 4: Griffin-Lim converges slowly (SC vs iterations)",
                        table + "\nSC (dB) against the true magnitude from the convergence trace "
                        "(`trace=true`), mean over all clips (clean mels).\n\n"
                        + "\n".join(f"- {r}" for r in reach) + "\n"))
    secs.append(Section("Discussion", THREAD_DISCUSSION))
    return secs


THREAD_DISCUSSION = """\
- The thread's claims are qualitative, so each is checked as an ordering per spec, degrade
  track and clip kind ("holds" / "does not hold" above), with earlier measurements for this
  project as a second reference (not published numbers).
- "NNLS beats pinv" depends on which non-negative solution is reached: the problem is
  underdetermined, and librosa's own `mel_to_stft` stops at its start (the clipped pinv).
  melbench's `nnls` is warm-started from the clipped pinv and run to convergence.
- LWS here is melbench's own implementation with weights from the spec's Hann window, not
  the `lws` package (which assumes sqrt-Hann), the implementation the thread's remark
  presumably meant; its speed is this implementation's.
- `nnls_consistent` is melbench's inverter beyond NNLS (the mel-exact magnitude of a
  consistent spectrogram); the thread had nothing like it, so its column extends the claims.
- The degraded-mel track (`degrade=noise`: white noise in the log-mel domain, default SNR)
  shows whether the orderings survive model-like mels; true-magnitude (oracle) cells ignore
  the mel, so they repeat across that track.
- Data: two bundled speech clips and one music clip; speech is 8-16 kHz material resampled
  to the spec's rate. Run on a local corpus with e.g. `dataset=arctic dataset.root=...` or
  `dataset=ljspeech dataset.root=... dataset.subset=20`.
"""

# --------------------------------------------------------------------------- Peer et al. 2022

#: FFT-pair budgets at which the Peer et al. report reads the convergence traces.
PEER_BUDGETS = (25, 50, 100, 200, 400)
PEER_ORDER = ("gla", "fgla", "raar", "dm", "raar>fgla", "dm>fgla")


def _budget_curves(g: pd.DataFrame, budgets: Sequence[float]) -> dict[float, float]:
    """The papers' mean SC (:func:`db_of_mean`) over the rows of ``g`` at each FFT budget."""
    pts = [trace_at(t, budgets) for t in g["trace"]] if "trace" in g else []
    pts = [p for p in pts if p]
    if not pts or len(pts) < len(g):
        return {}
    return {b: db_of_mean(p[b] for p in pts) for b in budgets if all(b in p for p in pts)}


def _peer_build(rows: pd.DataFrame) -> list[Section]:
    ok = _with_keys(_ok(rows))
    if ok.empty:
        return [Section("Results", "(no scored rows)")]
    methods = [k for k in PEER_ORDER if k in set(ok["method"])]
    methods += [k for k in dict.fromkeys(ok["method"]) if k not in methods]
    body, final, curves, pairs = [], {}, {}, {}
    for k in methods:
        g = ok[ok["method"] == k]
        final[k] = _db_mean(g, "sc_db")
        pairs[k] = _mean(g, "fft_pairs")
        curves[k] = _budget_curves(g, PEER_BUDGETS)
        body.append([display(k), g["phase"].iloc[0].split("[", 1)[-1].rstrip("]")
                     if method_key(g["phase"].iloc[0]) != "chain" else g["phase"].iloc[0],
                     pairs[k], _mean(g, "sc_db"), final[k],
                     *[curves[k].get(b, math.nan) for b in PEER_BUDGETS], _mean(g, "t_phase")])
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
    full = max(finite) if finite else math.nan
    best = ordering(final)
    if best:
        lines.append("Final SC at the full budget, best first (dB of the mean): "
                     + " > ".join(f"{display(k)} ({final[k]:.1f})" for k in best) + ".")
    claims = []
    if "dm>fgla" in final and len(best) > 1:
        others = {k: v for k, v in final.items() if k != "dm>fgla"}
        runner_up = ordering(others)[0]
        claims.append(["The DM/FGLA hybrid reconstructs best at an equal budget",
                       _claim(best[0] == "dm>fgla", others[runner_up] - final["dm>fgla"])
                       + f" (vs {display(runner_up)})"])
    if "dm>fgla" in curves and "fgla" in curves:
        shared = [b for b in PEER_BUDGETS if b in curves["dm>fgla"] and b in curves["fgla"]
                  and b < full]
        if shared:
            wins = [b for b in shared if curves["dm>fgla"][b] < curves["fgla"][b]]
            claims.append(["The DM/FGLA hybrid converges faster than FGLA (SC along the way)",
                           _claim(len(wins) == len(shared))
                           + f" (ahead at {len(wins)} of {len(shared)} budgets: "
                           + ", ".join(f"{b} pairs {curves['fgla'][b] - curves['dm>fgla'][b]:+.1f} dB"
                                       for b in shared) + ")"])
    for k in ("raar", "dm"):
        if k in final and "gla" in final:
            claims.append([f"{display(k)} beats GLA at an equal budget",
                           _claim(final[k] < final["gla"], final["gla"] - final[k])])
        if k in final and "fgla" in final:
            claims.append([f"{display(k)} beats FGLA at an equal budget",
                           _claim(final[k] < final["fgla"], final["fgla"] - final[k])])
    ct = md_table(["claim (from the paper's abstract and title)", "here"], claims)
    text = (table + "\nSC in dB (lower is better) against the true magnitude, two speech clips. "
            "'at N pairs': from the convergence traces, the SC each method had after N FFT "
            "pairs (dB of the mean over clips), so methods of different cost per iteration "
            "(DM: two pairs) are compared at equal work; the hybrids switch method half-way. "
            "Margins in brackets are in favour of the claim.\n\n"
            + "\n".join(f"- {x}" for x in lines) + "\n\n" + ct)
    return [Section("Equal-budget comparison beside Peer et al. (2022)", text),
            Section("Discussion", PEER_DISCUSSION)]


PEER_DISCUSSION = """\
- Published numbers: none are put beside these. Only the paper's abstract could be read here
  (its tables and figures could not), so the reproduction checks its stated claims
  (the hybrid of Griffin-Lim and the difference map is superior "in terms of both
  convergence and quality of the final reconstruction"; RAAR and DM do better than
  Griffin-Lim), not its values.
- Equal budgets: every cell gets 400 FFT pairs per clip, counted by `melbench.costs`
  (the `fft_pairs` column): GLA, FGLA and RAAR 400 iterations, DM 200 (two projections per
  iteration), the hybrids 200 + 200 pairs. At equal *iterations* DM would get twice the
  work of the others.
- Parameters are melbench's defaults (RAAR beta 0.9, DM beta 0.7, FGLA alpha 0.99; random
  initial phase, seed 0); the paper's set-up (corpus, STFT, switching point of the hybrid,
  relaxation values) was not verified, so the STFT is `speech16k` (16 kHz, 1024/256 Hann).
"""

# --------------------------------------------------------------------------- Nenov et al. 2023

#: FGLA iterations whose SC AGLA has to reach in the AGLA-claim report.
AGLA_TARGETS = (25, 50, 100, 200, 300)


def _first_reach(trace_json: str, target: float) -> int | None:
    """First iteration whose SC is at or below ``target`` (None if never)."""
    pts = trace_sc(trace_json, range(0, 100000))
    for it in sorted(pts):
        if pts[it] <= target:
            return it
    return None


def _agla_build(rows: pd.DataFrame) -> list[Section]:
    ok = _with_keys(_ok(rows))
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
                hit = _first_reach(a_rows["trace"].iloc[0], f_sc[it])
                total += 1
                fewer += hit is not None and hit < it
                if hit:
                    ratios.append(it / hit)
                body.append([display_params(lab), clip, f_rows["kind"].iloc[0], it, f_sc[it],
                             hit if hit is not None else "not reached",
                             it / hit if hit else math.nan])
        f_final, a_final = _db_mean(fg, "sc_db"), _db_mean(ag, "sc_db")
        summary.append([display_params(lab), f"{fewer} of {total}",
                        float(np.median(ratios)) if ratios else math.nan,
                        _mean(ag, "fft_pairs") / max(float(n_iter_of(lab) or 1), 1.0),
                        _mean(fg, "fft_pairs") / max(float(n_iter_of(fg["phase"].iloc[0]) or 1), 1.0),
                        a_final, f_final,
                        _claim(total > 0 and fewer == total)])
    table = md_table(["AGLA variant", "clip", "kind", "FGLA iterations", "FGLA SC (dB)",
                      "AGLA iterations to reach it", "FGLA / AGLA iterations"], body)
    st = md_table(["AGLA variant", "targets reached in fewer iterations", "median speed-up",
                   "AGLA FFT pairs / iteration", "FGLA FFT pairs / iteration",
                   "AGLA final SC (dB of mean)", "FGLA final SC (dB of mean)",
                   "claim: fewer iterations for the same SC"], summary)
    text = (st + "\nPer clip and target: the SC FGLA has after N iterations, and the first "
            "iteration at which AGLA is at or below it (convergence traces, true magnitude, "
            "random initial phase, seed 0). Both cost one FFT pair per iteration (counted), "
            "so fewer iterations is less work.\n\n" + table)
    return [Section("AGLA against FGLA: iterations to the same SC", text),
            Section("Discussion", AGLA_DISCUSSION)]


def display_params(label: str) -> str:
    """A phase label's parameters only (``agla[alpha=0.99,...]`` -> ``alpha=0.99,...``)."""
    label = str(label)
    return label.split("[", 1)[1].rstrip("]") if "[" in label else label


AGLA_DISCUSSION = """\
- Published numbers: none are put beside these; the paper's own figures could not be read
  here. The claim checked is the one its title and abstract make (AGLA is faster than FGLA:
  it reaches a given spectral convergence in fewer iterations, at the same cost per
  iteration).
- Both methods start from the same seeded random phase and run 300 iterations; each target
  is FGLA's own SC at 25 ... 300 iterations on that clip, so "reached in fewer iterations"
  compares work to equal quality.
- AGLA's parameters are listed per variant: melbench's defaults (alpha 0.99, beta 1.1,
  gamma 1.25) lie outside the convergence region proved in the paper (alpha < 0.056 there;
  `agla_alpha_bound`), `alpha=0.05` inside it, and `schedule=increasing` is a port's
  momentum schedule (see the `agla` docstring). The STFT is `speech16k` (16 kHz, 1024/256
  Hann), not verified against the paper's set-up.
"""

# --------------------------------------------------------------------------- registry

EXPERIMENTS: dict[str, PaperExperiment] = {}


def _register(exp: PaperExperiment) -> None:
    EXPERIMENTS[exp.name] = exp


_register(PaperExperiment(
    name="librosa_thread",
    title="The librosa thread's claims, measured",
    citations=[LIBROSA_THREAD],
    summary=(
        "The discussion melbench comes from made four claims: the pseudo-inverse of the mel "
        "filterbank beats its transpose; NNLS beats the pseudo-inverse; LWS beats Griffin-Lim "
        "on speech and is faster; Griffin-Lim converges slowly. Each is checked here on the "
        "bundled speech and music at the `speech16k` and `tts22k` specs, on clean mels and "
        "on the degraded-mel track, together with the inverter melbench adds beyond NNLS."
    ),
    paper_setup=[
        "No fixed set-up: remarks by librosa users and maintainers (Ellis, Donahue, McFee) "
        "in the issue thread, mostly about librosa's defaults (n_fft 2048, hop 512, Slaney "
        "mel of power) and speech.",
        "Not verified: the exact wording of each remark (the claims are taken as summarised "
        "in ALGORITHMS.md; the issue numbers were checked).",
    ],
    melbench_setup=[
        "Dataset: bundled `cmu_arctic_a0007` (speech, 4 s), `allison_vm-review` (speech, "
        "7.7 s), `vibe_ace_00-08s` (music, 8 s).",
        "Specs `speech16k` (16 kHz, 1024/256, 80 Slaney mels of magnitude, linear) and "
        "`tts22k` (22.05 kHz, 1024/256, 80 mels, ln-compressed magnitude, fmax 8 kHz).",
        "Cells (`+method=thread_*`): transpose/pinv/nnls/<new inverter> + FGLA 100; nnls + GLA "
        "100 / LWS; true magnitude + GLA 100 / FGLA 100 / LWS; each on `degrade=none` and "
        "`degrade=noise`; convergence traces on (`trace=true`). Metrics: sc, mag_sc, pesq, timing.",
    ],
    build=_thread_build,
    needs={"inverter": ["transpose", "pinv", "nnls", "nnls_consistent", "oracle"],
           "phase": ["gla", "fgla", "lws"],
           "metric": ["sc", "mag_sc", "pesq", "timing"]},
))

_register(PaperExperiment(
    name="prusa2017_pghi",
    title="Prusa, Balazs & Søndergaard (2017), PGHI: Table 1 reproduced",
    citations=[PRUSA2017],
    summary=(
        "Phase retrieval from the true STFT magnitude (`inverter=oracle`): SPSI, PGHI, GLA, "
        "FGLA and RTISI-LA, and GLA/FGLA warm-started by PGHI, 200 iterations, spectral "
        "convergence in dB, at the STFT set-up of the paper's SQAM experiments "
        "(spec `prusa2017_sqam`: 44.1 kHz, 2048 channels, hop 256, Hann)."
    ),
    paper_setup=[
        "Material: EBU SQAM (70 files, first 10 s each, 44.1 kHz; `repr_fig4.m`, "
        "`maxsamples = 10*44100`); speech experiments on MOCHA-TIMIT fsew0/msak0 at 16 kHz "
        "(`repr_fig3.m`). Table 1's numbers (all files / speech) are quoted from ALGORITHMS.md; "
        "the table itself could not be read here, so which window and which speech set its "
        "columns use is not verified.",
        "STFT (verified in the scripts): SQAM a = 256, M = 2048 (redundancy 8); MOCHA a = 128, "
        "M = 1024 (redundancy 8); window length = M; windows gauss, truncgauss, hann, hamming "
        "(one run each); LTFAT's periodic DGT with the canonical dual window for synthesis.",
        "Methods (verified in `comparetoall.m`): 200 iterations (`maxit = 200`), GLA and FGLA "
        "(alpha 0.99, LTFAT `frsynabs`) started from zero phase or from the PGHI result "
        "(`wsheapint`); PGHI with two passes of relative tolerance 1e-1 then 1e-4; RTISI-LA "
        "with 25 per-frame iterations at the end of its schedule; SC = "
        "||s - |DGT(f)| || / ||s|| in dB.",
    ],
    melbench_setup=[
        "Dataset: bundled `cmu_arctic_a0007` (speech, 4 s), `allison_vm-review` (speech, 7.7 s), "
        "`vibe_ace_00-08s` (music, 8 s), resampled to 44.1 kHz (three clips keep the run within "
        "minutes on 2 cores; a local SQAM copy runs with `dataset=folder "
        "dataset.path=/path/to/SQAM`).",
        "Spec `prusa2017_sqam` (44.1 kHz, n_fft 2048, hop 256, Hann 2048, centred zero-padded "
        "STFT). `spec=prusa2017_mocha` gives the speech set-up (16 kHz, 1024/128).",
        "Cells (`+method=prusa2017_*`): spsi, pghi, gla 200 (zero start), fgla 200 (zero start, "
        "alpha 0.99), rtisi_la (25 rounds per frame), chain pghi>gla:200, chain pghi>fgla:200. "
        "Metrics: sc, timing.",
    ],
    build=_prusa_build,
    needs={"inverter": ["oracle"], "phase": ["spsi", "pghi", "gla", "fgla", "rtisi_la", "chain"]},
))

_register(PaperExperiment(
    name="marafioti2021_redundancy",
    title="Marafioti, Holighaus & Majdak (2021): PGHI vs FGLA over redundancy",
    citations=[MARAFIOTI2021],
    summary=(
        "PGHI and FGLA from the true magnitude at 1024 channels with hops 512, 256, 128, 64 "
        "and 32 (redundancy 2 to 32), on bundled speech, measured both in the run's own STFT "
        "and in one fixed STFT as the paper does."
    ),
    paper_setup=[
        "Material (verified in the scripts): LJSpeech 1.1 at 22.05 kHz, 128 excerpts of "
        "L = 2^13*3*5 = 122880 samples (5.6 s). Numbers quoted from ALGORITHMS.md; the paper's "
        "table itself was not read here.",
        "STFT: M = 1024 channels, a = M / redundancy, redundancy in {32, 16, 8, 4, 2}; window a "
        "full-length Gaussian with time-frequency ratio a*M/L ('timeinv' phase), i.e. its width "
        "follows the hop; gamma = a*M for PGHI (tolerance 1e-7); FGLA = phaseret `gla(..., "
        "'fgla')`: 100 iterations, alpha 0.99, zero initial phase.",
        "Measure: SC in dB of both signals analysed with a fixed Gaussian DGT, M = 2048, a = 128 "
        "(`magnitudeerrdb`), the same for every redundancy.",
    ],
    melbench_setup=[
        "Dataset: bundled speech `cmu_arctic_a0007` (4 s) and `allison_vm-review` (7.7 s) "
        "resampled to 22.05 kHz. Local LJSpeech: `dataset=ljspeech dataset.root=...`.",
        "Specs `marafioti2021_r{2,4,8,16,32}`: 22.05 kHz, n_fft 1024, Hann 1024, hop 1024/r; "
        "`marafioti2021_gauss_r{2,...,32}`: the same with a truncated Gaussian of gamma = hop x 1024 "
        "(support min(1024, sqrt(gamma / 0.17055)) samples).",
        "Cells (`+method=marafioti2021_*`): pghi, fgla 100 (zero start, alpha 0.99). Metrics: sc "
        "(own STFT), sc_fixed (2048/128 truncated Gaussian, gamma = 262144 as the paper's), timing.",
    ],
    build=_marafioti_build,
    needs={"inverter": ["oracle"], "phase": ["pghi", "fgla"], "metric": ["sc", "sc_fixed", "timing"]},
))

_register(PaperExperiment(
    name="beyond_papers",
    title="Beyond the papers: where phase retrieval stands on one page",
    citations=[PRUSA2017, BEYOND_REFS],
    summary=(
        "Prusa et al.'s Table 1 methods (true magnitude, 200 iterations) at the paper's speech "
        "STFT set-up (spec `prusa2017_mocha`: 16 kHz, 1024 channels, hop 128, redundancy 8), "
        "with every phase retriever melbench has, including those the paper did not have: "
        "AGLA, RAAR, the difference map, melbench's LWS, and PGHI then RAAR."
    ),
    paper_setup=[
        "As for `prusa2017_pghi` (see that folder); the speech set-up (MOCHA-TIMIT, 16 kHz, "
        "a = 128, M = 1024, `repr_fig3.m`) is verified in the scripts. The published columns "
        "are Table 1's (all SQAM files / speech), as quoted in ALGORITHMS.md; the newer "
        "methods have no published numbers in this set-up.",
    ],
    melbench_setup=[
        "Dataset as `prusa2017_pghi` (three bundled clips), resampled to 16 kHz; spec "
        "`prusa2017_mocha` (16 kHz, n_fft 1024, hop 128, Hann 1024), the set-up of the paper's "
        "MOCHA-TIMIT speech experiments (`spec=prusa2017_sqam` for the SQAM one).",
        "Cells (`+method=prusa2017_*` and `beyond_*`): the paper's seven methods plus agla 200, "
        "raar 200, dm 100 (200 FFT pairs, as the others), lws, chain pghi>raar:200. Metrics: "
        "sc, timing.",
    ],
    build=_beyond_build,
    needs={"inverter": ["oracle"],
           "phase": ["spsi", "pghi", "gla", "fgla", "rtisi_la", "chain", "agla", "raar", "dm", "lws"]},
))


_register(PaperExperiment(
    name="peer2022_beyond_gl",
    title="Peer, Welker & Gerkmann (2022), Beyond Griffin-Lim: RAAR, DM and hybrids at equal cost",
    citations=[PEER2022],
    summary=(
        "GLA, FGLA, RAAR, the difference map and the hybrids RAAR then FGLA and DM then FGLA, "
        "from the true magnitude of speech, each given the same budget of 400 FFT pairs per "
        "clip (counted by melbench.costs; DM runs half the iterations because each costs two "
        "pairs), with the SC at smaller budgets read from the convergence traces."
    ),
    paper_setup=[
        "Claims (from the abstract, arXiv:2205.05496): RAAR and DM, from optics, compared with "
        "the classical algorithms on speech in reconstruction quality and convergence rate; a "
        "hybrid of Griffin-Lim and DM shows superior results in both.",
        "Not verified: the corpus, STFT, iteration counts, relaxation parameters and the "
        "hybrid's switching point (the paper's body could not be read here).",
    ],
    melbench_setup=[
        "Dataset: the two bundled speech clips (`paper_speech`: CMU ARCTIC a0007, 4 s; "
        "Allison vm-review, 7.7 s), spec `speech16k` (16 kHz, 1024/256 Hann, redundancy 4).",
        "Cells (`+method=peer2022_*`): gla 400, fgla 400, raar 400, dm 200, chain raar:200 > "
        "fgla:200, chain dm:100 > fgla:200; random initial phase (seed 0); traces on. "
        "Metrics: sc, timing.",
    ],
    build=_peer_build,
    needs={"inverter": ["oracle"], "phase": ["gla", "fgla", "raar", "dm", "chain"]},
))

_register(PaperExperiment(
    name="nenov2023_agla",
    title="Nenov et al. (2023), accelerated Griffin-Lim: fewer iterations than FGLA?",
    citations=[NENOV2023],
    summary=(
        "AGLA against FGLA from the true magnitude of the three bundled clips: for FGLA's SC "
        "after 25, 50, 100, 200 and 300 iterations, how many iterations AGLA needs to reach "
        "it (both cost one FFT pair per iteration)."
    ),
    paper_setup=[
        "Claim (title and abstract, arXiv:2306.12504): AGLA, an inertial method with a "
        "convergence guarantee, is faster than FGLA (and GLA) for STFT phase retrieval.",
        "Not verified: the paper's signals, STFT and parameter values (its figures could not "
        "be read here).",
    ],
    melbench_setup=[
        "Dataset: `paper_clips` (two speech clips, one music clip), spec `speech16k` "
        "(16 kHz, 1024/256 Hann).",
        "Cells (`+method=nenov2023_*`): fgla 300 (alpha 0.99) and agla 300 three ways: "
        "melbench's defaults (alpha 0.99, beta 1.1, gamma 1.25, outside the proven region), "
        "the increasing momentum schedule, and alpha 0.05 (inside the proven region); random "
        "initial phase (seed 0), traces on. Metrics: sc, timing.",
    ],
    build=_agla_build,
    needs={"inverter": ["oracle"], "phase": ["fgla", "agla"]},
))


def missing_plugins(name: str) -> dict[str, list[str]]:
    """Plugins an experiment needs that are not registered/available in this process."""
    from . import registry

    exp = EXPERIMENTS[name]
    out: dict[str, list[str]] = {}
    for kind, names in exp.needs.items():
        have = set(registry.available(kind))
        miss = [n for n in names if n not in have]
        if miss:
            out[kind] = miss
    return out


# --------------------------------------------------------------------------- CLI


def parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m melbench.papers``."""
    p = argparse.ArgumentParser(
        prog="python -m melbench.papers",
        description="Write a paper-reproduction report (README.md + rows.csv) from a run of "
                    "`melbench run -m +experiment=<name>`.",
        epilog="experiments: " + ", ".join(EXPERIMENTS)
               + "\nexit codes: 0 written; 2 bad input (unknown experiment, no rows).",
    )
    p.add_argument("experiment", nargs="?", help="experiment name (conf/experiment/<name>.yaml)")
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="sweep/run directories or rows.csv")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="output folder (default results/papers/<experiment>)")
    p.add_argument("--command", default=None, help="the command that produced the run, if not "
                                                   "the documented one")
    p.add_argument("--melbench-report", action="store_true",
                   help="also write `melbench report`'s tables and figures into OUT/report")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.list or not args.experiment:
        for name, exp in EXPERIMENTS.items():
            print(f"{name:26s} {exp.title}\n{'':26s} {exp.command}")
        return 0 if args.list else 2
    if args.experiment not in EXPERIMENTS:
        print(f"melbench.papers: error: unknown experiment {args.experiment!r}; "
              f"known: {', '.join(EXPERIMENTS)}", file=sys.stderr)
        return 2
    if not args.runs:
        print("melbench.papers: error: give the run directory (or rows.csv) to report",
              file=sys.stderr)
        return 2
    out = args.out or Path("results/papers") / args.experiment
    try:
        path = write_report(args.experiment, args.runs, out, command=args.command,
                            melbench_report=args.melbench_report)
    except Exception as exc:  # noqa: BLE001 - reported with the exit code of bad input
        print(f"melbench.papers: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"report written to {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
