"""Metrics (issue 7): PESQ nb/wb, STOI/ESTOI, LSD, MCD, reasons for missing values,
provenance, and deferred metrics scored in parallel with the same numbers."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pesq as pesq_pkg
import pystoi
import pytest
import soxr

from melbench import registry
from melbench.datasets.base import Clip, load_audio
from melbench.metric_pool import MetricPool, parse_jobs
from melbench.metrics.base import Missing
from melbench.metrics.perceptual import Estoi, Pesq, Stoi, pesq_modes, pesq_mos_lqo, stoi_score
from melbench.metrics.spectral import (
    MCD_K,
    LogSpectralDistance,
    MelCepstralDistortion,
    log_spectral_distance_db,
    mel_cepstral_distortion_db,
)
from melbench.pipeline import run_clip, score_metric
from melbench.plugin import Metric, PhaseRetriever
from melbench.resources import bundled_dir
from melbench.spec import get_spec

SPEC = get_spec("speech16k")


@pytest.fixture(scope="module")
def speech():
    """The bundled 16 kHz CMU ARCTIC utterance (4 s)."""
    y, sr, _ = load_audio(bundled_dir() / "speech" / "cmu_arctic_a0007.wav", 16000)
    return y


def noisy(y, snr_db, seed=0):
    n = np.random.default_rng(seed).standard_normal(y.size)
    n *= np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(n**2)) * 10 ** (-snr_db / 20)
    return (y + n).astype(np.float32)


def ctx_for(ref, est, sr, source_rate=None, spec=None):
    spec = spec or SPEC
    meta = {"source_sample_rate": source_rate} if source_rate else {}
    true = spec.magnitude(ref) if ref is not None else None
    mel = spec.mel_from_magnitude(true) if true is not None else None
    return {
        "reference": ref, "estimate": est, "spec": spec, "sample_rate": sr, "mel": mel,
        "mel_linear": mel, "target_magnitude": true, "true_magnitude": true,
        "estimate_magnitude": spec.magnitude(est), "estimate_stft": None,
        "times": {"invert": 0.0, "phase": 0.0, "synth": 0.0}, "duration": est.size / sr,
        "clip": Clip(id="t", sample_rate=sr, meta=meta),
    }


def has_reason(row, metric, col):
    """True if NaN in ``col`` is explained: a failed/skipped row, or a note of the metric."""
    if row["status"] != "ok":
        return bool(row["error"])
    for note in str(row["notes"]).split("; "):
        if note.startswith(f"{metric.name}: ") and "pending" not in note:
            return True
        if note.startswith(f"{metric.name} (") and col in note.split(":")[0]:
            return True
    return False


def all_metrics():
    return [registry.create("metric", n) for n in registry.available("metric")]


# --------------------------------------------------------------------------- PESQ / STOI values


def test_identical_signals_score_the_maximum(speech):
    assert pesq_mos_lqo(speech, speech, 16000, mode="wb") > 4.6  # P.862.2 ceiling ~4.64
    assert pesq_mos_lqo(speech, speech, 16000, mode="nb") > 4.5  # P.862.1 ceiling ~4.55
    assert stoi_score(speech, speech, 16000) == pytest.approx(1.0, abs=1e-9)
    assert stoi_score(speech, speech, 16000, extended=True) == pytest.approx(1.0, abs=1e-9)


def test_noise_lowers_scores_monotonically(speech):
    snrs = [30, 15, 5, -5]
    est = [noisy(speech, s) for s in snrs]
    for mode in ("wb", "nb"):
        v = [pesq_mos_lqo(speech, e, 16000, mode=mode) for e in est]
        assert all(a > b for a, b in zip(v, v[1:], strict=False)), (mode, v)
    for ext in (False, True):
        v = [stoi_score(speech, e, 16000, extended=ext) for e in est]
        assert all(a > b for a, b in zip(v, v[1:], strict=False)), (ext, v)


@pytest.mark.parametrize("sr", [16000, 22050])
def test_values_equal_the_packages_on_the_same_resampled_inputs(speech, sr):
    ref = soxr.resample(speech, 16000, sr, quality="VHQ") if sr != 16000 else speech
    est = noisy(ref, 10)
    for mode, rate in (("wb", 16000), ("nb", 8000)):
        r = soxr.resample(ref.astype(np.float64), sr, rate, quality="VHQ")
        e = soxr.resample(est.astype(np.float64), sr, rate, quality="VHQ")
        assert pesq_mos_lqo(ref, est, sr, mode=mode) == pesq_pkg.pesq(rate, r, e, mode)
    assert stoi_score(ref, est, sr) == pystoi.stoi(ref, est, sr)
    np.random.seed(0)  # noqa: NPY002 - pystoi's ESTOI dithers with the global RNG
    assert stoi_score(ref, est, sr, extended=True) == pystoi.stoi(ref, est, sr, extended=True)
    # and through the plugins, which also record the resampling
    out = Pesq().compute(ctx_for(ref, est, sr, source_rate=sr))
    assert out["pesq_wb"] == pesq_mos_lqo(ref, est, sr, mode="wb")
    assert out["pesq_nb"] == pesq_mos_lqo(ref, est, sr, mode="nb")
    assert f"nb: {sr}->8000 Hz" in out["pesq_resampled_from"]
    assert (f"wb: {sr}->16000 Hz" if sr != 16000 else "wb: not resampled") in \
        out["pesq_resampled_from"]
    assert Stoi().compute(ctx_for(ref, est, sr))["stoi"] == pystoi.stoi(ref, est, sr)
    state = np.random.get_state()  # noqa: NPY002
    value = Estoi().compute(ctx_for(ref, est, sr))["estoi"]
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    assert value == pystoi.stoi(ref, est, sr, True)


def test_pesq_modes_follow_the_material():
    assert pesq_modes(16000, 8000)["wb"] is not None and pesq_modes(16000, 8000)["nb"] is None
    assert pesq_modes(16000, 44100) == {"wb": None, "nb": None}
    assert pesq_modes(22050, 16000) == {"wb": None, "nb": None}
    assert pesq_modes(8000, 44100)["wb"] is not None
    assert all(v is not None for v in pesq_modes(6000).values())
    assert "8000 Hz" in pesq_modes(16000, 8000)["wb"]


def test_bundled_clips_get_the_modes_their_rate_allows():
    """8 kHz clips: narrowband only (with a reason for wideband); 16/44.1 kHz clips: both."""
    ds = registry.create("dataset", "bundled")
    m = Pesq()
    seen = set()
    for clip in ds.clips(SPEC):
        src = clip.meta["source_sample_rate"]
        seen.add(src)
        est = noisy(clip.audio, 20)
        values, notes = score_metric(m, ctx_for(clip.audio, est, SPEC.sample_rate, src))
        assert np.isfinite(values["pesq_nb"]), (clip.id, notes)
        if src == 8000:
            assert math.isnan(values["pesq_wb"]), clip.id
            assert len(notes) == 1 and notes[0].startswith("pesq (pesq_wb): no wideband"), notes
        else:
            assert np.isfinite(values["pesq_wb"]) and not notes, (clip.id, notes)
    assert seen == {8000, 16000, 44100}


def test_single_mode_narrows_the_columns(speech):
    m = Pesq(mode="nb")
    assert m.columns == ("pesq_nb",) and Pesq.columns == ("pesq_wb", "pesq_nb")
    out = m.compute(ctx_for(speech, speech, 16000))
    assert set(out) == {"pesq_nb", "pesq_resampled_from"}
    with pytest.raises(ValueError, match="mode"):
        Pesq(mode="swb")


# --------------------------------------------------------------------------- reasons, never crashes


@pytest.mark.parametrize(
    "ref, est, pattern",
    [
        (np.zeros(16000, np.float32), np.ones(16000, np.float32), "reference is silent"),
        (None, np.zeros(16000, np.float32), "estimate is silent"),
        (None, "short", "0.100 s"),
        (None, "nan", "NaN"),
    ],
)
def test_pesq_reasons(speech, ref, est, pattern):
    ref = speech[:16000] if ref is None else ref
    if isinstance(est, str) and est == "short":
        ref, est = ref[:1600], ref[:1600]
    elif isinstance(est, str):
        est = ref.copy()
        est[100:110] = np.nan
    values, notes = score_metric(Pesq(), ctx_for(ref, est, 16000))
    assert math.isnan(values["pesq_wb"]) and math.isnan(values["pesq_nb"])
    assert len(notes) == 1 and notes[0].startswith("pesq: ") and pattern in notes[0], notes


def test_stoi_mostly_silent_gives_a_reason_not_the_sentinel(speech):
    ref = np.zeros(3 * 16000, np.float32)
    ref[16000:16000 + 3000] = speech[20000:23000]  # under 0.2 s of speech in 3 s
    values, notes = score_metric(Stoi(), ctx_for(ref, ref, 16000))
    assert math.isnan(values["stoi"])
    assert "fewer than 30 frames" in notes[0] and "1e-05" in notes[0]
    # a silent *output* is a legitimate (bad) score, not a missing one
    assert stoi_score(speech, np.zeros_like(speech), 16000) == pystoi.stoi(
        speech, np.zeros_like(speech), 16000)


class NaNPhase(PhaseRetriever):
    name = "nan_phase"

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        x = magnitude.astype(np.complex64)
        x[..., 3] = np.nan
        return x


class ZeroOutput(PhaseRetriever):
    name = "zero_output"

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        return np.zeros(magnitude.shape, np.complex64)


@pytest.mark.parametrize("case", ["silent", "short", "nan_input", "nan_output", "zero_output"])
def test_run_clip_rows_have_a_reason_for_every_missing_value(speech, case):
    audio = speech
    phase = registry.create("phase", "zero")
    if case == "silent":
        audio = np.zeros_like(speech)
    elif case == "short":
        audio = speech[20000:21600]  # 0.1 s
    elif case == "nan_input":
        audio = speech.copy()
        audio[5000] = np.nan
    elif case == "nan_output":
        phase = NaNPhase()
    elif case == "zero_output":
        phase = ZeroOutput()
    clip = Clip(id=case, audio=audio, sample_rate=16000, meta={"source_sample_rate": 16000})
    metrics = all_metrics()
    row = run_clip(clip, SPEC, registry.create("inverter", "pinv"), phase, metrics).row
    missing = [(m.name, c) for m in metrics for c in m.columns
               if isinstance(row[c], float) and math.isnan(row[c])]
    assert all(has_reason(row, registry.get("metric", n), c) for n, c in missing), (missing, row)
    if case in ("silent", "nan_input"):
        assert row["status"] != "ok" and ("silent" in row["error"] or "NaN" in row["error"])
    else:
        assert row["status"] == "ok"
    if case == "short":
        assert "pesq: clip is 0.100 s long" in row["notes"]
        assert "stoi: fewer than 30 frames" in row["notes"]
    if case == "nan_output":
        assert {c for _, c in missing} >= {"pesq_wb", "pesq_nb", "stoi", "sc_db", "lsd_db"}
    if case == "zero_output":
        assert "pesq: estimate is silent" in row["notes"] and row["stoi"] == 0.0


def test_reference_free_metrics_without_reference_audio(speech):
    ctx = ctx_for(speech, noisy(speech, 20), 16000)
    ctx["reference"] = ctx["true_magnitude"] = None
    for m, free, needs_ref in ((LogSpectralDistance(), "mel_lsd_db", "lsd_db"),
                               (MelCepstralDistortion(), "mel_mcd_db", "mcd_db")):
        assert not m.needs_reference
        values, notes = score_metric(m, ctx)
        assert np.isfinite(values[free]) and math.isnan(values[needs_ref])
        assert notes == [f"{m.name} ({needs_ref}): no reference audio"]
    for m in (Pesq(), Stoi(), Estoi()):
        assert m.needs_reference
        assert score_metric(m, ctx) == ({}, [f"{m.name}: no reference audio"])


# --------------------------------------------------------------------------- LSD / MCD identities


def test_lsd_identities(rng):
    mag = np.abs(rng.standard_normal((257, 40))) + 0.1
    assert log_spectral_distance_db(mag, mag) == 0.0
    assert log_spectral_distance_db(mag, 2 * mag) == pytest.approx(20 * np.log10(2))
    assert log_spectral_distance_db(mag**2, 4 * mag**2, power=True) == pytest.approx(
        20 * np.log10(2))
    assert math.isnan(log_spectral_distance_db(np.zeros((5, 3)), np.ones((5, 3))))


def test_mcd_equals_kubicheks_definition_on_an_independent_cepstrum(rng):
    """MCD from its definition (Kubichek 1993): ``(10 / ln 10) sqrt(2 sum_d (c_d - c'_d)^2)``
    per frame, mean over frames, with ``c_d`` the cepstrum of the natural-log amplitude in the
    two-sided convention ``ln|X|_k = c_0 + 2 sum_d c_d cos(pi d (k + 1/2) / M)``. The
    cepstra here come from a least-squares fit on that cosine basis (numpy, no DCT)."""
    n_mels, n_frames, n_coeffs = 40, 12, 24
    mel = np.exp(rng.normal(0.0, 1.0, (n_mels, n_frames)))
    other = np.exp(rng.normal(0.0, 1.0, (n_mels, n_frames)))
    k = np.arange(n_mels) + 0.5
    basis = np.stack([np.ones(n_mels)] + [2 * np.cos(np.pi * d * k / n_mels)
                                          for d in range(1, n_mels)], axis=1)
    c_ref = np.linalg.lstsq(basis, np.log(mel), rcond=None)[0]
    c_est = np.linalg.lstsq(basis, np.log(other), rcond=None)[0]
    diff = c_ref[1:n_coeffs + 1] - c_est[1:n_coeffs + 1]
    expect = np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(diff**2, axis=0)))
    got = mel_cepstral_distortion_db(mel, other, power=False, n_coeffs=n_coeffs, floor_db=-400)
    assert got == pytest.approx(expect, rel=1e-9)
    assert MCD_K == pytest.approx(10.0 / np.log(10.0) * np.sqrt(2.0))
    # one cepstral coefficient of amplitude A: MCD = (10 / ln 10) sqrt(2) A
    a = 0.3
    shifted = mel * np.exp(2 * a * np.cos(np.pi * 5 * k / n_mels))[:, None]
    assert mel_cepstral_distortion_db(mel, shifted, power=False, floor_db=-400) == pytest.approx(
        10.0 / np.log(10.0) * np.sqrt(2.0) * a, rel=1e-9)


def test_mcd_identities(rng):
    mel = np.abs(rng.standard_normal((40, 30))) + 0.05
    other = np.abs(rng.standard_normal((40, 30))) + 0.05
    assert mel_cepstral_distortion_db(mel, mel, power=False) == 0.0
    # c0 (level) is excluded: a gain changes nothing
    assert mel_cepstral_distortion_db(mel, 3 * mel, power=False) == pytest.approx(0, abs=1e-12)
    # Parseval for the cosine series: with all coefficients (D = M - 1),
    # MCD per frame = (10 / ln 10) * population std over bands of the ln-amplitude difference
    d = np.log(mel) - np.log(other)
    expect = np.mean(10 / np.log(10) * np.std(d, axis=0))
    assert mel_cepstral_distortion_db(mel, other, power=False, n_coeffs=39) == pytest.approx(expect)
    # a power mel is the square of an amplitude mel: same MCD
    assert mel_cepstral_distortion_db(mel**2, other**2, power=True) == pytest.approx(
        mel_cepstral_distortion_db(mel, other, power=False))
    with pytest.raises(Exception, match="mel bands"):
        mel_cepstral_distortion_db(mel, other, power=False, n_coeffs=40)


# --------------------------------------------------------------------------- provenance, parallel


def test_missing_is_a_nan_with_a_reason_that_survives_pickling():
    import pickle

    v = pickle.loads(pickle.dumps(Missing("too short")))
    assert isinstance(v, float) and math.isnan(v) and v.reason == "too short"


def test_provenance_records_package_and_plugin_versions():
    from melbench import provenance
    from melbench._version import __version__

    fields = provenance.row_fields([registry.create("inverter", "pinv"), Pesq()])
    for pkg in ("numpy", "scipy", "pesq", "pystoi"):
        assert f"{pkg} {metadata.version(pkg)}" in fields["versions"]
    assert fields["versions"].startswith(f"melbench {__version__}")
    info = registry.info("metric", "pesq")
    assert f"metric pesq: {info.distribution} {info.version}" in fields["plugin_versions"]
    assert "inverter pinv: melbench" in fields["plugin_versions"]


def test_parallel_and_serial_runs_give_identical_rows(tmp_path):
    from melbench import runner

    cfg = {"spec": "speech16k",
           "dataset": {"name": "bundled", "ids": ["cmu_arctic_a0007", "allison_tt-allbusy"]},
           "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 5},
           "metrics": ["pesq", "sc", "stoi", "estoi", "timing"], "seed": 0, "cache_dir": None}
    serial = runner.run({**cfg, "metric_jobs": 1}, tmp_path / "serial", echo=False)
    parallel = runner.run({**cfg, "metric_jobs": 2}, tmp_path / "parallel", echo=False)
    cols = ["pesq_wb", "pesq_nb", "stoi", "estoi", "sc_db", "sc_true_db", "notes",
            "pesq_resampled_from", "versions", "plugin_versions"]
    a, b = serial[cols], parallel[cols]
    assert a.equals(b), (a.to_dict("records"), b.to_dict("records"))
    assert np.isfinite(parallel["pesq_nb"]).all() and np.isfinite(parallel["stoi"]).all()
    assert "pending" not in " ".join(parallel["notes"])
    assert (tmp_path / "parallel" / "rows.csv").read_text().count("pending") == 0


class CrashInWorker(Metric):
    """Kills the worker process that scores it (as a segfault in C code would)."""

    name = "crash_in_worker"
    columns = ("crash",)
    needs_reference = False
    deferred = True
    parent = os.getpid()

    def compute(self, ctx):
        if os.getpid() != self.parent:
            os._exit(3)
        return {"crash": 1.0}


def test_a_dead_worker_gives_reasons_and_the_run_goes_on(speech):
    metrics = [CrashInWorker(), Stoi()]
    pool = MetricPool(2, metrics)
    assert pool.active
    rows = []
    for k in range(3):
        clip = Clip(id=f"c{k}", audio=speech[: 16000 * (k + 1)], sample_rate=16000)
        res = run_clip(clip, SPEC, registry.create("inverter", "pinv"),
                       registry.create("phase", "zero"), metrics, defer=True)
        assert res.deferred == [0, 1] and "pending" in res.row["notes"]
        rows.append(res.row)
        pool.submit(res)  # must not raise, even once the pool is broken
    pool.finish()
    for row in rows:
        assert math.isnan(row["crash"]) and "pending" not in row["notes"]
        assert "crash_in_worker: not scored" in row["notes"]
        assert np.isfinite(row["stoi"]) or "stoi: not scored" in row["notes"]


def test_metric_jobs_setting():
    assert parse_jobs(1) == 1 and parse_jobs("3") == 3 and parse_jobs(None) == 1
    assert parse_jobs(-1) == (os.cpu_count() or 1)
    assert not MetricPool(1, []).active and MetricPool(2, []).active
    with pytest.raises(ValueError, match="metric_jobs='many'"):
        parse_jobs("many")


class _Sleeps(PhaseRetriever):
    """Zero phase after sleeping a known time (a measurable phase stage)."""

    name = "sleeps"
    iterations_param = None

    @dataclass
    class Params:
        """Seconds to sleep."""

        seconds: float = 0.3

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        import time

        time.sleep(self.params.seconds)
        return magnitude.astype(np.complex64)


def test_timing_matches_measured_wall_time(speech):
    """Stage times against a clock read around the call: t_phase covers a known sleep, the
    stages fit inside the measured wall time, and rtf is their seconds per second of audio."""
    import time

    half = speech[:8000]  # 0.5 s: the sleep dominates the wall time
    clip = Clip(id="t", audio=half, sample_rate=16000)
    inv, metrics = registry.create("inverter", "pinv"), [registry.create("metric", "timing")]
    run_clip(clip, SPEC, inv, _Sleeps({"seconds": 0.0}), metrics)  # warm caches (mel basis...)
    t0 = time.perf_counter()
    row = run_clip(clip, SPEC, inv, _Sleeps({"seconds": 0.4}), metrics).row
    wall = time.perf_counter() - t0
    assert row["duration"] == pytest.approx(0.5)
    assert 0.4 <= row["t_phase"] <= wall
    staged = row["t_invert"] + row["t_phase"] + row["t_synth"]
    assert 0.4 <= staged <= wall
    # rtf: seconds of the stages per second of audio, between the sleep and the wall clock
    assert 0.4 / 0.5 <= row["rtf"] <= wall / 0.5
    assert all(row[c] >= 0 for c in ("t_invert", "t_phase", "t_synth"))


@pytest.mark.slow
def test_all_metrics_on_the_bundled_set_fill_every_column_or_give_a_reason(tmp_path):
    """The acceptance run (`melbench run metrics=all`), as a test."""
    from melbench import runner

    cfg = {"spec": "speech16k", "dataset": "bundled", "inverter": "pinv",
           "phase": {"name": "fgla", "n_iter": 20}, "metrics": "all", "seed": 0,
           "cache_dir": None, "metric_jobs": 2}
    df = runner.run(cfg, tmp_path, echo=False)
    metrics = all_metrics()
    assert (df["status"] == "ok").all()
    for row in df.to_dict("records"):
        for m in metrics:
            for c in m.columns:
                assert np.isfinite(row[c]) or has_reason(row, m, c), (row["clip"], c, row["notes"])
        assert "pending" not in row["notes"]
    eight = df["clip"].str.startswith("allison")
    assert df.loc[eight, "pesq_wb"].isna().all() and df.loc[~eight, "pesq_wb"].notna().all()
    assert df["pesq_nb"].notna().all() and df["stoi"].notna().all()
