"""``melbench invert`` and the Python API (melbench.invert / melbench.mel)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import melbench
from melbench import registry
from melbench.errors import InputError, ParameterError, UnknownPluginError
from melbench.invert_cli import main as invert_main
from melbench.metrics.spectral import spectral_convergence_db
from melbench.spec import get_spec

SPEC = get_spec("speech16k")
IDS = ["cmu_arctic_a0007", "allison_vm-review"]
N_ITER = 15


@pytest.fixture(scope="module")
def bundled_mels(tmp_path_factory):
    """Mels of two bundled clips saved as .npy (as a model would hand them over)."""
    d = tmp_path_factory.mktemp("mels")
    for c in registry.create("dataset", "bundled", {"ids": IDS}).clips(SPEC):
        np.save(d / f"{c.id}.npy", SPEC.mel(c.audio))
    return d


def test_invert_folder_sc_matches_run_of_same_cell(bundled_mels, tmp_path, monkeypatch):
    from melbench import cli
    from melbench.inverters.pinv import mel_pinv_inverse
    from melbench.results import read_rows

    out = tmp_path / "wavs"
    code = invert_main([str(bundled_mels), "-o", str(out), "--inverter", "pinv", "--phase", "fgla",
                        "--phase-param", f"n_iter={N_ITER}", "--seed", "3", "-q"])
    assert code == 0
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "dataset=bundled", f"dataset.ids=[{','.join(IDS)}]", "inverter=pinv",
                     "phase=fgla", f"phase.n_iter={N_ITER}", "seed=3", "hydra.run.dir=run"]) == 0
    rows = read_rows(tmp_path / "run" / "rows.csv").set_index("clip")
    for cid in IDS:
        y, sr = sf.read(str(out / f"{cid}.wav"), dtype="float32")
        assert sr == SPEC.sample_rate
        mel = np.load(bundled_mels / f"{cid}.npy")
        target = mel_pinv_inverse(mel, SPEC)  # the magnitude the phase stage was given
        sc = spectral_convergence_db(target, SPEC.magnitude(y))
        assert sc == pytest.approx(rows.loc[cid, "sc_db"], abs=0.01)


def test_invert_single_file_to_named_wav(bundled_mels, tmp_path):
    src = bundled_mels / f"{IDS[0]}.npy"
    dst = tmp_path / "x" / "out.wav"
    assert invert_main([str(src), "-o", str(dst), "--phase-param", "n_iter=2", "--subtype", "PCM_16"]) == 0
    info = sf.info(str(dst))
    assert info.samplerate == 16000 and info.subtype == "PCM_16"
    assert info.frames == SPEC.n_samples(np.load(src).shape[-1])
    assert invert_main([str(src), "-o", str(tmp_path / "dir"), "--phase-param", "n_iter=2"]) == 0
    assert (tmp_path / "dir" / f"{IDS[0]}.wav").is_file()


def test_invert_folder_goes_on_after_bad_files(bundled_mels, tmp_path, capsys):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    good = np.load(bundled_mels / f"{IDS[0]}.npy")[:, :40]
    np.save(d / "sub" / "good.npy", good)
    np.save(d / "transposed.npy", good.T)
    np.save(d / "logged.npy", np.log(good + 1e-5))  # log mel under a linear spec
    np.save(d / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    code = invert_main([str(d), "-o", str(tmp_path / "out"), "--spec", "speech16k",
                        "--phase-param", "n_iter=2", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert (tmp_path / "out" / "sub" / "good.wav").is_file()
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.wav")) == ["good.wav"]
    assert "1/4 converted" in err and "3 file(s) failed" in err
    assert "transposed" in err and "--transpose" in err
    assert "negative values" in err and "compression" in err
    assert "unpickling" in err
    # the transposed file converts with --transpose
    assert invert_main([str(d / "transposed.npy"), "-o", str(tmp_path / "t"), "--transpose",
                        "--phase-param", "n_iter=2"]) == 0


def test_invert_argument_errors(bundled_mels, tmp_path, capsys):
    src = str(bundled_mels / f"{IDS[0]}.npy")
    assert invert_main([src, "-o", str(tmp_path), "--inverter", "nope"]) == 2
    assert "no inverter named 'nope'" in capsys.readouterr().err
    assert invert_main([src, "-o", str(tmp_path), "--spec", "nope"]) == 2
    assert "unknown spec preset" in capsys.readouterr().err
    assert invert_main([src, "-o", str(tmp_path), "--phase-param", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert invert_main([str(tmp_path / "missing"), "-o", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert invert_main([src, "-o", str(tmp_path), "--spec-param", "n_mels=64"]) == 1
    assert "n_mels=64" in capsys.readouterr().err  # the wrong spec is named


def test_invert_spec_file(tmp_path):
    spec = get_spec("tts22k")
    y = np.sin(2 * np.pi * 300 * np.arange(11025) / 22050).astype(np.float32)
    np.save(tmp_path / "m.npy", spec.mel(y))
    (tmp_path / "spec.yaml").write_text("spec:\n  preset: tts22k\n")
    assert invert_main([str(tmp_path / "m.npy"), "-o", str(tmp_path / "o.wav"), "--spec",
                        str(tmp_path / "spec.yaml"), "--phase-param", "n_iter=2"]) == 0
    assert sf.info(str(tmp_path / "o.wav")).samplerate == 22050
    (tmp_path / "bad.yaml").write_text("- just\n- a list\n")
    assert invert_main([str(tmp_path / "m.npy"), "-o", str(tmp_path / "o2.wav"), "--spec",
                        str(tmp_path / "bad.yaml")]) == 2


def test_cli_dispatch_and_help(capsys):
    from melbench import cli

    with pytest.raises(SystemExit) as exc:
        cli.main(["invert", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--inverter" in out and "nnls" in out and "--transpose" in out


# --------------------------------------------------------------------------- Python API


def test_import_melbench_is_light():
    code = ("import sys, melbench; heavy = [m for m in ('numpy', 'melbench.api', 'hydra', "
            "'pandas') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_api_mel_and_invert_agree_with_the_pipeline():
    from melbench.datasets.base import Clip
    from melbench.pipeline import run_clip

    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    m = melbench.mel(y, spec="speech16k")
    np.testing.assert_array_equal(m, SPEC.mel(y))
    audio = melbench.invert(m, spec="speech16k", inverter="pinv", phase="fgla", n_iter=5, seed=2)
    ref = run_clip(Clip(id="x", mel=m, sample_rate=16000), SPEC, registry.create("inverter", "pinv"),
                   registry.create("phase", "fgla", {"n_iter": 5}), [], seed=2)
    np.testing.assert_array_equal(audio, ref.audio)
    # the same through the explicit parameter dicts and a spec object
    again = melbench.invert(m, spec=SPEC, inverter="pinv", phase="fgla",
                            phase_params={"n_iter": 5}, seed=2)
    np.testing.assert_array_equal(audio, again)


def test_api_mel_resamples_and_reads_files(tmp_path):
    sr = 8000
    y = np.sin(2 * np.pi * 500 * np.arange(sr) / sr).astype(np.float32)
    m = melbench.mel(y, spec="speech16k", sr=sr)
    assert m.shape == (80, SPEC.n_frames(16000))
    # the energy sits at 500 Hz either way
    freqs = SPEC.mel_basis().argmax(axis=1) * SPEC.sample_rate / SPEC.n_fft
    assert abs(freqs[m.mean(axis=1).argmax()] - 500) < 100
    sf.write(str(tmp_path / "a.wav"), y, sr, subtype="FLOAT")
    np.testing.assert_allclose(melbench.mel(tmp_path / "a.wav", spec="speech16k"), m, rtol=1e-4,
                               atol=1e-6)


def test_api_errors_are_clear():
    m = SPEC.mel(np.random.default_rng(0).standard_normal(4000).astype(np.float32))
    with pytest.raises(InputError, match="transposed"):
        melbench.invert(m.T, spec="speech16k", n_iter=1)
    with pytest.raises(InputError, match="negative values"):
        melbench.invert(np.log(m + 1e-6), spec="speech16k", n_iter=1)
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        melbench.invert(m, spec="speech16k", bogus=1)
    with pytest.raises(UnknownPluginError, match="no phase named"):
        melbench.invert(m, spec="speech16k", phase="nope")


def test_api_default_cell_follows_the_quality_table():
    from melbench.api import default_cell
    from melbench.quality import preset

    inv, ph = default_cell()
    cell = preset()  # chosen from results/bench_pipelines.csv (tests/test_quality.py)
    assert (inv, ph) == (cell.inverter, cell.phase)
    assert inv in registry.available("inverter") and ph in registry.available("phase")


# --------------------------------------------------------------------------- issue 13 item 6:
# torch in, torch out


def _quiet_tone(sr=16000, seconds=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def test_torch_mel_in_torch_audio_out_same_numbers():
    torch = pytest.importorskip("torch")
    m = SPEC.mel(_quiet_tone())
    ref = melbench.invert(m, spec="speech16k", inverter="pinv", n_iter=5, seed=1)
    t = torch.tensor(m, requires_grad=True)  # a model output with grad: detached, not an error
    y = melbench.invert(t, spec="speech16k", inverter="pinv", n_iter=5, seed=1)
    assert isinstance(y, torch.Tensor) and y.device == t.device and y.dtype == torch.float32
    assert not y.requires_grad
    np.testing.assert_allclose(y.numpy(), ref, rtol=0, atol=1e-6)
    y64 = melbench.invert(t.detach().double(), spec="speech16k", inverter="pinv", n_iter=5, seed=1)
    assert y64.dtype == torch.float64
    # a batch (B, n_mels, frames) as models emit it
    yb = melbench.invert(torch.stack([t.detach(), t.detach()]), spec="speech16k", inverter="pinv",
                         n_iter=5, seed=1)
    assert tuple(yb.shape) == (2, ref.shape[-1])


def test_torch_audio_in_torch_mel_out_matches_numpy():
    torch = pytest.importorskip("torch")
    y = _quiet_tone()
    m = melbench.mel(torch.from_numpy(y), spec="speech16k")
    assert isinstance(m, torch.Tensor) and m.dtype == torch.float32
    np.testing.assert_allclose(m.numpy(), melbench.mel(y, spec="speech16k"), rtol=1e-6, atol=0)
    half = melbench.mel(torch.from_numpy(y).half(), spec="speech16k")
    assert half.dtype == torch.float16


def test_torch_on_gpu_comes_back_on_the_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    t = torch.tensor(SPEC.mel(_quiet_tone()), device="cuda")
    y = melbench.invert(t, spec="speech16k", inverter="pinv", n_iter=2)
    assert y.device == t.device


def test_numpy_calls_do_not_import_torch():
    code = ("import sys, numpy as np, melbench; "
            "m = melbench.mel(np.zeros(8000, np.float32) + 0.1 * np.sin(np.arange(8000)), "
            "spec='speech16k'); melbench.invert(m, spec='speech16k', inverter='pinv', n_iter=2); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
