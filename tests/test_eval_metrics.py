"""Evaluation metrics (issue 14): ViSQOL, DNSMOS, WORLD/SPTK MCD with F0, multi-resolution STFT.

Each is checked against its package called directly (or an independent
re-implementation of the published definition), for its choice of mode by the
clip's kind, and for a reason (not an error) when its package is absent.
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest
import soxr

from melbench import registry
from melbench.datasets.base import Clip, load_audio
from melbench.errors import ParameterError
from melbench.pipeline import score_metric
from melbench.resources import bundled_dir
from melbench.spec import get_spec

SPEC = get_spec("speech16k")


@pytest.fixture(scope="module")
def speech():
    """2 s of the bundled 16 kHz CMU ARCTIC utterance (float32)."""
    y, _, _ = load_audio(bundled_dir() / "speech" / "cmu_arctic_a0007.wav", 16000)
    return y[8000:40000]


@pytest.fixture(scope="module")
def music():
    """2 s of the bundled music clip at 16 kHz (float32)."""
    y, _, _ = load_audio(bundled_dir() / "music" / "vibe_ace_00-08s.flac", 16000)
    return y[16000:48000]


def noisy(y, snr_db, seed=0):
    n = np.random.default_rng(seed).standard_normal(y.size)
    n *= np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(n**2)) * 10 ** (-snr_db / 20)
    return (y + n).astype(np.float32)


def ctx_for(ref, est, sr=16000, kind=None, spec=None):
    spec = spec or SPEC
    meta = {"kind": kind} if kind else {}
    true = spec.magnitude(ref) if ref is not None else None
    mel = spec.mel_from_magnitude(spec.magnitude(est))
    return {
        "reference": ref, "estimate": est, "spec": spec, "sample_rate": sr, "mel": mel,
        "mel_linear": mel, "target_magnitude": spec.magnitude(est), "true_magnitude": true,
        "estimate_magnitude": spec.magnitude(est), "estimate_stft": None,
        "times": {"invert": 0.0, "phase": 0.0, "synth": 0.0}, "duration": est.size / sr,
        "clip": Clip(id="t", sample_rate=sr, meta=meta),
    }


def hide_module(monkeypatch, *names):
    """Make ``import name`` fail as if the package were not installed."""
    for name in names:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, mod)
        monkeypatch.setitem(sys.modules, name, None)


# --------------------------------------------------------------------------- ViSQOL


@pytest.fixture(scope="module")
def visqol_pkg(speech):
    """visqol-python, warmed up once (its first call compiles numba kernels, ~30 s if not cached).

    Warmed through melbench, which picks numba's fork-safe threading layer before the
    package starts numba's threads (the metric-pool test forks workers from this process).
    """
    visqol = pytest.importorskip("visqol")
    from melbench.metrics.visqol import visqol_moslqo

    visqol_moslqo(speech, speech, 16000, mode="speech")
    return visqol


def direct_visqol(visqol, ref, est, sr, mode, **kw):
    """The package on soxr-VHQ-resampled inputs, single-threaded (exact digits).

    Its numba kernels' and libsvm's OpenMP reductions vary in the last digits with
    several threads, so both run on one thread here, as the plugin runs them.
    """
    import ctypes

    import numba

    gomp = ctypes.CDLL("libgomp.so.1")
    omp_threads = gomp.omp_get_max_threads()

    rate = {"speech": 16000, "audio": 48000}[mode]
    api = visqol.VisqolApi()
    api.create(mode=mode, **kw)
    r = soxr.resample(ref.astype(np.float64), sr, rate, quality="VHQ")
    e = soxr.resample(est.astype(np.float64), sr, rate, quality="VHQ")
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    gomp.omp_set_num_threads(1)
    try:
        return api.measure_from_arrays(r, e, sample_rate=rate).moslqo
    finally:
        numba.set_num_threads(threads)
        gomp.omp_set_num_threads(omp_threads)


def test_visqol_equals_the_package_on_the_same_resampled_inputs(visqol_pkg, speech, music):
    from melbench.metrics.visqol import Visqol

    est = noisy(speech, 15)
    out = Visqol(mode="both").compute(ctx_for(speech, est))
    assert out["visqol_speech"] == direct_visqol(visqol_pkg, speech, est, 16000, "speech")
    assert out["visqol_audio"] == direct_visqol(visqol_pkg, speech, est, 16000, "audio")
    assert "speech: not resampled (16000 Hz), lattice mapper" in out["visqol_info"]
    assert "audio: 16000->48000 Hz (soxr VHQ)" in out["visqol_info"]
    assert f"visqol-python {visqol_pkg.__version__}" in out["visqol_info"]
    # polynomial mapper on request, as the package computes it
    poly = Visqol(mode="speech", lattice="no").compute(ctx_for(speech, est))
    assert poly["visqol_speech"] == direct_visqol(visqol_pkg, speech, est, 16000, "speech",
                                                  use_lattice_model=False)
    assert "polynomial mapper" in poly["visqol_info"]


def test_visqol_identical_near_the_top_and_noise_lowers_it(visqol_pkg, music):
    from melbench.metrics.visqol import visqol_moslqo

    scores = [visqol_moslqo(music, e, 16000, mode="audio")
              for e in (music, noisy(music, 30), noisy(music, 10))]
    assert scores[0] > 4.5
    assert scores[0] > scores[1] > scores[2]


@pytest.mark.parametrize(("kind", "scored", "why"), [
    ("speech", "visqol_speech", "the clip is speech"),
    ("music", "visqol_audio", "the clip is music, not speech"),
    ("other", "visqol_audio", "the clip is other, not speech"),
    (None, "visqol_audio", "the clip has no kind, so fallback='audio' applies"),
])
def test_visqol_auto_mode_follows_the_clip_kind(visqol_pkg, speech, kind, scored, why):
    m = registry.create("metric", "visqol")
    values, notes = score_metric(m, ctx_for(speech, noisy(speech, 20), kind=kind))
    other = ({"visqol_speech", "visqol_audio"} - {scored}).pop()
    assert np.isfinite(values[scored]) and math.isnan(values[other])
    assert notes == [f"visqol ({other}): {why} (ViSQOL {scored.removeprefix('visqol_')} mode "
                     "scored instead)"]


def test_visqol_reasons_and_parameters(visqol_pkg, speech):
    from melbench.metrics.visqol import Visqol

    est = speech.copy()
    est[100] = np.nan
    values, notes = score_metric(Visqol(mode="speech"), ctx_for(speech, est))
    assert math.isnan(values["visqol_speech"]) and "estimate contains 1 NaN" in notes[0]
    values, notes = score_metric(Visqol(mode="speech"), ctx_for(speech, np.zeros_like(speech)))
    assert "estimate is silent" in notes[0]
    assert Visqol(mode="audio").columns == ("visqol_audio",)
    with pytest.raises(ParameterError, match="visqol mode='music'; choose"):
        Visqol(mode="music")
    with pytest.raises(ParameterError, match="fallback='both'"):
        Visqol(fallback="both")


def test_visqol_absent_package_is_a_reason_not_an_error(monkeypatch, speech):
    from melbench.metrics.visqol import Visqol

    hide_module(monkeypatch, "visqol")
    values, notes = score_metric(Visqol(), ctx_for(speech, speech, kind="speech"))
    assert math.isnan(values["visqol_speech"]) and math.isnan(values["visqol_audio"])
    assert len(notes) == 1 and notes[0].startswith("visqol: visqol-python is not installed")
    assert "pip install -e '.[visqol]'" in notes[0]


# --------------------------------------------------------------------------- WORLD/SPTK MCD, F0


@pytest.fixture(scope="module")
def world():
    pyworld = pytest.importorskip("pyworld")
    pysptk = pytest.importorskip("pysptk")
    return pyworld, pysptk


def test_mcd_world_equals_the_published_formula_on_the_packages_features(world, speech):
    """pyworld + pysptk called here, MCD summed frame by frame with the ESPnet/Kubichek formula."""
    from melbench.metrics.world import WorldMCD

    pyworld, pysptk = world
    est = noisy(speech, 20)

    def mcep(y):
        x = y.astype(np.float64)
        f0, t = pyworld.dio(x, 16000, frame_period=5.0)
        f0 = pyworld.stonemask(x, f0, t, 16000)
        return f0, pysptk.sp2mc(pyworld.cheaptrick(x, f0, t, 16000), 24, 0.41)

    (rf0, rmc), (ef0, emc) = mcep(speech), mcep(est)
    frames = [10 / math.log(10) * math.sqrt(2 * sum((rmc[t, d] - emc[t, d]) ** 2 for d in range(1, 25)))
              for t in range(rmc.shape[0])]
    both = (rf0 > 0) & (ef0 > 0)
    cents = 1200 * np.log2(ef0[both] / rf0[both])
    out = WorldMCD().compute(ctx_for(speech, est, kind="speech"))
    assert out["mcd_world_db"] == pytest.approx(np.mean(frames), rel=1e-12)
    assert out["f0_rmse_cents"] == pytest.approx(np.sqrt(np.mean(cents**2)), rel=1e-12)
    assert out["vuv_error_pct"] == pytest.approx(100 * np.mean((rf0 > 0) != (ef0 > 0)))
    assert "alpha 0.410 (mcepalpha(16000))" in out["mcd_world_info"]
    assert f"pysptk {pysptk.__version__}" in out["mcd_world_info"]
    assert pysptk.util.mcepalpha(16000) == pytest.approx(0.41)
    given = WorldMCD(alpha=0.42, include_c0=True).compute(ctx_for(speech, est))
    assert "alpha 0.420 (given)" in given["mcd_world_info"] and "c0 included" in given["mcd_world_info"]


def test_mcd_units_and_c0():
    from melbench.metrics.world import mel_cepstral_distortion

    a = np.zeros((4, 25))
    b = a.copy()
    b[:, 1] = 1.0  # one unit in c1: 10/ln10 * sqrt(2) dB
    assert mel_cepstral_distortion(a, b) == pytest.approx(6.141851463713754)
    b[:, 0] = 5.0  # energy: excluded by default
    assert mel_cepstral_distortion(a, b) == pytest.approx(6.141851463713754)
    assert mel_cepstral_distortion(a, b, include_c0=True) == pytest.approx(
        10 / math.log(10) * math.sqrt(2 * 26))


def test_dtw_matches_librosa_and_undoes_a_delay(world, speech):
    librosa = pytest.importorskip("librosa")
    from melbench.metrics.world import WorldMCD, dtw_path, world_features

    _, a = world_features(speech, 16000)
    _, b = world_features(np.roll(speech, 400), 16000)  # 25 ms late
    path, cost = dtw_path(a[:, 1:], b[:, 1:])
    acc = librosa.sequence.dtw(X=a[:, 1:].T, Y=b[:, 1:].T, metric="euclidean")[0]
    assert cost == pytest.approx(acc[-1, -1], rel=1e-10)
    steps = np.diff(path, axis=0)
    assert (path[0] == 0).all() and tuple(path[-1]) == (a.shape[0] - 1, b.shape[0] - 1)
    assert set(map(tuple, steps)) <= {(1, 1), (1, 0), (0, 1)}
    late = ctx_for(speech, np.roll(speech, 400), kind="speech")
    plain = WorldMCD().compute(late)["mcd_world_db"]
    warped = WorldMCD(dtw=True).compute(late)["mcd_world_db"]
    assert warped < 0.5 * plain


def test_f0_errors_in_cents_and_voicing():
    from melbench.metrics.world import f0_errors

    ref = np.full(40, 200.0)
    est = ref * 2 ** (100 / 1200)  # a semitone sharp
    est[:4] = 0.0  # 4 of 40 frames lose their voicing
    rmse, vuv = f0_errors(ref, est)
    assert rmse == pytest.approx(100.0) and vuv == pytest.approx(10.0)
    assert math.isnan(f0_errors(ref[:5], est[:5])[0])


def test_mcd_world_f0_on_a_detuned_harmonic_tone(world):
    from melbench.metrics.world import WorldMCD

    t = np.arange(32000) / 16000

    def tone(f):
        return sum(0.1 / k * np.sin(2 * np.pi * k * f * t) for k in range(1, 8)).astype(np.float32)

    out = WorldMCD().compute(ctx_for(tone(200.0), tone(200.0 * 2 ** (50 / 1200))))
    assert out["f0_rmse_cents"] == pytest.approx(50, abs=5)
    assert out["vuv_error_pct"] < 5


def test_mcd_world_kinds_reasons_and_parameters(world, speech, music, monkeypatch):
    from melbench.metrics.world import WorldMCD

    values, notes = score_metric(WorldMCD(), ctx_for(music, noisy(music, 20), kind="music"))
    assert np.isfinite(values["mcd_world_db"]) and math.isnan(values["f0_rmse_cents"])
    assert notes == ["mcd_world (f0_rmse_cents, vuv_error_pct): F0 and voicing errors are for voiced "
                     "speech; the clip is music"]
    values, notes = score_metric(WorldMCD(), ctx_for(speech, np.zeros_like(speech)))
    assert notes == ["mcd_world: estimate is silent (all samples are zero): its log spectral "
                     "envelope is undefined"]
    with pytest.raises(ParameterError, match="f0_method='yin'"):
        WorldMCD(f0_method="yin")
    with pytest.raises(ParameterError, match="alpha=1.5 must lie in"):
        WorldMCD(alpha=1.5)
    hide_module(monkeypatch, "pysptk")
    values, notes = score_metric(WorldMCD(), ctx_for(speech, speech))
    assert notes[0].startswith("mcd_world: pysptk is not installed") and "'.[world]'" in notes[0]


# --------------------------------------------------------------------------- multi-resolution STFT


def published_mrstft(ref, est, stft):
    """Parallel WaveGAN's loss from an independent STFT ``stft(y, n_fft, hop, win) -> complex``."""
    sc, mag = [], []
    for n_fft, hop, win in ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240)):
        y = np.sqrt(np.maximum(np.abs(stft(ref, n_fft, hop, win)) ** 2, 1e-7))
        x = np.sqrt(np.maximum(np.abs(stft(est, n_fft, hop, win)) ** 2, 1e-7))
        sc.append(np.linalg.norm(y - x) / np.linalg.norm(y))
        mag.append(np.mean(np.abs(np.log(y) - np.log(x))))
    return np.mean(sc), np.mean(mag)


def test_mrstft_equals_the_definition_on_librosa_stfts(speech):
    librosa = pytest.importorskip("librosa")
    from melbench.metrics.mrstft import MultiResolutionSTFT

    est = noisy(speech, 10)
    sc, mag = published_mrstft(speech.astype(np.float64), est.astype(np.float64), lambda y, n, h, w: (
        librosa.stft(y, n_fft=n, hop_length=h, win_length=w, window="hann", center=True,
                     pad_mode="reflect")))
    out = MultiResolutionSTFT().compute(ctx_for(speech, est))
    assert out["mrstft_sc"] == pytest.approx(sc, rel=1e-9)
    assert out["mrstft_logmag"] == pytest.approx(mag, rel=1e-9)
    assert out["mrstft"] == pytest.approx(sc + mag, rel=1e-9)


def test_mrstft_equals_torch_stft_when_torch_is_installed(speech):
    torch = pytest.importorskip("torch")
    from melbench.metrics.mrstft import mrstft_distance

    est = noisy(speech, 10)

    def tstft(y, n, h, w):
        return torch.stft(torch.from_numpy(y), n, h, w, torch.hann_window(w, dtype=torch.float64),
                          return_complex=True).numpy()

    sc, mag = published_mrstft(speech.astype(np.float64), est.astype(np.float64), tstft)
    assert mrstft_distance(speech, est) == pytest.approx((sc, mag), rel=1e-9)


def test_mrstft_identities_and_reasons(speech, rng):
    from melbench.metrics.mrstft import MultiResolutionSTFT, mrstft_distance

    assert mrstft_distance(speech, speech) == (0.0, 0.0)
    loud = rng.standard_normal(16000)  # white noise: no bin near the 1e-7 power floor
    sc, mag = mrstft_distance(loud, 2 * loud)
    assert sc == pytest.approx(1.0) and mag == pytest.approx(math.log(2))
    values, notes = score_metric(MultiResolutionSTFT(), ctx_for(speech[:800], speech[:800]))
    assert notes == ["mrstft: clip has 800 samples; the 2048-point STFT's reflect padding needs "
                     "more than 1024"]
    with pytest.raises(ParameterError, match=r"resolution \[512, 600, 240\]"):
        MultiResolutionSTFT(resolutions=[[512, 600, 240]])


# --------------------------------------------------------------------------- DNSMOS


@pytest.fixture(scope="module")
def speechmos():
    pytest.importorskip("onnxruntime")
    return pytest.importorskip("speechmos.dnsmos")


@pytest.fixture(scope="module")
def speech23():
    """2.3 s of speech: speechmos repeats it to 9.2 s, one 9.01 s window (fast)."""
    y, _, _ = load_audio(bundled_dir() / "speech" / "cmu_arctic_a0007.wav", 16000)
    return y[4000:4000 + 36800]


@pytest.mark.parametrize("sr", [16000, 22050])
def test_dnsmos_equals_speechmos_run_on_the_same_16k_input(speechmos, speech23, sr):
    from melbench.metrics.dnsmos import Dnsmos

    est = noisy(speech23, 20)
    at_sr = soxr.resample(est, 16000, sr, quality="VHQ") if sr != 16000 else est
    out = Dnsmos().compute(ctx_for(None, at_sr, sr=sr, spec=get_spec("tts22k") if sr != 16000 else None))
    x16 = soxr.resample(at_sr.astype(np.float64), sr, 16000, quality="VHQ") if sr != 16000 else (
        at_sr.astype(np.float64))
    ref = speechmos.run(x16, 16000)
    for key, col in (("sig_mos", "dnsmos_sig"), ("bak_mos", "dnsmos_bak"),
                     ("ovrl_mos", "dnsmos_ovrl"), ("p808_mos", "dnsmos_p808")):
        assert out[col] == pytest.approx(float(ref[key]), rel=1e-5), col  # 1 vs all ONNX threads
    assert ("not resampled (16000 Hz)" if sr == 16000 else "22050->16000 Hz (soxr VHQ)") in out["dnsmos_info"]
    assert "2.30 s repeated to 9.20 s by speechmos" in out["dnsmos_info"]
    assert "speechmos 0.0.1.1" in out["dnsmos_info"]


def test_dnsmos_noise_lowers_background_and_overall(speechmos, speech23):
    from melbench.metrics.dnsmos import dnsmos_scores

    clean, _ = dnsmos_scores(speech23, 16000)
    dirty, _ = dnsmos_scores(noisy(speech23, 0), 16000)
    assert dirty["dnsmos_bak"] < clean["dnsmos_bak"] - 1
    assert dirty["dnsmos_ovrl"] < clean["dnsmos_ovrl"] - 0.5


def test_dnsmos_loud_input_is_scaled_and_recorded(speechmos, speech23):
    from melbench.metrics.dnsmos import dnsmos_scores

    base = speech23.astype(np.float64) / np.abs(speech23).max()
    got, info = dnsmos_scores(1.6 * base, 16000)
    assert "scaled by 0.625 to peak 1" in info
    want = speechmos.run(base, 16000)
    assert got["dnsmos_ovrl"] == pytest.approx(float(want["ovrl_mos"]), rel=1e-5)


def test_dnsmos_kinds_reasons_and_absent_package(speechmos, speech23, music, monkeypatch):
    from melbench.metrics.dnsmos import Dnsmos

    values, notes = score_metric(Dnsmos(), ctx_for(None, music, kind="music"))
    assert all(math.isnan(values[c]) for c in Dnsmos.columns)
    assert notes == ["dnsmos: DNSMOS is trained on speech; the clip is music (kinds='all' scores it "
                     "anyway)"]
    values, _ = score_metric(Dnsmos(kinds="all"), ctx_for(None, music[:36800], kind="music"))
    assert np.isfinite(values["dnsmos_ovrl"])
    _, notes = score_metric(Dnsmos(), ctx_for(None, np.zeros_like(speech23)))
    assert notes == ["dnsmos: estimate is silent (all samples are zero)"]
    with pytest.raises(ParameterError, match="model='p835'"):
        Dnsmos(model="p835")
    hide_module(monkeypatch, "speechmos")
    _, notes = score_metric(Dnsmos(), ctx_for(None, speech23))
    assert notes[0].startswith("dnsmos: speechmos is not installed") and "'.[dnsmos]'" in notes[0]


def test_dnsmos_in_a_mels_run_without_reference_audio(speechmos, speech23, tmp_path):
    """A model's predicted mel with no audio: DNSMOS is scored, reference metrics say why not."""
    from melbench import runner

    mdir = tmp_path / "mels"
    mdir.mkdir()
    np.save(mdir / "pred.npy", SPEC.mel(speech23).astype(np.float32))
    cfg = {"spec": "speech16k", "dataset": {"name": "mels", "path": str(mdir)}, "inverter": "pinv",
           "phase": {"name": "fgla", "n_iter": 10}, "metrics": "dnsmos,visqol,mrstft", "seed": 0,
           "cache_dir": None, "metric_jobs": 1}
    df = runner.run(cfg, tmp_path / "run", echo=False)
    (row,) = df.to_dict("records")
    assert row["status"] == "ok"
    assert all(1 <= row[c] <= 5 for c in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"))
    assert "visqol: no reference audio" in row["notes"] and "mrstft: no reference audio" in row["notes"]


def test_clip_kind_reads_the_context_then_the_clip_and_ignores_format_labels():
    from melbench.metrics.material import clip_kind

    assert clip_kind(ctx_for(None, np.ones(4000), kind="Music")) == "music"
    assert clip_kind({"kind": "speech", "clip": Clip(id="x", meta={"kind": "music"})}) == "speech"
    for label in ("mel", "audio", None):
        assert clip_kind(ctx_for(None, np.ones(4000), kind=label)) == ""


# --------------------------------------------------------------------------- melbench bench metrics


def test_bench_metrics_writes_a_table_with_the_suite_total(tmp_path, capsys):
    from melbench.bench.metrics import main

    out = tmp_path / "bench_metrics.md"
    assert main(["--metrics", "sc,mrstft", "--clips", "cmu_arctic_a0007", "--reps", "1",
                 "--spec", "speech16k", "--out", str(out)]) == 0
    text = out.read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()
            if line.startswith("| sc ") or line.startswith("| mrstft ")}
    assert set(rows) == {"sc", "mrstft"} and all("| yes |" in r for r in rows.values())
    per_clip = [float(r.split("|")[4]) for r in rows.values()]
    total = float(re.search(r"\*\*Suite total\*\* \(sc, mrstft\): ([0-9.]+) s per clip", text).group(1))
    assert total == pytest.approx(sum(per_clip), abs=0.006)  # the table rounds to 3 and 2 decimals
    assert "cmu_arctic_a0007 (speech)" in text and "Versions: numpy" in text
    assert str(out) in capsys.readouterr().out


# --------------------------------------------------------------------------- metric pool


def test_evaluation_metrics_give_identical_rows_in_the_metric_pool(visqol_pkg, world, speechmos,
                                                                     speech23, tmp_path):
    import soundfile as sf

    from melbench import runner

    (tmp_path / "wavs").mkdir()
    sf.write(tmp_path / "wavs" / "a.wav", speech23, 16000)
    cfg = {"spec": "speech16k", "dataset": {"name": "folder", "path": str(tmp_path / "wavs")},
           "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 5},
           "metrics": ["visqol", "dnsmos", "mcd_world", "mrstft"], "seed": 0, "cache_dir": None}
    serial = runner.run({**cfg, "metric_jobs": 1}, tmp_path / "serial", echo=False)
    parallel = runner.run({**cfg, "metric_jobs": 2}, tmp_path / "parallel", echo=False)
    cols = [c for m in cfg["metrics"] for c in registry.get("metric", m).columns]
    cols += ["notes", "visqol_info", "dnsmos_info", "mcd_world_info"]
    assert serial[cols].equals(parallel[cols]), (serial[cols].to_dict("records"),
                                                 parallel[cols].to_dict("records"))
    (row,) = parallel.to_dict("records")
    assert np.isfinite([row[c] for c in ("visqol_audio", "dnsmos_ovrl", "mcd_world_db", "mrstft")]).all()
    assert "pending" not in row["notes"]


def test_visqol_on_a_clip_too_short_for_its_patches_says_so(visqol_pkg, music):
    from melbench.metrics.visqol import Visqol

    short = music[:8000]  # 0.5 s
    values, notes = score_metric(Visqol(mode="audio"), ctx_for(short, noisy(short, 20)))
    assert math.isnan(values["visqol_audio"])
    assert notes[0].startswith("visqol: visqol-python failed in audio mode on a 0.50 s clip (too short "
                               "for its patches: ViSQOL needs about 1 s)")
