"""Bad input gets a clear error naming the cause and the fix (foundation-level checks)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile as sf

import melbench
from melbench import registry
from melbench.datasets.base import Clip
from melbench.errors import InputError, ParameterError
from melbench.pipeline import run_clip
from melbench.spec import PRESETS, get_spec
from melbench.validation import (
    MelDomainWarning,
    MelLevelWarning,
    check_mel,
    check_output_level,
)

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


# --------------------------------------------------------------------------- issue 13 item 4:
# no silent garbage. Mels are made here with librosa (an independent front end) the way
# users make them, then declared wrongly; each must end in a message naming the fix.


TTS = get_spec("tts22k")
QUICK = {"inverter": "pinv", "phase": "fgla", "phase_params": {"n_iter": 3}}


@pytest.fixture(scope="module")
def speech22k():
    """The arctic clip at 22.05 kHz with 0.5 s of digital silence on each side."""
    (c,) = registry.create("dataset", "bundled", {"ids": ["cmu_arctic_a0007"]}).clips(TTS)
    pad = np.zeros(TTS.sample_rate // 2, np.float32)
    return np.concatenate([pad, c.audio[: 2 * TTS.sample_rate], pad])


def librosa_power_mel(y, spec=TTS):
    librosa = pytest.importorskip("librosa")
    s = np.abs(librosa.stft(y, n_fft=spec.n_fft, hop_length=spec.hop_length, center=True,
                            pad_mode="reflect")) ** 2
    fb = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels,
                             fmax=spec.fmax)
    return fb @ s


def no_melbench_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    bad = [w for w in caught if issubclass(w.category, (MelDomainWarning, MelLevelWarning))]
    assert not bad, [str(w.message) for w in bad]
    return out


def test_db_mel_declared_ln_is_an_error_naming_db(speech22k):
    librosa = pytest.importorskip("librosa")
    db = librosa.power_to_db(librosa_power_mel(speech22k)).astype(np.float32)
    with pytest.raises(InputError, match="compression='db'"):
        melbench.invert(db, spec="tts22k", **QUICK)
    # the same mel declared as it was made inverts (power_to_db: power 2, amin 1e-10, ref 1)
    y = no_melbench_warnings(melbench.invert, db, spec=get_spec(
        "tts22k", power=2, compression="db", floor=1e-10), **QUICK)
    assert np.max(np.abs(y)) < 2


def test_ref_max_db_mel_declared_ln_is_an_error(speech22k):
    librosa = pytest.importorskip("librosa")
    db = librosa.power_to_db(librosa_power_mel(speech22k), ref=np.max).astype(np.float32)
    with pytest.raises(InputError, match="dB mel"):
        check_mel(db, TTS, values=True)


def test_ref_max_db_mel_warns_level_lost_and_ref_restores_it(speech22k):
    librosa = pytest.importorskip("librosa")
    power = librosa_power_mel(speech22k)
    db = librosa.power_to_db(power, ref=np.max).astype(np.float32)
    spec = get_spec("tts22k", power=2, compression="db", floor=1e-10)
    with pytest.warns(MelLevelWarning, match="--ref VALUE"):
        lost = melbench.invert(db, spec=spec, **QUICK)
    restored = no_melbench_warnings(melbench.invert, db, spec=spec, ref=float(power.max()), **QUICK)

    def rms_db(y):
        return 10 * np.log10(np.mean(np.asarray(y, np.float64) ** 2))

    # the level comes back to the source's within 1.5 dB; without ref it is far off
    assert abs(rms_db(restored) - rms_db(speech22k)) < 1.5
    assert abs(rms_db(lost) - rms_db(speech22k)) > 10


def test_log10_mel_declared_ln_is_an_error_naming_log10(speech22k):
    # ParallelWaveGAN-style: log10 of a magnitude mel clipped at 1e-10
    mag_mel = np.sqrt(librosa_power_mel(speech22k))  # not the mel of |S|, but log10-shaped
    log10 = np.log10(np.maximum(mag_mel, 1e-10)).astype(np.float32)
    with pytest.raises(InputError, match="log10 mel with floor 1e-10"):
        check_mel(log10, TTS, values=True)


def test_ln_mel_declared_db_is_an_error_or_a_warning(speech22k):
    ln = TTS.mel(speech22k)  # clipped at ln(1e-5) in the silent parts
    db_spec = get_spec("tts22k", compression="db", floor=1e-10)
    with pytest.raises(InputError, match=r"natural-log \(ln\) mel with floor 1e-5"):
        check_mel(ln, db_spec, values=True)
    # without silence (no clipped floor) the narrow range is a warning, not silence
    (c,) = registry.create("dataset", "bundled", {"ids": ["cmu_arctic_a0007"]}).clips(TTS)
    speech_only = TTS.mel(c.audio[TTS.sample_rate // 2: TTS.sample_rate])
    with pytest.warns(MelDomainWarning, match="spans only"):
        check_mel(speech_only, db_spec, values=True)


def test_power_mel_declared_magnitude_is_an_error_naming_power():
    t = np.arange(TTS.sample_rate) / TTS.sample_rate
    loud = (0.9 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    power_mel = np.log(np.maximum(librosa_power_mel(loud), 1e-5)).astype(np.float32)
    with pytest.raises(InputError, match="power=2"):
        melbench.invert(power_mel, spec="tts22k", **QUICK)


def test_zero_padded_log_mel_is_an_error_naming_padding(speech22k):
    ln = TTS.mel(speech22k)
    padded = np.concatenate([ln, np.zeros((TTS.n_mels, 40), np.float32)], axis=1)
    with pytest.raises(InputError, match="padding"):
        melbench.invert(padded, spec="tts22k", **QUICK)


def test_linear_mel_with_silence_declared_ln_is_an_error(speech22k):
    linear = TTS.mel(speech22k, compress=False)
    linear[:, :30] = 0.0  # digital silence in a linear mel is exactly 0
    with pytest.raises(InputError, match="linear mel with digital silence"):
        check_mel(linear, TTS, values=True)


def test_every_presets_own_mels_pass_without_warnings():
    """No false alarms: each preset's mel of every bundled clip, synthetic signal,
    silence-heavy, very quiet and full-scale signal passes the value checks silently."""
    for spec in PRESETS.values():
        sigs = [c.audio for c in registry.create("dataset", "bundled", {}).clips(spec)]
        sigs += [c.audio for c in registry.create("dataset", "synthetic", {"duration": 1.0}).clips(spec)]
        sr = spec.sample_rate
        sil = np.zeros(sr, np.float32)
        sigs += [np.concatenate([sil, sigs[0][:sr], sil, sil]), 1e-4 * sigs[0],
                 np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32),
                 np.random.default_rng(0).uniform(-1, 1, sr).astype(np.float32)]
        for y in sigs:
            no_melbench_warnings(check_mel, spec.mel(y), spec, values=True)


def test_output_peak_far_above_full_scale_is_refused(speech22k):
    # a level offset inside the plausible value range inverts to audio ~30x too loud
    loud = TTS.mel(speech22k) + np.float32(np.log(30.0))
    with pytest.raises(InputError, match="dB above full scale"):
        melbench.invert(loud, spec="tts22k", **QUICK)
    y = 0.5 * np.ones(100, np.float32)
    check_output_level(y, TTS.mel(speech22k), TTS)  # within full scale: fine
    with pytest.raises(InputError, match="power mel declared power=1"):
        check_output_level(40 * y, TTS.mel(speech22k), TTS)


def test_invert_without_spec_infers_and_says_so(tmp_path, capsys, speech22k):
    from melbench.api import SpecInferredWarning
    from melbench.invert_cli import main as invert_main

    sp16 = get_spec("speech16k")
    (c,) = registry.create("dataset", "bundled", {"ids": ["cmu_arctic_a0007"]}).clips(sp16)
    linear = sp16.mel(c.audio)  # the one linear 80-band preset: inferred, and said
    with pytest.warns(SpecInferredWarning, match="inferred spec speech16k"):
        melbench.invert(linear, **QUICK)
    np.save(tmp_path / "lin.npy", linear)
    assert invert_main([str(tmp_path / "lin.npy"), "-o", str(tmp_path / "lin.wav"), "--inverter",
                        "pinv", "--phase-param", "n_iter=2", "-q"]) == 0
    assert "inferred spec speech16k" in capsys.readouterr().err
    assert sf.info(str(tmp_path / "lin.wav")).samplerate == 16000
    # an 80-band ln mel fits tts22k, HiFi-GAN, BigVGAN...: never a silent guess, the choices
    np.save(tmp_path / "ln.npy", TTS.mel(speech22k))
    assert invert_main([str(tmp_path / "ln.npy"), "-o", str(tmp_path / "ln.wav"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "several presets" in err and "hifigan_v1" in err and "tts22k" in err
    assert not (tmp_path / "ln.wav").exists()
    with pytest.raises(ParameterError, match="no preset fits"):
        melbench.invert(TTS.mel(speech22k)[:64], **QUICK)


def test_ambiguous_inference_asks_for_the_spec(monkeypatch, speech22k):
    monkeypatch.setitem(PRESETS, "other22k", get_spec("tts22k", hop_length=200, name="other22k"))
    with pytest.raises(ParameterError, match="several presets.*other22k"):
        melbench.invert(TTS.mel(speech22k), **QUICK)


def test_linear_spec_hint_names_the_matching_preset(speech22k):
    with pytest.raises(InputError, match="presets with 80 bands it fits: tts22k"):
        melbench.invert(TTS.mel(speech22k), spec="speech16k", **QUICK)


# --------------------------------------------------------------------------- issue 13 item 5:
# the defects the bad-input probes found, each reproduced as the probe did it.


def _invert(args, capsys=None):
    from melbench.invert_cli import main as invert_main

    return invert_main([*map(str, args), "--inverter", "pinv", "--phase-param", "n_iter=2", "-q"])


def _cli(args, cwd, timeout=300):
    """``python -m melbench.cli ARGS`` in a fresh process (exit code, stdout bytes, stderr)."""
    p = subprocess.run([sys.executable, "-m", "melbench.cli", *map(str, args)], cwd=cwd,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode()


def test_one_frame_mel_is_a_clear_error_and_the_folder_goes_on(tmp_path, capsys, speech22k):
    mel = TTS.mel(speech22k)
    with pytest.raises(InputError, match="1 frame"):
        melbench.invert(mel[:, :1], spec="tts22k", **QUICK)
    d = tmp_path / "mels"
    d.mkdir()
    np.save(d / "a.npy", mel[:, :1])
    np.save(d / "b.npy", mel)
    np.save(d / "c.npy", mel)
    assert _invert([d, "-o", tmp_path / "out", "--spec", "tts22k"]) == 1
    err = capsys.readouterr().err
    assert "a.npy" in err and "1 frame" in err and "Traceback" not in err
    assert (tmp_path / "out" / "b.wav").is_file() and (tmp_path / "out" / "c.wav").is_file()


def test_one_frame_mel_in_a_mels_run_fails_its_row_only(tmp_path, speech22k):
    from melbench import runner

    mel = TTS.mel(speech22k)
    np.save(tmp_path / "a.npy", mel[:, :1])
    np.save(tmp_path / "b.npy", mel)
    cfg = {"spec": "tts22k", "dataset": {"name": "mels", "path": str(tmp_path)},
           "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 2}, "metrics": ["sc"],
           "seed": 0, "cache_dir": None, "progress": False}
    df = runner.run(cfg, tmp_path / "run", echo=False).set_index("clip")
    assert df.loc["a", "status"] == "failed" and "1 frame" in df.loc["a", "error"]
    assert df.loc["b", "status"] == "ok" and np.isfinite(df.loc["b", "sc_db"])


@pytest.mark.parametrize("name", ["nnls", "nnls_consistent"])
def test_nnls_tol_must_be_positive(name):
    with pytest.raises(ParameterError, match="tol=0 must be > 0"):
        registry.create("inverter", name, {"tol": 0})
    registry.create("inverter", name, {"tol": 1e-3})


def test_report_labels_with_dollar_signs(tmp_path):
    from melbench import runner
    from melbench.report.cli import main as report_main
    from melbench.results import read_rows, write_rows

    cfg = {"spec": "speech16k", "dataset": {"name": "synthetic", "duration": 0.3,
                                            "signals": ["chirp", "harmonic"]},
           "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 3}, "metrics": ["sc", "timing"],
           "seed": 0, "cache_dir": None, "progress": False, "trace": True}
    runner.run(cfg, tmp_path / "run", echo=False)
    rows = read_rows(tmp_path / "run" / "rows.csv")
    rows["dataset"] = "mels[path=/data/$HOME/x_$/y]"
    rows["phase"] = "fgla[init=$^$,n_iter=3]"
    write_rows(tmp_path / "run" / "rows.csv", rows)
    assert report_main([str(tmp_path / "run" / "rows.csv"), "-o", str(tmp_path / "rep")]) == 0
    assert list((tmp_path / "rep").glob("*.png"))


def test_edited_or_misfiled_cache_entries_are_recomputed(tmp_path, monkeypatch):
    import json

    from melbench import runner
    from melbench.cache import CacheEntryWarning

    monkeypatch.setenv("MELBENCH_CODE_VERSION", "test-13")
    cache = tmp_path / "cache"
    cfg = {"spec": "speech16k", "dataset": {"name": "synthetic", "duration": 0.3,
                                            "signals": ["chirp", "harmonic"]},
           "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 3}, "metrics": ["sc"],
           "seed": 0, "cache_dir": str(cache), "progress": False}
    first = runner.run(cfg, tmp_path / "a", echo=False).set_index("clip")
    entries = {json.loads(p.read_text())["row"]["clip"]: p for p in cache.glob("*/*.json")
               if p.name != "cell.json"}
    assert set(entries) == {"chirp", "harmonic"}
    # an edited value, and one clip's entry filed under the other clip's key
    data = json.loads(entries["chirp"].read_text())
    data["row"]["sc_db"] = -99.0
    entries["chirp"].write_text(json.dumps(data))
    entries["harmonic"].write_text(entries["chirp"].read_text().replace("-99.0", "-98.0"))
    with pytest.warns(CacheEntryWarning) as caught:
        again = runner.run(cfg, tmp_path / "b", echo=False).set_index("clip")
    text = " ".join(str(w.message) for w in caught)
    assert "digest" in text and ("clip key" in text or "of clip" in text)
    for cid in ("chirp", "harmonic"):
        assert again.loc[cid, "sc_db"] == pytest.approx(first.loc[cid, "sc_db"], abs=1e-9)
    # the recomputed entries are whole again: a third run reads them without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheEntryWarning)
        runner.run(cfg, tmp_path / "c", echo=False)


def test_unknown_spec_param_is_a_clear_error(tmp_path, capsys, speech22k):
    np.save(tmp_path / "m.npy", TTS.mel(speech22k))
    assert _invert([tmp_path / "m.npy", "-o", tmp_path / "m.wav", "--spec", "tts22k",
                    "--spec-param", "fmaxx=8000"]) == 2
    err = capsys.readouterr().err
    assert "unknown FeatureSpec field(s) ['fmaxx']" in err and "fmax" in err
    assert "Traceback" not in err
    with pytest.raises(ParameterError, match="fmaxx"):
        melbench.api.resolve_spec("tts22k", fmaxx=8000)


def test_output_dash_writes_a_wav_to_stdout(tmp_path, speech22k):
    np.save(tmp_path / "m.npy", TTS.mel(speech22k))
    code, out, err = _cli(["invert", "m.npy", "-o", "-", "--spec", "tts22k", "--inverter", "pinv",
                           "--phase-param", "n_iter=2"], tmp_path)
    assert code == 0, err
    assert not (tmp_path / "-").exists()
    (tmp_path / "got.wav").write_bytes(out)
    y, sr = sf.read(str(tmp_path / "got.wav"))
    assert sr == 22050 and len(y) == TTS.n_samples(TTS.mel(speech22k).shape[-1])
    # a folder cannot go to stdout: refused, nothing written
    (tmp_path / "d").mkdir()
    np.save(tmp_path / "d" / "m.npy", TTS.mel(speech22k))
    code, out, err = _cli(["invert", "d", "-o", "-", "--spec", "tts22k"], tmp_path)
    assert code == 2 and "stdout" in err and out == b""


def test_output_flac_path_writes_that_file_and_format(tmp_path, speech22k):
    np.save(tmp_path / "m.npy", TTS.mel(speech22k))
    dst = tmp_path / "out" / "x.flac"
    assert _invert([tmp_path / "m.npy", "-o", dst, "--spec", "tts22k"]) == 0
    assert dst.is_file()
    assert sf.info(str(dst)).format == "FLAC" and sf.info(str(dst)).samplerate == 22050


def test_npz_with_key_and_batched_npy(tmp_path, capsys, speech22k):
    mel = TTS.mel(speech22k)
    np.savez(tmp_path / "m.npz", mel=mel, text=np.zeros(3))
    assert _invert([tmp_path / "m.npz", "-o", tmp_path / "a.wav", "--spec", "tts22k"]) == 1
    assert "--key" in capsys.readouterr().err
    assert _invert([tmp_path / "m.npz", "-o", tmp_path / "a.wav", "--spec", "tts22k",
                    "--key", "mel"]) == 0
    np.save(tmp_path / "batch.npy", np.stack([mel, mel[:, ::-1]]))
    assert _invert([tmp_path / "batch.npy", "-o", tmp_path / "b" / "x.wav", "--spec", "tts22k"]) == 0
    y0, _ = sf.read(str(tmp_path / "b" / "x_0.wav"))
    y1, _ = sf.read(str(tmp_path / "b" / "x_1.wav"))
    assert len(y0) == len(y1) == TTS.n_samples(mel.shape[-1]) and not np.allclose(y0, y1)


def test_truncated_npy_is_called_truncated(tmp_path, capsys, speech22k):
    np.save(tmp_path / "m.npy", TTS.mel(speech22k))
    data = (tmp_path / "m.npy").read_bytes()
    (tmp_path / "m.npy").write_bytes(data[: len(data) // 2])
    assert _invert([tmp_path / "m.npy", "-o", tmp_path / "m.wav", "--spec", "tts22k"]) == 1
    err = capsys.readouterr().err
    assert "truncated" in err and "unpickling" not in err


def test_nan_and_neg_inf_get_their_own_hints(speech22k):
    mel = TTS.mel(speech22k)
    nan = mel.copy()
    nan[3, 4] = np.nan
    with pytest.raises(InputError, match="NaN comes from the model") as exc:
        check_mel(nan, TTS)
    assert "log of zero" not in str(exc.value)
    inf = mel.copy()
    inf[3, 4] = -np.inf
    with pytest.raises(InputError, match="log of zero without a floor gives -Inf"):
        check_mel(inf, TTS)


def test_nan_in_reference_audio_is_not_blamed_on_a_mel(noise):
    bad = noise.copy()
    bad[10] = np.nan
    inv, ph = registry.create("inverter", "pinv"), registry.create("phase", "gla", {"n_iter": 2})
    row = run_clip(Clip("nan", bad, 16000), SPEC, inv, ph, []).row
    assert row["status"] == "failed" and "audio samples must be finite" in row["error"]
    assert "log of zero" not in row["error"] and "model output" not in row["error"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_and_symlink_loop_are_named(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.npy")
    os.symlink(tmp_path / "l2.npy", tmp_path / "l1.npy")
    os.symlink(tmp_path / "l1.npy", tmp_path / "l2.npy")
    assert _invert([tmp_path / "pipe.npy", "-o", tmp_path / "x.wav", "--spec", "tts22k"]) == 2
    assert "FIFO" in capsys.readouterr().err
    assert _invert([tmp_path / "l1.npy", "-o", tmp_path / "x.wav", "--spec", "tts22k"]) == 2
    assert "symbolic-link loop" in capsys.readouterr().err


def test_bad_phase_param_value_names_the_parameter(tmp_path, capsys, speech22k):
    from melbench.invert_cli import main as invert_main

    np.save(tmp_path / "m.npy", TTS.mel(speech22k))
    assert invert_main([str(tmp_path / "m.npy"), "-o", str(tmp_path / "m.wav"), "--spec", "tts22k",
                        "--phase-param", "n_iter=abc"]) == 2
    err = capsys.readouterr().err
    assert "--phase-param n_iter='abc'" in err and "must be an integer" in err


def test_run_of_an_unavailable_plugin_shows_the_import_reason(tmp_path, monkeypatch, capsys):
    from melbench import cli
    from melbench.registry import PluginInfo

    reason = "import of 'mb_gone:Broken' failed: ModuleNotFoundError: No module named 'mb_gone'"
    plugins = registry.discover()
    monkeypatch.setitem(plugins["phase"], "broken",
                        PluginInfo(kind="phase", name="broken", target="mb_gone:Broken", error=reason))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "phase=broken", "hydra.run.dir=r"]) == 1
    assert reason in capsys.readouterr().err


def test_empty_band_warning_is_one_line_without_source(tmp_path, speech22k):
    spec = get_spec("speech16k", n_fft=256, hop_length=64, win_length=256, n_mels=128)
    np.save(tmp_path / "m.npy", spec.mel(np.random.default_rng(0).uniform(-0.5, 0.5, 16000)))
    code, _, err = _cli(["invert", "m.npy", "-o", "m.wav", "--spec", "speech16k",
                         "--spec-param", "n_fft=256", "--spec-param", "hop_length=64",
                         "--spec-param", "win_length=256", "--spec-param", "n_mels=128",
                         "--inverter", "pinv", "--phase-param", "n_iter=2"], tmp_path)
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if "mel bands" in ln]
    assert lines and all(ln.startswith("melbench invert: warning: ") for ln in lines)
    assert "check_mel(" not in err and ".py:" not in err


def test_wav_cut_short_gets_a_note(tmp_path):
    from melbench import runner

    d = tmp_path / "wavs"
    d.mkdir()
    t = np.arange(16000) / 16000
    sf.write(str(d / "whole.wav"), (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    sf.write(str(d / "cut.wav"), (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    data = (d / "cut.wav").read_bytes()
    (d / "cut.wav").write_bytes(data[: len(data) // 2])
    cfg = {"spec": "speech16k", "dataset": {"name": "folder", "path": str(d)}, "inverter": "pinv",
           "phase": {"name": "fgla", "n_iter": 2}, "metrics": ["sc"], "seed": 0,
           "cache_dir": None, "progress": False}
    df = runner.run(cfg, tmp_path / "run", echo=False).set_index("clip")
    assert "cut short" in df.loc["cut", "notes"] and "50%" in df.loc["cut", "notes"]
    assert "cut short" not in df.loc["whole", "notes"]


def test_sweep_with_a_failed_cell_exits_nonzero(tmp_path, monkeypatch):
    from melbench import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "-m", "dataset=folder", f"dataset.path={tmp_path / 'none'}",
                     "inverter=pinv", "phase=gla,fgla", f"hydra.sweep.dir={tmp_path / 'sw'}",
                     "cache_dir=null"]) == 1
    assert cli.main(["run", "-m", "dataset=synthetic", "dataset.duration=0.3",
                     "dataset.signals=[chirp]", "inverter=pinv", "phase=gla", "phase.n_iter=2",
                     f"hydra.sweep.dir={tmp_path / 'ok'}", "cache_dir=null"]) == 0


def test_results_and_cache_files_are_world_readable(tmp_path):
    from melbench import runner

    old = os.umask(0o022)
    try:
        cfg = {"spec": "speech16k", "dataset": {"name": "synthetic", "duration": 0.3,
                                                "signals": ["chirp"]},
               "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 2}, "metrics": ["sc"],
               "seed": 0, "cache_dir": str(tmp_path / "cache"), "progress": False}
        runner.run(cfg, tmp_path / "run", echo=False)
    finally:
        os.umask(old)
    files = [tmp_path / "run" / n for n in ("rows.csv", "summary.md", "run.json")]
    files += list((tmp_path / "cache").glob("*/*.json"))
    assert len(files) >= 5
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o644, f


def test_api_spec_and_featurespec_reachable_from_import_melbench():
    code = ("import melbench; assert callable(melbench.api.invert); "
            "assert melbench.spec.FeatureSpec is melbench.FeatureSpec; "
            "print(melbench.FeatureSpec(n_mels=40).n_mels)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "40", out.stderr


def hifigan_mel(y):
    """HiFi-GAN V1's mel_spectrogram (meldataset.py), re-implemented with librosa and numpy:
    reflect-pad (n_fft - hop) // 2, STFT with center=False, sqrt(|X|^2 + 1e-9), Slaney mel
    to 8 kHz, ln clamped at 1e-5."""
    librosa = pytest.importorskip("librosa")
    pad = (1024 - 256) // 2
    yp = np.pad(y.astype(np.float64), pad, mode="reflect")
    x = librosa.stft(yp, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=False)
    mag = np.sqrt(x.real**2 + x.imag**2 + 1e-9)
    fb = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    return np.log(np.maximum(fb @ mag, 1e-5)).astype(np.float32)


def test_mels_run_names_the_framing_that_fits_the_reference(tmp_path, speech22k):
    from melbench import runner

    (tmp_path / "mels").mkdir()
    (tmp_path / "wavs").mkdir()
    np.save(tmp_path / "mels" / "utt.npy", hifigan_mel(speech22k))
    sf.write(str(tmp_path / "wavs" / "utt.wav"), speech22k, 22050, subtype="FLOAT")

    def run(spec, name):
        cfg = {"spec": spec, "dataset": {"name": "mels", "path": str(tmp_path / "mels"),
                                         "audio_dir": str(tmp_path / "wavs")},
               "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 5}, "metrics": ["sc"],
               "seed": 0, "cache_dir": None, "progress": False}
        return runner.run(cfg, tmp_path / name, echo=False).iloc[0]

    wrong = run("tts22k", "wrong")  # HiFi-GAN's mel declared as the centred Tacotron 2 front end
    assert wrong["status"] == "failed"
    assert "framing 'same'" in wrong["error"] and "hifigan_v1" in wrong["error"]
    right = run("hifigan_v1", "right")
    assert right["status"] == "ok" and right["notes"] == "" and np.isfinite(right["sc_true_db"])


@pytest.mark.parametrize("made, declared, named", [
    ({"power": 1}, {"power": 2}, "power=1"),                    # magnitude mel declared power
    ({"compression": "log10"}, {}, "compression='log10'"),      # log10 mel declared ln
    ({}, {"compression": "log10"}, "compression='ln'"),         # ln mel declared log10
])
def test_mels_run_compares_with_the_reference_audio(tmp_path, made, declared, named):
    """With reference audio, conventions the values alone cannot show are named: the mel
    (made here with librosa) is compared with the reference's mel under the declaration."""
    from melbench import runner

    librosa = pytest.importorskip("librosa")
    (c,) = registry.create("dataset", "bundled", {"ids": ["cmu_arctic_a0007"]}).clips(TTS)
    y = c.audio[TTS.sample_rate // 2: 2 * TTS.sample_rate]  # speech only: no clipped floor
    s = np.abs(librosa.stft(y, n_fft=1024, hop_length=256, pad_mode="reflect")) ** made.get("power", 1)
    lin = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmax=8000) @ s
    log = np.log10 if made.get("compression") == "log10" else np.log
    (tmp_path / "m").mkdir()
    (tmp_path / "w").mkdir()
    np.save(tmp_path / "m" / "u.npy", log(np.maximum(lin, 1e-5)).astype(np.float32))
    sf.write(str(tmp_path / "w" / "u.wav"), y, 22050, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MelDomainWarning)
        cfg = {"spec": {"preset": "tts22k", **declared},
               "dataset": {"name": "mels", "path": str(tmp_path / "m"), "audio_dir": str(tmp_path / "w")},
               "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 2}, "metrics": ["sc"],
               "seed": 0, "cache_dir": None, "progress": False}
        row = runner.run(cfg, tmp_path / "run", echo=False).iloc[0]
        assert row["status"] == "failed" and named in row["error"], row["error"]
        cfg["spec"] = {"preset": "tts22k", **made}  # declared as made: scored
        row = runner.run(cfg, tmp_path / "run2", echo=False).iloc[0]
    assert row["status"] == "ok", row["error"]
