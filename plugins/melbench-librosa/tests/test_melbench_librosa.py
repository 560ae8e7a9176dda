"""melbench-librosa: the translated spec reproduces librosa's own calls; conformance."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from melbench_librosa.plugins import mel_kwargs, stft_kwargs

from melbench import registry
from melbench.errors import ParameterError
from melbench.spec import get_spec
from melbench.testing import check_plugin

SPECS = [
    get_spec("speech16k"),
    get_spec("tts22k"),
    get_spec("speech16k", power=2, compression="db", htk=True, mel_norm="none", fmin=60.0,
             fmax=7000.0, n_mels=40, n_fft=256, win_length=256, hop_length=64),
]


@pytest.fixture
def signal():
    rng = np.random.default_rng(7)
    t = np.arange(16000) / 16000
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s))
def test_filterbank_translation_matches_librosa(spec):
    kw = mel_kwargs(spec)
    ref = librosa.filters.mel(n_mels=spec.n_mels, dtype=np.float64, **kw)
    np.testing.assert_allclose(spec.mel_basis(np.float64), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("window", ["hann", "sqrt_hann", "gaussian"])
def test_stft_translation_matches_melbench(window, signal):
    spec = get_spec("speech16k", window=window, win_length=768)
    ref = spec.stft(signal)
    out = librosa.stft(signal, pad_mode=spec.pad_mode, **stft_kwargs(spec))
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s))
def test_librosa_nnls_equals_mel_to_stft(spec, signal):
    # short: librosa's L-BFGS-B really iterates on an unnormalised power filterbank
    y = librosa.resample(signal[:4000], orig_sr=16000, target_sr=spec.sample_rate)
    mel = spec.mel(y)
    out = registry.create("inverter", "librosa_nnls")(mel, spec)
    kw = mel_kwargs(spec)
    ref = librosa.feature.inverse.mel_to_stft(
        spec.decompress(mel), power=float(spec.power), **kw
    )
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5 * ref.max())


def test_librosa_gla_equals_griffinlim(signal):
    spec = get_spec("speech16k", window="sqrt_hann")
    mag = spec.magnitude(signal)
    ph = registry.create("phase", "librosa_gla", {"n_iter": 8})
    x = ph(mag, spec, rng=3)
    y_ref = librosa.griffinlim(
        mag, n_iter=8, hop_length=spec.hop_length, n_fft=spec.n_fft,
        window=spec.window_array, random_state=np.random.default_rng(3),
        length=spec.n_samples(mag.shape[-1]),
    )
    np.testing.assert_allclose(spec.istft(x), y_ref, atol=1e-4 * np.abs(y_ref).max())
    # iterating helps: better consistency than a single iteration
    x1 = registry.create("phase", "librosa_gla", {"n_iter": 1})(mag, spec, rng=3)
    def err(z):
        return np.linalg.norm(spec.magnitude(spec.istft(z)) - mag)
    assert err(x) < err(x1)


def test_refusals(signal):
    spec = get_spec("speech16k")
    mag = spec.magnitude(signal)
    with pytest.raises(ParameterError, match="warm start"):
        registry.create("phase", "librosa_gla")(mag, spec, init=np.zeros(mag.shape), rng=0)
    with pytest.raises(ParameterError, match=r"alpha=-1\.0 \(the momentum\)"):
        registry.create("phase", "librosa_gla", {"alpha": -1.0})


@pytest.mark.parametrize(("kind", "name"), [("inverter", "librosa_nnls"), ("phase", "librosa_gla")])
def test_conformance(kind, name):
    check_plugin(kind, name)
