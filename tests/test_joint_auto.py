"""``joint_auto`` (round 8): the low-band steadiness score against a loop over its definition,
the switch on the bundled clips, each path bit for bit against the plugin it stands for (its mel:
test_joint_fgla)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from melbench import registry
from melbench.bench.pipelines import clips_for
from melbench.errors import ParameterError
from melbench.inverters.guarded import ITERATION_COUNTERS
from melbench.inverters.lowrank_prior import active_fraction, low_band_steadiness
from melbench.spec import FeatureSpec, get_spec

SMALL = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0, power=1,
                    pad_mode="constant", name="small16k")
SMALL_POWER = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0,
                          power=2, pad_mode="reflect", name="small16k-power")


def _low_bands(spec, max_hz):
    """Bands whose nominal centre (librosa's mel frequencies) is below ``max_hz``."""
    centres = librosa.mel_frequencies(n_mels=spec.n_mels + 2, fmin=spec.fmin, fmax=spec.fmax,
                                      htk=spec.htk)[1:-1]
    return np.flatnonzero(centres < max_hz)


def _reference_score(mel, spec, max_hz=500.0, floor_db=30.0, lag_s=0.016):
    """The definition written out frame by frame: the low-band level floored ``floor_db`` below
    the loudest frame, its change over ``lag_s`` (a whole or fractional number of frames, the
    later end interpolated between its two frames), over the pairs with an end above the floor."""
    bands = _low_bands(spec, max_hz)
    energy = []
    for k in range(mel.shape[1]):
        e = 0.0
        for b in bands:
            v = float(mel[b, k])
            e += v * v if spec.power == 1 else v
        energy.append(e)
    top = max(energy)
    floor = 10 * np.log10(top) - floor_db
    level = [max(10 * np.log10(e + top * 1e-6), floor) for e in energy]
    lag = max(1.0, lag_s / (spec.hop_length / spec.sample_rate))
    total, count = 0.0, 0
    for k in range(len(level)):
        t = k + lag
        j = int(np.floor(t + 1e-9))
        if j > len(level) - 1 or (j == len(level) - 1 and t > j + 1e-9):
            break
        frac = t - j if j + 1 < len(level) else 0.0
        later = level[j] if frac < 1e-9 else (1 - frac) * level[j] + frac * level[j + 1]
        if level[k] > floor or later > floor:
            total += abs(later - level[k])
            count += 1
    return total / count


@pytest.mark.parametrize("spec", [SMALL, SMALL_POWER], ids=["magnitude", "power"])
def test_score_against_its_definition(spec):
    """Random mels with quiet frames and high bands: the score equals the loop over its definition."""
    rng = np.random.default_rng(3)
    mel = rng.gamma(0.5, size=(spec.n_mels, 60))
    mel[:, 10:14] *= 1e-5  # frames far below the loudest: left out
    # the weighted band centres select the same bands as librosa's nominal centres
    assert len(_low_bands(spec, 500.0)) > 3
    np.testing.assert_allclose(low_band_steadiness(mel, spec), _reference_score(mel, spec), rtol=1e-9)
    np.testing.assert_allclose(low_band_steadiness(mel, spec, max_hz=900.0, floor_db=20.0),
                               _reference_score(mel, spec, 900.0, 20.0), rtol=1e-9)
    for lag_s in (0.008, 0.0137, 0.05, 0.001):  # one frame, fractional, several, below a frame
        np.testing.assert_allclose(low_band_steadiness(mel, spec, lag_s=lag_s),
                                   _reference_score(mel, spec, lag_s=lag_s), rtol=1e-9)


def test_score_identities():
    """A steady mel scores 0; a low band alternating by 10 dB scores 10 over one frame and 0 over
    two (the default 16 ms at an 8 ms hop); the high bands do not count."""
    spec = SMALL  # hop 8 ms
    low = _low_bands(spec, 500.0)
    mel = np.full((spec.n_mels, 40), 0.1)
    assert low_band_steadiness(mel, spec) == pytest.approx(0.0, abs=1e-12)
    mel[low] = np.where(np.arange(40) % 2, np.sqrt(10.0), 1.0)[None, :]  # energy x10 every other frame
    mel[low[-1] + 1:] = np.random.default_rng(0).gamma(0.5, size=(spec.n_mels - low[-1] - 1, 40))
    assert low_band_steadiness(mel, spec, lag_s=0.008) == pytest.approx(10.0, abs=1e-4)
    assert low_band_steadiness(mel, spec) == pytest.approx(0.0, abs=1e-9)
    # joint_auto measures over its steady_lag: steady over 16 ms, not over one 8 ms frame
    assert registry.create("inverter", "joint_auto", {}).is_steady(mel, spec)
    assert not registry.create("inverter", "joint_auto", {"steady_lag": 0.008}).is_steady(mel, spec)
    # silent low bands: nothing to call steady
    assert low_band_steadiness(np.zeros((spec.n_mels, 10)), spec) == float("inf")


def _level_mel(spec, level_db, seconds):
    """A mel whose low bands follow ``level_db(t)`` (dB, t in seconds) at the frame times of ``spec``."""
    t = np.arange(spec.n_frames(int(seconds * spec.sample_rate))) * spec.hop_length / spec.sample_rate
    mel = np.full((spec.n_mels, t.size), 1e-9)
    mel[_low_bands(spec, 500.0)] = np.sqrt(10.0 ** (level_db(t) / 10.0))[None, :]
    return mel


def test_score_is_a_change_per_time_not_per_frame():
    """The same level curve (steps out of silence, a ramp, a held level) sampled at 4, 8 and 16 ms
    hops scores the same (within 5 %); round 8's per-frame change would halve with each halving."""
    def curve(t):
        out = np.where(t < 0.3, -80.0, 0.0) - np.clip(t - 0.6, 0.0, 0.4) * 20.0  # 20 dB/s ramp
        return np.where((t > 1.3) & (t < 1.5), -80.0, out)  # a pause: down to silence and back
    scores = []
    for hop in (64, 128, 256):
        spec = FeatureSpec(sample_rate=16000, n_fft=1024, hop_length=hop, n_mels=40, fmax=8000.0,
                           power=1, pad_mode="constant", name=f"hop{hop}")
        scores.append(low_band_steadiness(_level_mel(spec, curve, 2.0), spec))
    # per 16 ms: the steps above the 30 dB floor (up 30 dB at 0.3 s; the pause from -8 dB, down
    # and up 22 dB) and the ramp's 0.32 dB over 0.4 s, averaged over the 1.516 s of pair starts
    # with an end above the floor ([0.284, 1.3] and [1.484, 1.984] s)
    expect = ((30.0 + 22.0 + 22.0) * 0.016 + 0.32 * 0.4) / 1.516
    np.testing.assert_allclose(scores, expect, rtol=0.05)
    # a level ramp alone is exact at every hop: 20 dB/s over 16 ms
    for hop in (64, 100, 256):
        spec = FeatureSpec(sample_rate=16000, n_fft=1024, hop_length=hop, n_mels=40, fmax=8000.0,
                           power=1, pad_mode="constant", name=f"hop{hop}")
        ramp = _level_mel(spec, lambda t: -20.0 * t, 1.0)
        assert low_band_steadiness(ramp, spec) == pytest.approx(0.32, rel=1e-4)


def test_active_fraction_against_a_loop_and_identities():
    """The share of frames within floor_db of the loudest, counted frame by frame; 1 for a held
    level, 0.25 with three quarters of the frames 40 dB down, 0 for silence."""
    rng = np.random.default_rng(5)
    for spec in (SMALL, SMALL_POWER):
        mel = rng.gamma(0.5, size=(spec.n_mels, 50)) * np.logspace(0, -4, 50)[None, :]
        energy = [sum((float(v) ** 2 if spec.power == 1 else float(v)) for v in mel[:, k]) for k in range(50)]
        for floor_db in (30.0, 10.0):
            expect = sum(e > max(energy) * 10 ** (-floor_db / 10) for e in energy) / 50
            assert active_fraction(mel, spec, floor_db) == pytest.approx(expect, abs=1e-12)
    mel = np.ones((SMALL.n_mels, 40))
    assert active_fraction(mel, SMALL) == 1.0
    mel[:, 10:] = 1e-2  # 40 dB down in magnitude-mel energy
    assert active_fraction(mel, SMALL) == 0.25
    assert active_fraction(np.zeros((SMALL.n_mels, 8)), SMALL) == 0.0


def test_a_decaying_hit_keeps_the_unsteady_path():
    """A low level decaying by 20 dB/s (steady by the score: 0.32 dB per 16 ms) but loud in only
    half of its frames takes joint_tcr; steady_active=0 lets it take joint_lrr."""
    spec = SMALL
    mel = _level_mel(spec, lambda t: -20.0 * t, 3.0)
    assert low_band_steadiness(mel, spec) == pytest.approx(0.32, rel=0.01)
    assert active_fraction(mel, spec) == pytest.approx(0.5, abs=0.02)
    assert not registry.create("inverter", "joint_auto", {}).is_steady(mel, spec)
    assert registry.create("inverter", "joint_auto", {"steady_active": 0.0}).is_steady(mel, spec)
    held = _level_mel(spec, lambda t: -2.0 * t, 3.0)  # the same, held: 2 dB/s
    assert registry.create("inverter", "joint_auto", {}).is_steady(held, spec)


# the benchmark's presets and the side table's
PRESETS = ["speech16k", "tts22k", "narrowband8k", "hifigan_v1", "bigvgan_24k_100", "bigvgan_44k_128",
           "vocos_24k", "librosa", "torchaudio", "pwg_24k", "bigvgan_22k_80"]


@pytest.mark.parametrize("name", PRESETS)
def test_bundled_speech_keeps_the_unsteady_path_at_every_preset(name):
    """The bundled speech scores well above the switch's threshold at every bench preset, and at
    speech16k the music excerpt (benchmark crop and 4 s) is below it."""
    spec = get_spec(name)
    auto = registry.create("inverter", "joint_auto", {})
    thr = auto.params.steady_below
    for crop in (2.5, 4.0):
        clips = clips_for(spec, ["cmu_arctic_a0007", "allison_vm-review", "allison_tt-allbusy",
                                 "vibe_ace_00-08s"], False, crop)
        mels = {cid: spec.decompress(spec.mel_from_magnitude(spec.magnitude(y))) for cid, _k, y in clips}
        scores = {cid: low_band_steadiness(m, spec) for cid, m in mels.items()}
        for cid, m in mels.items():
            if cid != "vibe_ace_00-08s":
                assert scores[cid] > thr + 0.5 and not auto.is_steady(m, spec), (crop, scores)
        if name == "speech16k":
            assert auto.is_steady(mels["vibe_ace_00-08s"], spec), (crop, scores)


def _steady_mel(spec):
    """A held note: partials at 110, 220 and 330 Hz, constant level (score 0)."""
    t = np.arange(int(0.8 * spec.sample_rate)) / spec.sample_rate
    y = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((110.0, 220.0, 330.0)))
    return spec.mel_from_magnitude(spec.magnitude((0.2 * y).astype(np.float32)))


def test_each_path_is_the_plugin_it_stands_for():
    """Not steady: joint_tcr bit for bit; steady: joint_lrr with joint_iter + steady_extra; 0: joint_tcr."""
    spec = SMALL
    (_cid, _kind, y), = clips_for(spec, ["cmu_arctic_a0007"], False, 0.8)
    speech = spec.mel_from_magnitude(spec.magnitude(y))
    steady = _steady_mel(spec)
    kw = {"joint_iter": 24, "restart_iter": 8}
    auto = registry.create("inverter", "joint_auto", {**kw, "steady_extra": 6})
    assert not auto.is_steady(speech, spec) and auto.is_steady(steady, spec)
    tcr = registry.create("inverter", "joint_tcr", kw)
    for a, b in zip(auto.estimate(speech, spec), tcr.estimate(speech, spec), strict=True):
        assert np.array_equal(a, b)
    lrr = registry.create("inverter", "joint_lrr", {"joint_iter": 30})
    for a, b in zip(auto.estimate(steady, spec), lrr.estimate(steady, spec), strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(auto.estimate(steady, spec)[0], tcr.estimate(steady, spec)[0])
    off = registry.create("inverter", "joint_auto", {**kw, "steady_below": 0.0})
    for a, b in zip(off.estimate(steady, spec), tcr.estimate(steady, spec), strict=True):
        assert np.array_equal(a, b)
    # a batch: each item takes its own path
    s, x = auto.estimate(np.stack([speech, steady]), spec)
    assert np.array_equal(s[0], tcr.estimate(speech, spec)[0])
    assert np.array_equal(s[1], lrr.estimate(steady, spec)[0])


def test_guard_sets_its_iterations_and_bad_parameters_are_refused():
    assert ITERATION_COUNTERS["joint_auto"] == "joint_iter"
    guard = registry.create("inverter", "guarded", {"inner": "joint_auto", "inner_iter": 20})
    assert guard._inner().params.joint_iter == 20
    with pytest.raises(ParameterError, match="steady_below"):
        registry.create("inverter", "joint_auto", {"steady_below": -1.0})
    with pytest.raises(ParameterError, match="steady_extra"):
        registry.create("inverter", "joint_auto", {"steady_extra": 2.5})
    with pytest.raises(ParameterError, match="steady_hz"):
        registry.create("inverter", "joint_auto", {"steady_hz": 0.0})
    with pytest.raises(ParameterError, match="steady_lag"):
        registry.create("inverter", "joint_auto", {"steady_lag": 0.0})
    with pytest.raises(ParameterError, match="steady_active"):
        registry.create("inverter", "joint_auto", {"steady_active": 1.5})


def test_long_frames_take_joint_tcf():
    """Where glides move more than glide_ref bins per frame the unsteady path is joint_tcf, not joint_tcr."""
    spec = FeatureSpec(sample_rate=8000, n_fft=512, hop_length=256, n_mels=40, fmax=4000.0, power=1,
                       pad_mode="constant", name="long8k")
    (_cid, _kind, y), = clips_for(spec, ["cmu_arctic_a0007"], False, 0.8)
    speech = spec.mel_from_magnitude(spec.magnitude(y))
    kw = {"joint_iter": 24, "restart_iter": 8, "prior_iter": 20}
    auto = registry.create("inverter", "joint_auto", kw)
    assert not auto.is_steady(speech, spec)
    tcf = registry.create("inverter", "joint_tcf", kw)
    tcr = registry.create("inverter", "joint_tcr", kw)
    got = auto.estimate(speech, spec)
    for a, b in zip(got, tcf.estimate(speech, spec), strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(got[0], tcr.estimate(speech, spec)[0])


def test_long_frames_never_take_the_steady_path():
    """A held note is steady at a short-frame spec, but where glide_bins > glide_ref (the continuity
    prior shortened by joint_tcf) the switch keeps joint_tcf; raising glide_ref reopens the path."""
    short = SMALL
    long = FeatureSpec(sample_rate=8000, n_fft=512, hop_length=256, n_mels=40, fmax=4000.0, power=1,
                       pad_mode="constant", name="long8k")
    auto = registry.create("inverter", "joint_auto", {})
    assert auto.is_steady(_steady_mel(short), short)
    assert not auto.is_steady(_steady_mel(long), long)
    wide = registry.create("inverter", "joint_auto", {"glide_ref": 10.0})
    assert wide.is_steady(_steady_mel(long), long)
