"""FeatureSpec against librosa (an independent reference) and against identities."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from melbench.errors import InputError, ParameterError
from melbench.spec import PRESETS, FeatureSpec, get_spec, mel_filterbank

librosa = pytest.importorskip("librosa")


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", ["slaney", None, 1.0, 2.0])
@pytest.mark.parametrize(("sr", "n_fft", "n_mels", "fmin", "fmax"), [
    (16000, 1024, 80, 0.0, 8000.0),
    (22050, 2048, 128, 30.0, None),
    (44100, 512, 40, 100.0, 12000.0),
])
def test_mel_basis_equals_librosa(htk, norm, sr, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                          norm=norm, dtype=np.float64)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                              norm=norm, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_mel_basis_equals_librosa(preset):
    s = PRESETS[preset]
    ref = librosa.filters.mel(sr=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels, fmin=s.fmin,
                              fmax=s.fmax, htk=s.htk,
                              norm=None if s.mel_norm == "none" else s.mel_norm)
    np.testing.assert_allclose(s.mel_basis(), ref, rtol=1e-5, atol=1e-9)


SPECS = [
    FeatureSpec(sample_rate=16000, n_fft=1024, hop_length=256),
    FeatureSpec(sample_rate=16000, n_fft=512, hop_length=160, win_length=400, window="hamming"),
    FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, center=True, pad_mode="reflect",
                window="blackman"),
    FeatureSpec(sample_rate=16000, n_fft=256, hop_length=100, center=False),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.n_fft}-{s.hop_length}-{s.window}-{s.center}")
def test_stft_istft_equal_librosa(spec, noise):
    y = noise.astype(np.float64)
    kw = dict(n_fft=spec.n_fft, hop_length=spec.hop_length, win_length=spec.win_length,
              window=spec.window, center=spec.center)
    ref = librosa.stft(y, pad_mode=spec.pad_mode, **kw)
    ours = spec.stft(y)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
    y_ref = librosa.istft(ref, length=len(y), **kw)
    y_ours = spec.istft(ours, length=len(y))
    np.testing.assert_allclose(y_ours, y_ref, rtol=1e-7, atol=1e-7)
    # float32 path agrees too, to float32 precision
    ours32 = spec.stft(y.astype(np.float32))
    assert ours32.dtype == np.complex64
    np.testing.assert_allclose(ours32, ref, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("spec", SPECS[:3], ids=["hann", "hamming-win400", "blackman-reflect"])
def test_istft_of_stft_reconstructs(spec, noise):
    y = noise.astype(np.float64)
    np.testing.assert_allclose(spec.istft(spec.stft(y), length=len(y)), y, atol=1e-10)


def test_batch_axes_match_single(noise, rng):
    spec = get_spec("speech16k")
    batch = np.stack([noise, rng.standard_normal(noise.size).astype(np.float32)])[None]
    x = spec.stft(batch)
    assert x.shape == (1, 2, spec.n_freq, spec.n_frames(noise.size))
    np.testing.assert_allclose(x[0, 0], spec.stft(noise), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(spec.istft(x, length=noise.size)[0, 1],
                               spec.istft(x[0, 1], length=noise.size), atol=1e-6)


@pytest.mark.parametrize("compression", ["none", "ln", "log10", "db"])
@pytest.mark.parametrize("power", [1, 2])
def test_compress_roundtrip(compression, power, rng):
    spec = get_spec("speech16k", compression=compression, power=power, floor=1e-6, ref=0.5)
    m = rng.uniform(1e-5, 10.0, size=(80, 20))
    np.testing.assert_allclose(spec.decompress(spec.compress(m)), m, rtol=1e-9)
    c = spec.compress(m)
    np.testing.assert_allclose(spec.compress(spec.decompress(c)), c, rtol=1e-9, atol=1e-12)


def test_compression_matches_conventions(rng):
    m = rng.uniform(1e-3, 10.0, size=(80, 5))
    db_power = get_spec("speech16k", compression="db", power=2, floor=1e-10, ref=1.0)
    np.testing.assert_allclose(db_power.compress(m), librosa.power_to_db(m, ref=1.0, amin=1e-10,
                                                                         top_db=None))
    db_mag = get_spec("speech16k", compression="db", power=1, floor=1e-10)
    np.testing.assert_allclose(db_mag.compress(m), librosa.amplitude_to_db(m, amin=1e-10, top_db=None),
                               rtol=1e-6)
    tts = get_spec("tts22k")  # Tacotron 2 style: log(clamp(x, 1e-5))
    assert tts.compress(np.array([0.0, 1.0]))[0] == pytest.approx(np.log(1e-5))


def test_mel_equals_librosa_melspectrogram(noise):
    spec = get_spec("speech16k", power=2)
    ref = librosa.feature.melspectrogram(
        y=noise.astype(np.float64), sr=16000, n_fft=1024, hop_length=256, n_mels=80, fmax=8000.0,
        power=2.0, pad_mode="constant")
    np.testing.assert_allclose(spec.mel(noise.astype(np.float64)), ref, rtol=1e-6, atol=1e-9)


def test_tts22k_preset_fields():
    s = PRESETS["tts22k"]
    assert (s.sample_rate, s.n_fft, s.hop_length, s.win_length, s.n_mels) == (22050, 1024, 256, 1024, 80)
    assert (s.fmin, s.fmax, s.power, s.compression, s.floor) == (0.0, 8000.0, 1, "ln", 1e-5)
    l = PRESETS["librosa"]  # noqa: E741
    assert (l.sample_rate, l.n_fft, l.hop_length, l.n_mels, l.power, l.pad_mode) == (
        22050, 2048, 512, 128, 2, "constant")


@pytest.mark.parametrize(("changes", "field"), [
    ({"hop_length": 2048, "win_length": 1024}, "hop_length"),
    ({"window": "kaiser"}, "window"),
    ({"power": 3}, "power"),
    ({"compression": "log2"}, "compression"),
    ({"fmax": 9000.0}, "fmax"),
    ({"win_length": 4096}, "win_length"),
    ({"floor": 0.0}, "floor"),
    ({"n_mels": 0}, "n_mels"),
])
def test_bad_spec_names_the_field(changes, field):
    with pytest.raises(ParameterError, match=field):
        get_spec("speech16k", **changes)


def test_hop_greater_than_win_message_names_fix():
    with pytest.raises(ParameterError, match="hop_length <= win_length"):
        FeatureSpec(n_fft=1024, win_length=512, hop_length=600)


def test_get_spec_forms():
    assert get_spec("tts22k") is PRESETS["tts22k"]
    s = get_spec({"preset": "tts22k", "n_mels": 100})
    assert s.n_mels == 100 and s.sample_rate == 22050
    with pytest.raises(ParameterError, match="available presets"):
        get_spec("nosuch")
    with pytest.raises(ParameterError, match="unknown FeatureSpec field"):
        get_spec({"n_mel": 80})
    # identity excludes the display name; changed fields change the key
    assert get_spec("speech16k").key() == dataclasses.replace(PRESETS["speech16k"], name="x").key()
    assert get_spec("speech16k", n_mels=64).key() != get_spec("speech16k").key()


def test_too_short_signal_is_clear():
    spec = FeatureSpec(n_fft=1024, hop_length=256, center=False)
    with pytest.raises(InputError, match="shorter than one frame"):
        spec.stft(np.zeros(100, dtype=np.float32))


# ------------------------------------------------------------------ framing and mag_eps
def test_framing_field_and_legacy_center():
    assert FeatureSpec().framing == "center" and FeatureSpec().center is True
    assert FeatureSpec(center=False).framing == "none"
    assert FeatureSpec(center=True).framing == "center"
    same = FeatureSpec(framing="same")
    assert same.center is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        same.center = True  # read-only property
    # mappings (Hydra nodes, spec files) and overrides: center wins, False keeps "same"
    assert get_spec({"preset": "tts22k", "center": False}).framing == "none"
    assert get_spec({"framing": "same", "center": False}).framing == "same"
    assert get_spec({"framing": "same", "center": True}).framing == "center"
    assert get_spec({"framing": "same", "center": None}).framing == "same"
    assert get_spec("speech16k", center=False).framing == "none"
    assert get_spec(same, center=False).framing == "same"
    assert same.replace(center=True).framing == "center"
    with pytest.raises(ParameterError, match="contradicts framing='same'"):
        FeatureSpec(framing="same", center=True)
    with pytest.raises(ParameterError, match="center='yes'"):
        get_spec({"center": "yes"})
    with pytest.raises(ParameterError, match="framing='centre'.*center, same, none"):
        FeatureSpec(framing="centre")
    with pytest.raises(ParameterError, match="mag_eps"):
        FeatureSpec(mag_eps=-1.0)


def test_keys_of_legacy_specs_unchanged():
    """Specs the old ``center: bool`` could express hash as before (caches stay valid).

    The hex strings were computed with melbench before the framing field existed.
    """
    assert PRESETS["librosa"].key() == "5cd83d0dd9045062"
    assert PRESETS["tts22k"].key() == "14c8c02af559d7d7"
    assert PRESETS["speech16k"].key() == "ac879140961aceda"
    assert get_spec("speech16k", center=False).key() == "b84c6df8a9d769ff"
    keys = {get_spec("speech16k", framing=f).key() for f in ("center", "same", "none")}
    assert len(keys) == 3
    assert get_spec("speech16k", mag_eps=1e-9).key() != PRESETS["speech16k"].key()


@pytest.mark.parametrize(("framing", "frames", "natural"), [
    # N = 22050, n_fft 1024, hop 256: centre 1 + N // hop; same N // hop; none 1 + (N - n_fft) // hop
    ("center", 87, 256 * 86), ("same", 86, 256 * 86), ("none", 83, 1024 + 256 * 82),
])
def test_frames_and_lengths_follow_framing(framing, frames, natural, rng):
    spec = get_spec("tts22k", framing=framing)
    y = rng.standard_normal(22050).astype(np.float32)
    assert spec.n_frames(22050) == frames
    assert spec.mel(y).shape == (80, frames)
    assert spec.n_samples(frames) == natural
    x = spec.stft(y)
    assert spec.istft(x).shape == (natural,)
    assert spec.istft(x, length=22050).shape == (22050,)


def test_same_framing_istft_is_aligned_with_the_source(rng):
    """A "same" spectrogram resynthesised with its framing has no sample offset."""
    spec = get_spec("tts22k", framing="same")
    y = rng.standard_normal(8000)
    back = spec.istft(spec.stft(y), length=y.size)
    np.testing.assert_allclose(back[: 8000 - 512], y[: 8000 - 512], atol=1e-9)
    xc = np.correlate(back, y, mode="full")
    assert int(np.argmax(xc)) - (y.size - 1) == 0


def test_mag_eps_magnitude(rng):
    spec = get_spec("tts22k", mag_eps=1e-9)
    y = rng.standard_normal(4000)
    x = librosa.stft(y, n_fft=1024, hop_length=256, center=True, pad_mode="reflect")
    np.testing.assert_allclose(spec.magnitude(y), np.sqrt(x.real**2 + x.imag**2 + 1e-9),
                               rtol=1e-10)
    silent = spec.magnitude(np.zeros(4000))
    np.testing.assert_allclose(silent, np.sqrt(1e-9), rtol=1e-5)
    assert get_spec("tts22k").magnitude(np.zeros(4000)).max() == 0


def _compose_spec(overrides):
    from hydra import compose, initialize_config_dir

    from melbench import registry
    from melbench.resources import config_dir

    registry.register_hydra_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return get_spec(cfg.spec)


def test_hydra_spec_nodes_framing_and_legacy_center():
    assert _compose_spec(["spec=hifigan_v1"]) == PRESETS["hifigan_v1"]
    assert _compose_spec(["spec=vocos_24k", "spec.framing=same"]) == \
        PRESETS["vocos_24k"].replace(framing="same")
    legacy = _compose_spec(["spec=speech16k", "spec.center=false"])
    assert legacy.framing == "none" and legacy.key() == "b84c6df8a9d769ff"
    # the paper spec yamls (conf/spec/) compose to the specs they gave before the framing
    # field (keys computed with melbench before it)
    assert _compose_spec(["spec=prusa2017_mocha"]).key() == "67603d4b3605acc6"
    assert _compose_spec(["spec=marafioti2021_r4"]).key() == "a466f652b6c5e8e9"
