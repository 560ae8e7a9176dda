"""Evaluation metrics (issue 14): ViSQOL, DNSMOS, WORLD/SPTK MCD with F0, multi-resolution STFT.

Each is checked against its package called directly (or an independent
re-implementation of the published definition), for its choice of mode by the
clip's kind, and for a reason (not an error) when its package is absent.
"""

from __future__ import annotations

import math
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
    """visqol-python, warmed up once (its first call compiles numba kernels, ~30 s if not cached)."""
    visqol = pytest.importorskip("visqol")
    api = visqol.VisqolApi()
    api.create(mode="speech")
    api.measure_from_arrays(speech.astype(np.float64), speech.astype(np.float64), sample_rate=16000)
    return visqol


def direct_visqol(visqol, ref, est, sr, mode, **kw):
    """The package on soxr-VHQ-resampled inputs, its numba kernels on one thread (exact digits)."""
    import numba

    rate = {"speech": 16000, "audio": 48000}[mode]
    api = visqol.VisqolApi()
    api.create(mode=mode, **kw)
    r = soxr.resample(ref.astype(np.float64), sr, rate, quality="VHQ")
    e = soxr.resample(est.astype(np.float64), sr, rate, quality="VHQ")
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return api.measure_from_arrays(r, e, sample_rate=rate).moslqo
    finally:
        numba.set_num_threads(threads)


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
    assert "pip install 'melbench[visqol]'" in notes[0]
