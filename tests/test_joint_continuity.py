"""``joint_tc``: the continuity pass against its formula, beta=0 is joint_fgla, mel, music gain."""

from __future__ import annotations

import numpy as np
import pytest

from melbench import registry
from melbench.bench.pipelines import parse_cell
from melbench.datasets.bundled import Bundled
from melbench.errors import InputError, ParameterError
from melbench.inverters.joint_continuity import _k_continuity, continuity_magnitude, joint_tc_inverse
from melbench.inverters.joint_fgla import joint_fgla_inverse
from melbench.phase.projections import fgla
from melbench.spec import FeatureSpec, get_spec
from melbench.testing import conformance_signal

SMALL = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0, power=1,
                    pad_mode="constant", name="small16k")
SMALL_POWER = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0,
                          power=2, pad_mode="reflect", name="small16k-power")


def _sc_db(ref, est):
    return 20 * np.log10(np.linalg.norm(est - ref) / np.linalg.norm(ref))


def _pulled(a, beta):
    """The prior's formula, computed here: a 1-2-1 mean of log a along frames (edges repeated)."""
    la = np.log(a)
    padded = np.pad(la, ((0, 0), (1, 1)), mode="edge")
    geo = np.exp(np.apply_along_axis(lambda r: np.convolve(r, [0.25, 0.5, 0.25], "valid"), 1, padded))
    return (1 - beta) * a + beta * geo


@pytest.mark.parametrize("n_bins", [513, 40])
def test_continuity_pass_follows_the_formula(n_bins):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.05, 3.0, size=(513, 30))
    ph = rng.uniform(-np.pi, np.pi, size=a.shape)
    t = np.ascontiguousarray((a * np.exp(1j * ph)).T)  # the kernel's (frames, bins) layout
    _k_continuity(t, np.empty(t.shape), 0.3, n_bins)
    want = _pulled(a, 0.3)
    want[n_bins:] = a[n_bins:]  # bins above the limit are not touched
    np.testing.assert_allclose(np.abs(t.T), want, rtol=1e-10)
    np.testing.assert_allclose(np.angle(t.T * np.exp(-1j * ph)), 0, atol=1e-10)  # phase kept
    np.testing.assert_allclose(continuity_magnitude(a, 0.3), _pulled(a, 0.3), rtol=1e-10)


def test_beta_zero_is_joint_fgla():
    spec = SMALL
    m = spec.mel_from_magnitude(spec.magnitude(conformance_signal(spec.sample_rate, seconds=0.5)))
    s0, x0 = joint_fgla_inverse(m, spec, n_iter=30)
    s1, x1 = joint_tc_inverse(m, spec, n_iter=30, beta=0.0)
    np.testing.assert_array_equal(s1, s0)
    np.testing.assert_array_equal(x1, x0)
    s2, _ = joint_tc_inverse(m, spec, n_iter=30, beta=0.3)
    assert np.linalg.norm(s2 - s0) > 1e-3 * np.linalg.norm(s0)  # and the prior does change it


def test_prior_iter_limits_the_prior_to_the_first_iterations():
    spec = SMALL
    m = spec.mel_from_magnitude(spec.magnitude(conformance_signal(spec.sample_rate, seconds=0.5)))
    plain = joint_fgla_inverse(m, spec, n_iter=30)[0]
    always = joint_tc_inverse(m, spec, n_iter=30, beta=0.3)[0]
    np.testing.assert_array_equal(joint_tc_inverse(m, spec, n_iter=30, beta=0.3, prior_iter=0)[0], plain)
    np.testing.assert_array_equal(joint_tc_inverse(m, spec, n_iter=30, beta=0.3, prior_iter=30)[0], always)
    part = joint_tc_inverse(m, spec, n_iter=30, beta=0.3, prior_iter=10)[0]
    for other in (plain, always):
        assert np.linalg.norm(part - other) > 1e-4 * np.linalg.norm(other)
    # prior_iter=29 leaves exactly the last of the 30 iterations free of the prior
    last_free = joint_tc_inverse(m, spec, n_iter=30, beta=0.3, prior_iter=29)[0]
    assert np.linalg.norm(last_free - always) > 0
    # the plugin's 0 means "in every iteration"
    inv = registry.create("inverter", "joint_tc", {"joint_iter": 30, "beta": 0.3, "prior_iter": 0})
    np.testing.assert_array_equal(inv(m, spec, context={}), always)


def test_beats_joint_fgla_on_the_bundled_music():
    """The measured gain (results/music_phase.md), on the first 2 s of the excerpt."""
    spec = get_spec("speech16k")
    y = next(Bundled(ids=["vibe_ace_00-08s"]).clips(spec)).audio[: 2 * spec.sample_rate]
    mag = spec.magnitude(y)
    m = spec.mel_from_magnitude(mag)

    def sc(s, x):
        out = spec.istft(fgla(s, spec, n_iter=32, init=x), length=y.size)
        return _sc_db(mag, spec.magnitude(out))

    base = sc(*joint_fgla_inverse(m, spec, n_iter=200))
    prior = sc(*joint_tc_inverse(m, spec, n_iter=200, beta=0.25))
    assert prior < base - 0.5, (prior, base)


def test_plugin_hands_over_the_phase_and_parses_as_a_cell():
    spec = SMALL
    y = conformance_signal(spec.sample_rate, seconds=0.5)
    m = spec.mel_from_magnitude(spec.magnitude(y))
    inv = registry.create("inverter", "joint_tc", {"joint_iter": 20, "beta": 0.2, "max_hz": 1000.0})
    ctx: dict = {}
    s = inv(m, spec, context=ctx)
    s_ref, x_ref = joint_tc_inverse(m, spec, n_iter=20, beta=0.2, max_hz=1000.0)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_array_equal(ctx["phase_init"], x_ref)
    assert parse_cell("joint_tc:150:beta=0.3+fgla:32")[:2] == ("joint_tc", {"joint_iter": 150, "beta": 0.3})


def test_bad_parameters_and_input():
    spec = SMALL
    m = np.ones((spec.n_mels, 8), np.float32)
    with pytest.raises(ParameterError, match="beta=1.5 outside"):
        joint_tc_inverse(m, spec, beta=1.5)
    with pytest.raises(ParameterError, match="ratio_steps >= 1"):
        joint_tc_inverse(m, spec, ratio_steps=0)
    with pytest.raises(ParameterError, match="prior_iter=-2 must be >= 0"):
        joint_tc_inverse(m, spec, prior_iter=-2)
    with pytest.raises(ParameterError, match="max_hz=-1"):
        joint_tc_inverse(m, spec, max_hz=-1.0)
    with pytest.raises(InputError, match="expected \\(..., 40, frames\\)"):
        joint_tc_inverse(np.ones((12, 8), np.float32), spec)
    with pytest.raises(InputError, match="init must be a complex"):
        joint_tc_inverse(m, spec, init=np.ones((spec.n_freq, 8)))
    with pytest.raises(ParameterError, match="beta=-0.1 outside"):
        registry.create("inverter", "joint_tc", {"beta": -0.1}).validate()
    with pytest.raises(ParameterError, match="ratio_steps=0 must be an integer >= 1"):
        registry.create("inverter", "joint_tc", {"ratio_steps": 0}).validate()
