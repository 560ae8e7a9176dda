"""Rule f of ``guarded`` (a steady texture goes to the fallback) and its feature (issue 16).

:func:`temporal_flux_db` against mels whose frame-to-frame change is known by
construction; then the rule on synthetic material at two presets where it must fire (a
tone under a broad band of steady hiss: the inner alone is over the bound against ``nnls``
+ ``fgla:100``) and where it must not (the bundled music excerpt, steady and partly
locally flat but rough across bands, where the inner wins; a bundled speech clip).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from melbench import quality, registry
from melbench.bench.pipelines import _measure, clips_for
from melbench.errors import ParameterError
from melbench.inverters.guard_blend import band_weights, noise_energy_share, temporal_flux_db
from melbench.inverters.guarded import band_roughness_db
from melbench.measures import spectral_convergence_db
from melbench.spec import get_spec

DEFAULT = "guarded:200:inner=joint_tcr+fgla:0"
WITHOUT = "guarded:200:inner=joint_tcr:steady_flux_db=0+fgla:0"  # rule f off
REF = "nnls+fgla:100"


@pytest.mark.parametrize("spec_name", ["speech16k", "tts22k"])
def test_temporal_flux_of_known_steps(spec_name):
    """Every cell changing by +-3 dB per frame (alternating) gives 3 dB; a constant mel 0;
    cells more than 50 dB below the peak (in both frames) do not count; one frame gives NaN."""
    spec = get_spec(spec_name)
    k = 10.0 if spec.power == 2 else 20.0
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 1.0, (spec.n_mels, 1))
    steps = np.where(np.arange(12) % 2, 3.0, 0.0)  # 0, 3, 0, 3 ... dB
    mel = base * 10 ** (steps / k)[None, :]
    assert temporal_flux_db(mel, spec) == pytest.approx(3.0, abs=1e-9)
    assert temporal_flux_db(np.repeat(base, 12, 1), spec) == pytest.approx(0.0, abs=1e-12)
    quiet = mel.copy()
    quiet[: spec.n_mels // 2] = base[: spec.n_mels // 2] * 10 ** (-73 / k) * 10 ** (5 * steps / k)[None, :]
    assert temporal_flux_db(quiet, spec) == pytest.approx(3.0, abs=1e-9)  # the 15 dB steps are inactive
    assert np.isnan(temporal_flux_db(mel[:, :1], spec))


def _hiss_tone(sr, hiss, seconds=1.5):
    """A vibrato tone (11 partials) under steady noise band-passed to 1.5-5 kHz."""
    rng = np.random.default_rng(1)
    n = int(seconds * sr)
    f0 = 180 * (1 + 0.03 * np.sin(2 * np.pi * 5 * np.arange(n) / sr))
    ph = 2 * np.pi * np.cumsum(f0) / sr
    tone = 0.1 * sum(np.sin(h * ph) / h for h in range(1, 12))
    b, a = scipy.signal.butter(4, [1500, 5000], btype="band", fs=sr)
    noise = scipy.signal.lfilter(b, a, rng.standard_normal(n))
    return (tone + hiss * noise / noise.std()).astype(np.float32)


def _rows(spec_name, y, cells):
    spec = get_spec(spec_name)
    mag = spec.magnitude(y)
    mel = spec.mel_from_magnitude(mag)
    return spec, mel, {c: _measure(c, spec, spec_name, "clean", "x", "other", y, mag, mel, 0,
                                   spectral_convergence_db) for c in cells}


@pytest.mark.parametrize("spec_name, hiss", [("speech16k", 0.1), ("hifigan_v1", 0.06)])
def test_rule_f_sends_a_steady_texture_to_the_fallback(spec_name, hiss):
    """Measured: the inner alone (rules a-e keep it: share 0.36 / 0.16 < 0.4) is 0.56 / 0.45
    dB SC worse than nnls + fgla:100 (-8.55 against -9.11 dB at speech16k, -11.36 against
    -11.81 at hifigan_v1); the mel is steady (flux 1.55 / 1.45 dB), not rough across bands
    (4.5 / 5.5 dB) and partly locally flat, so rule f keeps the fallback without running
    the inner: the cell is the reference cell."""
    y = _hiss_tone(get_spec(spec_name).sample_rate, hiss)
    spec, mel, r = _rows(spec_name, y, (REF, DEFAULT, WITHOUT))
    lin = spec.decompress(mel)
    assert 0.1 <= noise_energy_share(lin, spec, band_weights(lin, spec, 0.4, 0.8)) < 0.4
    assert band_roughness_db(lin, spec) <= 6.0 and temporal_flux_db(lin, spec) <= 2.2
    assert r[WITHOUT]["guard"].startswith("inner")
    assert r[WITHOUT]["sc_db"] > r[REF]["sc_db"] + quality.ISSUE_SC_DB
    assert r[DEFAULT]["guard"].startswith("fallback")
    assert r[DEFAULT]["sc_db"] == pytest.approx(r[REF]["sc_db"], abs=1e-9)
    ctx = {"clip": "hiss"}
    registry.create("inverter", "guarded", {"inner": "joint_tcr", "inner_iter": 20})(mel, spec, context=ctx)
    g = ctx["guard"]
    assert g["steady"] and not g["textured"] and not g["noisy"] and not g["smooth"]
    assert g["flux"] == pytest.approx(temporal_flux_db(lin, spec))
    assert g["chosen"] == "fallback" and np.isnan(g["inner"])  # the inner was not run


@pytest.mark.parametrize("spec_name", ["hifigan_v1", "bigvgan_22k_80"])
def test_rule_f_leaves_the_music_excerpt_and_speech_alone(spec_name):
    """The bundled music excerpt (bench crop) is steady (flux 2.0-2.1 dB) with 0.22-0.27 of
    its energy where the mel is locally flat, and the inner wins there (measured SC -22.1
    against -13.5 dB at hifigan_v1, -16.3 against -14.8 at bigvgan_22k_80): it is rough
    across bands (7.6-8.1 dB), so rule f does not fire; nor on bundled speech (flux above
    3 dB)."""
    spec = get_spec(spec_name)
    clips = {cid: y for cid, _, y in clips_for(spec, ["vibe_ace_00-08s", "cmu_arctic_a0007"], False, 2.5)}
    music = spec.decompress(spec.mel(clips["vibe_ace_00-08s"]))
    assert noise_energy_share(music, spec, band_weights(music, spec, 0.4, 0.8)) >= 0.1
    assert temporal_flux_db(music, spec) <= 2.2 and band_roughness_db(music, spec) > 6.0
    speech = spec.decompress(spec.mel(clips["cmu_arctic_a0007"]))
    assert temporal_flux_db(speech, spec) > 3.0
    _, _, r = _rows(spec_name, clips["vibe_ace_00-08s"], (REF, DEFAULT))
    assert r[DEFAULT]["guard"].startswith("inner")
    assert r[DEFAULT]["sc_db"] < r[REF]["sc_db"] - 1.0


def test_rule_f_off_switch_and_bad_params():
    spec = get_spec("speech16k")
    mel = spec.mel(_hiss_tone(spec.sample_rate, 0.1, 0.6))
    ctx = {"clip": "x"}
    registry.create("inverter", "guarded", {"inner": "joint_tcr", "inner_iter": 5,
                                            "steady_flux_db": 0.0})(mel, spec, context=ctx)
    assert ctx["guard"]["chosen"] == "inner" and not ctx["guard"]["steady"]
    for params, match in (({"steady_flux_db": -1.0}, "steady_flux_db=-1.0 must be a finite number >= 0"),
                          ({"steady_rough_db": float("inf")}, "steady_rough_db=inf"),
                          ({"steady_share": float("nan")}, "steady_share=nan")):
        with pytest.raises(ParameterError, match=match):
            registry.create("inverter", "guarded", params)
