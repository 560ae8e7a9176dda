"""`melbench bench pipelines --timing-repeat`: the minimum of repeated calls; a reproducibility check."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from melbench.bench import pipelines
from melbench.metrics.spectral import spectral_convergence_db
from melbench.spec import get_spec


def _fake_clock(monkeypatch, durations):
    """``time.process_time`` advancing by the given durations, one per timed call."""
    ticks = itertools.accumulate(itertools.chain.from_iterable((0.0, d) for d in durations))
    clock = iter(ticks)
    monkeypatch.setattr(pipelines.time, "process_time", lambda: next(clock))


def _measure(monkeypatch, outputs, durations, repeat, track_audio):
    spec = get_spec("speech16k")
    calls = []

    def fake_cell_call(cell, spec_, n, true_mag, seed, last):
        def fn(mel):
            calls.append(mel.shape[-1])
            if mel.shape[-1] <= 16:  # the untimed warm-up
                return np.zeros(n, np.float32)
            return outputs[len([c for c in calls if c > 16]) - 1]
        return fn

    monkeypatch.setattr(pipelines, "_cell_call", fake_cell_call)
    _fake_clock(monkeypatch, durations)
    true_mag = spec.magnitude(track_audio)
    mel = spec.mel_from_magnitude(true_mag)
    row = pipelines._measure("nnls+fgla:100", spec, "speech16k", "clean", "tone", "synthetic",
                             track_audio, true_mag, mel, 0, spectral_convergence_db, repeat=repeat)
    return row, calls


def test_seconds_are_the_minimum_of_the_repeats(monkeypatch):
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(16000).astype(np.float32) * 0.1
    out = audio.copy()
    row, calls = _measure(monkeypatch, [out, out, out], [0.5, 0.2, 0.7], 3, audio)
    assert row["status"] == "ok", row["error"]
    assert row["seconds"] == pytest.approx(0.2)
    assert sum(c > 16 for c in calls) == 3  # three timed calls after one warm-up
    row1, calls1 = _measure(monkeypatch, [out], [0.5], 1, audio)
    assert row1["seconds"] == pytest.approx(0.5) and sum(c > 16 for c in calls1) == 1


def test_repeats_that_differ_fail_the_row_with_the_reason(monkeypatch):
    rng = np.random.default_rng(1)
    audio = rng.standard_normal(16000).astype(np.float32) * 0.1
    other = audio.copy()
    other[100] += 1e-3
    row, _ = _measure(monkeypatch, [audio, other], [0.3, 0.3], 2, audio)
    assert row["status"] == "failed"
    assert "repeated calls with the same seed gave different audio" in row["error"]
    assert "0.001" in row["error"]


def test_cli_rejects_a_repeat_below_one(capsys):
    with pytest.raises(SystemExit):
        pipelines.main(["--timing-repeat", "0", "--out", "/nonexistent/x"])
    assert "--timing-repeat 0: must be at least 1" in capsys.readouterr().err
