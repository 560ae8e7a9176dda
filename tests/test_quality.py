"""Quality presets chosen from the pipeline benchmark table, and the defaults that follow them."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import melbench
import melbench.testing
from melbench import invert_cli, quality
from melbench.api import default_cell
from melbench.bench.pipelines import parse_cell
from melbench.bench.pipelines_page import FIELDS
from melbench.errors import ParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]


def _row(cell, track, clip, pesq, seconds, sc, spec="speech16k", kind="speech"):
    inv, ip, ph, pp = ("librosa.mel_to_stft", {}, "librosa.griffinlim", {}) if cell == "librosa" \
        else parse_cell(cell)
    return {"spec": spec, "track": track, "clip": clip, "kind": kind, "cell": cell, "inverter": inv,
            "inverter_params": json.dumps(ip), "phase": ph, "phase_params": json.dumps(pp),
            "seconds": seconds, "x_librosa": math.nan, "pesq_wb": pesq, "sc_db": sc,
            "status": "ok", "error": ""}


def _table():
    """librosa, the reference, and five candidates with known answers to the rules."""
    cells = {  # cell: (PESQ, seconds, SC clean, SC on the noisy track)
        "librosa": (2.6, 1.0, -9.0, -8.0),
        "nnls+fgla:100": (2.9, 0.2, -10.0, -9.0),
        "pinv+fgla:32": (2.7, 0.1, -9.5, -8.5),  # fastest at least as good as librosa: fast
        "joint_fgla:200+fgla:50": (3.90, 0.9, -14.0, -11.0),  # best in time
        "joint_fgla:150+fgla:50": (3.87, 0.6, -13.8, -10.9),  # within 0.05 of best, faster
        "joint_fgla:500+fgla:100": (4.00, 1.5, -15.0, -12.0),  # better but slower than librosa
        "nnls_consistent+fgla:100": (3.95, 0.5, -14.5, -7.5),  # loses 1.5 dB on noise: not robust
    }
    rows = []
    for clip in ("a", "b"):
        for c, (p, t, sc, scn) in cells.items():
            rows.append(_row(c, "clean", clip, p, t, sc))
            rows.append(_row(c, "noise20", clip, p - 0.5, t, scn))
    return rows


def test_rules_pick_the_expected_cells():
    picks = quality.choose(_table())
    assert picks["best"].label == "joint_fgla:200+fgla:50"
    assert picks["balanced"].label == "joint_fgla:150+fgla:50"
    assert picks["fast"].label == "pinv+fgla:32"
    b = picks["balanced"]
    assert (b.inverter, dict(b.inverter_params), b.phase, dict(b.phase_params)) == (
        "joint_fgla", {"joint_iter": 150}, "fgla", {"n_iter": 50})
    assert "within 0.05 PESQ of best" in b.reason


def test_without_librosa_rows_the_previous_default_is_used():
    rows = [r for r in _table() if r["cell"] != "librosa"]
    picks = quality.choose(rows)
    assert {p.label for p in picks.values()} == {quality.REFERENCE_CELL}
    assert "no cell of the table meets the rule" in picks["best"].reason


def test_table_round_trip_and_foreign_file(tmp_path):
    p = tmp_path / "t.csv"
    with open(p, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(FIELDS))
        w.writeheader()
        for r in _table():
            w.writerow(r)
    assert quality.choose(quality.read_table(p))["best"].label == "joint_fgla:200+fgla:50"
    bad = tmp_path / "bad.csv"
    bad.write_text("spec,clip\nx,y\n")
    with pytest.raises(ParameterError, match="not a bench_pipelines table"):
        quality.read_table(bad)


def test_unknown_quality():
    with pytest.raises(ParameterError, match="choose one of fast, balanced, best"):
        quality.preset("ultra")


def test_committed_table_drives_the_defaults():
    path = quality.table_path()
    assert path is not None and path.name == "bench_pipelines.csv"
    rows = quality.read_table(path)
    measured = {r["cell"] for r in rows}
    for q in quality.QUALITIES:
        assert quality.preset(q).label in measured, q
    d = quality.preset()
    assert d.label != quality.REFERENCE_CELL, "the table should have chosen a better default"
    assert default_cell() == (d.inverter, d.phase)


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_wheel_ships_the_table_where_quality_looks():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    inc = cfg["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert inc["results/bench_pipelines.csv"] == "melbench/_results/bench_pipelines.csv"
    assert (ROOT / "results" / "bench_pipelines.csv").is_file()


def test_api_quality_equals_the_named_cell():
    spec = melbench.api.resolve_spec("speech16k")
    y = melbench.testing.conformance_signal(spec.sample_rate, seconds=0.5)
    m = spec.mel(y)
    best = quality.preset("best")
    a = melbench.invert(m, spec="speech16k", quality="best")
    b = melbench.invert(m, spec="speech16k", inverter=best.inverter, phase=best.phase,
                        inverter_params=dict(best.inverter_params),
                        phase_params=dict(best.phase_params))
    np.testing.assert_array_equal(a, b)


def test_invert_cli_quality_option(tmp_path, capsys):
    spec = melbench.api.resolve_spec("speech16k")
    m = spec.mel(melbench.testing.conformance_signal(spec.sample_rate, seconds=0.5))
    np.save(tmp_path / "m.npy", m)
    fast = quality.preset("fast")
    assert invert_cli.main([str(tmp_path / "m.npy"), "-o", str(tmp_path / "o.wav"),
                            "--quality", "fast", "-q"]) == 0
    err = capsys.readouterr().err
    want_inv = melbench.registry.create("inverter", fast.inverter, dict(fast.inverter_params)).label
    assert want_inv in err
    assert (tmp_path / "o.wav").is_file()
    with pytest.raises(SystemExit) as exc:
        invert_cli.main([str(tmp_path / "m.npy"), "-o", str(tmp_path / "o.wav"), "--quality", "max"])
    assert exc.value.code == 2


def test_robustness_bound_is_the_issues():
    """A cell losing 0.5 dB SC on one clip of one track is not robust (issue 16: 0.3 dB)."""
    rows = _table()
    for r in rows:  # the best cell loses 0.5 dB to the reference on clip b's noisy track
        if r["cell"] == "joint_fgla:200+fgla:50" and r["clip"] == "b" and r["track"] == "noise20":
            r["sc_db"] = -9.0 + 0.5
    s = quality.summarize(rows)
    assert not s["joint_fgla:200+fgla:50"]["robust"]
    assert s["joint_fgla:200+fgla:50"]["worst_sc"] == pytest.approx(0.5)
    assert s["joint_fgla:200+fgla:50"]["fails"] == ["speech16k/noise20/b"]
    picks = quality.choose(rows)
    assert picks["best"].label == "joint_fgla:150+fgla:50"  # the next robust cell in time


def test_no_robust_cell_gives_the_least_bad_and_says_so():
    rows = _table()
    losses = {"joint_fgla:200+fgla:50": 0.6, "joint_fgla:150+fgla:50": 0.4}  # dB on clip b, noise
    for r in rows:
        if r["cell"] in losses and r["clip"] == "b" and r["track"] == "noise20":
            r["sc_db"] = -9.0 + losses[r["cell"]]
    picks = quality.choose(rows)
    # candidates in time (the reference aside): joint 200 (0.6 dB = 2.0 bounds), joint 150
    # (0.4 dB = 1.33), pinv (0.5 dB on every pair = 1.67), nnls_consistent (1.5 dB = 5.0)
    assert picks["best"].label == "joint_fgla:150+fgla:50"
    assert "NO cell no slower than librosa meets the robustness bounds" in picks["best"].reason
    assert "least-bad" in picks["best"].reason and "1.33" in picks["best"].reason
    assert picks["balanced"].label == "joint_fgla:150+fgla:50"
    assert "no robust cell" in picks["balanced"].reason


def test_least_bad_ranks_pesq_losses_in_units_of_their_bound():
    rows = _table()
    for r in rows:
        if r["clip"] == "b" and r["track"] == "noise20":
            if r["cell"] == "joint_fgla:200+fgla:50":
                r["sc_db"] = -9.0 + 0.6  # 2.0 bounds
            if r["cell"] == "joint_fgla:150+fgla:50":
                r["pesq_wb"] = 2.4 - 0.08  # 0.08 PESQ below the reference = 1.6 bounds (SC fine)
    picks = quality.choose(rows)
    assert picks["best"].label == "joint_fgla:150+fgla:50"
    assert "1.60" in picks["best"].reason


def test_metrics_statement_names_visqol_only_when_measured():
    rows = _table()
    assert "ViSQOL was not measured" in quality.metrics_statement(rows)
    for r in rows[:3]:
        r["visqol"] = 4.1
    text = quality.metrics_statement(rows)
    assert "ViSQOL (MOS-LQO, measured on 3 rows) is reported, not used" in text
    assert "0.3 dB" in text and "0.05 PESQ" in text


def test_criterion_agreement_counts_pairs_by_hand():
    from melbench.bench.pipelines_page import criterion_agreement

    rows = []
    # one group, three cells: SC -10, -12, -10.1; criterion 1, 0, 2
    for cell, sc, crit in (("a+fgla", -10.0, 1.0), ("b+fgla", -12.0, 0.0), ("c+fgla", -10.1, 2.0)):
        r = {"spec": "s", "track": "clean", "clip": "x", "cell": cell, "status": "ok",
             "sc_db": sc, "mel_sc_db": crit}
        rows.append(r)
    # pairs over 0.3 dB: (a, b): true a worse, crit a worse -> agree; (b, c): b better, crit b
    # better -> agree; (a, c) differ by 0.1 dB: not counted
    assert criterion_agreement(rows, "mel_sc_db") == (2, 2)
    rows[2]["mel_sc_db"] = -1.0  # now c looks better than b although it is 1.9 dB worse
    assert criterion_agreement(rows, "mel_sc_db") == (1, 2)


def test_committed_default_meets_the_bound_or_says_it_does_not():
    """The shipped table's default is a robust cell or, if none is, the stated least-bad one."""
    rows = quality.read_table(quality.table_path())
    best = quality.preset("best")
    s = quality.summarize(rows)[best.label]
    if s["robust"]:
        assert "of the robust cells" in best.reason
        assert s["worst_sc"] <= quality.ISSUE_SC_DB and s["worst_pesq"] <= quality.ISSUE_PESQ
    else:
        assert "NO cell no slower than librosa meets the robustness bounds" in best.reason


def test_targets_name_the_oracle_beside_the_default():
    """The target lines give the oracle's mean beside the default's (computed here by hand)."""
    from melbench.bench.pipelines_page import to_markdown

    rows = _table()
    for clip, p in (("a", 3.70), ("b", 3.60)):
        rows.append(_row("oracle+fgla:100", "clean", clip, p, 0.2, -20.0))
    rows.append(_row("oracle+fgla:100", "clean", "m", math.nan, 0.2, -18.5, kind="music"))
    rows.append(_row("joint_fgla:200+fgla:50", "clean", "m", math.nan, 0.9, -14.0, kind="music"))
    text = to_markdown(rows, [], default="joint_fgla:200+fgla:50")
    line = next(x for x in text.splitlines() if x.startswith("- speech16k: default"))
    assert "mean PESQ-wb on speech 3.90 (target >= 3.8: met)" in line
    assert "oracle `oracle+fgla:100` (the true magnitude) 3.65" in line
    music = next(x for x in text.splitlines() if x.startswith("- speech16k: music SC"))
    assert music.endswith("NOT met); oracle -18.50 dB")
    no_oracle = to_markdown(_table(), [], default="joint_fgla:200+fgla:50")
    assert "oracle" not in next(x for x in no_oracle.splitlines() if x.startswith("- speech16k: default"))
