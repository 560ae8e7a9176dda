"""The degradation track: each perturbation's effect, seeding, config group and run wiring."""

from __future__ import annotations

import numpy as np
import pytest

from melbench import degrade, registry
from melbench.datasets.synthetic import synthetic_signal
from melbench.errors import ParameterError, UnknownPluginError
from melbench.spec import get_spec

SPEECH = get_spec("speech16k")  # linear magnitude mel, no compression
TTS = get_spec("tts22k")  # ln-compressed magnitude mel
DB = get_spec("librosa", compression="db", floor=1e-10)  # power mel in dB


def noise_mel(spec, seconds=1.0):
    # white noise: no bins near the log floor, so the log domain is exact
    return spec.mel(synthetic_signal("noise", spec.sample_rate, seconds, seed=3))


@pytest.mark.parametrize("spec", [SPEECH, TTS, DB], ids=["none", "ln", "db"])
@pytest.mark.parametrize("name", ["noise", "smooth", "quantize"])
def test_shape_dtype_and_domain_are_kept(spec, name):
    mel = noise_mel(spec)
    out = registry.create("degrade", name)(mel, spec, np.random.default_rng(0))
    assert out.shape == mel.shape and out.dtype == mel.dtype
    assert np.all(np.isfinite(out))
    if spec.compression == "none":
        assert np.all(out >= 0)
    assert not np.allclose(out, mel)


@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_noise_hits_the_requested_log_domain_snr(snr_db):
    mel = noise_mel(SPEECH, 2.0)
    out = degrade.Noise(snr_db=snr_db)(mel, SPEECH, np.random.default_rng(0))
    clean, noisy = np.log(mel.astype(np.float64)), np.log(out.astype(np.float64))
    measured = 10 * np.log10(np.var(clean) / np.var(noisy - clean))
    assert measured == pytest.approx(snr_db, abs=0.3)


def test_noise_snr_is_independent_of_log_base():
    # the same audio under ln and dB compression: identical SNR in its own log domain
    y = synthetic_signal("noise", 22050, 1.0, seed=5)
    for spec, to_ln in ((TTS, lambda m: m), (DB.replace(sample_rate=22050), lambda m: m / 10 * np.log(10))):
        mel = spec.mel(y)
        out = degrade.Noise(snr_db=15)(mel, spec, np.random.default_rng(1))
        a, b = to_ln(mel.astype(np.float64)), to_ln(out.astype(np.float64))
        ok = a > a.min() + 1  # away from the floor, where clipping cannot act
        assert 10 * np.log10(np.var(a) / np.var((b - a)[ok])) == pytest.approx(15, abs=0.5)


def test_noise_is_seeded():
    mel = noise_mel(TTS)
    f = degrade.Noise(snr_db=20)
    a = f(mel, TTS, np.random.default_rng([7, 1]))
    b = f(mel, TTS, np.random.default_rng([7, 1]))
    c = f(mel, TTS, np.random.default_rng([8, 1]))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_smooth_reduces_variation_along_the_chosen_axes():
    mel = noise_mel(TTS)

    def tv(m, axis):
        return float(np.abs(np.diff(m, axis=axis)).sum())

    t_only = degrade.Smooth(time_sigma=2.0, freq_sigma=0.0)(mel, TTS, None)
    f_only = degrade.Smooth(time_sigma=0.0, freq_sigma=2.0)(mel, TTS, None)
    assert tv(t_only, -1) < 0.5 * tv(mel, -1)
    assert tv(f_only, -2) < 0.5 * tv(mel, -2)
    np.testing.assert_allclose(degrade.Smooth(time_sigma=0, freq_sigma=0)(mel, TTS, None), mel,
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ParameterError):
        degrade.Smooth(time_sigma=-1)


def test_quantize_levels():
    mel = noise_mel(TTS)
    out = degrade.Quantize(bits=3)(mel, TTS, None)
    assert len(np.unique(np.round(out, 4))) <= 8
    fine = degrade.Quantize(bits=20)(mel, TTS, None)
    np.testing.assert_allclose(fine, mel, atol=1e-4)
    with pytest.raises(ParameterError):
        degrade.Quantize(bits=0)


def test_stage_from_config_and_labels():
    assert degrade.stage(None) is None
    assert degrade.stage({"name": "none"}) is None
    assert degrade.stage("none") is None
    d = degrade.stage({"name": "noise", "snr_db": 10.0})
    assert d.label == "noise[snr_db=10]"
    with pytest.raises(UnknownPluginError, match="blur.*noise, none, quantize, smooth"):
        degrade.stage("blur")
    with pytest.raises(ParameterError, match="snr_db"):
        degrade.stage({"name": "smooth", "snr_db": 3})


def test_cli_degrade_noise_labels_rows_and_table(tmp_path, monkeypatch):
    from melbench import cli
    from melbench.results import read_rows

    monkeypatch.chdir(tmp_path)
    base = ["dataset=synthetic", "dataset.duration=0.5", "dataset.signals=[harmonic,chirp]",
            "phase.n_iter=10"]
    assert cli.main(["run", *base, "degrade=noise", "degrade.snr_db=20", "hydra.run.dir=r"]) == 0
    rows = read_rows(tmp_path / "r" / "rows.csv")
    assert set(rows["degrade"]) == {"noise[snr_db=20]"} and (rows["status"] == "ok").all()
    assert "noise[snr_db=20]" in (tmp_path / "r" / "summary.md").read_text()

    assert cli.main(["run", "-m", *base, "degrade=none,smooth", "hydra.sweep.dir=s2"]) == 0
    table = read_rows(tmp_path / "s2" / "rows.csv")
    means = table.groupby("degrade")["sc_true_db"].mean()
    assert set(means.index) == {"none", "smooth[freq_sigma=1,time_sigma=1]"}
    # the degraded track is further from the true spectrogram than the clean one
    assert means["smooth[freq_sigma=1,time_sigma=1]"] > means["none"]
    summary = (tmp_path / "s2" / "summary.md").read_text()
    assert "| degrade |" in summary and "smooth[" in summary
