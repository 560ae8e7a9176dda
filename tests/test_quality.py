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
from melbench import invert_cli, quality
from melbench.api import default_cell
from melbench.bench.pipelines import FIELDS, parse_cell
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
