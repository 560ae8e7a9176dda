"""melbench-lws-ref: conformance, agreement with melbench's own lws, refusals."""

from __future__ import annotations

import numpy as np
import pytest

lws = pytest.importorskip("lws")

from melbench import registry  # noqa: E402
from melbench.errors import ParameterError  # noqa: E402
from melbench.phase.lws import LWS  # noqa: E402
from melbench.spec import FeatureSpec, get_spec  # noqa: E402
from melbench.testing import check_plugin  # noqa: E402

try:
    from melbench_lws_ref.plugin import LWSRef, make_processor
except ImportError:  # pragma: no cover
    pytest.skip("melbench-lws-ref is not installed", allow_module_level=True)


def sc_db(mag, x, spec):
    y = spec.istft(x, length=spec.n_samples(x.shape[-1]))
    est = np.abs(spec.stft(y, dtype=np.float64))
    return 20 * np.log10(np.linalg.norm(est - mag) / np.linalg.norm(mag))


def speechlike(sr=16000, seconds=1.5, seed=0):
    """A voiced-like signal: harmonics of a gliding f0 with formant-ish weights, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 1.3 * t)
    ph = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.exp(-((h * 130 - 700) / 900) ** 2) * np.sin(h * ph) / h for h in range(1, 30))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t) ** 2
    return (env * y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_registered_and_conformant():
    assert "lws_ref" in registry.available("phase")
    check_plugin("phase", "lws_ref")


def arctic(seconds=2.0):
    """The bundled CMU ARCTIC utterance (16 kHz speech)."""
    import soundfile as sf

    from melbench.resources import bundled_dir

    y, sr = sf.read(bundled_dir() / "speech" / "cmu_arctic_a0007.wav", dtype="float32")
    assert sr == 16000
    return y[: int(sr * seconds)]


@pytest.mark.parametrize("n_fft", [512, 1024])
@pytest.mark.parametrize("window", ["sqrt_hann", "hann"])
def test_agrees_with_melbench_lws_in_sc(window, n_fft):
    """Same magnitude, same window: the two implementations agree within 0.5 dB in SC."""
    spec = get_spec("speech16k", window=window, n_fft=n_fft, win_length=n_fft,
                    hop_length=n_fft // 4)
    mag = np.abs(spec.stft(arctic()))
    ours = sc_db(mag, LWS(mode="speech")(mag, spec, rng=0), spec)
    ref = sc_db(mag, LWSRef(mode="speech", window="spec")(mag, spec, rng=0), spec)
    zero = sc_db(mag, mag.astype(np.complex64), spec)
    assert ref < zero - 10  # the reference does work on this spec
    assert abs(ours - ref) < 0.5, (ours, ref)


def test_window_translation():
    spec = get_spec("speech16k", window="hann", n_fft=512, win_length=512, hop_length=128)
    proc = make_processor(spec, window="spec")
    np.testing.assert_allclose(proc.awin, spec.window_array)
    # lws's synthesis window is melbench's least-squares dual: awin * swin overlaps to 1
    prod = proc.awin * proc.swin
    total = prod.reshape(-1, spec.hop_length).sum(axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    own = make_processor(spec, window="lws")
    assert not np.allclose(own.awin, spec.window_array)


def test_warm_start_is_used():
    spec = get_spec("speech16k", n_fft=512, win_length=512, hop_length=128)
    mag = np.abs(spec.stft(speechlike(seconds=0.5)))
    good = LWS()(mag, spec, rng=0)
    p = LWSRef(batch_iterations=1)
    warm = sc_db(mag, p(mag, spec, init=good, rng=0), spec)
    cold = sc_db(mag, p(mag, spec, rng=0), spec)
    assert warm < cold - 3


def test_refusals():
    odd = FeatureSpec(sample_rate=16000, n_fft=511, hop_length=128, n_mels=20, power=1)
    p = LWSRef()
    assert "even" in p.skip(odd)
    with pytest.raises(ParameterError, match="even"):
        p(np.ones((odd.n_freq, 20), np.float32), odd)
    short = get_spec("speech16k", win_length=800)
    assert "win_length" in LWSRef(window="lws").skip(short)
    assert LWSRef(window="spec").skip(short) is None
    for bad in ({"mode": "opera"}, {"window": "hamming"}, {"L": 0}, {"batch_iterations": -1}):
        with pytest.raises(ParameterError):
            LWSRef(**bad)
