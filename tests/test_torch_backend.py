"""issue 18: the torch backend equals the numpy path within float32 rounding (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from melbench import registry  # noqa: E402
from melbench import torch_backend as mt  # noqa: E402
from melbench.datasets.base import Clip  # noqa: E402
from melbench.errors import InputError, ParameterError  # noqa: E402
from melbench.inverters.nnls import mel_nnls_inverse  # noqa: E402
from melbench.inverters.pinv import mel_pinv_inverse  # noqa: E402
from melbench.phase.projections import fgla, gla  # noqa: E402
from melbench.pipeline import run_clip  # noqa: E402
from melbench.spec import FeatureSpec, get_spec  # noqa: E402
from melbench.testing import conformance_signal  # noqa: E402

SPECS = {
    "constant": get_spec("speech16k"),  # center, zero padding
    "reflect": get_spec("tts22k"),  # center, reflect padding
    "nocenter": FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, center=False,
                            power=1, name="nocenter"),
    "same": FeatureSpec(sample_rate=22050, n_fft=1024, hop_length=256, n_mels=80, framing="same",
                        pad_mode="reflect", power=1, name="same"),  # HiFi-GAN's padding
    "hop3": FeatureSpec(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40, power=2,
                        name="hop_not_dividing"),  # n_fft % hop != 0: the fold path
}


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("key", list(SPECS))
def test_stft_istft_equal_numpy(key):
    spec = SPECS[key]
    y = conformance_signal(spec.sample_rate, seconds=1.0)
    ref = spec.stft(y)
    got = mt.stft(torch.from_numpy(y), spec).numpy()
    assert got.shape == ref.shape and got.dtype == np.complex64
    assert rel(got, ref) < 1e-6
    back = mt.istft(torch.from_numpy(ref), spec, length=y.size).numpy()
    want = spec.istft(ref, length=y.size)
    # without centring the first/last samples divide by a tiny window sum-square (rounding x 1e3)
    edge = spec.hop_length if spec.framing == "none" else 0
    np.testing.assert_allclose(back[edge : y.size - edge], want[edge : y.size - edge], atol=2e-6)
    assert rel(back, want) < 1e-4


@pytest.mark.parametrize("key", list(SPECS))
def test_projector_equals_numpy_projector(key):
    from melbench.stft import Projector

    spec = SPECS[key]
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, spec.n_freq, 40)) + 1j * rng.standard_normal((2, spec.n_freq, 40)))
    x = x.astype(np.complex64)
    ref = Projector.from_spec(spec, 40, batch_shape=(2,))(x)
    p = mt.TorchProjector(spec, 40)
    got = p.from_internal(p(p.to_internal(torch.from_numpy(x)))).numpy()
    assert rel(got, ref) < 1e-5


@pytest.mark.parametrize("key", ["constant", "reflect", "nocenter", "same"])
def test_fgla_and_gla_equal_numpy_same_seed(key):
    spec = SPECS[key]
    y = conformance_signal(spec.sample_rate, seconds=1.0)
    mag = np.abs(spec.stft(y)).astype(np.float32)
    for fn_np, fn_t, kw in ((fgla, mt.fgla, {"alpha": 0.99}), (gla, mt.gla, {})):
        ref = fn_np(mag, spec, n_iter=30, rng=3, **kw)
        got = fn_t(torch.from_numpy(mag), spec, n_iter=30, rng=3, **kw).numpy()
        assert got.dtype == np.complex64
        np.testing.assert_allclose(np.abs(got), mag, rtol=1e-5, atol=1e-6)  # P2 output
        assert rel(got, ref) < 1e-3, fn_np.__name__


def test_warm_start_from_the_true_phase_stays_put():
    """Independent identity: a consistent spectrogram is a fixed point of GLA."""
    spec = SPECS["constant"]
    y = conformance_signal(spec.sample_rate, seconds=1.0)
    s = spec.stft(y)
    x = mt.gla(torch.from_numpy(np.abs(s)), spec, n_iter=20, init=torch.from_numpy(s)).numpy()
    assert rel(x, s) < 1e-4


def test_batch_gives_per_item_results():
    spec = SPECS["constant"]
    mags = np.stack([np.abs(spec.stft(conformance_signal(spec.sample_rate, seed=i))) for i in (0, 1)])
    inits = np.random.default_rng(0).uniform(-np.pi, np.pi, mags.shape).astype(np.float32)
    batch = mt.fgla(torch.from_numpy(mags), spec, n_iter=10, init=torch.from_numpy(inits)).numpy()
    for i in range(2):
        one = mt.fgla(torch.from_numpy(mags[i]), spec, n_iter=10, init=torch.from_numpy(inits[i]))
        assert rel(batch[i], one.numpy()) < 1e-5


@pytest.mark.parametrize("key", ["constant", "reflect", "hop3"])
def test_pinv_and_nnls_equal_numpy(key):
    spec = SPECS[key]
    y = np.stack([conformance_signal(spec.sample_rate, seed=i) for i in (0, 1)])
    lin = spec.mel(y, compress=False)
    assert rel(mt.pinv(torch.from_numpy(lin), spec).numpy(), mel_pinv_inverse(lin, spec)) < 1e-6
    ref = mel_nnls_inverse(lin, spec)
    got = mt.nnls(torch.from_numpy(lin), spec).numpy()
    assert got.shape == ref.shape and got.min() >= 0
    assert rel(got, ref) < 1e-3
    # both solve the problem: the mel residual is far below the mel's norm
    basis = spec.mel_basis()
    assert rel(basis @ got, lin) < 1e-2


def test_invert_end_to_end_equals_the_numpy_api():
    import melbench

    spec = get_spec("speech16k")
    y = conformance_signal(spec.sample_rate, seconds=1.0)
    mel = spec.mel(y)
    ref = melbench.invert(mel, spec, "nnls", "fgla", n_iter=20, seed=0)
    got = mt.invert(torch.from_numpy(mel), spec, inverter="nnls", n_iter=20, rng=0).numpy()
    assert got.shape == ref.shape
    assert rel(got, ref) < 1e-2


def test_bad_input_is_reported():
    spec = SPECS["constant"]
    mag = np.ones((spec.n_freq, 10), np.float32)
    with pytest.raises(InputError, match="must be a torch.Tensor"):
        mt.fgla(mag, spec)
    with pytest.raises(InputError, match="needs"):
        mt.fgla(torch.ones(7, 10), spec)
    with pytest.raises(ParameterError, match="alpha"):
        mt.fgla(torch.from_numpy(mag), spec, alpha=1.5)
    with pytest.raises(InputError, match=r"needs \(\.\.\., 80, frames\)"):
        mt.nnls(torch.ones(3, 10), spec)
    with pytest.raises(ParameterError, match="not a torch device"):
        registry.create("phase", "fgla_torch", {"device": "gpu0"})


def test_plugins_record_their_device_in_rows():
    spec = get_spec("speech16k")
    y = conformance_signal(spec.sample_rate, seconds=1.0)
    inv = registry.create("inverter", "pinv_torch")
    ph = registry.create("phase", "fgla_torch", {"n_iter": 5})
    row = run_clip(Clip("c", y, spec.sample_rate), spec, inv, ph, [], seed=0).row
    assert row["status"] == "ok"
    assert "device=cpu" in row["phase"] and "device=cpu" in row["inverter"]
    # same cell with the numpy plugins: same audio within float32 tolerance
    ref = run_clip(Clip("c", y, spec.sample_rate), spec, registry.create("inverter", "pinv"),
                   registry.create("phase", "fgla", {"n_iter": 5}), [], seed=0)
    got = run_clip(Clip("c", y, spec.sample_rate), spec, inv, ph, [], seed=0)
    assert rel(got.audio, ref.audio) < 1e-3


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_cuda_without_a_gpu_is_declined_with_the_reason():
    ph = registry.create("phase", "fgla_torch", {"device": "cuda"})
    why = ph.skip(get_spec("speech16k"))
    assert why and "CUDA is not available" in why
