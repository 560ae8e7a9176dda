"""Rule h of ``guarded``: a short GLA tail at dense full-band filterbanks on smooth mels.

At vocos_24k (100 bands up to 12 kHz) the bundled CMU ARCTIC clip's first 2.5 s have a band
roughness of 4.21 dB (at most 4.5): the rule runs, and the kept inner's estimate is then
exactly Griffin-Lim's iterations from it, re-implemented here from their definition
(Griffin and Lim 1984: ``P2 (P1 P2)^k``, ``P1`` the STFT of the ISTFT, ``P2`` the
magnitude projection). At speech16k (80 bands) the same clip (roughness 4.32 dB: only the
band count stops the rule), and at vocos_24k a rough mel (a bundled Allison prompt, 7 dB),
are bit-identical to the rule off.
"""

from __future__ import annotations

import numpy as np
import pytest

from melbench import registry
from melbench.bench.pipelines import clips_for
from melbench.errors import ParameterError
from melbench.inverters.guard_presets import DENSE_TAIL_ROUGH_DB, dense_full_band
from melbench.inverters.guarded import band_roughness_db
from melbench.spec import get_spec


def _mel(spec, clip_id, seconds=2.5):
    (_, _, y), = clips_for(spec, [clip_id], False, seconds)
    return spec.mel(y)


def _run(mel, spec, dense_tail_iter):
    ctx: dict = {"clip": "x"}
    g = registry.create("inverter", "guarded", {"inner": "joint_auto", "inner_iter": 20,
                                                "dense_tail_iter": dense_tail_iter})
    return g(mel, spec, context=ctx), ctx


def _gla_reference(mag, x, spec, k):
    """``k`` Griffin-Lim iterations from ``x`` onto ``mag``, written out.

    The signal length is the longest with these frames (``istft``'s natural length +
    ``hop - 1``), the consistency projection's documented default (``melbench.stft.Projector``).
    """
    n = spec.n_samples(mag.shape[-1]) + spec.hop_length - 1
    c = mag * np.exp(1j * np.angle(x))
    for _ in range(k):
        t = spec.stft(spec.istft(c, length=n))[..., : mag.shape[-1]]
        c = mag * np.exp(1j * np.angle(t))
    return c


@pytest.mark.filterwarnings("ignore::melbench.validation.MelbenchWarning")
def test_rule_h_is_gla_from_the_kept_inner_at_vocos():
    spec = get_spec("vocos_24k")
    mel = _mel(spec, "cmu_arctic_a0007")
    assert band_roughness_db(spec.decompress(mel), spec) <= DENSE_TAIL_ROUGH_DB
    mag_off, off = _run(mel, spec, 0)
    mag_on, on = _run(mel, spec, 4)
    assert on["guard"]["chosen"] == "inner" and on["guard"]["dense_tail"] == 4
    assert off["guard"]["dense_tail"] == 0
    np.testing.assert_array_equal(mag_on, mag_off)  # the rule changes the phase only
    ref = _gla_reference(np.asarray(mag_off, np.float64), off["phase_init"], spec, 4)
    got = on["phase_init"]
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 1e-4
    # and it moved the estimate (4 iterations are not a no-op)
    assert np.linalg.norm(got - off["phase_init"]) / np.linalg.norm(ref) > 1e-2


@pytest.mark.filterwarnings("ignore::melbench.validation.MelbenchWarning")
@pytest.mark.parametrize("spec_name, clip_id", [("speech16k", "cmu_arctic_a0007"),
                                                ("vocos_24k", "allison_vm-review")])
def test_rule_h_does_not_act(spec_name, clip_id):
    """speech16k: 80 bands (the same smooth clip); vocos_24k: a rough mel."""
    spec = get_spec(spec_name)
    mel = _mel(spec, clip_id)
    smooth = band_roughness_db(spec.decompress(mel), spec) <= DENSE_TAIL_ROUGH_DB
    assert smooth is (spec_name == "speech16k")  # each case is stopped by one gate only
    out = {k: _run(mel, spec, k) for k in (4, 0)}
    assert out[4][1]["guard"]["dense_tail"] == 0
    np.testing.assert_array_equal(out[4][0], out[0][0])
    np.testing.assert_array_equal(out[4][1]["phase_init"], out[0][1]["phase_init"])


@pytest.mark.parametrize("name, dense", [
    ("vocos_24k", True), ("bigvgan_24k_100", True), ("bigvgan_44k_128", True), ("librosa", False),
    ("speech16k", False), ("hifigan_v1", False), ("tts22k", False), ("bigvgan_22k_80", False),
    ("narrowband8k", False), ("pwg_24k", False), ("torchaudio", False),
])
def test_dense_full_band_presets(name, dense):
    """>= 100 bands up to sr/2, more than 50 % overlap (torchaudio: 128 bands at 400/200) and
    not librosa's long frames (128 bands, 2048/512 at 22.05 kHz)."""
    assert dense_full_band(get_spec(name)) is dense


@pytest.mark.parametrize("value", [-1, 2.5, True, float("nan"), "4"])
def test_rule_h_bad_param(value):
    with pytest.raises(ParameterError, match=r"dense_tail_iter=.* must be a non-negative integer"):
        registry.create("inverter", "guarded", {"dense_tail_iter": value})
