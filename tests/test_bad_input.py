"""Bad input gets a clear error naming the cause and the fix (foundation-level checks)."""

from __future__ import annotations

import numpy as np
import pytest

from melbench import registry
from melbench.datasets.base import Clip
from melbench.errors import InputError
from melbench.pipeline import run_clip
from melbench.spec import get_spec

SPEC = get_spec("speech16k")


@pytest.fixture
def mel(noise):
    return SPEC.mel(noise)


@pytest.mark.parametrize("name", ["transpose", "pinv"])
def test_wrong_band_count(name, mel):
    inv = registry.create("inverter", name)
    with pytest.raises(InputError, match="n_mels=80"):
        inv(mel[:64], SPEC)


def test_transposed_mel_is_recognised(mel):
    with pytest.raises(InputError, match="transposed"):
        registry.create("inverter", "pinv")(mel.T[:40], SPEC)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf(mel, bad):
    m = mel.copy()
    m[3, 4] = bad
    with pytest.raises(InputError, match="NaN"):
        registry.create("inverter", "pinv")(m, SPEC)


def test_negative_linear_mel_suggests_log_compression(mel):
    logmel = np.log(np.maximum(mel, 1e-5))
    with pytest.raises(InputError, match="compression"):
        registry.create("inverter", "pinv")(logmel, SPEC)
    # the same array is fine once the spec says how it was made
    out = registry.create("inverter", "pinv")(logmel, get_spec("speech16k", compression="ln",
                                                                floor=1e-5))
    assert out.shape == (SPEC.n_freq, mel.shape[-1]) and np.all(out >= 0)


def test_negative_magnitude_for_phase(noise):
    mag = SPEC.magnitude(noise)
    with pytest.raises(InputError, match="negative"):
        registry.create("phase", "gla", {"n_iter": 1})(-mag, SPEC)
    with pytest.raises(InputError, match="n_freq=513"):
        registry.create("phase", "gla", {"n_iter": 1})(mag[:100], SPEC)


def test_pipeline_records_failures_in_rows(noise):
    inv, ph = registry.create("inverter", "pinv"), registry.create("phase", "gla", {"n_iter": 2})
    metrics = [registry.create("metric", "sc")]
    bad = noise.copy()
    bad[10] = np.nan
    row = run_clip(Clip("nan", bad, 16000), SPEC, inv, ph, metrics).row
    assert row["status"] == "failed" and "NaN" in row["error"] and np.isnan(row["sc_db"])
    for spec in (SPEC, get_spec("speech16k", center=False)):
        row = run_clip(Clip("short", noise[:100], 16000), spec, inv, ph, metrics).row
        assert row["status"] == "skipped" and "shorter than one frame" in row["error"]
    row = run_clip(Clip("gone", error="cannot read audio file x.wav"), SPEC, inv, ph, metrics).row
    assert row["status"] == "failed" and "x.wav" in row["error"]
    # oracle without reference audio: a clear reason, not a crash
    mel_only = Clip("mel", mel=SPEC.mel(noise), sample_rate=16000)
    row = run_clip(mel_only, SPEC, registry.create("inverter", "oracle"), ph, metrics).row
    assert row["status"] == "failed" and "reference" in row["error"]
