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
from melbench.inverters.lowrank_prior import low_band_steadiness
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


def _reference_score(mel, spec, max_hz=500.0, floor_db=30.0):
    """The definition written out frame by frame (energy: magnitude squared, or the power mel)."""
    bands = _low_bands(spec, max_hz)
    energy = []
    for k in range(mel.shape[1]):
        e = 0.0
        for b in bands:
            v = float(mel[b, k])
            e += v * v if spec.power == 1 else v
        energy.append(e)
    top = max(energy)
    total, count = 0.0, 0
    for k in range(len(energy) - 1):
        if energy[k] > top * 10 ** (-floor_db / 10) and energy[k + 1] > top * 10 ** (-floor_db / 10):
            total += abs(10 * np.log10(energy[k + 1] + top * 1e-6) - 10 * np.log10(energy[k] + top * 1e-6))
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


def test_score_identities():
    """A steady mel scores 0, a low band alternating by 10 dB scores 10; the high bands do not count."""
    spec = SMALL
    low = _low_bands(spec, 500.0)
    mel = np.full((spec.n_mels, 40), 0.1)
    assert low_band_steadiness(mel, spec) == pytest.approx(0.0, abs=1e-12)
    mel[low] = np.where(np.arange(40) % 2, np.sqrt(10.0), 1.0)[None, :]  # energy x10 every other frame
    mel[low[-1] + 1:] = np.random.default_rng(0).gamma(0.5, size=(spec.n_mels - low[-1] - 1, 40))
    assert low_band_steadiness(mel, spec) == pytest.approx(10.0, abs=1e-4)
    # silent low bands: nothing to call steady
    assert low_band_steadiness(np.zeros((spec.n_mels, 10)), spec) == float("inf")


def test_score_separates_the_bundled_speech_from_the_music_excerpt():
    """At speech16k the bundled speech is above the switch's threshold and the excerpt below it."""
    spec = get_spec("speech16k")
    thr = registry.create("inverter", "joint_auto", {}).params.steady_below
    names = ["cmu_arctic_a0007", "allison_vm-review", "allison_tt-allbusy", "vibe_ace_00-08s"]
    clips = clips_for(spec, names, False, 2.5)
    scores = {cid: low_band_steadiness(spec.decompress(spec.mel_from_magnitude(spec.magnitude(y))), spec)
              for cid, _kind, y in clips}
    assert scores["vibe_ace_00-08s"] < thr, scores
    assert min(v for k, v in scores.items() if k != "vibe_ace_00-08s") > thr + 1.0, scores


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
