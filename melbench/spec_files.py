"""Spec files: a FeatureSpec from a YAML/JSON file, including the models' own configs.

:func:`load_spec_file` reads a file and :func:`spec_from_config` maps its contents; the
format is detected from the keys (:func:`detect_format`):

- ``"featurespec"``: melbench's own format, a mapping of FeatureSpec fields (optionally
  ``preset: NAME`` as the base, optionally nested under ``spec:`` as in a run's
  ``.hydra/config.yaml``).
- ``"hifigan"``: a HiFi-GAN (jik876/hifi-gan ``config_v1.json``) or BigVGAN
  (NVIDIA/BigVGAN ``configs/*.json``) ``config.json``. Feature keys
  (:data:`HIFIGAN_FEATURE_KEYS`) map to the ``meldataset.py`` front end ("same" framing,
  reflect padding, ``sqrt(re^2 + im^2 + 1e-9)``, Slaney mel, ``ln(max(x, 1e-5))``); the
  training keys (:data:`HIFIGAN_OTHER_KEYS`) are ignored.
- ``"pwg"``: a ParallelWaveGAN / ESPnet vocoder yaml (kan-bayashi/ParallelWaveGAN
  ``egs/*/voc1/conf/*.yaml``): feature keys :data:`PWG_FEATURE_KEYS` map to
  ``preprocess.py``'s ``logmelfilterbank`` (centre framing, reflect padding, magnitude,
  Slaney mel, ``log10(max(x, 1e-10))``, or ln for ``log_base: null``).
- ``"vocos"``: a Vocos yaml (gemelo-ai/vocos ``configs/vocos.yaml``, or a pretrained
  model's ``config.yaml``): ``feature_extractor.init_args`` (:data:`VOCOS_FEATURE_KEYS`) of
  ``MelSpectrogramFeatures`` (torchaudio ``MelSpectrogram(power=1)``, HTK scale, no
  filter normalisation, ``ln(max(x, 1e-7))``, ``padding`` center or same).

A missing feature key, or an unknown key that looks like a feature key (its name holds
one of :data:`FEATURE_WORDS`), is a :class:`~melbench.errors.ParameterError` listing the
accepted keys: silently ignoring, say, ``hop_length`` where ``hop_size`` is read would
invert with the wrong hop. A spec equal to a preset carries the preset's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ParameterError
from .spec import PRESETS, FeatureSpec, get_spec

FORMATS = ("featurespec", "hifigan", "pwg", "vocos")

#: HiFi-GAN / BigVGAN config.json keys that define the mel (all required; fmax may be null).
HIFIGAN_FEATURE_KEYS = ("sampling_rate", "n_fft", "hop_size", "win_size", "num_mels", "fmin",
                        "fmax")
#: HiFi-GAN / BigVGAN training and model keys (ignored). Keys starting with ``cqtd_``
#: (BigVGAN v2's CQT discriminator) are ignored too. ``num_freq`` is not read by
#: ``meldataset.py`` (the public configs set it to n_fft + 1).
HIFIGAN_OTHER_KEYS = (
    "resblock", "num_gpus", "batch_size", "learning_rate", "adam_b1", "adam_b2", "lr_decay",
    "seed", "num_freq", "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel",
    "resblock_kernel_sizes", "resblock_dilation_sizes", "segment_size", "fmax_for_loss",
    "num_workers", "dist_config", "use_tanh_at_final", "use_bias_at_final", "activation",
    "snake_logscale", "use_cqtd_instead_of_mrd", "mpd_reshapes", "use_spectral_norm",
    "discriminator_channel_mult", "use_multiscale_melloss", "lambda_melloss",
    "clip_grad_norm", "resolutions", "model", "gen_istft_n_fft", "gen_istft_hop_size",
)

#: ParallelWaveGAN yaml keys that define the mel (``log_base``, ``center`` optional).
PWG_FEATURE_KEYS = ("sampling_rate", "fft_size", "hop_size", "win_length", "window", "num_mels",
                    "fmin", "fmax", "log_base", "center")
PWG_REQUIRED_KEYS = ("sampling_rate", "fft_size", "hop_size", "num_mels")
#: ParallelWaveGAN yaml keys that are not about the mel (ignored), besides any key ending
#: in ``_params``, ``_type``, ``_steps`` or ``_grad_norm`` (network, optimiser, schedule).
PWG_OTHER_KEYS = (
    "global_gain_scale", "trim_silence", "trim_threshold_in_db", "trim_frame_size",
    "trim_hop_size", "format", "lambda_adv", "lambda_aux", "lambda_feat_match",
    "batch_size", "batch_max_steps", "pin_memory", "num_workers", "remove_short_samples",
    "allow_cache", "num_save_intermediate_results", "use_feat_match_loss", "use_mel_loss",
    "use_stft_loss", "use_subband_stft_loss", "outdir", "config", "version", "rank",
    "distributed", "verbose", "train_wav_scp", "train_feats_scp", "dev_wav_scp",
    "dev_feats_scp", "pretrain", "resume", "n_gpus",
)

#: ``feature_extractor.init_args`` of Vocos's ``MelSpectrogramFeatures`` (all optional;
#: the class defaults are 24000 / 1024 / 256 / 100 / "center"; ``f_min``, ``f_max``,
#: ``norm`` and ``mel_scale`` exist in forks that match Matcha-TTS).
VOCOS_FEATURE_KEYS = ("sample_rate", "n_fft", "hop_length", "n_mels", "padding", "f_min",
                      "f_max", "norm", "mel_scale")
VOCOS_DEFAULTS = {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100,
                  "padding": "center"}

#: Substrings that make an unknown key look like a feature key (then it is an error).
FEATURE_WORDS = ("fft", "hop", "win", "mel", "sampl", "rate", "fmin", "fmax", "f_min", "f_max",
                 "window", "center", "pad", "power", "log", "norm", "htk", "freq")


# --------------------------------------------------------------------------- files
def read_mapping(path: str | Path) -> Any:
    """Parse a YAML or JSON file (by suffix; YAML otherwise) into Python objects."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot read spec file {path}: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - yaml/json raise various errors
        raise ParameterError(f"spec file {path} is not valid YAML/JSON: {exc}") from None


def load_spec_file(path: str | Path) -> FeatureSpec:
    """A spec from a YAML/JSON file: FeatureSpec fields or a model's config.

    Parameters
    ----------
    path : str or Path
        melbench spec file, HiFi-GAN/BigVGAN ``config.json``, ParallelWaveGAN yaml or
        Vocos yaml (see the module notes; the format is detected from the keys).

    Returns
    -------
    FeatureSpec

    Raises
    ------
    ParameterError
        Unreadable file, not a mapping, missing or unknown feature keys (the message
        lists the accepted ones), values FeatureSpec rejects.
    """
    path = Path(path).expanduser()
    data = read_mapping(path)
    if isinstance(data, Mapping) and isinstance(data.get("spec"), Mapping):
        data = data["spec"]
    if not isinstance(data, Mapping):
        raise ParameterError(
            f"spec file {path} must hold a mapping: FeatureSpec fields (e.g. sample_rate: "
            "22050, n_mels: 80, ..., optionally 'preset: tts22k'), or a HiFi-GAN/BigVGAN "
            "config.json, a ParallelWaveGAN yaml or a Vocos yaml"
        )
    return spec_from_config(data, source=str(path), name=path.stem)


def detect_format(data: Mapping[str, Any]) -> str:
    """Which of :data:`FORMATS` a parsed config is, from its keys."""
    if _vocos_extractor(data) is not None:
        return "vocos"
    keys = set(data)
    if "fft_size" in keys:
        return "pwg"
    if "win_size" in keys or {"hop_size", "n_fft"} <= keys:
        return "hifigan"
    if keys & {"hop_size", "num_mels", "sampling_rate"}:  # a model config with keys missing
        return "hifigan" if "n_fft" in keys or "win_size" in keys else "pwg"
    return "featurespec"


def spec_from_config(data: Mapping[str, Any], *, source: str = "config",
                     name: str = "custom") -> FeatureSpec:
    """Map a parsed config (any of :data:`FORMATS`) to a FeatureSpec.

    ``name`` is used for a melbench spec without ``name``/``preset`` and for a model
    config that equals no preset.
    """
    fmt = detect_format(data)
    if fmt == "featurespec":
        d = dict(data)
        if "name" not in d and "preset" not in d:
            d["name"] = name
        return get_spec(d)
    fields = {"hifigan": _hifigan_fields, "pwg": _pwg_fields, "vocos": _vocos_fields}[fmt](
        data, source)
    try:
        spec = FeatureSpec(**fields, name=name)
    except ParameterError as exc:
        raise ParameterError(f"{source} ({_LABELS[fmt]}): {exc}") from None
    for pname, preset in PRESETS.items():
        if preset == spec:
            return spec.replace(name=pname)
    return spec


_LABELS = {"hifigan": "HiFi-GAN/BigVGAN config.json", "pwg": "ParallelWaveGAN yaml",
           "vocos": "Vocos yaml"}


def _looks_like_feature(key: str) -> bool:
    k = str(key).lower()
    return any(w in k for w in FEATURE_WORDS)


def _check_keys(data: Mapping[str, Any], fmt: str, source: str, feature: tuple[str, ...],
                required: tuple[str, ...], known: tuple[str, ...],
                ignore_suffixes: tuple[str, ...] = (), ignore_prefixes: tuple[str, ...] = ()
                ) -> None:
    label = _LABELS[fmt]
    missing = [k for k in required if k not in data]
    if missing:
        raise ParameterError(
            f"{source} ({label}) lacks feature key(s) {missing}; a {label} needs "
            f"{list(required)} (accepted feature keys: {list(feature)})")
    unknown = [
        k for k in data
        if k not in feature and k not in known and not str(k).endswith(ignore_suffixes)
        and not str(k).startswith(ignore_prefixes) and _looks_like_feature(k)
    ]
    if unknown:
        raise ParameterError(
            f"{source} ({label}) has unknown feature-like key(s) {unknown}; accepted feature "
            f"keys: {list(feature)} (training keys such as {list(known[:6])}... are ignored). "
            "Rename the key, or write a melbench spec file (FeatureSpec fields) instead")


def _number(data: Mapping[str, Any], key: str, source: str, label: str, *, none_ok=False):
    v = data[key]
    if v is None and none_ok:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ParameterError(f"{source} ({label}): {key}={v!r} must be a number")
    return v


def _hifigan_fields(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """HiFi-GAN / BigVGAN ``config.json`` -> FeatureSpec fields (meldataset.py front end)."""
    _check_keys(data, "hifigan", source, HIFIGAN_FEATURE_KEYS, HIFIGAN_FEATURE_KEYS,
                HIFIGAN_OTHER_KEYS, ignore_prefixes=("cqtd_",))
    lab = _LABELS["hifigan"]
    return dict(
        sample_rate=_number(data, "sampling_rate", source, lab),
        n_fft=_number(data, "n_fft", source, lab),
        hop_length=_number(data, "hop_size", source, lab),
        win_length=_number(data, "win_size", source, lab), window="hann", framing="same",
        pad_mode="reflect", n_mels=_number(data, "num_mels", source, lab),
        fmin=float(_number(data, "fmin", source, lab)),
        fmax=_float_or_none(_number(data, "fmax", source, lab, none_ok=True)), htk=False,
        mel_norm="slaney", power=1, compression="ln", floor=1e-5, mag_eps=1e-9,
    )


_PWG_WINDOWS = {"hann": "hann", "hanning": "hann", "hamming": "hamming", "blackman": "blackman"}


def _pwg_fields(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """ParallelWaveGAN yaml -> FeatureSpec fields (``logmelfilterbank`` in preprocess.py)."""
    lab = _LABELS["pwg"]
    if "sampling_rate_for_feats" in data:
        raise ParameterError(
            f"{source} ({lab}): sampling_rate_for_feats={data['sampling_rate_for_feats']!r} "
            "(features at another rate than the audio) is not supported; write a melbench "
            "spec file with the feature rate and hop instead")
    _check_keys(data, "pwg", source, PWG_FEATURE_KEYS, PWG_REQUIRED_KEYS, PWG_OTHER_KEYS,
                ignore_suffixes=("_params", "_type", "_steps", "_grad_norm"))
    window = data.get("window", "hann")
    if window not in _PWG_WINDOWS:
        raise ParameterError(f"{source} ({lab}): window={window!r} is not supported; "
                             f"choose one of {sorted(_PWG_WINDOWS)}")
    log_base = data.get("log_base", 10.0)
    if log_base is None:
        compression = "ln"
    elif log_base == 10.0:
        compression = "log10"
    else:
        raise ParameterError(f"{source} ({lab}): log_base={log_base!r} is not supported; "
                             "melbench reads log_base 10 (log10) or null (natural log)")
    center = data.get("center", True)
    if not isinstance(center, bool):
        raise ParameterError(f"{source} ({lab}): center={center!r} must be true or false")
    fmin = data.get("fmin")
    return dict(
        sample_rate=_number(data, "sampling_rate", source, lab),
        n_fft=_number(data, "fft_size", source, lab),
        hop_length=_number(data, "hop_size", source, lab),
        win_length=_number(data, "win_length", source, lab, none_ok=True)
        if "win_length" in data else None,
        window=_PWG_WINDOWS[window], framing="center" if center else "none",
        pad_mode="reflect", n_mels=_number(data, "num_mels", source, lab),
        fmin=0.0 if fmin is None else float(_number(data, "fmin", source, lab)),
        fmax=_float_or_none(_number(data, "fmax", source, lab, none_ok=True)
                            if "fmax" in data else None),
        htk=False, mel_norm="slaney", power=1, compression=compression, floor=1e-10,
    )


def _vocos_extractor(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``feature_extractor`` node (top level or under ``model.init_args``), if any."""
    for node in (data, (data.get("model") or {}).get("init_args")
                 if isinstance(data.get("model"), Mapping) else None):
        if isinstance(node, Mapping) and isinstance(node.get("feature_extractor"), Mapping):
            fe = node["feature_extractor"]
            if "class_path" in fe or "init_args" in fe:
                return fe
    return None


def _vocos_fields(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Vocos yaml -> FeatureSpec fields (``MelSpectrogramFeatures``)."""
    lab = _LABELS["vocos"]
    fe = _vocos_extractor(data)
    assert fe is not None
    cls = str(fe.get("class_path", "vocos.feature_extractors.MelSpectrogramFeatures"))
    if not cls.endswith("MelSpectrogramFeatures"):
        raise ParameterError(
            f"{source} ({lab}): feature_extractor {cls!r} is not a mel front end (only "
            "vocos.feature_extractors.MelSpectrogramFeatures makes mels to invert)")
    args = dict(fe.get("init_args") or {})
    unknown = [k for k in args if k not in VOCOS_FEATURE_KEYS]
    if unknown:
        raise ParameterError(
            f"{source} ({lab}): unknown feature_extractor.init_args key(s) {unknown}; "
            f"accepted: {list(VOCOS_FEATURE_KEYS)}")
    a = {**VOCOS_DEFAULTS, **args}
    sr = _number(a, "sample_rate", source, lab)
    model_sr = ((data.get("model") or {}).get("init_args") or {}).get("sample_rate") \
        if isinstance(data.get("model"), Mapping) else None
    if model_sr is not None and model_sr != sr:
        raise ParameterError(
            f"{source} ({lab}): feature_extractor sample_rate={sr} but model sample_rate="
            f"{model_sr}; fix the config")
    if a["padding"] not in ("center", "same"):
        raise ParameterError(f"{source} ({lab}): padding={a['padding']!r}; Vocos accepts "
                             "'center' or 'same'")
    norm = a.get("norm")
    if norm not in (None, "slaney"):
        raise ParameterError(f"{source} ({lab}): norm={norm!r}; torchaudio accepts None or "
                             "'slaney'")
    scale = a.get("mel_scale", "htk")
    if scale not in ("htk", "slaney"):
        raise ParameterError(f"{source} ({lab}): mel_scale={scale!r}; choose 'htk' or 'slaney'")
    n_fft = _number(a, "n_fft", source, lab)
    return dict(
        sample_rate=sr, n_fft=n_fft, hop_length=_number(a, "hop_length", source, lab),
        win_length=n_fft, window="hann", framing=a["padding"], pad_mode="reflect",
        n_mels=_number(a, "n_mels", source, lab),
        fmin=float(_number(a, "f_min", source, lab)) if "f_min" in a else 0.0,
        fmax=_float_or_none(_number(a, "f_max", source, lab, none_ok=True)
                            if "f_max" in a else None),
        htk=scale == "htk", mel_norm="none" if norm is None else "slaney", power=1,
        compression="ln", floor=1e-7,
    )


def _float_or_none(v: Any) -> float | None:
    return None if v is None else float(v)
