"""Front-end presets against re-implementations of each project's own feature code.

Every reference below is written here, in the test, from the project's public source
(the file is named on each function); none of it uses melbench's STFT or filterbank.
A preset is right when melbench's ``spec.mel`` gives the same numbers, frame for frame,
on a real bundled speech clip at the preset's rate. The acceptance test at the end
inverts a mel made exactly as HiFi-GAN makes it and checks the audio is aligned with
its source and scores as well as the same audio's Tacotron-2 (``tts22k``) mel.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal

import melbench
from melbench.datasets.base import load_audio
from melbench.resources import bundled_dir
from melbench.spec import PRESETS, get_spec

librosa = pytest.importorskip("librosa")

CLIP = "speech/cmu_arctic_a0007.wav"


def _clip(sr: int, seconds: float = 2.0) -> np.ndarray:
    """The bundled clip at ``sr``, with 0.15 s of digital silence inside (where the floors
    and the magnitude epsilon decide the values), not a multiple of any hop long."""
    y, _, _ = load_audio(bundled_dir() / CLIP, sr)
    y = y[: int(seconds * sr) + 77]
    half = y.size // 2
    y = np.concatenate([y[:half], np.zeros(int(0.15 * sr), np.float32), y[half:]])
    return (0.95 * y / np.max(np.abs(y))).astype(np.float32)


def _ours(preset: str, y: np.ndarray, **changes) -> np.ndarray:
    spec = get_spec(preset, **changes) if changes else PRESETS[preset]
    return spec.mel(y.astype(np.float64))


def _assert_log_mels_equal(ours: np.ndarray, ref: np.ndarray, atol: float = 1e-6) -> None:
    assert ours.shape == ref.shape, f"shape {ours.shape} != reference {ref.shape}"
    np.testing.assert_allclose(ours, ref, rtol=0, atol=atol)


def _assert_float32_close(ours: np.ndarray, ref: np.ndarray) -> None:
    """float32 paths (melbench's default, the projects' torch code) agree to float32 rounding.

    Compared linearly (``exp`` of the ln mels): near the floor, float32 rounding of the
    STFT is large relative to the cell, so a log-domain tolerance would be meaningless.
    """
    assert ours.shape == ref.shape, f"shape {ours.shape} != reference {ref.shape}"
    a, b = np.exp(ours.astype(np.float64)), np.exp(ref.astype(np.float64))
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * b.max())


# ----------------------------------------------------------------- torch references
def _torch():
    return pytest.importorskip("torch")


def _reflect_pad(torch, y, left, right):
    import torch.nn.functional as F

    return F.pad(y.view(1, 1, -1), (left, right), mode="reflect").view(-1)


def hifigan_mel_spectrogram(y, n_fft, num_mels, sampling_rate, hop_size, win_size, fmin, fmax,
                            dtype):
    """jik876/hifi-gan meldataset.py / NVIDIA/BigVGAN meldataset.py ``mel_spectrogram``."""
    torch = _torch()
    mel = librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=num_mels, fmin=fmin,
                              fmax=fmax, dtype=np.float64)
    mel_basis = torch.from_numpy(mel).to(dtype)
    hann_window = torch.hann_window(win_size, dtype=dtype)  # periodic, torch's default
    y = torch.as_tensor(np.asarray(y)).to(dtype)
    pad = (n_fft - hop_size) // 2
    y = _reflect_pad(torch, y, pad, pad)
    spec = torch.stft(y, n_fft, hop_length=hop_size, win_length=win_size, window=hann_window,
                      center=False, pad_mode="reflect", normalized=False, onesided=True,
                      return_complex=True)
    spec = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-9)
    spec = torch.matmul(mel_basis, spec)
    return torch.log(torch.clamp(spec, min=1e-5)).numpy()  # spectral_normalize_torch


def torchaudio_melscale_fbanks(torch, n_freqs, f_min, f_max, n_mels, sample_rate, dtype):
    """``torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk")``, as documented.

    Frequencies ``linspace(0, sample_rate // 2, n_freqs)``; HTK mel ``2595 log10(1 + f/700)``;
    ``n_mels + 2`` equally spaced mel points; triangles ``max(0, min(down, up))``.
    Returns ``(n_freqs, n_mels)``.
    """
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=dtype)
    m_min = 2595.0 * np.log10(1.0 + f_min / 700.0)
    m_max = 2595.0 * np.log10(1.0 + f_max / 700.0)
    m_pts = torch.linspace(m_min, m_max, n_mels + 2, dtype=dtype)
    f_pts = 700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.min(down, up), min=0.0)


def torchaudio_mel_spectrogram(y, *, sample_rate, n_fft, hop_length, n_mels, power, center,
                               dtype, f_max=None):
    """``torchaudio.transforms.MelSpectrogram`` (Spectrogram + MelScale), hann, reflect pad."""
    torch = _torch()
    y = torch.as_tensor(np.asarray(y)).to(dtype)
    window = torch.hann_window(n_fft, dtype=dtype)
    spec = torch.stft(y, n_fft, hop_length=hop_length, win_length=n_fft, window=window,
                      center=center, pad_mode="reflect", normalized=False, onesided=True,
                      return_complex=True).abs().pow(power)
    fb = torchaudio_melscale_fbanks(torch, n_fft // 2 + 1, 0.0,
                                    float(sample_rate // 2) if f_max is None else f_max,
                                    n_mels, sample_rate, dtype)
    return torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)


def vocos_mel_features(y, *, sample_rate=24000, n_fft=1024, hop_length=256, n_mels=100,
                       padding="center", dtype):
    """gemelo-ai/vocos feature_extractors.py ``MelSpectrogramFeatures.forward``."""
    torch = _torch()
    y = torch.as_tensor(np.asarray(y)).to(dtype)
    if padding == "same":
        pad = n_fft - hop_length  # win_length (= n_fft) - hop_length
        y = _reflect_pad(torch, y, pad // 2, pad // 2)
    mel = torchaudio_mel_spectrogram(y, sample_rate=sample_rate, n_fft=n_fft,
                                     hop_length=hop_length, n_mels=n_mels, power=1,
                                     center=padding == "center", dtype=dtype)
    return torch.log(torch.clip(mel, min=1e-7)).numpy()  # vocos.modules.safe_log


def tacotron2_mel_spectrogram(y, filter_length=1024, hop_length=256, win_length=1024,
                              n_mel_channels=80, sampling_rate=22050, mel_fmin=0.0,
                              mel_fmax=8000.0, dtype=None):
    """NVIDIA/tacotron2 layers.py ``TacotronSTFT.mel_spectrogram`` with stft.py ``STFT``."""
    torch = _torch()
    import torch.nn.functional as F

    fourier_basis = np.fft.fft(np.eye(filter_length))
    cutoff = int(filter_length / 2 + 1)
    fourier_basis = np.vstack([np.real(fourier_basis[:cutoff, :]),
                               np.imag(fourier_basis[:cutoff, :])])
    fft_window = scipy.signal.get_window("hann", win_length, fftbins=True)
    fft_window = librosa.util.pad_center(fft_window, size=filter_length)
    forward_basis = torch.from_numpy(fourier_basis[:, None, :] * fft_window).to(dtype)
    x = torch.as_tensor(np.asarray(y)).to(dtype).view(1, 1, -1)
    x = F.pad(x, (int(filter_length / 2), int(filter_length / 2)), mode="reflect")
    ft = F.conv1d(x, forward_basis, stride=hop_length, padding=0)
    magnitude = torch.sqrt(ft[:, :cutoff, :] ** 2 + ft[:, cutoff:, :] ** 2)
    mel_basis = torch.from_numpy(librosa.filters.mel(
        sr=sampling_rate, n_fft=filter_length, n_mels=n_mel_channels, fmin=mel_fmin,
        fmax=mel_fmax, dtype=np.float64)).to(dtype)
    mel = torch.matmul(mel_basis, magnitude)
    return torch.log(torch.clamp(mel, min=1e-5))[0].numpy()  # dynamic_range_compression


# ----------------------------------------------------------------- numpy references
def pwg_logmelfilterbank(audio, sampling_rate, fft_size=1024, hop_size=256, win_length=None,
                         window="hann", num_mels=80, fmin=None, fmax=None, eps=1e-10):
    """kan-bayashi/ParallelWaveGAN parallel_wavegan/bin/preprocess.py ``logmelfilterbank``."""
    x_stft = librosa.stft(audio, n_fft=fft_size, hop_length=hop_size, win_length=win_length,
                          window=window, pad_mode="reflect")
    spc = np.abs(x_stft).T
    fmin = 0 if fmin is None else fmin
    fmax = sampling_rate / 2 if fmax is None else fmax
    mel_basis = librosa.filters.mel(sr=sampling_rate, n_fft=fft_size, n_mels=num_mels,
                                    fmin=fmin, fmax=fmax, dtype=np.float64)
    mel = np.maximum(eps, np.dot(spc, mel_basis.T))
    return np.log10(mel)  # (frames, mels), log_base 10


# ----------------------------------------------------------------- the presets
HIFIGAN_FAMILY = {
    # preset: (n_fft, num_mels, sampling_rate, hop_size, win_size, fmin, fmax) from the configs
    "hifigan_v1": (1024, 80, 22050, 256, 1024, 0, 8000),
    "bigvgan_24k_100": (1024, 100, 24000, 256, 1024, 0, None),
    "bigvgan_44k_128": (2048, 128, 44100, 512, 2048, 0, None),
    "bigvgan_44k_128_256x": (1024, 128, 44100, 256, 1024, 0, None),
    "bigvgan_22k_80": (1024, 80, 22050, 256, 1024, 0, None),
    "bigvgan_22k_80_fmax8k": (1024, 80, 22050, 256, 1024, 0, 8000),
}


@pytest.mark.parametrize("preset", sorted(HIFIGAN_FAMILY))
def test_hifigan_and_bigvgan_presets(preset):
    torch = _torch()
    n_fft, num_mels, sr, hop, win, fmin, fmax = HIFIGAN_FAMILY[preset]
    y = _clip(sr)
    ref = hifigan_mel_spectrogram(y.astype(np.float64), n_fft, num_mels, sr, hop, win, fmin,
                                  fmax, torch.float64)
    assert ref.shape[-1] == y.size // hop  # "same" framing: N // hop frames
    _assert_log_mels_equal(_ours(preset, y), ref)
    # float32, as the projects run it: melbench's default float32 path agrees to float32
    ref32 = hifigan_mel_spectrogram(y, n_fft, num_mels, sr, hop, win, fmin, fmax, torch.float32)
    _assert_float32_close(PRESETS[preset].mel(y), ref32)


@pytest.mark.parametrize("padding", ["center", "same"])
def test_vocos_preset(padding):
    torch = _torch()
    y = _clip(24000)
    ref = vocos_mel_features(y.astype(np.float64), padding=padding, dtype=torch.float64)
    framing = {"center": {}, "same": {"framing": "same"}}[padding]
    _assert_log_mels_equal(_ours("vocos_24k", y, **framing), ref)
    ref32 = vocos_mel_features(y, padding=padding, dtype=torch.float32)
    _assert_float32_close(get_spec("vocos_24k", **framing).mel(y), ref32)


@pytest.mark.parametrize("preset", ["tacotron2", "tts22k"])
def test_tacotron2_preset(preset):
    torch = _torch()
    y = _clip(22050)
    ref = tacotron2_mel_spectrogram(y.astype(np.float64), dtype=torch.float64)
    assert ref.shape[-1] == 1 + y.size // 256
    _assert_log_mels_equal(_ours(preset, y), ref)


@pytest.mark.parametrize(("preset", "sr", "fft", "hop", "win"), [
    ("pwg_22k", 22050, 1024, 256, None),  # egs/ljspeech/voc1/conf/parallel_wavegan.v1.yaml
    ("pwg_24k", 24000, 2048, 300, 1200),  # egs/jsut/voc1/conf/parallel_wavegan.v1.yaml
])
def test_parallelwavegan_presets(preset, sr, fft, hop, win):
    y = _clip(sr)
    ref = pwg_logmelfilterbank(y.astype(np.float64), sr, fft_size=fft, hop_size=hop,
                               win_length=win, window="hann", num_mels=80, fmin=80, fmax=7600)
    _assert_log_mels_equal(_ours(preset, y), ref.T)


@pytest.mark.parametrize("preset", ["torchaudio", "torchaudio_db"])
def test_torchaudio_presets(preset):
    torch = _torch()
    y = _clip(16000)
    ref = torchaudio_mel_spectrogram(y.astype(np.float64), sample_rate=16000, n_fft=400,
                                     hop_length=200, n_mels=128, power=2.0, center=True,
                                     dtype=torch.float64)
    if preset == "torchaudio_db":  # AmplitudeToDB(stype="power", top_db=None)
        ref = 10.0 * torch.log10(torch.clamp(ref, min=1e-10)) - 10.0 * np.log10(max(1e-10, 1.0))
        _assert_log_mels_equal(_ours(preset, y), ref.numpy(), atol=1e-6)
    else:
        ref = ref.numpy()
        ours = _ours(preset, y)
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12 * ref.max())


def test_librosa_db_preset():
    y = _clip(22050).astype(np.float64)
    s = librosa.feature.melspectrogram(y=y, sr=22050)  # librosa's defaults
    ref = librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None)
    _assert_log_mels_equal(_ours("librosa_db", y), ref)
    # librosa's default top_db=80 only clips the quietest cells; elsewhere the same
    clipped = librosa.power_to_db(s)
    keep = clipped > clipped.max() - 80.0
    np.testing.assert_allclose(_ours("librosa_db", y)[keep], clipped[keep], atol=1e-6)
    # ref=np.max loses the level: the maximum is 0 dB, offset from ref=1 by 10 log10(max S)
    rel = librosa.power_to_db(s, ref=np.max, top_db=None)
    assert rel.max() == 0.0
    np.testing.assert_allclose(rel, ref - 10 * np.log10(s.max()), atol=1e-6)


def test_presets_from_design_table_exist():
    for name in ("hifigan_v1", "bigvgan_24k_100", "bigvgan_44k_128", "bigvgan_22k_80",
                 "vocos_24k", "tacotron2", "pwg_22k", "pwg_24k", "torchaudio", "torchaudio_db",
                 "librosa_db", "librosa", "tts22k", "speech16k"):
        assert PRESETS[name].name == name
    assert PRESETS["tacotron2"] == PRESETS["tts22k"]
    assert PRESETS["bigvgan_22k_80_fmax8k"] == PRESETS["hifigan_v1"]


# ----------------------------------------------------------------- acceptance
def _true_sc_db(source: np.ndarray, out: np.ndarray) -> float:
    """True-magnitude SC on a fixed analysis STFT (librosa, centre, 1024/256)."""
    a = np.abs(librosa.stft(source.astype(np.float64), n_fft=1024, hop_length=256))
    b = np.abs(librosa.stft(out.astype(np.float64), n_fft=1024, hop_length=256))
    return float(20 * np.log10(np.linalg.norm(a - b) / np.linalg.norm(a)))


def _magnitude_lag(source: np.ndarray, out: np.ndarray, max_lag: int = 160) -> int:
    """Shift (samples) of ``out`` against ``source`` that best matches their STFT magnitudes.

    Phase retrieval does not give the source's waveform back (nor its sign), so a waveform
    cross-correlation peaks at a pitch period as often as at 0; the magnitudes are what a
    mel determines. Positive = ``out`` is late. Searched in steps of 1 sample.
    """
    def mag(x):
        return np.abs(librosa.stft(x.astype(np.float64), n_fft=512, hop_length=128))[:, 8:-8]

    ref = mag(source)
    errs = [np.linalg.norm(ref - mag(np.roll(out, -d))) for d in range(-max_lag, max_lag + 1)]
    return int(np.argmin(errs)) - max_lag


def _waveform_lag(source: np.ndarray, out: np.ndarray, max_lag: int = 600) -> int:
    xc = scipy.signal.correlate(out.astype(np.float64), source.astype(np.float64), mode="full")
    mid = source.size - 1
    return int(np.argmax(xc[mid - max_lag : mid + max_lag + 1])) - max_lag


@pytest.fixture(scope="module")
def hifigan_case():
    torch = _torch()
    y = _clip(22050, seconds=2.0)
    mel = hifigan_mel_spectrogram(y, 1024, 80, 22050, 256, 1024, 0, 8000, torch.float32)
    return y, mel.astype(np.float32)


CELL = {"inverter": "pinv", "phase": "fgla", "n_iter": 60, "seed": 0}


def test_hifigan_framed_stft_resynthesises_without_offset():
    """The STFT exactly as HiFi-GAN frames it (torch), resynthesised by melbench's istft."""
    torch = _torch()
    y = _clip(22050)
    t = _reflect_pad(torch, torch.from_numpy(y.astype(np.float64)), 384, 384)
    x = torch.stft(t, 1024, hop_length=256, win_length=1024,
                   window=torch.hann_window(1024, dtype=torch.float64), center=False,
                   return_complex=True).numpy()
    back = PRESETS["hifigan_v1"].istft(x, length=y.size)
    assert back.shape == y.shape and _waveform_lag(y, back) == 0
    np.testing.assert_allclose(back, y, atol=1e-9)


def test_hifigan_mel_inverts_aligned_and_as_well_as_tts22k(hifigan_case, tmp_path):
    y, mel = hifigan_case
    out = melbench.invert(mel, spec="hifigan_v1", length=y.size, **CELL)
    assert out.shape == (y.size,)
    # magnitude alignment of phase-retrieved audio is exact to about +-12 samples (the
    # same audio's tts22k inversion scatters as much); the wrong framing is 128 off (below).
    # Sample-exact alignment is test_hifigan_framed_stft_resynthesises_without_offset.
    assert abs(_magnitude_lag(y, out)) <= 16
    # the same audio's Tacotron-2 mel, inverted the same way
    tts_out = melbench.invert(melbench.mel(y, spec="tts22k"), spec="tts22k", length=y.size, **CELL)
    sc, sc_tts = _true_sc_db(y, out), _true_sc_db(y, tts_out)
    assert sc <= sc_tts + 0.5, (sc, sc_tts)
    # declared with the wrong (Tacotron-2) convention, the same mel is a frame short and
    # worse: the framing is what the preset fixes
    wrong = melbench.invert(mel, spec="tts22k", length=y.size, **CELL)
    assert _true_sc_db(y, wrong) > sc + 1.0
    assert abs(_magnitude_lag(y, wrong) + 128) <= 16
    # and the model's own config.json gives the same audio as the preset
    cfg = {"resblock": "1", "num_gpus": 0, "batch_size": 16, "learning_rate": 0.0002,
           "adam_b1": 0.8, "adam_b2": 0.99, "lr_decay": 0.999, "seed": 1234,
           "upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4],
           "upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11],
           "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
           "segment_size": 8192, "num_mels": 80, "num_freq": 1025, "n_fft": 1024,
           "hop_size": 256, "win_size": 1024, "sampling_rate": 22050, "fmin": 0, "fmax": 8000,
           "fmax_for_loss": None, "num_workers": 4,
           "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54321",
                           "world_size": 1}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, indent=4))
    from_file = melbench.invert(mel, spec=str(path), length=y.size, **CELL)
    np.testing.assert_array_equal(from_file, out)


@pytest.mark.parametrize("case", ["bigvgan_24k_100", "vocos_24k_same"])
def test_same_framed_model_mels_invert_aligned(case):
    """24 kHz "same"-framed mels (BigVGAN v2, Vocos padding="same"), made by the projects'
    code, invert aligned and as well as a centre-framed mel of the same audio at that rate."""
    torch = _torch()
    y = _clip(24000)
    if case == "bigvgan_24k_100":
        mel = hifigan_mel_spectrogram(y, 1024, 100, 24000, 256, 1024, 0, None, torch.float32)
        spec = PRESETS["bigvgan_24k_100"]
    else:
        mel = vocos_mel_features(y, padding="same", dtype=torch.float32)
        spec = get_spec("vocos_24k", framing="same")
    assert mel.shape[-1] == y.size // 256
    out = melbench.invert(mel.astype(np.float32), spec=spec, length=y.size, **CELL)
    assert out.shape == (y.size,) and abs(_magnitude_lag(y, out)) <= 16
    centred = spec.replace(framing="center")
    ref_out = melbench.invert(centred.mel(y), spec=centred, length=y.size, **CELL)
    assert _true_sc_db(y, out) <= _true_sc_db(y, ref_out) + 0.5
