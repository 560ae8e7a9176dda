"""Model config files as specs: HiFi-GAN/BigVGAN config.json, ParallelWaveGAN yaml, Vocos yaml.

Each file is written here in its project's real layout (the structure and keys of the
public configs named on each fixture) and must give exactly the matching preset; wrong
files give errors that list the accepted keys.
"""

from __future__ import annotations

import json

import pytest
import yaml

from melbench.api import load_spec_file, resolve_spec
from melbench.errors import ParameterError
from melbench.spec import PRESETS
from melbench.spec_files import detect_format, spec_from_config

# jik876/hifi-gan config_v1.json
HIFIGAN_V1 = {
    "resblock": "1", "num_gpus": 0, "batch_size": 16, "learning_rate": 0.0002,
    "adam_b1": 0.8, "adam_b2": 0.99, "lr_decay": 0.999, "seed": 1234,
    "upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4],
    "upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "segment_size": 8192, "num_mels": 80, "num_freq": 1025, "n_fft": 1024, "hop_size": 256,
    "win_size": 1024, "sampling_rate": 22050, "fmin": 0, "fmax": 8000, "fmax_for_loss": None,
    "num_workers": 4,
    "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54321", "world_size": 1},
}


def _bigvgan(num_mels, n_fft, hop, sr, fmax, upsample_rates):
    """NVIDIA/BigVGAN configs/bigvgan_v2_*.json layout."""
    return {
        "resblock": "1", "num_gpus": 0, "batch_size": 4, "learning_rate": 0.0001,
        "adam_b1": 0.8, "adam_b2": 0.99, "lr_decay": 0.9999996, "seed": 1234,
        "upsample_rates": upsample_rates, "upsample_kernel_sizes": [2 * r for r in upsample_rates],
        "upsample_initial_channel": 1536, "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "use_tanh_at_final": False, "use_bias_at_final": False, "activation": "snakebeta",
        "snake_logscale": True, "use_cqtd_instead_of_mrd": True, "cqtd_filters": 128,
        "cqtd_max_filters": 1024, "cqtd_filters_scale": 1, "cqtd_dilations": [1, 2, 4],
        "cqtd_hop_lengths": [512, 256, 256], "cqtd_n_octaves": [9, 9, 9],
        "cqtd_bins_per_octaves": [24, 36, 48], "mpd_reshapes": [2, 3, 5, 7, 11],
        "use_spectral_norm": False, "discriminator_channel_mult": 1,
        "use_multiscale_melloss": True, "lambda_melloss": 15, "clip_grad_norm": 500,
        "segment_size": 65536, "num_mels": num_mels, "num_freq": n_fft + 1, "n_fft": n_fft,
        "hop_size": hop, "win_size": n_fft, "sampling_rate": sr, "fmin": 0, "fmax": fmax,
        "fmax_for_loss": None, "num_workers": 4,
        "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54321",
                        "world_size": 1},
    }


BIGVGAN = {
    "bigvgan_24k_100": _bigvgan(100, 1024, 256, 24000, None, [4, 4, 2, 2, 2, 2]),
    "bigvgan_44k_128": _bigvgan(128, 2048, 512, 44100, None, [8, 4, 2, 2, 2, 2]),
    "bigvgan_44k_128_256x": _bigvgan(128, 1024, 256, 44100, None, [4, 4, 2, 2, 2, 2]),
    "bigvgan_22k_80": _bigvgan(80, 1024, 256, 22050, None, [4, 4, 2, 2, 2, 2]),
}

# kan-bayashi/ParallelWaveGAN egs/ljspeech/voc1/conf/parallel_wavegan.v1.yaml (abridged
# network sections, every top-level key kept)
PWG_LJSPEECH = """\
###########################################################
#                FEATURE EXTRACTION SETTING               #
###########################################################
sampling_rate: 22050     # Sampling rate.
fft_size: 1024           # FFT size.
hop_size: 256            # Hop size.
win_length: null         # Window length.
window: "hann"           # Window function.
num_mels: 80             # Number of mel basis.
fmin: 80                 # Minimum freq in mel basis calculation.
fmax: 7600               # Maximum frequency in mel basis calculation.
global_gain_scale: 1.0   # Will be multiplied to all of waveform.
trim_silence: true       # Whether to trim the start and end of silence.
trim_threshold_in_db: 60 # Need to tune carefully if the recording is not good.
trim_frame_size: 2048    # Frame size in trimming.
trim_hop_size: 512       # Hop size in trimming.
format: "hdf5"           # Feature file format. "npy" or "hdf5" is supported.
generator_params:
    in_channels: 1
    out_channels: 1
    kernel_size: 3
    layers: 30
    stacks: 3
    residual_channels: 64
    gate_channels: 128
    skip_channels: 64
    aux_channels: 80
    aux_context_window: 2
    dropout: 0.0
    use_weight_norm: true
    upsample_net: "ConvInUpsampleNetwork"
    upsample_params:
        upsample_scales: [4, 4, 4, 4]
discriminator_params:
    in_channels: 1
    out_channels: 1
    kernel_size: 3
    layers: 10
    conv_channels: 64
    bias: true
    use_weight_norm: true
    nonlinear_activation: "LeakyReLU"
    nonlinear_activation_params:
        negative_slope: 0.2
stft_loss_params:
    fft_sizes: [1024, 2048, 512]
    hop_sizes: [120, 240, 50]
    win_lengths: [600, 1200, 240]
    window: "hann_window"
lambda_adv: 4.0
batch_size: 6
batch_max_steps: 25600
pin_memory: true
num_workers: 2
remove_short_samples: true
allow_cache: true
generator_optimizer_params:
    lr: 0.0001
    eps: 1.0e-6
    weight_decay: 0.0
generator_scheduler_params:
    step_size: 200000
    gamma: 0.5
generator_grad_norm: 10
discriminator_optimizer_params:
    lr: 0.00005
    eps: 1.0e-6
    weight_decay: 0.0
discriminator_scheduler_params:
    step_size: 200000
    gamma: 0.5
discriminator_grad_norm: 1
discriminator_train_start_steps: 100000
train_max_steps: 400000
save_interval_steps: 5000
eval_interval_steps: 1000
log_interval_steps: 100
num_save_intermediate_results: 4
"""

# egs/jsut/voc1/conf/parallel_wavegan.v1.yaml: the 24 kHz feature block
PWG_JSUT = PWG_LJSPEECH.replace("sampling_rate: 22050", "sampling_rate: 24000").replace(
    "fft_size: 1024", "fft_size: 2048").replace("hop_size: 256            # Hop size.",
                                                "hop_size: 300            # Hop size.").replace(
    "win_length: null", "win_length: 1200").replace("trim_silence: true", "trim_silence: false")

# gemelo-ai/vocos configs/vocos.yaml (trainer section abridged)
VOCOS = """\
# pytorch_lightning==1.8.6
seed_everything: 4444

data:
  class_path: vocos.dataset.VocosDataModule
  init_args:
    train_params:
      filelist_path: ???
      sampling_rate: 24000
      num_samples: 16384
      batch_size: 16
      num_workers: 8

    val_params:
      filelist_path: ???
      sampling_rate: 24000
      num_samples: 48384
      batch_size: 16
      num_workers: 8

model:
  class_path: vocos.experiment.VocosExp
  init_args:
    sample_rate: 24000
    initial_learning_rate: 5e-4
    mel_loss_coeff: 45
    mrd_loss_coeff: 0.1
    num_warmup_steps: 0
    pretrain_mel_steps: 0
    evaluate_utmos: true
    evaluate_pesq: true
    evaluate_periodicty: true

    feature_extractor:
      class_path: vocos.feature_extractors.MelSpectrogramFeatures
      init_args:
        sample_rate: 24000
        n_fft: 1024
        hop_length: 256
        n_mels: 100
        padding: center

    backbone:
      class_path: vocos.models.VocosBackbone
      init_args:
        input_channels: 100
        dim: 512
        intermediate_dim: 1536
        num_layers: 8

    head:
      class_path: vocos.heads.ISTFTHead
      init_args:
        dim: 512
        n_fft: 1024
        hop_length: 256
        padding: center

trainer:
  max_steps: 2000000
  limit_val_batches: 100
  accelerator: gpu
  strategy: ddp
  devices: [0]
  log_every_n_steps: 100
"""

# the config.yaml of the pretrained charactr/vocos-mel-24khz model (top-level extractor)
VOCOS_PRETRAINED = """\
feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center
backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: 512
    intermediate_dim: 1536
    num_layers: 8
head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 512
    n_fft: 1024
    hop_length: 256
    padding: center
"""


def _write_json(tmp_path, data, name="config.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data, indent=2))
    return p


def _write(tmp_path, text, name="config.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_hifigan_config_json_is_the_preset(tmp_path):
    path = _write_json(tmp_path, HIFIGAN_V1)
    spec = load_spec_file(path)
    assert spec == PRESETS["hifigan_v1"] and spec.name == "hifigan_v1"
    assert spec.framing == "same" and spec.mag_eps == 1e-9
    assert resolve_spec(str(path)) == PRESETS["hifigan_v1"]  # --spec config.json / spec=path


@pytest.mark.parametrize("preset", sorted(BIGVGAN))
def test_bigvgan_config_json_is_the_preset(preset, tmp_path):
    spec = load_spec_file(_write_json(tmp_path, BIGVGAN[preset]))
    assert spec == PRESETS[preset]
    assert detect_format(BIGVGAN[preset]) == "hifigan"


def test_unlisted_model_config_keeps_the_file_name(tmp_path):
    cfg = {**HIFIGAN_V1, "sampling_rate": 16000, "fmax": 7600}
    spec = load_spec_file(_write_json(tmp_path, cfg, "my_vocoder.json"))
    assert spec.name == "my_vocoder" and spec.sample_rate == 16000 and spec.fmax == 7600
    assert spec == PRESETS["hifigan_v1"].replace(sample_rate=16000, fmax=7600.0)


@pytest.mark.parametrize(("preset", "text"), [("pwg_22k", PWG_LJSPEECH), ("pwg_24k", PWG_JSUT)])
def test_parallelwavegan_yaml_is_the_preset(preset, text, tmp_path):
    spec = load_spec_file(_write(tmp_path, text))
    assert spec == PRESETS[preset] and spec.name == preset


def test_parallelwavegan_log_base_and_center(tmp_path):
    ln = load_spec_file(_write(tmp_path, PWG_LJSPEECH + "log_base: null\n"))
    assert ln == PRESETS["pwg_22k"].replace(compression="ln")
    nocenter = load_spec_file(_write(tmp_path, PWG_LJSPEECH + "center: false\n", "b.yaml"))
    assert nocenter.framing == "none"
    with pytest.raises(ParameterError, match=r"log_base=2\.0 is not supported"):
        load_spec_file(_write(tmp_path, PWG_LJSPEECH + "log_base: 2.0\n", "c.yaml"))


@pytest.mark.parametrize("text", [VOCOS, VOCOS_PRETRAINED])
def test_vocos_yaml_is_the_preset(text, tmp_path):
    spec = load_spec_file(_write(tmp_path, text))
    assert spec == PRESETS["vocos_24k"] and spec.name == "vocos_24k"


def test_vocos_same_padding_and_matcha_fork_keys(tmp_path):
    same = load_spec_file(_write(tmp_path, VOCOS.replace("        padding: center\n\n    backbone",
                                                        "        padding: same\n\n    backbone")))
    assert same == PRESETS["vocos_24k"].replace(framing="same")
    # a fork's 22.05 kHz Matcha-TTS setting: Slaney scale and norm, 0-8000 Hz
    matcha = VOCOS.replace("sample_rate: 24000", "sample_rate: 22050").replace(
        "        n_mels: 100\n        padding: center\n",
        "        n_mels: 80\n        padding: same\n        f_min: 0\n        f_max: 8000\n"
        "        norm: slaney\n        mel_scale: slaney\n")
    spec = load_spec_file(_write(tmp_path, matcha, "m.yaml"))
    assert (spec.sample_rate, spec.n_mels, spec.fmax, spec.htk, spec.mel_norm, spec.framing) == (
        22050, 80, 8000.0, False, "slaney", "same")


def test_featurespec_files_still_work(tmp_path):
    p = _write(tmp_path, "preset: tts22k\nn_mels: 100\n", "mine.yaml")
    assert load_spec_file(p) == PRESETS["tts22k"].replace(n_mels=100)
    legacy = _write(tmp_path, "sample_rate: 16000\nn_fft: 512\nwin_length: 512\nhop_length: 128\n"
                    "center: false\n",
                    "legacy.yaml")
    s = load_spec_file(legacy)
    assert s.framing == "none" and s.name == "legacy"
    run_cfg = _write(tmp_path, yaml.safe_dump({"seed": 0, "spec": dict(PRESETS["hifigan_v1"].to_dict())}),
                     "config.yaml")
    assert load_spec_file(run_cfg) == PRESETS["hifigan_v1"]


# ----------------------------------------------------------------- errors
def test_hifigan_missing_key_lists_the_accepted_ones(tmp_path):
    cfg = {k: v for k, v in HIFIGAN_V1.items() if k != "win_size"}
    with pytest.raises(ParameterError, match=r"lacks feature key\(s\) \['win_size'\].*"
                                             r"'sampling_rate', 'n_fft', 'hop_size'"):
        load_spec_file(_write_json(tmp_path, cfg))


def test_hifigan_feature_like_unknown_key_is_an_error(tmp_path):
    cfg = {**HIFIGAN_V1, "hop_length": 200}
    with pytest.raises(ParameterError, match=r"unknown feature-like key\(s\) \['hop_length'\]; "
                                             r"accepted feature keys: \['sampling_rate'"):
        load_spec_file(_write_json(tmp_path, cfg))
    # an unknown training key of some fork is ignored
    assert load_spec_file(_write_json(tmp_path, {**HIFIGAN_V1, "with_hn": False})) == \
        PRESETS["hifigan_v1"]


def test_hifigan_win_size_differing_from_n_fft(tmp_path):
    spec = load_spec_file(_write_json(tmp_path, {**HIFIGAN_V1, "win_size": 800}))
    assert spec.win_length == 800 and spec.n_fft == 1024 and spec.name == "config"


def test_hifigan_bad_value_names_file_and_field(tmp_path):
    with pytest.raises(ParameterError, match=r"config\.json \(HiFi-GAN/BigVGAN config\.json\): "
                                             r"FeatureSpec fmax=16000"):
        load_spec_file(_write_json(tmp_path, {**HIFIGAN_V1, "fmax": 16000}))
    with pytest.raises(ParameterError, match=r"hop_size='256' must be a number"):
        load_spec_file(_write_json(tmp_path, {**HIFIGAN_V1, "hop_size": "256"}))


def test_pwg_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"lacks feature key\(s\) \['num_mels'\]"):
        load_spec_file(_write(tmp_path, PWG_LJSPEECH.replace("num_mels: 80", "n_mel: 80")))
    with pytest.raises(ParameterError, match=r"unknown feature-like key\(s\) \['hop_length'\]"):
        load_spec_file(_write(tmp_path, PWG_LJSPEECH + "hop_length: 200\n", "b.yaml"))
    with pytest.raises(ParameterError, match=r"window='kaiser' is not supported"):
        load_spec_file(_write(tmp_path, PWG_LJSPEECH.replace('window: "hann" ', 'window: "kaiser"'),
                              "c.yaml"))


def test_vocos_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"unknown feature_extractor.init_args key\(s\) "
                                             r"\['win_length'\]; accepted: \['sample_rate'"):
        load_spec_file(_write(tmp_path, VOCOS.replace("        padding: center\n\n    backbone",
                                                      "        padding: center\n        win_length: 800"
                                                      "\n\n    backbone")))
    enc = VOCOS.replace("vocos.feature_extractors.MelSpectrogramFeatures",
                        "vocos.feature_extractors.EncodecFeatures")
    with pytest.raises(ParameterError, match="not a mel front end"):
        load_spec_file(_write(tmp_path, enc, "e.yaml"))
    with pytest.raises(ParameterError, match="padding='valid'"):
        spec_from_config({"feature_extractor": {"init_args": {"padding": "valid"}}})
    with pytest.raises(ParameterError, match="model sample_rate=22050"):
        load_spec_file(_write(tmp_path, VOCOS.replace("    sample_rate: 24000\n    initial",
                                                      "    sample_rate: 22050\n    initial"),
                              "s.yaml"))


def test_featurespec_file_errors(tmp_path):
    with pytest.raises(ParameterError, match="unknown FeatureSpec field"):
        load_spec_file(_write(tmp_path, "sample_rate: 16000\nn_mel: 80\n"))
    with pytest.raises(ParameterError, match="must hold a mapping"):
        load_spec_file(_write(tmp_path, "- 1\n- 2\n", "l.yaml"))
    with pytest.raises(ParameterError, match="not valid YAML/JSON"):
        load_spec_file(_write(tmp_path, "{not json", "x.json"))


def test_invert_cli_takes_a_model_config_as_spec(tmp_path):
    """``melbench invert mel.npy --spec config.json``: 22.05 kHz, HiFi-GAN's N = frames * hop."""
    import numpy as np
    import soundfile as sf

    from melbench.invert_cli import main as invert_main

    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(256 * 40)).astype(np.float32)
    mel = PRESETS["hifigan_v1"].mel(y)
    assert mel.shape == (80, 40)
    np.save(tmp_path / "utt.npy", mel)
    cfg = _write_json(tmp_path, HIFIGAN_V1)
    out = tmp_path / "utt.wav"
    assert invert_main([str(tmp_path / "utt.npy"), "-o", str(out), "--spec", str(cfg),
                        "--inverter", "pinv", "--phase-param", "n_iter=2"]) == 0
    info = sf.info(str(out))
    assert info.samplerate == 22050 and info.frames == 256 * 40
