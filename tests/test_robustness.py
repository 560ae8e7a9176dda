"""The default cell never loses to ``nnls`` + ``fgla`` by more than issue 16's bounds.

On the bundled speech clip (PESQ-wb and SC) and the synthetic vibrato tone (SC),
at several presets (16 kHz centre framing, 22.05 kHz "same" framing with fmax
8 kHz, the 8 kHz narrowband preset), on the clean mel and on degraded mels
(log-mel noise, smoothing, quantisation), with issue 16's bounds: the fast guard
behind the robustness line of ``results/bench_pipelines.md`` (the benchmark is the
full check). Also the pieces the guard is built from: the ``guarded`` inverter's
criteria against identities, its choice on material where ``joint_fgla`` alone
loses, and the ``narrowband8k`` preset against librosa.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from melbench import quality, registry
from melbench.bench.pipelines import TRACKS, _librosa_call, _measure, clips_for
from melbench.errors import ParameterError
from melbench.inverters.guarded import (
    PROBE_BOUNDS,
    audio_mel,
    band_roughness_db,
    mel_criterion,
    spectral_flatness,
)
from melbench.measures import spectral_convergence_db
from melbench.spec import PRESETS, get_spec


def _material(spec):
    """The bundled CMU ARCTIC clip (3 s) and the synthetic tone, as the benchmark cuts them."""
    return clips_for(spec, ["cmu_arctic_a0007", "synthetic_harmonic"], True, 3.0)


def _short(spec):
    """1.5 s of the bundled CMU ARCTIC clip and 1 s of the synthetic tone (the fast check)."""
    return [(c, k, y[int(0.5 * spec.sample_rate): int((2.0 if k == "speech" else 1.5) * spec.sample_rate)])
            for c, k, y in _material(spec)]


def _failures(spec_name, material, pesq_tracks, cell=None):
    spec = get_spec(spec_name)
    default = cell or quality.preset().label
    assert default != quality.REFERENCE_CELL
    failures = []
    for clip_id, kind, audio in material(spec):
        true_mag = spec.magnitude(audio)
        clean = spec.mel_from_magnitude(true_mag)
        for track, (dname, dparams) in TRACKS.items():
            mel = registry.create("degrade", dname, dparams)(clean, spec, np.random.default_rng([0, 1]))
            rows = {c: _measure(c, spec, spec_name, track, clip_id, kind, audio, true_mag, mel, 0,
                                spectral_convergence_db)
                    for c in (default, quality.REFERENCE_CELL)}
            d, r = rows[default], rows[quality.REFERENCE_CELL]
            assert d["status"] == "ok" and r["status"] == "ok", (d["error"], r["error"])
            if d["sc_db"] > r["sc_db"] + quality.ISSUE_SC_DB:
                failures.append(f"{clip_id}/{track}: SC {d['sc_db']:.2f} vs {r['sc_db']:.2f}")
            if (kind == "speech" and track in pesq_tracks
                    and d["pesq_wb"] < r["pesq_wb"] - quality.ISSUE_PESQ):
                failures.append(f"{clip_id}/{track}: PESQ {d['pesq_wb']:.2f} vs {r['pesq_wb']:.2f}")
    return failures


@pytest.mark.parametrize("spec_name", ["speech16k", "hifigan_v1", "narrowband8k"])
def test_default_is_never_worse_than_nnls_fgla_short(spec_name):
    """Short material, every track for SC; PESQ on every track but the smoothed mel.

    Why ``smooth1`` is left out of the PESQ check here: PESQ-wb on a 1.5 s slice of a
    smoothed mel (about 1.3-1.5 for every cell) moves by more than 0.05 between cells
    that differ by a few hundredths of a dB in SC; the benchmark checks it on 3 s clips.
    """
    assert not _failures(spec_name, _short, ("clean", "noise20", "quant6"))


@pytest.mark.slow
@pytest.mark.parametrize("spec_name", ["speech16k", "tts22k", "hifigan_v1", "narrowband8k"])
def test_default_is_never_worse_than_nnls_fgla(spec_name):
    """The benchmark's material (3 s), both bounds on every track."""
    assert not _failures(spec_name, _material, tuple(TRACKS))


def test_unguarded_joint_fgla_loses_where_the_guard_falls_back():
    """The material the guard exists for: ``joint_fgla`` alone breaks the SC bound on the
    synthetic harmonic tone at hifigan_v1 (its partials above fmax = 8 kHz), the guarded
    cell does not, and it got there by keeping the fallback."""
    spec = get_spec("hifigan_v1")
    (clip_id, kind, audio), = [c for c in _material(spec) if c[0] == "synthetic_harmonic"]
    true_mag = spec.magnitude(audio)
    mel = spec.mel_from_magnitude(true_mag)
    rows = {c: _measure(c, spec, "hifigan_v1", "clean", clip_id, kind, audio, true_mag, mel, 0,
                        spectral_convergence_db)
            for c in ("nnls+fgla:100", "joint_fgla:200+fgla:32", "guarded:200+fgla:32")}
    ref = rows["nnls+fgla:100"]["sc_db"]
    assert rows["joint_fgla:200+fgla:32"]["sc_db"] > ref + quality.ISSUE_SC_DB
    assert rows["guarded:200+fgla:32"]["sc_db"] <= ref + quality.ISSUE_SC_DB
    assert rows["guarded:200+fgla:32"]["guard"].startswith("fallback")


def test_guard_keeps_the_inner_method_on_speech_and_returns_its_output():
    """Where joint_fgla wins (clean speech), the guarded cell without rule d (the blend) is
    exactly joint_fgla's cell."""
    spec = get_spec("speech16k")
    (clip_id, kind, audio), = [c for c in _short(spec) if c[0] == "cmu_arctic_a0007"]
    mel = spec.mel(audio)
    # probe off: the fallback's 100 iterations run, so its criterion is recorded
    inv_g = registry.create("inverter", "guarded", {"inner_iter": 60, "probe": False, "blend": False})
    inv_j = registry.create("inverter", "joint_fgla", {"joint_iter": 60})
    # (non-empty: Inverter.__call__ replaces an empty context by a new dict)
    ctx_g, ctx_j = {"clip": clip_id}, {"clip": clip_id}
    mag_g = inv_g(mel, spec, context=ctx_g)
    mag_j = inv_j(mel, spec, context=ctx_j)
    assert ctx_g["guard"]["chosen"] == "inner"
    assert ctx_g["guard"]["inner"] < ctx_g["guard"]["fallback"] - 3.0  # dB: clearly better fit
    # the inner's own output (the fallback's differs by several dB); to float32 rounding
    np.testing.assert_allclose(mag_g, mag_j, rtol=1e-4, atol=1e-6 * float(mag_j.max()))
    np.testing.assert_allclose(ctx_g["phase_init"], ctx_j["phase_init"], rtol=1e-4,
                               atol=1e-6 * float(np.abs(ctx_j["phase_init"]).max()))


def test_criteria_against_identities():
    spec = get_spec("speech16k")
    rng = np.random.default_rng(0)
    m = rng.uniform(0.1, 1.0, (spec.n_mels, 20))
    # ||2m - m|| / ||m|| = 1 -> 0 dB; ||1.1m - m|| / ||m|| = 0.1 -> -20 dB
    assert mel_criterion(2 * m, m, spec, "mel_sc") == pytest.approx(0.0, abs=1e-9)
    assert mel_criterion(1.1 * m, m, spec, "mel_sc") == pytest.approx(-20.0, abs=1e-9)
    # a factor 2 in magnitude is 20 log10 2 dB everywhere; in power 10 log10 2
    assert mel_criterion(2 * m, m, spec, "logmel") == pytest.approx(20 * np.log10(2), rel=1e-9)
    p2 = get_spec("torchaudio")
    m2 = rng.uniform(0.1, 1.0, (p2.n_mels, 20))
    assert mel_criterion(2 * m2, m2, p2, "logmel") == pytest.approx(10 * np.log10(2), rel=1e-9)
    with pytest.raises(ParameterError, match="criterion='l2'; choose one of mel_sc, logmel"):
        mel_criterion(m, m, spec, "l2")


def test_band_roughness_against_identities():
    spec = get_spec("speech16k")  # magnitude: 20 log10
    bands = np.arange(spec.n_mels)[:, None]
    ramp = 10 ** (-(0.5 * bands) / 20) * np.ones((1, 7))  # -0.5 dB per band: no curvature
    assert band_roughness_db(ramp, spec) == pytest.approx(0.0, abs=1e-9)
    zigzag = 10 ** ((3.0 * (-1.0) ** bands) / 20) * np.ones((1, 7))  # +-3 dB: |d2| = 12 dB
    assert band_roughness_db(zigzag, spec) == pytest.approx(12.0, rel=1e-9)
    quiet = zigzag.copy()
    quiet[40:] = 1e-9  # more than 50 dB below the peak: left out, the rest still 12 dB
    assert band_roughness_db(quiet, spec) == pytest.approx(12.0, rel=1e-9)
    p2 = get_spec("torchaudio")  # power: the same dB pattern is 10 log10 of the squares
    bands2 = np.arange(p2.n_mels)[:, None]
    zz2 = 10 ** ((3.0 * (-1.0) ** bands2) / 10) * np.ones((1, 7))
    assert band_roughness_db(zz2, p2) == pytest.approx(12.0, rel=1e-9)


def test_guard_falls_back_on_an_over_smoothed_mel():
    """The smoothed music mel at speech16k: joint_fgla fits the blurred mel better and loses
    about 1 dB SC to nnls + fgla; the guard sees a smooth mel and keeps the fallback."""
    spec = get_spec("speech16k")
    (clip_id, kind, audio), = clips_for(spec, ["vibe_ace_00-08s"], False, 2.5)
    true_mag = spec.magnitude(audio)
    mel = registry.create("degrade", *TRACKS["smooth1"])(spec.mel_from_magnitude(true_mag), spec,
                                                          np.random.default_rng([0, 1]))
    assert band_roughness_db(spec.decompress(mel), spec) < 3.0
    assert band_roughness_db(spec.decompress(spec.mel_from_magnitude(true_mag)), spec) > 3.0
    rows = {c: _measure(c, spec, "speech16k", "smooth1", clip_id, kind, audio, true_mag, mel, 0,
                        spectral_convergence_db)
            for c in ("nnls+fgla:100", "joint_fgla:200+fgla:32", "guarded:200+fgla:32")}
    ref = rows["nnls+fgla:100"]["sc_db"]
    assert rows["joint_fgla:200+fgla:32"]["sc_db"] > ref + quality.ISSUE_SC_DB
    assert "smooth mel" in rows["guarded:200+fgla:32"]["guard"]
    assert rows["guarded:200+fgla:32"]["sc_db"] <= ref + quality.ISSUE_SC_DB


def _synthetic(kind, sr, seconds=1.0):
    """Signals built here: white noise, a drum-like train of decaying noise bursts, a vibrato tone."""
    rng = np.random.default_rng(1)
    n = int(seconds * sr)
    if kind == "noise":
        return (0.1 * rng.standard_normal(n)).astype(np.float32)
    if kind == "drum":
        y = np.zeros(n)
        for k in range(0, n, int(0.25 * sr)):
            m = min(n - k, int(0.2 * sr))
            y[k:k + m] += 0.3 * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.03 * sr))
        return y.astype(np.float32)
    f0 = 180 * (1 + 0.03 * np.sin(2 * np.pi * 5 * np.arange(n) / sr))
    ph = 2 * np.pi * np.cumsum(f0) / sr
    return (0.1 * sum(np.sin(h * ph) / h for h in range(1, 12))).astype(np.float32)


def test_spectral_flatness_against_identities():
    """Per-bin band powers: equal -> 1 whatever the filterbank's norm; levels a and b on
    alternate bands -> their geometric over arithmetic mean (sqrt(ab) / ((a + b) / 2) when
    every band holds an FFT bin); bands without a bin and quiet frames are left out."""
    for name, n_empty in (("speech16k", 0), ("torchaudio", 4)):  # magnitude + Slaney; power + HTK
        spec = get_spec(name)
        w = spec.mel_basis(np.float64).sum(1)[:, None]
        ok = w[:, 0] > 0
        assert (~ok).sum() == n_empty
        per_bin = np.ones((spec.n_mels, 9))  # flat per-bin power (white noise's expectation)
        lin = w * np.sqrt(per_bin) if spec.power == 1 else w * per_bin
        assert spectral_flatness(lin, spec) == pytest.approx(1.0, abs=1e-9)
        a, b = 1.0, 0.01
        two = np.where(np.arange(spec.n_mels)[:, None] % 2 == 0, a, b) * np.ones((1, 9))
        lin2 = w * np.sqrt(two) if spec.power == 1 else w * two
        levels = two[ok, 0]
        expected = np.exp(np.mean(np.log(levels))) / np.mean(levels)
        if n_empty == 0:
            assert expected == pytest.approx(np.sqrt(a * b) / ((a + b) / 2), rel=1e-12)
        assert spectral_flatness(lin2, spec) == pytest.approx(expected, rel=1e-9)
        lin2[:, :4] *= 1e-6  # 4 frames far below the peak: do not count
        assert spectral_flatness(lin2, spec) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("spec_name, kind", [("torchaudio", "noise"), ("torchaudio", "drum"),
                                             ("hifigan_v1", "noise"), ("hifigan_v1", "drum")])
def test_guard_falls_back_on_noise_like_sounds_without_running_the_inner(spec_name, kind):
    """Noise and drum-like bursts: joint_fgla alone loses more than 0.3 dB SC to
    nnls + fgla (-2.4 to -2.6 dB at torchaudio, about -1 dB at hifigan_v1); the mel is flat (spectral
    flatness 0.35-0.85 >= 0.1), so the guard keeps the fallback without running joint_fgla
    (no inner criterion recorded) and stays within the bound."""
    spec = get_spec(spec_name)
    audio = _synthetic(kind, spec.sample_rate)
    true_mag = spec.magnitude(audio)
    mel = spec.mel_from_magnitude(true_mag)
    assert spectral_flatness(spec.decompress(mel), spec) >= 0.1
    rows = {c: _measure(c, spec, spec_name, "clean", kind, "other", audio, true_mag, mel, 0,
                        spectral_convergence_db)
            for c in ("nnls+fgla:100", "joint_fgla:200+fgla:32", "guarded:200+fgla:32")}
    ref = rows["nnls+fgla:100"]["sc_db"]
    assert rows["joint_fgla:200+fgla:32"]["sc_db"] > ref + quality.ISSUE_SC_DB
    assert rows["guarded:200+fgla:32"]["sc_db"] <= ref + quality.ISSUE_SC_DB
    assert "noise-like mel" in rows["guarded:200+fgla:32"]["guard"]
    ctx = {"clip": kind}
    registry.create("inverter", "guarded", {"inner_iter": 20})(mel, spec, context=ctx)
    assert ctx["guard"]["chosen"] == "fallback" and ctx["guard"]["noisy"]
    assert np.isnan(ctx["guard"]["inner"])  # the inner method was not run


@pytest.mark.parametrize("spec_name", ["speech16k", "torchaudio"])
def test_guard_keeps_the_inner_on_a_harmonic_tone(spec_name):
    """A vibrato tone has a peaky mel (flatness below 0.01): the noise rule does not fire and
    the guarded cell is joint_fgla's cell (SC -27.2 against -13.4 dB for nnls + fgla at
    speech16k); at torchaudio's 50 % overlap rule g re-phases the kept estimate before the
    phase stage's 32 (``tail_iter=0`` is joint_fgla's cell there; measured -22.39 against
    -20.80 dB with it; rule g itself: tests/test_guard_overlap.py)."""
    spec = get_spec(spec_name)
    audio = _synthetic("harmonic", spec.sample_rate)
    true_mag = spec.magnitude(audio)
    mel = spec.mel_from_magnitude(true_mag)
    assert spectral_flatness(spec.decompress(mel), spec) < 0.01
    cells = ("joint_fgla:200+fgla:32", "guarded:200+fgla:32", "guarded:200:tail_iter=0+fgla:32")
    rows = {c: _measure(c, spec, spec_name, "clean", "harmonic", "other", audio, true_mag, mel, 0,
                        spectral_convergence_db) for c in cells}
    assert rows["guarded:200+fgla:32"]["guard"].startswith("inner")
    assert rows[cells[2]]["sc_db"] == pytest.approx(rows["joint_fgla:200+fgla:32"]["sc_db"], abs=0.01)
    if spec.win_length > 2 * spec.hop_length:
        assert rows["guarded:200+fgla:32"]["sc_db"] == pytest.approx(rows["joint_fgla:200+fgla:32"]["sc_db"],
                                                                    abs=0.01)
    else:  # rule g at low redundancy: better than the inner's own cell
        assert rows["guarded:200+fgla:32"]["sc_db"] < rows["joint_fgla:200+fgla:32"]["sc_db"] - 1.0


def test_fit_shortcut_skips_only_a_fallback_that_could_not_win():
    """On clean speech (a bundled Allison prompt) the inner's mel_sc is below fit_db = -35
    dB: the fallback is not run; run anyway (fit_db = 0, probe off so all its iterations
    run) it fits the mel worse by more than 5 dB, so the choice and the output are the same."""
    spec = get_spec("speech16k")
    (clip_id, kind, audio), = clips_for(spec, ["allison_vm-review"], False, 2.5)
    mel = spec.mel(audio)
    out = {}
    for fit in (-35.0, 0.0):
        ctx = {"clip": clip_id}
        mag = registry.create("inverter", "guarded", {"inner_iter": 200, "fit_db": fit,
                                                      "probe": False})(
            mel, spec, context=ctx)
        out[fit] = (mag, ctx["guard"])
    assert out[-35.0][1]["inner"] < -35.0 and np.isnan(out[-35.0][1]["fallback"])
    assert out[0.0][1]["fallback"] > out[0.0][1]["inner"] + 5.0
    assert out[-35.0][1]["chosen"] == out[0.0][1]["chosen"] == "inner"
    np.testing.assert_array_equal(out[-35.0][0], out[0.0][0])


def _smoothed_speech(spec_name="speech16k", seconds=1.5):
    """A bundled speech clip's mel blurred by the smooth1 track (rule a keeps the fallback)."""
    spec = get_spec(spec_name)
    (clip_id, kind, audio), = clips_for(spec, ["cmu_arctic_a0007"], False, seconds)
    mel = registry.create("degrade", *TRACKS["smooth1"])(spec.mel(audio), spec,
                                                          np.random.default_rng([0, 1]))
    return spec, audio, mel


@pytest.mark.parametrize("site", ["api", "bench", "pipeline"])
def test_kept_fallback_is_exactly_the_nnls_fgla_cell(site):
    """When the guard keeps its fallback, the cell's audio is ``nnls`` + ``fgla:100``'s, to
    float rounding, whatever the phase stage after it (its phase is final: the ``fgla:32``
    of the default cell is not run on it), in each of the three places a cell runs."""
    from melbench.api import invert
    from melbench.bench.pipelines import _cell_call
    from melbench.datasets.base import Clip
    from melbench.pipeline import run_clip

    spec, audio, mel = _smoothed_speech()
    n = audio.shape[-1]

    def cell(inv, inv_p, ph, ph_p):
        if site == "api":
            return invert(mel, spec, inverter=inv, inverter_params=inv_p, phase=ph,
                          phase_params=ph_p, seed=0, length=n)
        if site == "bench":
            label = f"{inv}:{':'.join(f'{k}={v}' for k, v in inv_p.items())}+{ph}:{ph_p['n_iter']}"
            return _cell_call(label.replace(":+", "+"), spec, n, spec.magnitude(audio), 0)(mel)
        clip = Clip(id="c", audio=audio, sample_rate=spec.sample_rate, mel=mel)
        res = run_clip(clip, spec, registry.create("inverter", inv, inv_p),
                       registry.create("phase", ph, ph_p), [], seed=0)
        assert res.row["status"] == "ok", res.row
        return res.audio

    ref = cell("nnls", {}, "fgla", {"n_iter": 100})
    for ph_p in ({"n_iter": 32}, {"n_iter": 5}):
        got = cell("guarded", {"inner_iter": 20}, "fgla", ph_p)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))
    # handed on as a warm start instead (fallback_final=false) the 32 iterations move it
    moved = cell("guarded", {"inner_iter": 20, "fallback_final": False}, "fgla", {"n_iter": 32})
    assert np.abs(moved - ref).max() > 1e-2 * float(np.abs(ref).max())


def test_guard_declares_only_a_kept_fallback_final():
    spec, audio, mel = _smoothed_speech()
    ctx = {"clip": "c"}
    registry.create("inverter", "guarded", {"inner_iter": 20})(mel, spec, context=ctx)
    assert ctx["guard"]["chosen"] == "fallback" and ctx["phase_final"] is True
    batch = {"clip": "b"}  # a batch of two fallbacks: final as a whole
    registry.create("inverter", "guarded", {"inner_iter": 20})(np.stack([mel, mel]), spec, context=batch)
    assert batch["phase_final"] is True and batch["phase_init"].shape == (2, spec.n_freq, mel.shape[-1])
    clean = spec.mel(audio)
    ctx = {"clip": "c"}
    registry.create("inverter", "guarded", {"inner_iter": 20})(clean, spec, context=ctx)
    assert ctx["guard"]["chosen"] == "inner" and "phase_final" not in ctx
    mixed = {"clip": "m"}  # one item keeps the inner: the batch's phase stage runs
    registry.create("inverter", "guarded", {"inner_iter": 20})(np.stack([mel, clean]), spec,
                                                                context=mixed)
    assert "phase_final" not in mixed


def test_phase_stage_rejects_a_final_estimate_it_cannot_use():
    from melbench.errors import InputError
    from melbench.plugin import phase_stage

    spec = get_spec("speech16k")
    mag = np.ones((spec.n_freq, 5), np.float32)
    ph = registry.create("phase", "fgla", {"n_iter": 2})
    with pytest.raises(InputError, match=r"context\['phase_final'\] is set but .*none"):
        phase_stage(ph, mag, spec, {"phase_final": True}, rng=0)
    with pytest.raises(InputError, match=r"float32 \(513, 5\), not a complex"):
        phase_stage(ph, mag, spec, {"phase_final": True, "phase_init": mag}, rng=0)
    x = (mag * np.exp(0.5j)).astype(np.complex64)
    assert phase_stage(ph, mag, spec, {"phase_final": True, "phase_init": x}, rng=0) is x


def test_probe_keeps_the_choice_and_skips_the_rest_only_when_far_behind():
    """CMU ARCTIC at speech16k, fit shortcut off: the inner fits the mel about 9 dB better
    than the fallback's 100 iterations; the probe sees it (more than the bound behind at a
    checkpoint) and stops the fallback there, and the output is the same as with the probe
    off (all 100 iterations run, the fallback's criterion recorded)."""
    spec = get_spec("speech16k")
    (clip_id, kind, audio), = clips_for(spec, ["cmu_arctic_a0007"], False, 2.5)
    mel = spec.mel(audio)
    out = {}
    for probe in (True, False):
        ctx = {"clip": clip_id}
        mag = registry.create("inverter", "guarded", {"inner_iter": 100, "fit_db": 0.0,
                                                      "probe": probe})(mel, spec, context=ctx)
        out[probe] = (mag, ctx["guard"], ctx["phase_init"])
    g, full = out[True][1], out[False][1]
    assert g["stopped"] and g["probe_iter"] in PROBE_BOUNDS and np.isnan(g["fallback"])
    assert g["probe"] - PROBE_BOUNDS[g["probe_iter"]] >= g["inner"]
    assert np.isfinite(full["fallback"]) and np.isnan(full["probe"]) and not full["stopped"]
    assert full["chosen"] == g["chosen"] == "inner"
    np.testing.assert_array_equal(out[False][0], out[True][0])
    np.testing.assert_array_equal(out[False][2], out[True][2])
    assert g["probe"] > full["fallback"]  # the first iterations fit worse than the 100


def test_fgla_checkpoints_see_what_fewer_iterations_return():
    """The probe's look at FGLA: checkpoint k gets exactly ``fgla(n_iter=k)``'s output, a
    checkpoint returning False leaves the run's result unchanged, True stops it there."""
    from melbench.phase.projections import fgla

    spec = get_spec("speech16k")
    mag = spec.magnitude(clips_for(spec, ["cmu_arctic_a0007"], False, 1.0)[0][2])
    seen = {}

    def keep(k):
        return lambda x: seen.__setitem__(k, x) or False

    full = fgla(mag, spec, n_iter=40, rng=3, checkpoints={10: keep(10), 25: keep(25)})
    np.testing.assert_array_equal(full, fgla(mag, spec, n_iter=40, rng=3))
    for k in (10, 25):
        np.testing.assert_array_equal(seen[k], fgla(mag, spec, n_iter=k, rng=3))
    stopped = fgla(mag, spec, n_iter=40, rng=3, checkpoints={25: lambda x: True})
    np.testing.assert_array_equal(stopped, seen[25])


def test_probe_finishes_a_fallback_that_may_still_win():
    """Where the fallback is kept after the comparison (the synthetic harmonic tone at
    hifigan_v1), the probe looks at every checkpoint, stops nothing, and the fallback's
    candidate is exactly the 100 iterations (the cell's audio equals nnls + fgla:100's)."""
    spec = get_spec("hifigan_v1")
    (clip_id, kind, audio), = [c for c in _material(spec) if c[0] == "synthetic_harmonic"]
    mel = spec.mel(audio)
    ctx = {"clip": clip_id}
    mag = registry.create("inverter", "guarded", {"inner_iter": 200})(mel, spec, context=ctx)
    g = ctx["guard"]
    assert g["chosen"] == "fallback" and g["probe_iter"] == max(PROBE_BOUNDS) and not g["stopped"]
    assert g["fallback"] < g["inner"] and ctx["phase_final"]
    ref = registry.create("phase", "fgla", {"n_iter": 100})(mag, spec, rng=0)
    np.testing.assert_array_equal(ctx["phase_init"], ref)


def test_audio_mel_of_a_true_stft_is_the_clips_mel():
    """A consistent spectrogram (the clip's own STFT) turns into audio with the clip's mel."""
    spec = get_spec("hifigan_v1")
    y = clips_for(spec, ["synthetic_harmonic"], True, 1.0)[0][2]
    x = spec.stft(y)
    np.testing.assert_allclose(audio_mel(x, spec, y.shape[-1]), spec.mel(y, compress=False),
                               rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("params, match", [
    ({"inner": "guarded"}, "cannot be the guard itself"),
    ({"inner": "no_such_inverter"}, "not an installed inverter"),
    ({"fallback_iter": -1}, "must be a non-negative integer"),
    ({"criterion": "l2"}, "choose one of mel_sc, logmel"),
    ({"margin_db": -1.0}, "must be a finite number >= 0"),
    ({"smooth_db": float("nan")}, "smooth_db=nan must be a finite number >= 0"),
    ({"noise_flatness": -0.1}, "noise_flatness=-0.1 must be a finite number >= 0"),
    ({"fit_db": 3.0}, r"fit_db=3.0 must be a finite number <= 0 \(dB\)"),
    ({"probe": 1}, "probe=1 must be true or false"),
    ({"fallback_final": "yes"}, "fallback_final='yes' must be true or false"),
])
def test_guarded_bad_params(params, match):
    with pytest.raises(ParameterError, match=match):
        registry.create("inverter", "guarded", params)


def test_narrowband_preset_equals_librosa():
    """narrowband8k: 8 kHz audio, 1024/256 Hann, centre framing with zeros, 80 Slaney bands
    to 4 kHz, magnitude, ln(max(x, 1e-5)), computed with librosa from its documentation."""
    spec = PRESETS["narrowband8k"]
    assert (spec.sample_rate, spec.n_fft, spec.hop_length, spec.n_mels) == (8000, 1024, 256, 80)
    y = clips_for(spec, ["cmu_arctic_a0007"], False, 2.0)[0][2]
    ref = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=8000, n_fft=1024, hop_length=256,
                                         win_length=1024, window="hann", center=True,
                                         pad_mode="constant", power=1.0, n_mels=80, fmin=0.0,
                                         fmax=4000.0, htk=False, norm="slaney")
    np.testing.assert_allclose(spec.mel(y), np.log(np.maximum(ref, 1e-5)), atol=2e-4)
    assert get_spec("narrowband8k") is spec


def test_narrowband_preset_through_hydra():
    from hydra import compose, initialize_config_dir

    from melbench import hydra_configs
    from melbench.resources import config_dir

    hydra_configs.register_hydra_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["spec=narrowband8k"])
    assert get_spec(cfg.spec) == PRESETS["narrowband8k"]


def test_librosa_row_is_aligned_under_same_framing():
    """librosa's mel_to_audio has no "same" framing: the bench inverts with center=False and cuts
    the (n_fft - hop) / 2 padding; the output then lines up with the clip (shifting it by that
    padding costs several dB of SC)."""
    spec = get_spec("hifigan_v1")
    y = clips_for(spec, ["cmu_arctic_a0007"], False, 1.5)[0][2]
    out = _librosa_call(spec, y.shape[-1])(spec.decompress(spec.mel(y))).astype(np.float32)
    assert out.shape == y.shape
    mag = spec.magnitude(y)
    aligned = spectral_convergence_db(mag, spec.magnitude(out))
    pad = spec.frame_padding
    shifted = spectral_convergence_db(mag, spec.magnitude(np.pad(out, (pad, 0))[: y.shape[-1]]))
    assert aligned < -8.0
    assert shifted > aligned + 3.0


def test_librosa_row_is_seeded():
    """librosa's mel_to_audio starts from an unseeded random phase; the bench's call (its
    mel_to_stft + griffinlim, as mel_to_audio runs them) is seeded: reruns give the same audio,
    another seed other audio."""
    spec = get_spec("speech16k")
    y = clips_for(spec, ["synthetic_harmonic"], True, 1.0)[0][2]
    m = spec.decompress(spec.mel(y))
    a, b = _librosa_call(spec, y.shape[-1], 0)(m), _librosa_call(spec, y.shape[-1], 0)(m)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _librosa_call(spec, y.shape[-1], 1)(m))
