"""``melbench compare``: the regression gate passes honest runs, fails worsened ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from melbench import registry, runner
from melbench.compare import main as compare_main
from melbench.phase.projections import GLA
from melbench.plugin import initial_spectrogram

CLIPS = ["cmu_arctic_a0007", "allison_tt-allbusy"]
CELLS = [("pinv", "gla"), ("pinv", "fgla")]


def run_cells(root: Path, cells=CELLS) -> Path:
    for i, (inv, ph) in enumerate(cells):
        cfg = {
            "dataset": {"name": "bundled", "ids": CLIPS}, "spec": "speech16k",
            "inverter": {"name": inv}, "phase": {"name": ph, "n_iter": 5},
            "metrics": ["sc", "mel_sc", "timing"], "metric_jobs": 1, "seed": 0,
            "cache_dir": None, "progress": False,
        }
        runner.run(cfg, root / str(i), echo=False)
    return root


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    return run_cells(tmp_path_factory.mktemp("honest"))


@pytest.fixture(scope="module")
def baseline(honest, tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "baseline.csv"
    assert compare_main(["--update", str(path), str(honest)]) == 0
    return path


def edit_rows(src: Path, dst: Path, fn) -> Path:
    shutil.copytree(src, dst)
    for f in dst.glob("*/rows.csv"):
        df = pd.read_csv(f, keep_default_na=False, na_values=["", "nan", "NaN"])
        fn(df).to_csv(f, index=False)
    return dst


def test_honest_rerun_passes(baseline, tmp_path, capsys):
    again = run_cells(tmp_path / "again")  # recomputed from scratch: same numbers
    assert compare_main([str(baseline), str(again), "--no-time"]) == 0
    out = capsys.readouterr().out
    assert "OK: 0 regression(s)" in out


class ForgetfulGLA(GLA):
    """GLA that forgets to iterate: the kind of bug the gate is for."""

    name: ClassVar[str] = "gla"

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        return initial_spectrogram(magnitude, init, rng, "random")


def test_deliberately_worsened_code_fails(baseline, tmp_path, capsys):
    registry.register("phase", ForgetfulGLA, name="gla")
    try:
        worse = run_cells(tmp_path / "worse")
    finally:
        registry.unregister("phase", "gla")
    assert compare_main([str(baseline), str(worse), "--no-time"]) == 1
    out = capsys.readouterr().out
    regressions = [line for line in out.splitlines() if line.startswith("REGRESSION")]
    assert regressions and all("/ gla" in line for line in regressions)
    assert any("sc_db" in line and "worse by" in line for line in regressions)
    assert "FAIL" in out


def test_tolerance_is_configurable(honest, baseline, tmp_path):
    shifted = edit_rows(honest, tmp_path / "shifted",
                        lambda d: d.assign(sc_db=d["sc_db"] + 0.3))  # worse, within 0.5 dB
    assert compare_main([str(baseline), str(shifted), "--no-time"]) == 0
    assert compare_main([str(baseline), str(shifted), "--no-time", "--tol", "sc_db=0.2"]) == 1
    assert compare_main([str(baseline), str(shifted), "--no-time", "--tol", "*_db=0.1"]) == 1


def test_time_is_gated_as_a_ratio_to_a_reference_cell(honest, baseline, tmp_path, capsys):
    def slow_gla(d):
        gla = d["phase"].str.startswith("gla")
        for c in ("t_phase", "rtf"):
            d.loc[gla, c] = d.loc[gla, c] * 20
        return d

    slow = edit_rows(honest, tmp_path / "slow", slow_gla)
    assert compare_main([str(baseline), str(slow), "--time-reference", "pinv/fgla"]) == 1
    out = capsys.readouterr().out
    assert "time:" in out and "reference" in out
    # a uniformly slower machine is not a regression: ratios are unchanged
    uniform = edit_rows(honest, tmp_path / "uniform",
                        lambda d: d.assign(t_phase=d["t_phase"] * 5, rtf=d["rtf"] * 5))
    assert compare_main([str(baseline), str(uniform), "--time-reference", "pinv/fgla"]) == 0


def test_missing_cells_and_unscored_clips_regress(honest, baseline, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copytree(honest / "0", partial / "0")
    assert compare_main([str(baseline), str(partial), "--no-time"]) == 1
    assert "missing from the run" in capsys.readouterr().out
    assert compare_main([str(baseline), str(partial), "--no-time", "--allow-missing"]) == 0

    def fail_one(d):
        d["error"] = d["error"].astype(object)
        d.loc[d.index[0], ["status", "error"]] = ["failed", "phase: boom"]
        d.loc[d.index[0], ["sc_db", "sc_true_db", "mel_sc_db"]] = float("nan")
        return d

    failing = edit_rows(honest, tmp_path / "failing", fail_one)
    assert compare_main([str(baseline), str(failing), "--no-time"]) == 1
    assert "clip(s) scored" in capsys.readouterr().out


def test_bad_input_exits_2_with_a_clear_message(honest, baseline, tmp_path, capsys):
    def err(argv):
        assert compare_main(argv) == 2
        return capsys.readouterr().err

    assert "does not exist" in err([str(tmp_path / "none.csv"), str(honest)])
    assert "--update" in err([str(tmp_path / "none.csv"), str(honest)])
    assert "no such run directory" in err([str(baseline), str(tmp_path / "nope")])
    assert "unknown metric" in err([str(baseline), str(honest), "--metrics", "pesq_wb"])
    assert "unknown metric" in err([str(baseline), str(honest), "--tol", "nosuch=1"])
    assert "must be >= 0" in err([str(baseline), str(honest), "--tol", "sc_db=-1"])
    # a baseline for other cells
    other = edit_rows(honest, tmp_path / "other", lambda d: d.assign(inverter="transpose"))
    msg = err([str(baseline), str(other)])
    assert "different cells" in msg and "transpose" in msg
    # a baseline metric the run does not have
    nomel = edit_rows(honest, tmp_path / "nomel", lambda d: d.drop(columns=["mel_sc_db"]))
    assert "not in the run" in err([str(baseline), str(nomel)])
    # not a baseline table
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    assert "not a melbench baseline" in err([str(junk), str(honest)])
    # a run that did not finish
    half = tmp_path / "half"
    shutil.copytree(honest, half)
    info = half / "0" / "run.json"
    info.write_text(json.dumps({**json.loads(info.read_text()), "complete": False}))
    assert "incomplete" in err([str(baseline), str(half)])
    assert compare_main([str(baseline), str(half), "--allow-incomplete", "--no-time"]) == 0


def test_report_csv_is_a_valid_baseline(honest, tmp_path):
    from melbench.report.cli import main as report_main

    assert report_main([str(honest), "-o", str(tmp_path / "rep"), "--no-plots", "--no-html"]) == 0
    assert compare_main([str(tmp_path / "rep" / "results.csv"), str(honest), "--no-time"]) == 0
