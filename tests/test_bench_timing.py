"""`melbench bench pipelines --timing-repeat`: interleaved repeats, the minimum; a reproducibility check."""

from __future__ import annotations

import numpy as np
import pytest

from melbench.bench import pipelines


class _Clock:
    """A fake ``time.process_time``: each call of a cell's function advances it by the next duration."""

    def __init__(self):
        self.now = 0.0
        self.order = []

    def __call__(self):
        return self.now


def _calls(clock, durations, outputs):
    """``{cell: (fn, arg, y0)}`` whose functions take the given durations in turn."""
    calls = {}
    for cell, ds in durations.items():
        it, outs = iter(ds), iter(outputs.get(cell, []))

        def fn(arg, it=it, outs=outs, cell=cell):
            clock.order.append(cell)
            clock.now += next(it)
            return next(outs, arg)

        calls[cell] = (fn, np.arange(4.0), np.arange(4.0))
    return calls


def _rows(first):
    return [{"cell": c, "seconds": s, "status": "ok", "error": ""} for c, s in first.items()]


def test_retime_keeps_the_minimum_and_interleaves_the_cells(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(pipelines.time, "process_time", clock)
    rows = _rows({"librosa": 0.50, "nnls+fgla:100": 0.30})
    calls = _calls(clock, {"librosa": [0.40, 0.60], "nnls+fgla:100": [0.35, 0.10]}, {})
    pipelines.retime(rows, calls, 2)
    assert [r["seconds"] for r in rows] == pytest.approx([0.40, 0.10])
    assert clock.order == ["librosa", "nnls+fgla:100", "librosa", "nnls+fgla:100"]
    assert all(r["status"] == "ok" for r in rows)


def test_retime_fails_a_row_whose_repeat_gives_other_audio(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(pipelines.time, "process_time", clock)
    rows = _rows({"a": 0.2, "b": 0.2})
    other = np.arange(4.0)
    other[1] += 1e-3
    calls = _calls(clock, {"a": [0.1], "b": [0.1]}, {"b": [other]})
    pipelines.retime(rows, calls, 1)
    assert rows[0]["status"] == "ok"
    assert rows[1]["status"] == "failed"
    assert "repeated calls with the same seed gave different audio" in rows[1]["error"]
    assert "0.001" in rows[1]["error"]


def test_retime_leaves_failed_rows_alone(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(pipelines.time, "process_time", clock)
    rows = _rows({"a": 0.2})
    rows[0]["status"] = "failed"
    calls = _calls(clock, {"a": [0.05]}, {})
    pipelines.retime(rows, calls, 1)
    assert rows[0]["seconds"] == 0.2 and clock.order == []


def test_cli_rejects_a_repeat_below_one(capsys):
    with pytest.raises(SystemExit):
        pipelines.main(["--timing-repeat", "0", "--out", "/nonexistent/x"])
    assert "--timing-repeat 0: must be at least 1" in capsys.readouterr().err
