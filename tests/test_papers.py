"""Paper reproductions: configs compose, tiny runs end to end, report logic against references.

The report logic is checked on fabricated rows whose right answers are computed here
independently (numpy aggregations, ``scipy.stats.kendalltau``, orderings by hand), and the
published columns are read back from the rendered page rather than copied from papers.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from melbench import hydra_configs, papers, registry
from melbench.resources import config_dir

EXPERIMENTS = ["librosa_thread", "prusa2017_pghi", "marafioti2021_redundancy", "beyond_papers",
               "peer2022_beyond_gl", "nenov2023_agla"]


def _compose(overrides: list[str], hydra_cfg: bool = False):
    from hydra import compose, initialize_config_dir

    hydra_configs.register_hydra_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=hydra_cfg)


def _sweep_params(name: str) -> dict[str, list[str]]:
    cfg = _compose([f"+experiment={name}"], hydra_cfg=True)
    params = dict(cfg.hydra.sweeper.params)
    return {k: [v.strip() for v in str(val).split(",")] for k, val in params.items()}


def _table(text: str, after: str) -> list[dict[str, str]]:
    """The first Markdown table after the heading/text ``after``, as dicts of cell strings."""
    lines = text.split(after, 1)[1].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    header = [c.strip() for c in lines[start].strip().strip("|").split("|")]
    out = []
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        out.append(dict(zip(header, (c.strip() for c in ln.strip().strip("|").split("|")),
                            strict=True)))
    return out


def _num(cell: str) -> float:
    return math.nan if cell in ("", "–", "not run") else float(cell)


def _db_of_mean(values) -> float:
    """The papers' aggregation, written out here: dB of the mean linear SC."""
    v = np.asarray(list(values), dtype=float)
    return 20 * np.log10(np.mean(10 ** (v / 20)))


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_is_known_to_papers(name):
    assert name in papers.EXPERIMENTS
    assert (Path(config_dir()) / "experiment" / f"{name}.yaml").is_file()
    assert papers.EXPERIMENTS[name].command == (
        f"melbench run -m +experiment={name} hydra.sweep.dir=outputs/papers/{name}")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_cell_of_the_experiment_composes_and_builds(name):
    """Each (method, spec, degrade) of the sweep composes and builds all its plugins."""
    from melbench.spec import get_spec

    missing = papers.missing_plugins(name)
    if missing:  # e.g. PESQ not installed: say exactly what, build nothing
        pytest.skip(f"{name}: plugins not available here: {missing}")
    params = _sweep_params(name)
    methods = params.pop("+method")
    assert methods and all(m for m in methods), f"{name}: the experiment sweeps no method"
    first = {k: v[0] for k, v in params.items()}
    for m in methods:  # no except: a cell that does not build fails the test with its error
        cfg = _compose([f"+experiment={name}", f"+method={m}",
                        *[f"{k}={v}" for k, v in first.items()]])
        get_spec(dict(cfg.spec))
        registry.from_config("inverter", cfg.inverter)
        registry.from_config("phase", cfg.phase)
        registry.from_config("dataset", cfg.dataset)
    for key, values in params.items():  # every spec / degrade option with the first method
        for v in values:
            cfg = _compose([f"+experiment={name}", f"+method={methods[0]}", f"{key}={v}"])
            get_spec(dict(cfg.spec))


def test_method_configs_give_equal_fft_budgets_where_the_reproductions_say_so():
    """The Peer et al. cells all cost 400 FFT pairs: DM (two per iteration) runs half."""
    budgets = {}
    for m in _sweep_params("peer2022_beyond_gl")["+method"]:
        cfg = _compose(["+experiment=peer2022_beyond_gl", f"+method={m}"])
        ph = registry.from_config("phase", cfg.phase)
        steps = ph.steps if ph.name == "chain" else [(ph.name, ph)]
        budgets[m] = sum(p.params.n_iter * (2 if p.name == "dm" else 1) for _, p in steps)
    assert set(budgets.values()) == {400}, budgets
    cfg = _compose(["+experiment=beyond_papers", "+method=beyond_dm"])
    assert cfg.phase.n_iter * 2 == _compose(["+experiment=beyond_papers",
                                             "+method=prusa2017_fgla"]).phase.n_iter


def test_dataset_can_be_replaced_on_the_command_line():
    cfg = _compose(["+experiment=marafioti2021_redundancy", "+method=marafioti2021_fgla",
                    "spec=marafioti2021_r8", "dataset=ljspeech", "dataset.root=/data/LJSpeech-1.1"])
    assert cfg.dataset.name == "ljspeech" and cfg.dataset.root == "/data/LJSpeech-1.1"
    assert cfg.spec.hop_length == 128 and cfg.spec.sample_rate == 22050
    cfg = _compose(["+experiment=prusa2017_pghi", "+method=prusa2017_gla"])
    assert cfg.spec.n_fft == 2048 and cfg.spec.hop_length == 256 and cfg.spec.sample_rate == 44100
    assert cfg.inverter.name == "oracle" and cfg.phase.n_iter == 200 and cfg.phase.init == "zero"


# --------------------------------------------------------------------------- tiny end-to-end runs

#: Per experiment: the methods of the tiny run and extra overrides (one short synthetic clip,
#: one cheap spec), so the runs take seconds.
_SYN = ["dataset=synthetic", "dataset.duration=0.5", "dataset.signals=[chirp]"]
TINY = {
    "librosa_thread": (["thread_pinv_fgla", "thread_oracle_gla"],
                       ["spec=speech16k", "degrade=none", *_SYN, "metrics=[sc,mag_sc,timing]",
                        "phase.n_iter=10"]),
    "prusa2017_pghi": (["prusa2017_pghi", "prusa2017_pghi_fgla"], ["spec=prusa2017_mocha", *_SYN]),
    "marafioti2021_redundancy": (["marafioti2021_pghi", "marafioti2021_fgla"],
                                 ["spec=marafioti2021_r4", *_SYN]),
    "beyond_papers": (["beyond_raar", "beyond_lws"], ["spec=prusa2017_mocha", *_SYN]),
    "peer2022_beyond_gl": (["peer2022_fgla", "peer2022_dm_fgla"], [*_SYN]),
    "nenov2023_agla": (["nenov2023_fgla", "nenov2023_agla"], [*_SYN]),
}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_tiny_experiment_runs_and_reports(name, tmp_path, monkeypatch):
    methods, extra = TINY[name]
    missing = papers.missing_plugins(name)
    if missing:
        pytest.skip(f"{name}: plugins not available here: {missing}")
    from melbench import cli

    sweep = tmp_path / "sweep"
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["run", "-m", f"+experiment={name}", f"+method={','.join(methods)}", *extra,
                   "cache_dir=null", "progress=false", "metric_jobs=1", f"hydra.sweep.dir={sweep}"])
    assert rc == 0
    rows = pd.concat([pd.read_csv(p) for p in sorted(sweep.glob("*/rows.csv"))], ignore_index=True)
    assert len(rows) == len(methods)
    assert (rows["status"] == "ok").all(), rows[["phase", "status", "error"]].to_string()
    # cost accounting reached the rows: every built-in cell counted its FFT pairs
    assert rows["fft_pairs"].notna().all() and (rows["fft_pairs"] >= 0).all()
    out = tmp_path / "report"
    assert papers.main(["report", name, str(sweep), "-o", str(out)]) == 0
    text = (out / "README.md").read_text()
    written = pd.read_csv(out / "rows.csv")
    assert sorted(written["phase"]) == sorted(rows["phase"])
    assert f"melbench run -m +experiment={name} hydra.sweep.dir=outputs/papers/{name}" in text
    # the cells table lists every (inverter, phase) label of the run with its row count
    cells = {(r["inverter"].strip("`"), r["phase"].strip("`")): int(r["rows"])
             for r in _table(text, "## Cells: the exact plugin parameters")}
    assert cells == rows.groupby(["inverter", "phase"]).size().to_dict()
    # regenerating from the written rows gives the same page
    assert papers.main(["report", name, str(out / "rows.csv"), "-o", str(out)]) == 0
    assert (out / "README.md").read_text() == text


# --------------------------------------------------------------------------- aggregation helpers


def test_db_of_mean_is_the_papers_aggregation():
    vals = [-10.0, -30.0, -40.0]
    assert papers.db_of_mean(vals) == pytest.approx(_db_of_mean(vals), abs=1e-12)
    # dB of the mean is never below the mean of the dB values (Jensen), equal if all equal
    assert papers.db_of_mean(vals) > np.mean(vals)
    assert papers.db_of_mean([-20.0, -20.0]) == pytest.approx(-20.0)
    assert papers.db_of_mean([-20.0, math.nan]) == pytest.approx(-20.0)
    assert math.isnan(papers.db_of_mean([]))


def test_trace_readers():
    tr = json.dumps([{"iter": 0, "sc_db": -1.0, "fft_pairs": 0.0},
                     {"iter": 1, "sc_db": -2.0, "fft_pairs": 2.0},
                     {"iter": 3, "sc_db": -4.0, "fft_pairs": 6.0}])
    assert papers.trace_sc(tr, (1, 2, 3, 5)) == {1: -2.0, 2: -2.0, 3: -4.0}
    assert papers.trace_at(tr, (1, 2, 5, 6, 7)) == {1: -1.0, 2: -2.0, 5: -2.0, 6: -4.0}
    assert papers.trace_at(json.dumps([{"iter": 0, "sc_db": -1.0}]), (0,)) == {}
    assert papers.trace_at("", (0,)) == {} and papers.trace_at("not json", (0,)) == {}


def test_helpers_and_cli(capsys):
    assert papers.method_key("chain[pghi>fgla:200:alpha=0.99]") == "pghi>fgla"
    assert papers.method_key("fgla[alpha=0.99,n_iter=200]") == "fgla"
    assert papers.n_iter_of("chain[pghi>fgla:200:alpha=0.99]") == "200"
    assert papers.n_iter_of("chain[dm:100>fgla:200]") == "300"
    assert papers.n_iter_of("gla[init=zero,n_iter=200]") == "200"
    assert papers.display("pghi>raar") == "PGHI then RAAR"
    a = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 0.5}
    b = {"a": 1.0, "b": 3.0, "c": 2.0, "d": 4.0}
    agree, total, flipped = papers.pairwise_agreement(a, b)
    keys = list(a)
    tau = scipy.stats.kendalltau([a[k] for k in keys], [b[k] for k in keys]).statistic
    assert total == 6 and (2 * agree - total) / total == pytest.approx(tau)
    assert papers.kendall_tau(a, b) == pytest.approx(tau)
    assert (agree, flipped) == (2, ["a vs d", "b vs c", "b vs d", "c vs d"])
    assert papers.main(["report", "nope", "x"]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err
    assert papers.main(["list"]) == 0
    listed = capsys.readouterr().out
    for name in EXPERIMENTS:
        assert f"+experiment={name} " in listed
    assert papers.main(["report", "prusa2017_pghi"]) == 2
    assert "give the run directory" in capsys.readouterr().err


# --------------------------------------------------------------------------- report logic


def _rows(records: list[dict]) -> pd.DataFrame:
    base = {"dataset": "bundled", "seed": 0, "status": "ok", "error": "", "notes": "",
            "degrade": "none", "versions": "melbench 0.1.0", "plugin_versions": "phase gla: melbench 0.1.0"}
    return pd.DataFrame([{**base, **r} for r in records])


PRUSA_LABELS = {"spsi": "spsi", "pghi": "pghi", "gla": "gla[init=zero,n_iter=200]",
                "fgla": "fgla[alpha=0.99,init=zero,n_iter=200]", "rtisi_la": "rtisi_la[n_iter=5]",
                "pghi>gla": "chain[pghi>gla:200]", "pghi>fgla": "chain[pghi>fgla:200:alpha=0.99]"}
PRUSA_DISPLAY = {"spsi": "SPSI", "pghi": "PGHI", "gla": "GLA", "fgla": "FGLA",
                 "rtisi_la": "RTISI-LA", "pghi>gla": "PGHI then GLA", "pghi>fgla": "PGHI then FGLA"}


def test_prusa_report_aggregates_both_ways_and_compares_with_the_published_column(tmp_path):
    rng = np.random.default_rng(3)
    ours = {k: float(v) for k, v in zip(PRUSA_LABELS, rng.uniform(-40, -15, 7), strict=True)}
    spread = dict(zip(PRUSA_LABELS, rng.uniform(0.0, 12.0, 7), strict=True))
    recs, per_clip = [], {}
    for k, v in ours.items():  # method-dependent spread: the two aggregations order differently
        s = spread[k]
        vals = {"a": v - s, "b": v + 0.2 * s, "m": v - 2 * s}
        per_clip[k] = vals
        for clip, kind in (("a", "speech"), ("b", "speech"), ("m", "music")):
            recs.append({"clip": clip, "kind": kind, "spec": "prusa2017_sqam", "inverter": "oracle",
                         "phase": PRUSA_LABELS[k], "sc_db": vals[clip], "t_phase": 1.0,
                         "fft_pairs": 200.0 if "gla" in k else 0.0})
    _rows(recs).to_csv(tmp_path / "rows.csv", index=False)
    text = papers.write_report("prusa2017_pghi", [tmp_path / "rows.csv"], tmp_path).read_text()
    table = {r["method"]: r for r in _table(text, "## Table 1 beside melbench")}
    assert set(table) == set(PRUSA_DISPLAY.values())
    for k, disp in PRUSA_DISPLAY.items():
        r, vals = table[disp], per_clip[k]
        assert _num(r["melbench all, mean of dB"]) == pytest.approx(np.mean(list(vals.values())),
                                                                    abs=0.006)
        assert _num(r["melbench all, dB of mean"]) == pytest.approx(_db_of_mean(vals.values()),
                                                                    abs=0.006)
        assert _num(r["speech, dB of mean"]) == pytest.approx(_db_of_mean([vals["a"], vals["b"]]),
                                                              abs=0.006)
        assert _num(r["FFT pairs"]) == (200.0 if "gla" in k else 0.0)
    # the published column, read back from the page; its agreement computed with scipy
    pub = {k: _num(table[d]["paper all (SQAM) †"]) for k, d in PRUSA_DISPLAY.items()}
    mine = {k: _db_of_mean(per_clip[k].values()) for k in PRUSA_DISPLAY}
    keys = list(PRUSA_DISPLAY)
    by_mean = {k: np.mean(list(per_clip[k].values())) for k in keys}
    assert sorted(keys, key=mine.get) != sorted(keys, key=by_mean.get)  # the data discriminate
    tau = scipy.stats.kendalltau([mine[k] for k in keys], [pub[k] for k in keys]).statistic
    assert f"(Kendall tau {tau:.2f})" in text
    concordant = sum((mine[x] - mine[y]) * (pub[x] - pub[y]) > 0
                     for i, x in enumerate(keys) for y in keys[i + 1:])
    assert f"ordered as in the paper: {concordant} of 21" in text
    assert "source **unverified**" in text


def test_marafioti_report_names_the_winner_per_redundancy():
    fabricated = {32: (-45.0, -24.0), 8: (-28.0, -30.0), 2: (-14.0, -15.0)}
    recs = []
    for r, (p, f) in fabricated.items():
        for k, v in (("pghi", p), ("fgla[alpha=0.99,init=zero,n_iter=100]", f)):
            for clip, d in (("a", -1.0), ("b", 1.0)):
                recs.append({"clip": clip, "kind": "speech", "spec": f"marafioti2021_r{r}",
                             "inverter": "oracle", "phase": k, "sc_db": v - 1, "sc_fixed_db": v + d})
    text = papers.render(papers.EXPERIMENTS["marafioti2021_redundancy"], _rows(recs))
    table = {int(r["win/hop"]): r for r in _table(text, "## Redundancy sweep")}
    agree = 0
    for r, (p, f) in fabricated.items():
        row = table[r]
        p_lin = _db_of_mean([p - 1, p + 1])
        f_lin = _db_of_mean([f - 1, f + 1])
        assert _num(row["PGHI sc_fixed, dB of mean"]) == pytest.approx(p_lin, abs=0.006)
        assert row["winner here (sc_fixed)"] == ("PGHI" if p_lin < f_lin else "FGLA")
        paper_winner = ("PGHI" if _num(row["paper PGHI"]) < _num(row["paper FGLA"]) else "FGLA")
        assert row["winner in paper"] == paper_winner
        agree += row["winner here (sc_fixed)"] == paper_winner
    assert f"agrees with the paper at {agree} of 3 redundancies" in text


def _trace(per_iter_pairs: int, sc: list[float]) -> str:
    return json.dumps([{"iter": i, "sc_db": v, "fft_pairs": float(per_iter_pairs * i)}
                       for i, v in enumerate(sc)])


def test_peer_report_compares_at_equal_fft_budgets():
    """DM's trace is read by FFT pairs (two per iteration), not by iteration."""
    n = 401
    lin = np.linspace(0, 1, n)
    curves = {  # SC against FFT pairs 0..400 (fabricated)
        "fgla[n_iter=400]": (1, -10 - 20 * lin),
        "dm[n_iter=200]": (2, -5 - 30 * lin[::2]),
        "chain[dm:100>fgla:200]": (1, -5 - 40 * lin),
        "gla[n_iter=400]": (1, -10 - 10 * lin),
    }
    recs = []
    for clip in ("a", "b"):
        for lab, (per, sc) in curves.items():
            recs.append({"clip": clip, "kind": "speech", "spec": "speech16k", "inverter": "oracle",
                         "phase": lab, "sc_db": float(sc[-1]), "fft_pairs": 400.0,
                         "t_phase": 1.0, "trace": _trace(per, list(sc))})
    text = papers.render(papers.EXPERIMENTS["peer2022_beyond_gl"], _rows(recs))
    table = {r["method"]: r for r in _table(text, "## Equal-budget comparison")}
    # at 100 pairs DM has done 50 iterations: -5 - 30 * 0.25
    assert _num(table["DM"]["at 100 pairs"]) == pytest.approx(-5 - 30 * 0.25, abs=0.006)
    assert _num(table["FGLA"]["at 100 pairs"]) == pytest.approx(-10 - 20 * 0.25, abs=0.006)
    assert _num(table["DM then FGLA"]["SC, dB of mean"]) == pytest.approx(-45.0, abs=0.006)
    assert "Every cell used the same budget" in text
    claims = {r["claim (from the paper's abstract and title)"]: r["here"]
              for r in _table(text, "- Final SC at the full budget")}
    assert claims["The DM/FGLA hybrid reconstructs best at an equal budget"].startswith("holds")
    # along the way: at 25/50/100 pairs the hybrid (-5 - 40 x) trails FGLA (-10 - 20 x)
    assert claims["The DM/FGLA hybrid converges faster than FGLA (SC along the way)"].startswith(
        "**does not hold**")
    assert claims["DM beats GLA at an equal budget"].startswith("holds")


def test_agla_report_counts_iterations_to_fglas_sc():
    it = np.arange(301)
    fgla = -10 - 20 * it / 300          # reaches -10 - 20 k/300 at iteration k
    agla = np.concatenate([fgla[::2], fgla[-1] - 0.1 * np.arange(1, 151)])  # twice as fast
    recs = []
    for lab, sc in (("fgla[alpha=0.99,init=random,n_iter=300]", fgla),
                    ("agla[alpha=0.99,beta=1.1,gamma=1.25,init=random,n_iter=300]", agla)):
        recs.append({"clip": "a", "kind": "speech", "spec": "speech16k", "inverter": "oracle",
                     "phase": lab, "sc_db": float(sc[-1]), "fft_pairs": 300.0, "t_phase": 1.0,
                     "trace": _trace(1, list(sc))})
    text = papers.render(papers.EXPERIMENTS["nenov2023_agla"], _rows(recs))
    per_target = {int(r["FGLA iterations"]): r for r in _table(text, "so fewer iterations is less work")}
    for k in (25, 50, 100, 200, 300):
        expect = math.ceil(k / 2 - 1e-9)
        assert int(per_target[k]["AGLA iterations to reach it"]) == expect, k
    summary = _table(text, "## AGLA against FGLA")[0]
    assert summary["targets reached in fewer iterations"] == "5 of 5"
    assert summary["claim: fewer iterations for the same SC"].startswith("holds")
    assert _num(summary["AGLA FFT pairs / iteration"]) == 1.0


def test_thread_report_checks_each_claim():
    trace_gla = json.dumps([{"iter": i, "sc_db": -5.0 - 0.1 * i} for i in range(0, 101)])
    trace_fgla = json.dumps([{"iter": i, "sc_db": -5.0 - 0.3 * i} for i in range(0, 101)])
    recs = []
    for inv, mag in (("transpose", -7.5), ("pinv", -9.9), ("nnls", -11.2), ("smooth_nnls", -12.5)):
        recs.append({"clip": "a", "kind": "speech", "spec": "speech16k", "inverter": inv,
                     "phase": "fgla[n_iter=100]", "mag_sc_true_db": mag, "sc_true_db": mag + 1,
                     "pesq_wb": 2.5, "t_invert": 0.01})
    for ph, sc, t, tr in (("gla[n_iter=100]", -20.0, 0.4, trace_gla), ("lws[mode=speech]", -27.0, 0.2, ""),
                          ("fgla[n_iter=100]", -27.5, 0.4, trace_fgla)):
        recs.append({"clip": "a", "kind": "speech", "spec": "speech16k", "inverter": "oracle",
                     "phase": ph, "sc_db": sc, "sc_true_db": sc, "pesq_wb": 3.5, "t_phase": t,
                     "trace": tr})
    text = papers.render(papers.EXPERIMENTS["librosa_thread"], _rows(recs))
    claims = text.split("## Claims 1-2")[1].split("## Claim 3")[0]
    assert "pinv beats transpose" in claims and "nnls beats pinv" in claims
    assert "smooth_nnls beats nnls" in claims and "does not hold" not in claims
    claim3 = text.split("## Claim 3")[1].split("## Claim 4")[0]
    assert claim3.count("holds") >= 2
    claim4 = text.split("## Claim 4")[1]
    assert "GLA after 100 iterations reaches -15.0 dB; FGLA is there by iteration 50" in claim4


# --------------------------------------------------------------------------- the metrics added for the papers


def test_fixed_and_magnitude_sc_metrics():
    from melbench.spec import get_spec

    spec = get_spec("speech16k")
    rng = np.random.default_rng(0)
    y = rng.standard_normal(16000).astype(np.float32)
    mag = spec.magnitude(y)
    fixed = registry.create("metric", "sc_fixed")
    ctx = {"reference": y, "estimate": y, "sample_rate": 16000, "true_magnitude": mag,
           "target_magnitude": mag}
    assert fixed.compute(ctx)["sc_fixed_db"] == -math.inf
    noisy = y + 0.1 * rng.standard_normal(16000).astype(np.float32)
    v = fixed.compute({**ctx, "estimate": noisy})["sc_fixed_db"]
    assert -30 < v < -10
    mag_sc = registry.create("metric", "mag_sc")
    assert mag_sc.compute({**ctx, "target_magnitude": mag * 0.5})["mag_sc_true_db"] == pytest.approx(
        20 * np.log10(0.5), abs=1e-4)


# --------------------------------------------------------------------------- data files


def _prusa_yaml() -> dict:
    import yaml

    from melbench.papers import data

    path = Path(data.__file__).parent / "prusa2017_pghi" / "paper.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _parse(doc, name="prusa2017_pghi"):
    import yaml

    from melbench.papers import data

    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True)
    return data.parse_paper("some/dir/paper.yaml", text, data.load_references(),
                            expected_name=name)


def test_shipped_data_files_load_with_their_published_tables():
    """Every experiment's paper.yaml parses; the tables hold one number per column."""
    import yaml

    from melbench.papers import data

    for name in EXPERIMENTS:
        paper = papers.EXPERIMENTS[name].paper
        raw = yaml.safe_load((Path(data.__file__).parent / name / "paper.yaml").read_text())
        assert paper.name == name and paper.title == raw["title"].strip()
        assert len(paper.citations) == len(raw["citations"])
        if "published" in raw:
            assert not paper.published.verified and "**unverified**" in paper.published.source
            for key, values in raw["published"]["rows"].items():
                assert paper.published.rows[key] == tuple(float(v) for v in values)
    # no reference to design files outside the project, in code or data
    root = Path(data.__file__).parent
    for f in [*root.rglob("*.py"), *root.rglob("*.yaml")]:
        assert "ALGORITHMS.md" not in f.read_text(encoding="utf-8"), f


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("summary"), r"some/dir/paper\.yaml: missing key 'summary'"),
    (lambda d: d.update(sumary=d.pop("summary")), r"some/dir/paper\.yaml: unknown key 'sumary'"),
    (lambda d: d.update(citations="prusa2017"),
     r"some/dir/paper\.yaml: key 'citations' must be a list, got str"),
    (lambda d: d.update(citations=["prusa2017", "prusa2071"]),
     r"some/dir/paper\.yaml: citations: unknown reference key 'prusa2071'"),
    (lambda d: d["published"]["rows"].update(spsi=[-19.97]),
     r"some/dir/paper\.yaml: published: rows: key 'spsi' must be a list of 2 numbers"),
    (lambda d: d["published"].pop("verified"), r"published: missing key 'verified'"),
    (lambda d: d["published"].update(verified=True), r"published: missing key 'where'"),
    (lambda d: d["published"].update(colums=d["published"].pop("columns")),
     r"published: unknown key 'colums'"),
    (lambda d: d["needs"].update(phases=["gla"]), r"needs: unknown plugin kind 'phases'"),
    (lambda d: d.update(name="prusa2017"), r"key 'name' is 'prusa2017', but the folder is "
                                           r"'prusa2017_pghi'"),
    (lambda d: d.update(notes={"x": 3}), r"notes: key 'x' must be a string"),
])
def test_broken_data_file_is_an_error_naming_the_file_and_the_key(change, message):
    from melbench.errors import InputError

    doc = _prusa_yaml()
    assert _parse(doc).name == "prusa2017_pghi"  # the unbroken file parses
    change(doc)
    with pytest.raises(InputError, match=message):
        _parse(doc)


def test_invalid_yaml_and_missing_notes_are_errors():
    from melbench.errors import InputError
    from melbench.papers import registry

    with pytest.raises(InputError, match=r"some/dir/paper\.yaml: not valid YAML"):
        _parse("name: [unclosed\n")
    with pytest.raises(InputError, match=r"some/dir/paper\.yaml: expected a mapping, got list"):
        _parse("- a\n- b\n")
    paper = papers.EXPERIMENTS["librosa_thread"].paper
    with pytest.raises(InputError, match=r"librosa_thread/paper\.yaml: notes: missing key 'tranpose'"):
        paper.note("tranpose")
    doc = _prusa_yaml()
    doc.pop("published")
    with pytest.raises(InputError, match=r"some/dir/paper\.yaml: missing key 'published'"):
        _parse(doc).table()
    # the registry checks the notes and table an experiment's code needs when it loads it
    from melbench.papers.librosa_thread import experiment as thread

    assert set(thread.REQUIRED_NOTES) <= set(paper.notes)
    assert registry.load_experiment("librosa_thread").paper is paper


def test_wheel_ships_the_data_files(tmp_path):
    """The built wheel holds every paper.yaml and references.yaml, and loads them installed."""
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    b = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(tmp_path), str(repo)],
                       capture_output=True, text=True, timeout=300)
    if b.returncode != 0 and "hatchling" in b.stderr:
        pytest.skip("hatchling not installed in this environment")
    assert b.returncode == 0, b.stderr
    wheel = next(tmp_path.glob("melbench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "melbench/papers/references.yaml" in names
    for name in EXPERIMENTS:
        assert f"melbench/papers/{name}/paper.yaml" in names
        assert f"melbench/papers/{name}/experiment.py" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", "import melbench.papers as p; "
                          "print(p.__file__); print(len(p.EXPERIMENTS))"],
                         cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(site)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(site / "melbench" / "papers" / "__init__.py"),
                                  str(len(EXPERIMENTS))]


# --------------------------------------------------------------------------- the subcommand


def test_papers_subcommand_reports_lists_and_fails_clearly(tmp_path, capsys):
    from melbench import cli

    assert cli.main(["papers", "--help"]) == 0
    helptext = capsys.readouterr().out
    assert "usage: melbench papers" in helptext
    assert all(c in helptext for c in ("list", "run", "report"))
    assert cli.main(["papers", "report", "--help"]) == 0
    assert "--command" in capsys.readouterr().out
    assert cli.main(["papers"]) == 2
    assert "usage: melbench papers" in capsys.readouterr().err
    assert cli.main(["papers", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(f"melbench run -m +experiment={n} " in listed for n in EXPERIMENTS)
    # report from the committed rows into a new folder: README.md and rows.csv written
    rows = Path(__file__).resolve().parents[1] / "results/papers/nenov2023_agla/rows.csv"
    out = tmp_path / "agla"
    assert cli.main(["papers", "report", "nenov2023_agla", str(rows), "-o", str(out),
                     "--note", "a test run."]) == 0
    assert capsys.readouterr().out.strip() == f"report written to {out / 'README.md'}"
    text = (out / "README.md").read_text()
    assert pd.read_csv(out / "rows.csv").shape == pd.read_csv(rows).shape
    assert "**This run:** a test run." in text
    assert f"melbench papers report nenov2023_agla outputs/papers/nenov2023_agla -o {out.as_posix()}" in text
    # bad input: exit 2 with the reason
    empty = tmp_path / "empty.csv"
    empty.write_text(rows.read_text().splitlines()[0] + "\n")  # the header, no rows
    assert cli.main(["papers", "report", "nenov2023_agla", str(empty), "-o", str(tmp_path / "x")]) == 2
    assert "no rows in" in capsys.readouterr().err
    assert not (tmp_path / "x" / "README.md").exists()
    empty.write_text("clip,phase\n")
    assert cli.main(["papers", "report", "nenov2023_agla", str(empty), "-o", str(tmp_path / "x")]) == 2
    assert "not a melbench rows file" in capsys.readouterr().err
    assert cli.main(["papers", "run", "nope"]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err


def test_papers_run_runs_the_sweep_and_writes_the_report(tmp_path, monkeypatch):
    from melbench import cli

    if papers.missing_plugins("peer2022_beyond_gl"):
        pytest.skip("plugins missing")
    monkeypatch.chdir(tmp_path)
    overrides = ["+method=peer2022_fgla,peer2022_dm", *_SYN, "cache_dir=null", "progress=false",
                 "metric_jobs=1", "phase.n_iter=8"]
    assert cli.main(["papers", "run", "peer2022_beyond_gl", *overrides, "-o", "out"]) == 0
    sweep = tmp_path / "outputs" / "papers" / "peer2022_beyond_gl"
    rows = pd.concat([pd.read_csv(p) for p in sorted(sweep.glob("*/rows.csv"))])
    written = pd.read_csv(tmp_path / "out" / "rows.csv")
    assert sorted(written["phase"]) == sorted(rows["phase"]) and len(written) == 2
    text = (tmp_path / "out" / "README.md").read_text()
    run_line = ("melbench run -m +experiment=peer2022_beyond_gl " + " ".join(overrides)
                + " hydra.sweep.dir=outputs/papers/peer2022_beyond_gl")
    assert run_line in text
    assert "melbench papers report peer2022_beyond_gl outputs/papers/peer2022_beyond_gl -o out" in text


# --------------------------------------------------------------------------- one aggregate


def test_report_lin_columns_are_the_papers_aggregate():
    """The report's `@lin` mean and papers.db_of_mean are the same number (one definition)."""
    from melbench.measures import db_of_mean
    from melbench.report.tables import sc_linear_stats

    vals = {"a": -12.0, "b": -31.0, "c": -25.5}
    df = pd.DataFrame([{"dataset": "d", "clip": c, "spec": "s", "degrade": "none",
                        "inverter": "oracle", "phase": "fgla", "seed": 0, "status": "ok",
                        "sc_db": v} for c, v in vals.items()])
    st = sc_linear_stats(df, ["sc_db"], n_boot=50)
    assert st["metric"].tolist() == ["sc_db@lin"]
    expect = _db_of_mean(vals.values())
    assert st["mean"].iloc[0] == pytest.approx(expect, abs=1e-9)
    assert db_of_mean(vals.values()) == pytest.approx(expect, abs=1e-12)
    assert papers.db_of_mean is db_of_mean
    assert db_of_mean([-math.inf, -math.inf]) == -math.inf
    assert db_of_mean([-math.inf, -20.0]) == pytest.approx(20 * np.log10(0.05))


def test_large_rows_are_written_gzipped_and_read_back(tmp_path, monkeypatch):
    """Pages whose rows exceed the plain-CSV limit keep one rows.csv.gz (equal rows, same page)."""
    import gzip

    from melbench.papers import registry as paper_registry

    recs = [{"clip": c, "kind": "speech", "spec": "prusa2017_sqam", "inverter": "oracle",
             "phase": lab, "sc_db": -20.0 - i, "t_phase": 1.0, "fft_pairs": 200.0}
            for i, lab in enumerate(PRUSA_LABELS.values()) for c in ("a", "b")]
    src = tmp_path / "src.csv"
    _rows(recs).to_csv(src, index=False)
    out = tmp_path / "page"
    plain = papers.write_report("prusa2017_pghi", [src], out).read_text()
    assert (out / "rows.csv").is_file() and not (out / "rows.csv.gz").exists()
    monkeypatch.setattr(paper_registry, "MAX_PLAIN_ROWS", 100)  # these rows count as large now
    page = papers.write_report("prusa2017_pghi", [src], out).read_text()
    assert (out / "rows.csv.gz").is_file() and not (out / "rows.csv").exists()  # stale one gone
    assert page == plain.replace("rows.csv", "rows.csv.gz")
    with gzip.open(out / "rows.csv.gz", "rt") as fh:
        assert pd.read_csv(fh)["sc_db"].tolist() == pd.read_csv(src)["sc_db"].tolist()
    # regenerating from the committed .gz rewrites nothing but the page, and gives the same page
    before = (out / "rows.csv.gz").read_bytes()
    assert papers.write_report("prusa2017_pghi", [out / "rows.csv.gz"], out).read_text() == page
    assert (out / "rows.csv.gz").read_bytes() == before


def test_a_cut_gzipped_rows_file_is_an_error_naming_it(tmp_path):
    from melbench.report.runs import RunInputError, load_runs
    from melbench.results import write_rows

    recs = [{"clip": f"c{i}", "kind": "speech", "spec": "speech16k", "inverter": "pinv",
             "phase": "gla", "sc_db": -20.0 - i / 7} for i in range(200)]
    write_rows(tmp_path / "rows.csv.gz", _rows(recs))
    assert len(load_runs([tmp_path / "rows.csv.gz"]).rows) == 200
    data = (tmp_path / "rows.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunInputError, match=r"cut\.csv\.gz: cannot be parsed.*half-written"):
        load_runs([tmp_path / "cut.csv.gz"])
