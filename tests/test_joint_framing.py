"""``joint_tcf``: the continuity prior's duration scaled to the framing, ``joint_tcr`` otherwise."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from melbench import registry
from melbench.errors import ParameterError
from melbench.inverters.joint_framing import GLIDE_REF, glide_bins, scaled_prior_iter
from melbench.spec import FeatureSpec, get_spec
from melbench.testing import conformance_signal

#: Short frames: a 1 kHz/s glide moves 128/16000 s * 1000 Hz/s / (16000/512 Hz) = 0.256 bins per frame.
SHORT = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0, power=1,
                    pad_mode="constant", name="short16k")
#: Long frames at 8 kHz: 256/8000 s * 1000 Hz/s / (8000/512 Hz) = 2.048 bins per frame.
LONG = FeatureSpec(sample_rate=8000, n_fft=512, hop_length=256, n_mels=40, fmax=4000.0, power=1,
                   pad_mode="constant", name="long8k")
QUICK = {"joint_iter": 40, "prior_iter": 30, "restart_iter": 10}


def _mel(spec: FeatureSpec) -> np.ndarray:
    """The conformance signal's mel, from librosa's STFT and filterbank (independent of melbench)."""
    y = conformance_signal(spec.sample_rate, seconds=1.0)
    mag = np.abs(librosa.stft(y, n_fft=spec.n_fft, hop_length=spec.hop_length, pad_mode=spec.pad_mode))
    return (_basis(spec) @ mag).astype(np.float32)


def _basis(spec: FeatureSpec) -> np.ndarray:
    return librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels,
                               fmin=spec.fmin, fmax=spec.fmax, htk=spec.htk, norm="slaney")


def test_glide_bins_from_the_framing():
    """Seconds per hop times the glide rate over Hz per bin, from the presets' documented framings."""
    assert glide_bins(get_spec("speech16k")) == pytest.approx((256 / 16000) * 1000 / (16000 / 1024))
    assert glide_bins(get_spec("speech16k")) == pytest.approx(1.024)  # GLIDE_REF's framing
    assert glide_bins(get_spec("narrowband8k")) == pytest.approx((256 / 8000) * 1000 / (8000 / 1024))
    assert glide_bins(get_spec("tts22k"), 500.0) == pytest.approx((256 / 22050) * 500 / (22050 / 1024))
    assert glide_bins(LONG) == pytest.approx(2.048) and glide_bins(SHORT) == pytest.approx(0.256)
    assert GLIDE_REF == pytest.approx(glide_bins(get_spec("speech16k")))
    with pytest.raises(ParameterError, match="rate_hz_per_s"):
        glide_bins(SHORT, 0.0)


def test_scaled_prior_iter():
    """Unchanged up to the reference; shortened by reference / glide above it; 0 means every iteration."""
    nb, s16 = get_spec("narrowband8k"), get_spec("speech16k")
    assert scaled_prior_iter(150, 200, s16) == 150 and scaled_prior_iter(0, 200, s16) == 0
    assert scaled_prior_iter(150, 200, get_spec("tts22k")) == 150
    assert scaled_prior_iter(150, 200, nb) == 38  # 150 * 1.024 / 4.096 = 37.5
    assert scaled_prior_iter(0, 200, nb) == 50  # every one of the 200, a quarter of them
    assert scaled_prior_iter(1, 200, nb) == 1  # never rounded down to 0 (which would mean "all")
    assert scaled_prior_iter(150, 200, nb, glide_ref=2.048) == 75
    with pytest.raises(ParameterError, match="glide_ref"):
        scaled_prior_iter(150, 200, nb, glide_ref=-1.0)


def test_is_joint_tcr_where_glides_move_little():
    """At a framing at or below the reference the output is joint_tcr's, bit for bit."""
    mel = _mel(SHORT)
    ctx_f: dict = {}
    ctx_r: dict = {}
    s_f = registry.create("inverter", "joint_tcf", QUICK)(mel, SHORT, context=ctx_f)
    s_r = registry.create("inverter", "joint_tcr", QUICK)(mel, SHORT, context=ctx_r)
    np.testing.assert_array_equal(s_f, s_r)
    np.testing.assert_array_equal(ctx_f["phase_init"], ctx_r["phase_init"])


def test_long_frames_run_the_prior_for_fewer_iterations():
    """At 2.048 bins per frame the prior runs 30 * 1.024 / 2.048 = 15 iterations (joint_tcr at 15)."""
    mel = _mel(LONG)
    s_f = registry.create("inverter", "joint_tcf", QUICK)(mel, LONG, context={})
    s_15 = registry.create("inverter", "joint_tcr", {**QUICK, "prior_iter": 15})(mel, LONG, context={})
    s_30 = registry.create("inverter", "joint_tcr", QUICK)(mel, LONG, context={})
    np.testing.assert_array_equal(s_f, s_15)
    assert not np.array_equal(s_f, s_30)  # the scaling acts
    # glide_ref at this framing's glide: unscaled again
    s_ref = registry.create("inverter", "joint_tcf", {**QUICK, "glide_ref": 2.048})(mel, LONG, context={})
    np.testing.assert_array_equal(s_ref, s_30)


def test_output_has_the_input_mel_at_long_frames():
    """The magnitude has the given mel under librosa's filterbank; the phase hand-over carries it."""
    mel = _mel(LONG)
    ctx: dict = {}
    s = registry.create("inverter", "joint_tcf", QUICK)(mel, LONG, context=ctx)
    rel = np.linalg.norm(_basis(LONG) @ s - mel) / np.linalg.norm(mel)
    assert rel < 1e-3, rel
    assert s.dtype == np.float32 and np.all(s >= 0)
    np.testing.assert_allclose(np.abs(ctx["phase_init"]), s, rtol=1e-4, atol=1e-6)


def test_as_the_guards_inner():
    """``guarded:inner=joint_tcf`` at a short framing is ``guarded:inner=joint_tcr`` exactly."""
    mel = _mel(SHORT)
    s_f = registry.create("inverter", "guarded", {"inner": "joint_tcf"})(mel, SHORT, context={})
    s_r = registry.create("inverter", "guarded", {"inner": "joint_tcr"})(mel, SHORT, context={})
    np.testing.assert_array_equal(s_f, s_r)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), True])
def test_bad_glide_ref_is_rejected(bad):
    with pytest.raises(ParameterError, match="glide_ref=.*positive finite"):
        registry.create("inverter", "joint_tcf", {"glide_ref": bad})
