"""``melbench report``: statistics, tables in three formats, figures, HTML in a real browser."""

from __future__ import annotations

import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from melbench import runner
from melbench.report import tables
from melbench.report.cli import main as report_main
from melbench.report.runs import RunInputError, load_runs

CELLS = [("pinv", "gla"), ("transpose", "fgla")]
CLIPS = ["cmu_arctic_a0007", "allison_tt-allbusy"]


def make_sweep(root: Path) -> Path:
    """A sweep-shaped directory (one run directory per cell), with traces and saved audio."""
    for i, (inv, ph) in enumerate(CELLS):
        cfg = {
            "dataset": {"name": "bundled", "ids": CLIPS}, "spec": "speech16k",
            "inverter": {"name": inv}, "phase": {"name": ph, "n_iter": 5},
            "metrics": ["sc", "mel_sc", "timing"], "metric_jobs": 1, "seed": 0,
            "trace": True, "save_audio": 1, "cache_dir": None, "progress": False,
        }
        runner.run(cfg, root / str(i), echo=False)
    return root


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return make_sweep(tmp_path_factory.mktemp("sweep"))


@pytest.fixture(scope="module")
def report(sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert report_main([str(sweep), "-o", str(out), "--n-boot", "300"]) == 0
    return out


# --------------------------------------------------------------------------- statistics


def test_bootstrap_ci_is_seeded_and_brackets_the_mean(rng):
    v = rng.normal(3.0, 1.0, size=30)
    lo, hi = tables.bootstrap_ci(v, seed=1)
    assert (lo, hi) == tables.bootstrap_ci(v, seed=1)
    assert lo < v.mean() < hi
    wide_lo, wide_hi = tables.bootstrap_ci(v, seed=1, level=0.99)
    assert wide_lo <= lo and wide_hi >= hi
    assert all(math.isnan(x) for x in tables.bootstrap_ci([1.0]))


def synthetic_rows():
    rows = []
    for inv, sc, pesq in (("a", -10.0, 2.0), ("b", -20.0, 1.5), ("c", -15.0, 3.0)):
        for clip in ("x", "y"):
            for seed in (0, 1):
                rows.append({"dataset": "d", "spec": "s", "degrade": "none", "inverter": inv,
                             "phase": "gla", "clip": clip, "seed": seed, "status": "ok",
                             "sc_db": sc + seed * 0.1 + (clip == "y"), "pesq_wb": pesq,
                             "t_phase": 0.1})
    rows.append({**rows[0], "clip": "z", "status": "failed", "sc_db": np.nan,
                 "pesq_wb": np.nan})
    return pd.DataFrame(rows)


def test_stats_aggregate_seeds_mark_best_by_direction():
    st = tables.cell_stats(synthetic_rows(), n_boot=200)
    sc = st[st["metric"] == "sc_db"].set_index("inverter")
    pesq = st[st["metric"] == "pesq_wb"].set_index("inverter")
    assert list(sc.index) == ["a", "b", "c"]
    assert (sc["n"] == 2).all() and (sc["n_seeds"] == 2).all()  # two clips, seeds averaged
    assert sc.loc["a", "n_failed"] == 1 and sc.loc["a", "n_ok"] == 4
    assert sc.loc["a", "mean"] == pytest.approx(np.mean([-10 + 0.05, -9 + 0.05]))
    assert sc["best"].tolist() == [False, True, False]  # lower is better
    assert pesq["best"].tolist() == [False, False, True]  # higher is better
    assert not st.loc[st["metric"] == "t_phase", "best"].any()  # every cell ties: no best


def test_markdown_latex_csv_renderings():
    st = tables.cell_stats(synthetic_rows(), n_boot=200)
    md = tables.to_markdown(st)
    assert "| inverter | phase |" in md and "sc_db ↓" in md and "pesq_wb ↑" in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert sum(line.count("**") for line in table) == 2 * 2  # sc and pesq; t_phase all tie
    tex = tables.to_latex(st)
    assert r"\textbf{" in tex and r"sc\_db" in tex and r"\toprule" in tex
    assert "_db" not in tex.replace(r"\_db", "")
    back = pd.read_csv(pd.io.common.StringIO(tables.to_csv(st)))
    assert list(back.columns) == list(tables.STATS_COLUMNS)
    assert len(back) == len(st)


def test_short_labels_keep_only_varying_parameters():
    short = tables.short_labels(["fgla[alpha=0.99,n_iter=5]", "fgla[alpha=0.9,n_iter=5]",
                                 "gla[n_iter=5]", "lws[ids=[a,b],x=1]"])
    assert short["fgla[alpha=0.99,n_iter=5]"] == "fgla[alpha=0.99]"
    assert short["gla[n_iter=5]"] == "gla"
    assert short["lws[ids=[a,b],x=1]"] == "lws"
    # custom labels (not k=v) are kept whole; two labels never share a short name
    custom = tables.short_labels(["chain[pghi>fgla:200:alpha=0.99]", "chain[pghi>gla:200]"])
    assert set(custom.values()) == set(custom)


# --------------------------------------------------------------------------- the command


def test_report_writes_tables_figures_html_and_audio(report):
    for name in ("results.md", "results.csv", "results.tex", "index.html", "convergence.png"):
        assert (report / name).is_file(), name
    assert list(report.glob("pareto_*.png")) and list(report.glob("dist_*.png"))
    st = pd.read_csv(report / "results.csv")
    assert len(st[["inverter", "phase"]].drop_duplicates()) == len(CELLS)
    assert st.groupby("metric")["best"].sum().max() >= 1
    wavs = list((report / "audio").glob("*.wav"))
    assert len(wavs) == 1 + len(CELLS)  # one clip: the reference and each cell


def test_seed_repetitions_become_one_line(sweep, tmp_path):
    # the same cells again with another seed: the report aggregates over seeds
    runs = load_runs([sweep])
    other = runs.rows.copy()
    other["seed"] = 1
    d = tmp_path / "seed1"
    d.mkdir()
    other.drop(columns=["_run_dir"]).to_csv(d / "rows.csv", index=False)
    out = tmp_path / "rep"
    assert report_main([str(sweep), str(d), "-o", str(out), "--no-plots", "--no-html"]) == 0
    st = pd.read_csv(out / "results.csv")
    assert len(st[["inverter", "phase"]].drop_duplicates()) == len(CELLS)
    assert (st["n_seeds"] == 2).all()


def test_missing_dir_unknown_metric_and_corrupt_rows_exit_2(sweep, tmp_path, capsys):
    assert report_main([str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert report_main([str(sweep), "-o", str(tmp_path / "r"), "--metrics", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric" in err and "sc_db" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report_main([str(empty)]) == 2
    assert "no rows.csv found" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    good = (sweep / "0" / "rows.csv").read_text()
    (bad / "rows.csv").write_text(good[: good.index("\n") + 40] + '"unterminated')
    assert report_main([str(bad)]) == 2
    assert "half-written" in capsys.readouterr().err
    with pytest.raises(RunInputError):
        load_runs([])


def test_half_finished_sweep_is_reported_not_fatal(sweep, tmp_path, capsys):
    half = tmp_path / "half"
    shutil.copytree(sweep, half)
    (half / "2" / ".hydra").mkdir(parents=True)  # a job that never wrote rows
    info = half / "1" / "run.json"
    info.write_text(info.read_text().replace('"complete": true', '"complete": false'))
    assert report_main([str(half), "-o", str(tmp_path / "r"), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "without rows.csv" in err and "did not finish" in err
    assert "did not finish" in (tmp_path / "r" / "index.html").read_text()


# --------------------------------------------------------------------------- the browser


class _DomScan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: dict[str, int] = {}
        self.audio: list[str] = []
        self.img: list[str] = []
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "results" in (a.get("class") or ""):
            self._table = a.get("data-group", "")
            self.rows[self._table] = 0
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table is not None and self._in_body:
            self.rows[self._table] += 1
        elif tag == "audio":
            self.audio.append(a.get("src", ""))
        elif tag == "img":
            self.img.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tbody":
            self._in_body = False


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs "
                    "Debian's chromium when run as root; apt-get install chromium)")
def test_html_report_in_headless_chromium(report, tmp_path):
    page = (report / "index.html").resolve()
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
           "--v=0", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    dom = _DomScan()
    dom.feed(p.stdout)
    assert len(dom.rows) == 1  # one (dataset, spec, degrade) group
    assert list(dom.rows.values()) == [len(CELLS)]
    assert len(dom.audio) == 1 + len(CELLS)
    for src in dom.audio + dom.img:
        assert src and (report / src).is_file(), src
    assert any(s.endswith("convergence.png") for s in dom.img)
