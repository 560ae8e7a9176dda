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
from melbench.report import axes, plots, render, tables
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



# --------------------------------------------------------------------------- labels and axes


LONG_A = ("lws[L=5,batch_alpha=100,batch_beta=0.1,batch_gamma=1,init=zero,look_ahead=3,"
          "mode=speech,online_alpha=1]")
LONG_B = ("lws[L=3,batch_alpha=50,batch_beta=0.2,batch_gamma=2,init=random,look_ahead=2,"
          "mode=music,online_alpha=2]")


def test_wrap_label_breaks_at_separators_and_keeps_the_text():
    lines = render.wrap_label(LONG_A, 28)
    assert "".join(lines) == LONG_A and len(lines) > 2
    assert all(len(line) <= 28 for line in lines)
    assert all(line[-1] in ",>/; " for line in lines[1:-1])  # each break follows a separator
    assert lines[0] == "lws[L=5,batch_alpha=100,"
    assert render.wrap_label("gla", 28) == ["gla"]
    assert render.wrap_label("x" * 30, 12) == ["x" * 12, "x" * 12, "x" * 6]  # no separator: cut
    assert render.wrap_label("chain[pghi>fgla:100]", 12) == ["chain[pghi>", "fgla:100]"]
    assert render.wrap_label("chain[pghi>fgla:100]", 8) == ["chain", "[pghi>", "fgla:100", "]"]
    with pytest.raises(ValueError, match="width"):
        render.wrap_label("a", 0)


def _long_label_stats():
    rows = synthetic_rows()
    rows = rows[rows["inverter"] != "c"].copy()
    rows.loc[rows["inverter"] == "a", "phase"] = LONG_A
    rows.loc[rows["inverter"] == "b", "phase"] = LONG_B
    return tables.cell_stats(rows, n_boot=50)


def test_markdown_and_latex_wrap_long_labels():
    md = tables.to_markdown(_long_label_stats())
    body = [line for line in md.splitlines() if line.startswith("| a ") or line.startswith("| b ")]
    assert len(body) == 2
    for line in body:
        phase = line.split(" | ")[1]
        pieces = phase.split("<br>")
        assert len(pieces) >= 3 and all(len(p) <= render.LABEL_WIDTH for p in pieces)
        assert "".join(pieces) in (LONG_A, LONG_B)  # nothing lost to the wrapping
    tex = tables.to_latex(_long_label_stats())
    assert tex.count(r"\shortstack[l]{") == 2 and r"lws{[}L=5,batch\_alpha=100,\\" in tex


@pytest.mark.parametrize(("lo", "hi", "expected"), [
    (0.3, 0.9, [0.3, 0.5, 0.7]),          # under a decade: 1-2-3-5-7
    (0.15, 3.0, [0.2, 0.5, 1.0, 2.0]),    # 1-2-5
    (0.004, 400.0, [0.01, 0.1, 1.0, 10.0, 100.0]),  # many decades: powers of ten
    (116.0, 464.0, [200.0, 300.0, 400.0]),  # one point widened: 1..9
])
def test_log_ticks_give_several_ticks_inside_the_range(lo, hi, expected):
    assert axes.log_ticks(lo, hi) == pytest.approx(expected)


def test_log_ticks_narrow_range_and_bad_input():
    ticks = axes.log_ticks(0.21, 0.26)  # no 1..9 mantissa inside: rounded log-spaced values
    assert len(ticks) >= 3 and all(0.21 <= t <= 0.26 for t in ticks) and ticks == sorted(ticks)
    with pytest.raises(ValueError, match="0 < lo < hi"):
        axes.log_ticks(0.0, 1.0)


def test_tick_texts_have_units():
    assert [axes.format_seconds(v) for v in (0.0005, 0.02, 0.5, 2.0, 90.0, 150.0)] == [
        "500 µs", "20 ms", "0.5 s", "2 s", "90 s", "2.5 min"]
    assert [axes.format_count(v) for v in (50, 200, 1500, 20000, 3e6)] == [
        "50", "200", "1.5k", "20k", "3M"]


def _crowded_rows(n_cells=9):
    """Cells whose times span less than a decade and whose scores nearly tie."""
    rows = []
    for i in range(n_cells):
        for clip in ("x", "y"):
            rows.append({"dataset": "d", "spec": "s", "degrade": "none", "inverter": "pinv",
                         "phase": f"fgla[alpha={0.9 + i / 100:.2f},n_iter=100,init=random,"
                                  f"momentum_schedule=constant_{i}]",
                         "clip": clip, "seed": 0, "status": "ok",
                         "pesq_wb": 3.0 + 0.004 * i, "t_invert": 0.01,
                         "t_phase": 0.30 + 0.01 * i, "t_synth": 0.001, "fft_pairs": 100 + i})
    return pd.DataFrame(rows)


def _boxes(artists, renderer):
    return [a.get_window_extent(renderer) for a in artists]


def _overlap(a, b):
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


@pytest.mark.parametrize("cost", ["seconds", "fft_pairs"])
def test_pareto_axis_ticks_labels_and_key_are_readable(cost):
    fig = plots.pareto_figure(_crowded_rows(), quality="pesq_wb", better="higher", cost=cost)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax, key = fig.axes[0], fig.axes[1]
    lo, hi = ax.get_xlim()
    assert ax.get_xscale() == "log"
    labelled = [t for t in ax.get_xticklabels()
                if t.get_text() and lo <= t.get_position()[0] <= hi]
    assert len(labelled) >= axes.MIN_TICKS, [t.get_text() for t in ax.get_xticklabels()]
    if cost == "seconds":
        assert all(t.get_text().endswith((" s", " ms")) for t in labelled)
    # numbered points: the numbers overlap neither each other nor any marker
    nums = list(ax.texts)
    assert sorted(int(t.get_text()) for t in nums) == list(range(1, 10))
    boxes = _boxes(nums, renderer)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _overlap(boxes[i], boxes[j]), (nums[i].get_text(), nums[j].get_text())
    frame = ax.get_window_extent(renderer)
    for b in boxes:
        assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
    offsets = ax.collections[0].get_offsets()
    centres = ax.transData.transform(np.asarray(offsets))
    r = 3.0 * fig.dpi / 72  # s=30 points^2: radius about 2.7 points
    for (cx, cy) in centres:
        for b in boxes:
            assert not (b.x0 < cx + r and cx - r < b.x1 and b.y0 < cy + r and cy - r < b.y1)
    # the key: every number with its label, wrapped, beside (not over) the panel
    legend = key.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == 9 and texts[0].startswith("1  pinv / fgla[")
    assert all(len(line.strip()) <= plots.KEY_WIDTH + 4 for t in texts for line in t.split("\n"))
    assert any("\n" in t for t in texts)  # the long labels were wrapped
    assert not _overlap(legend.get_window_extent(renderer), frame)
    plots._plt().close(fig)


def _trace(n, pairs_per_iter, sc0, *, times=True, true=True, step=0.01):
    recs = []
    for k in range(n + 1):
        rec = {"iter": k, "sc_db": sc0 - k}
        if pairs_per_iter is not None:
            rec["fft_pairs"] = float(pairs_per_iter * k)
        if times:
            rec["t"] = step * k
        if true:
            rec["sc_true_db"] = sc0 / 2 - 0.5 * k
        recs.append(rec)
    return recs


def _traced_rows(true=True):
    import json

    rows = []
    for phase, tr_x, tr_y in (("fgla", _trace(4, 1, -5, true=true), _trace(4, 1, -7, true=true)),
                              ("dm", _trace(4, 2, -6, true=true), _trace(4, 2, -8, true=true)),
                              ("lws", _trace(3, None, -9, times=False, true=true),
                               _trace(3, None, -9, times=False, true=true)),
                              ("spsi", _trace(0, 0, -4, true=False), _trace(0, 0, -4, true=False))):
        for clip, tr in (("x", tr_x), ("y", tr_y)):
            rows.append({"dataset": "d", "spec": "s", "degrade": "none", "inverter": "pinv",
                         "phase": phase, "clip": clip, "seed": 0, "status": "ok",
                         "trace": json.dumps(tr)})
    return pd.DataFrame(rows)


def test_convergence_is_true_sc_against_fft_pairs_and_seconds():
    fig = plots.convergence_figure(_traced_rows())
    pairs_ax, secs_ax, key = fig.axes
    assert "FFT pairs" in pairs_ax.get_xlabel() and "seconds" in secs_ax.get_xlabel()
    assert "true magnitude" in pairs_ax.get_ylabel()
    lines = {ax: [ln for ln in ax.get_lines() if len(ln.get_xdata())] for ax in (pairs_ax, secs_ax)}
    assert len(lines[pairs_ax]) == 2 and len(lines[secs_ax]) == 2  # lws has neither field
    by_x = {tuple(np.round(ln.get_xdata(), 9)): ln.get_ydata() for ln in lines[pairs_ax]}
    # dm: 2 pairs per iteration; fgla: 1. y: mean over the two clips of sc_true_db
    assert np.allclose(by_x[(0, 2, 4, 6, 8)], [-3.5 - 0.5 * k for k in range(5)])
    assert np.allclose(by_x[(0, 1, 2, 3, 4)], [-3.0 - 0.5 * k for k in range(5)])
    secs = sorted(tuple(np.round(ln.get_xdata(), 9)) for ln in lines[secs_ax])
    assert secs == [(0, 0.01, 0.02, 0.03, 0.04)] * 2
    texts = [t.get_text() for t in key.get_legend().get_texts()]
    assert texts[:4] == ["1  pinv / dm", "2  pinv / fgla", "3  pinv / lws", "4  pinv / spsi"]
    notes = " ".join(" ".join(texts[4:]).split())
    assert "FFT-pair panel (no FFT-pair count in the trace): 3" in notes
    assert "seconds panel (no times in the trace): 3" in notes
    assert "not drawn (no sc_true_db in the trace): 4" in notes  # spsi: only sc_db
    plots._plt().close(fig)


def test_convergence_falls_back_to_sc_db_and_says_so():
    fig = plots.convergence_figure(_traced_rows(true=False))
    pairs_ax = fig.axes[0]
    assert "sc_db" in pairs_ax.get_ylabel() and "true magnitude" not in pairs_ax.get_ylabel()
    ys = sorted(tuple(ln.get_ydata()) for ln in pairs_ax.get_lines() if len(ln.get_xdata()))
    assert ys[0] == pytest.approx([-7.0 - k for k in range(5)])  # dm: mean of -6-k and -8-k
    notes = " ".join(" ".join(t.get_text() for t in fig.axes[2].get_legend().get_texts()).split())
    assert "not against the true magnitude" in notes
    plots._plt().close(fig)


def test_convergence_of_real_runs_counts_one_pair_per_gla_iteration(sweep):
    rows = load_runs([sweep]).rows
    fig = plots.convergence_figure(rows)
    pairs_ax = fig.axes[0]
    curves = [ln for ln in pairs_ax.get_lines() if len(ln.get_xdata())]
    assert len(curves) == len(CELLS)
    for ln in curves:  # gla and fgla: one projection (FFT pair) per iteration, n_iter=5
        assert np.allclose(ln.get_xdata(), np.arange(6))
    plots._plt().close(fig)


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
    """Results tables' rows, players (with their scores and images) and images of a page."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, int] = {}
        self.audio: list[str] = []
        self.img: list[str] = []
        self.players: list[dict] = []
        self.layout: str | None = None
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "body" and "data-layout" in a:
            self.layout = a["data-layout"]
        if tag == "table" and "results" in cls:
            self._table = a.get("data-group", "")
            self.rows[self._table] = 0
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table is not None and self._in_body:
            self.rows[self._table] += 1
        elif tag == "tr" and "player" in cls.split():
            self.players.append({"label": a.get("data-label"), "kind": cls.split()[-1],
                                 "audio": None, "scores": {}, "img": None})
        elif tag == "audio":
            self.audio.append(a.get("src", ""))
            if self.players:
                self.players[-1]["audio"] = a.get("src")
        elif tag == "span" and "score" in cls.split() and self.players:
            self.players[-1]["scores"][a["data-metric"]] = float(a["data-value"])
        elif tag == "img":
            self.img.append(a.get("src", ""))
            if "spec" in cls.split() and self.players:
                self.players[-1]["img"] = a.get("src")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tbody":
            self._in_body = False


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Measures the laid-out page (added to a copy of it: the report itself has no script).
LAYOUT_SCRIPT = """<script>
addEventListener('load', () => {
  const de = document.documentElement;
  const cells = [...document.querySelectorAll('td.label')].map(td => ({
    text: td.textContent, width: td.getBoundingClientRect().width,
    scroll: td.scrollWidth, client: td.clientWidth}));
  const images = [...document.images].map(i => ({src: i.getAttribute('src'), w: i.naturalWidth}));
  document.body.setAttribute('data-layout', JSON.stringify({
    page_scroll: de.scrollWidth, page_client: de.clientWidth, cells, images}));
});
</script></body>"""


@pytest.fixture(scope="module")
def long_sweep(sweep, tmp_path_factory):
    """The sweep plus two copies of its first run relabelled with long phase labels.

    The two labels differ in every parameter, so the tables keep them whole (the long
    labels real LWS or chain cells have); the copies keep the first run's audio.
    """
    root = tmp_path_factory.mktemp("long") / "sweep"
    shutil.copytree(sweep, root)
    for i, label in enumerate((LONG_A, LONG_B)):
        d = root / f"long{i}"
        shutil.copytree(sweep / "0", d)
        rows = pd.read_csv(d / "rows.csv")
        rows["phase"] = label
        rows.to_csv(d / "rows.csv", index=False)
    return root


def _chromium(url, tmp_path, *extra):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
           "--v=0", "--virtual-time-budget=3000", *extra, "--dump-dom", url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    return p.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs "
                    "Debian's chromium when run as root; apt-get install chromium)")
def test_html_report_in_headless_chromium(long_sweep, tmp_path):
    import json

    import soundfile as sf

    report = tmp_path / "report"
    assert report_main([str(long_sweep), "-o", str(report), "--n-boot", "100"]) == 0
    n_cells = len(CELLS) + 2
    dom = _DomScan()
    dom.feed(_chromium((report / "index.html").resolve().as_uri(), tmp_path))
    assert len(dom.rows) == 1  # one (dataset, spec, degrade) group
    assert list(dom.rows.values()) == [n_cells]
    assert len(dom.audio) == 1 + n_cells
    for src in dom.audio + dom.img:
        assert src and (report / src).is_file(), src
    assert any(s.endswith("convergence.png") for s in dom.img)
    # every file played is 32-bit float, and so is what the runs saved
    for src in dom.audio:
        assert sf.info(str(report / src)).subtype == "FLOAT", src
    for wav in long_sweep.rglob("audio/*.wav"):
        assert sf.info(str(wav)).subtype == "FLOAT", wav
    # every player has its spectrogram image; every estimate its scores for that clip,
    # equal to the run's row (the rows files read here, not through the report)
    assert [p["kind"] for p in dom.players] == ["reference"] + ["estimate"] * n_cells
    from matplotlib.image import imread

    for p in dom.players:
        assert p["img"] and p["img"] != p["audio"]
        pixels = imread(report / p["img"])  # a whole PNG (a cut file does not decode)
        assert pixels.shape[0] >= 100 and pixels.shape[1] > 2 * pixels.shape[0]
        assert pixels[..., :3].std() > 0.05  # not a blank image
    clip = next(c for c in CLIPS if runner.audio_paths(long_sweep / "0", c)[0].is_file())
    runs = [pd.read_csv(f) for f in sorted(long_sweep.rglob("rows.csv")) if f.parent != long_sweep]
    for metric in ("sc_true_db", "sc_db"):
        shown = sorted(p["scores"][metric] for p in dom.players if p["kind"] == "estimate")
        rows = sorted(float(r.loc[r["clip"] == clip, metric].iloc[0]) for r in runs)
        assert shown == pytest.approx(rows, rel=1e-12), metric
    assert len({p["img"] for p in dom.players}) == len(dom.players)
    # layout: long labels are wrapped in their cells and nothing widens the page
    page = report / "layout.html"
    page.write_text((report / "index.html").read_text().replace("</body>", LAYOUT_SCRIPT))
    laid = _DomScan()
    laid.feed(_chromium(page.resolve().as_uri(), tmp_path, "--window-size=1280,900"))
    layout = json.loads(laid.layout)
    assert layout["page_scroll"] <= layout["page_client"], layout
    long_cells = [c for c in layout["cells"] if "lws[" in c["text"]]
    assert len(long_cells) >= 2 * 2  # two table rows and two players
    for c in layout["cells"]:
        assert c["scroll"] <= c["client"] + 1 and c["width"] < 330, c
    # the browser decoded every image (figures and spectrograms)
    assert len(layout["images"]) == len(dom.img) and all(i["w"] > 0 for i in layout["images"])
