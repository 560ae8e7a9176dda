"""Python API: ``melbench.invert(mel, ...)`` -> audio and ``melbench.mel(audio, ...)`` -> mel.

Both use the same plugin registry and :class:`~melbench.spec.FeatureSpec` as
``melbench run`` and ``melbench invert``, so a mel inverted here gives the same
audio as the corresponding cell of a run (same seed)::

    import melbench
    m = melbench.mel(audio, spec="tts22k", sr=sr)
    y = melbench.invert(m, spec="tts22k")          # best available default cell
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ParameterError
from .plugin import Inverter, PhaseRetriever, Plugin, phase_stage
from .spec import FeatureSpec, get_spec
from .validation import MelbenchWarning

#: Preferred default inverters and phase retrievers, best first; the first registered
#: and importable one is used when none is named.
DEFAULT_INVERTERS = ("nnls", "pinv")
DEFAULT_PHASES = ("fgla",)

SpecLike = str | Path | FeatureSpec | Mapping[str, Any] | None


class SpecInferredWarning(MelbenchWarning):
    """No spec was given: the one preset the mel's shape and values fit is used (named)."""


def infer_spec(mel: np.ndarray) -> tuple[FeatureSpec, str]:
    """The preset a mel was most likely made with, from its band count and values.

    Parameters
    ----------
    mel : np.ndarray
        ``(..., n_mels, frames)``.

    Returns
    -------
    spec : FeatureSpec
        The only preset of :data:`melbench.spec.PRESETS` with the mel's band count
        whose convention (compression, power, floor) its values fit.
    message : str
        What was inferred and from what (to show the user).

    Raises
    ------
    ParameterError
        No preset or several presets fit: the message lists them and asks for a spec
        (the sample rate, hop and framing cannot be read off a mel).
    """
    from .mel_values import matching_presets
    from .spec import PRESETS

    mel = np.asarray(mel)
    if mel.ndim < 2:
        raise InputError(f"mel must have shape (..., n_mels, frames); got shape {mel.shape}")
    n_mels = mel.shape[-2]
    finite = np.isfinite(mel)
    lo = float(mel[finite].min()) if finite.any() else float("nan")
    hi = float(mel[finite].max()) if finite.any() else float("nan")
    names = matching_presets(mel)
    what = f"{n_mels} bands, values in [{lo:.3g}, {hi:.3g}]"
    if len(names) == 1:
        spec = PRESETS[names[0]]
        return spec, (
            f"no spec given: inferred spec {names[0]} from the mel ({what}: a "
            f"{spec.compression if spec.compression != 'none' else 'linear'} {spec.domain} mel; "
            f"{spec.sample_rate} Hz, n_fft {spec.n_fft}, hop {spec.hop_length}); if the mel was "
            "made otherwise, pass the spec (--spec NAME or a spec/model config file)"
        )
    same_bands = sorted(n for n, p in PRESETS.items() if p.n_mels == n_mels)
    if names:
        detail = "; ".join(
            f"{n}: {PRESETS[n].sample_rate} Hz, hop {PRESETS[n].hop_length}, fmax "
            f"{PRESETS[n].f_max:g}, framing {PRESETS[n].framing}" for n in names
        )
        raise ParameterError(
            f"no spec given, and the mel ({what}) fits several presets ({detail}); the sample "
            "rate, hop and framing cannot be read off a mel: pass the one it was made with "
            f"(--spec NAME / spec=NAME, or a spec or model config file)"
        )
    raise ParameterError(
        f"no spec given, and no preset fits the mel ({what}; presets with {n_mels} bands: "
        f"{', '.join(same_bands) or 'none'}): pass the spec it was made with (--spec FILE with "
        "its sample_rate, n_fft, hop_length, n_mels, fmin, fmax, power, compression, floor)"
    )


def default_cell(quality: str | None = None) -> tuple[str, str]:
    """Names of the default (inverter, phase) pair.

    The cell of the quality preset (``best`` unless ``quality`` says otherwise),
    chosen by :mod:`melbench.quality` from the committed pipeline benchmark; if its
    plugins are not registered, ``nnls`` + ``fgla`` (else ``pinv`` + ``fgla``).
    """
    return tuple(name for name, _ in default_plugins(quality))  # type: ignore[return-value]


def default_plugins(quality: str | None = None) -> tuple[tuple[str, dict], tuple[str, dict]]:
    """``((inverter, params), (phase, params))`` of the default cell (see :func:`default_cell`)."""
    from . import registry
    from .quality import preset

    cell = preset(quality)
    if cell.inverter in registry.available("inverter") and cell.phase in registry.available("phase"):
        return (cell.inverter, dict(cell.inverter_params)), (cell.phase, dict(cell.phase_params))
    inv = [n for n in DEFAULT_INVERTERS if n in registry.available("inverter")]
    ph = [n for n in DEFAULT_PHASES if n in registry.available("phase")]
    return (inv[0] if inv else "pinv", {}), (ph[0] if ph else "fgla", {})


def load_spec_file(path: str | Path) -> FeatureSpec:
    """A spec from a YAML or JSON file: FeatureSpec fields, or a model's config file.

    See :func:`melbench.spec_files.load_spec_file` (HiFi-GAN/BigVGAN ``config.json``,
    ParallelWaveGAN yaml, Vocos yaml, or a mapping of FeatureSpec fields with an optional
    ``preset`` key, possibly nested under ``spec:`` as in a run's ``.hydra/config.yaml``).
    """
    from .spec_files import load_spec_file as _load

    return _load(path)


def resolve_spec(spec: SpecLike = None, **overrides: Any) -> FeatureSpec:
    """A :class:`FeatureSpec` from a preset name, a YAML/JSON file, a mapping or a spec.

    ``overrides`` replace fields; an unknown field name is a :class:`ParameterError`
    listing the valid ones.
    """
    fields = {f.name for f in dataclasses.fields(FeatureSpec)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ParameterError(
            f"unknown FeatureSpec field(s) {unknown}; valid fields: {', '.join(sorted(fields))}"
        )
    if isinstance(spec, Path) or (
        isinstance(spec, str)
        and (spec.lower().endswith((".yaml", ".yml", ".json")) or Path(spec).expanduser().is_file())
    ):
        base = load_spec_file(spec)
        return get_spec(base, **overrides) if overrides else base
    return get_spec(spec, **overrides)


def make_plugin(kind: str, plugin: str | Plugin | None, params: Mapping[str, Any] | None = None) -> Plugin:
    """Instantiate an inverter/phase plugin from a name (or pass an instance through)."""
    from . import registry

    if isinstance(plugin, Plugin):
        if params:
            raise ParameterError(f"parameters given for an already built {kind} {plugin.label}")
        return plugin
    if plugin is None:  # the default cell's plugin, with its parameters (given ones win)
        inv, ph = default_plugins()
        plugin, base = inv if kind == "inverter" else ph
        params = {**base, **dict(params or {})}
    return registry.create(kind, str(plugin), params)


def _split_params(
    params: Mapping[str, Any], inverter: str | Plugin | None, phase: str | Plugin | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route ``**params`` to the inverter or the phase retriever by parameter name."""
    from . import registry

    def fields(kind: str, p: str | Plugin | None) -> set[str]:
        if isinstance(p, Plugin):
            return set()
        name = p or default_cell()[0 if kind == "inverter" else 1]
        return {f.name for f in dataclasses.fields(registry.get(kind, str(name)).Params)}

    fi, fp = fields("inverter", inverter), fields("phase", phase)
    inv, ph = {}, {}
    for k, v in params.items():
        if k in fi and k in fp:
            raise ParameterError(
                f"parameter {k!r} exists for both the inverter and the phase retriever; pass it "
                "in inverter_params= or phase_params="
            )
        if k in fi:
            inv[k] = v
        elif k in fp:
            ph[k] = v
        else:
            raise ParameterError(
                f"unknown parameter {k!r}; inverter parameters: {sorted(fi) or 'none'}, "
                f"phase parameters: {sorted(fp) or 'none'}"
            )
    return inv, ph


def _torch_tensor(x: Any) -> Any:
    """``x`` if it is a torch tensor (torch is never imported here), else None."""
    torch = sys.modules.get("torch")
    return x if torch is not None and isinstance(x, torch.Tensor) else None


def _to_numpy(x: Any) -> tuple[Any, dict[str, Any] | None]:
    """An array from ``x`` and, for a torch tensor, how to give the result back.

    The tensor is detached and copied to the CPU (gradients do not flow through
    melbench); half/bfloat16 tensors are read as float32.
    """
    t = _torch_tensor(x)
    if t is None:
        return x, None
    import torch

    back = {"device": t.device, "dtype": t.dtype if t.is_floating_point() else torch.float32}
    t = t.detach()
    if t.is_complex():
        raise InputError("mel tensor is complex; pass a real (magnitude/power/log) mel")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    return t.cpu().numpy(), back


def _to_caller(y: np.ndarray, back: dict[str, Any] | None) -> Any:
    """``y`` as the caller passed its input: a numpy array, or a tensor on its device."""
    if back is None:
        return y
    import torch

    return torch.from_numpy(np.ascontiguousarray(y)).to(device=back["device"], dtype=back["dtype"])


def invert(
    mel: np.ndarray,
    spec: SpecLike = None,
    inverter: str | Inverter | None = None,
    phase: str | PhaseRetriever | None = None,
    *,
    seed: int = 0,
    length: int | None = None,
    ref: float | None = None,
    inverter_params: Mapping[str, Any] | None = None,
    phase_params: Mapping[str, Any] | None = None,
    quality: str | None = None,
    **params: Any,
) -> np.ndarray:
    """Turn a mel spectrogram back into audio.

    Parameters
    ----------
    mel : np.ndarray or torch.Tensor
        ``(..., n_mels, frames)`` exactly as ``spec`` describes it (compressed or
        not, power or magnitude). A transposed array is reported, not guessed. A
        torch tensor (any device, with or without grad) is detached and read on
        the CPU; the audio then comes back as a tensor on the same device.
    spec : str, path, mapping or FeatureSpec, optional
        Preset name (e.g. "tts22k"), YAML/JSON spec file, mapping of fields, or a
        spec; None = the only preset the mel's band count and values fit
        (:func:`infer_spec`, with a :class:`SpecInferredWarning` naming it; an
        error if several or none fit).
    inverter, phase : str or plugin instance, optional
        Registered names (``melbench list``); None = the default cell, the
        ``quality`` preset's (:func:`default_cell`, :mod:`melbench.quality`).
    seed : int
        Seeds random phase initialisation (same seed as a run = same audio).
    length : int, optional
        Output length in samples (default: what the frame count implies).
    ref : float, optional
        Reference of a dB mel (``spec.ref``), e.g. the ``np.max`` a
        ``power_to_db(S, ref=np.max)`` mel was divided by: restores its level.
    inverter_params, phase_params : mapping, optional
        Parameters of each plugin.
    quality : {"fast", "balanced", "best"}, optional
        Preset for the plugins not named (default ``best``), chosen from the
        committed pipeline benchmark (:mod:`melbench.quality`).
    **params
        Further parameters, routed to whichever plugin has a parameter of that
        name (e.g. ``n_iter=200`` for fgla).

    Returns
    -------
    np.ndarray or torch.Tensor
        Audio ``(..., n_samples)`` at ``spec.sample_rate`` (a tensor on the input's
        device if the mel was a tensor).

    Raises
    ------
    InputError
        Wrong shape (e.g. transposed), too few frames, NaN/Inf, values that do not
        fit the declared convention (see :func:`melbench.validation.check_mel`), or
        output audio far above full scale (a wrong declaration).
    ParameterError, UnknownPluginError
        Bad spec, plugin or parameter.
    """
    from .validation import check_frames, check_mel, check_output_level

    mel, back = _to_numpy(mel)
    mel = np.asarray(mel)
    if spec is None:
        fs, message = infer_spec(mel)
        warnings.warn(message, SpecInferredWarning, stacklevel=2)
    else:
        fs = resolve_spec(spec)
    if ref is not None:
        if fs.compression != "db":
            raise ParameterError(f"ref={ref!r}: the reference applies to dB mels, but spec {fs} is "
                                 f"{fs.compression}-compressed")
        fs = get_spec(fs, ref=float(ref))
    (d_inv, d_inv_p), (d_ph, d_ph_p) = default_plugins(quality)
    if inverter is None:  # the preset's plugin with its parameters (given ones win)
        inverter, inverter_params = d_inv, {**d_inv_p, **dict(inverter_params or {})}
    if phase is None:
        phase, phase_params = d_ph, {**d_ph_p, **dict(phase_params or {})}
    inv_extra, ph_extra = _split_params(params, inverter, phase)
    inv = make_plugin("inverter", inverter, {**dict(inverter_params or {}), **inv_extra})
    ph = make_plugin("phase", phase, {**dict(phase_params or {}), **ph_extra})
    for p in (inv, ph):
        reason = p.skip(fs)
        if reason:
            raise ParameterError(f"{p.kind} {p.label} declines spec {fs}: {reason}")
    mel = check_mel(mel, fs, values=True)
    check_frames(mel.shape[-1], fs)
    inv_context: dict[str, Any] = {"reference_magnitude": None}  # non-empty: passed as is
    target = inv(mel, fs, context=inv_context)
    # a joint inverter (joint_fgla) hands its phase estimate on as the warm start
    # (or as the final estimate: guarded keeping its fallback)
    x = phase_stage(ph, target, fs, inv_context, rng=seed)
    n = int(length) if length is not None else fs.n_samples(target.shape[-1])
    y = fs.istft(x, length=n)
    check_output_level(y, mel, fs)
    return _to_caller(y, back)


def mel(
    audio: np.ndarray | str | Path, spec: SpecLike = None, sr: int | None = None
) -> np.ndarray:
    """Mel spectrogram of audio, exactly as melbench computes it for a run.

    Parameters
    ----------
    audio : np.ndarray, torch.Tensor or path
        Mono audio ``(..., n_samples)``, or an audio file (read, downmixed and
        resampled to the spec's rate). A tensor is detached and read on the CPU;
        the mel comes back as a tensor on its device.
    spec : str, path, mapping or FeatureSpec, optional
        As for :func:`invert`; None = "speech16k".
    sr : int, optional
        Rate of ``audio``; resampled (soxr) to ``spec.sample_rate`` if different.
        None means the audio is already at the spec's rate.

    Returns
    -------
    np.ndarray or torch.Tensor
        ``(..., n_mels, frames)`` in the spec's domain and compression.
    """
    from .datasets.base import load_audio, resample
    from .validation import check_audio

    fs = resolve_spec(spec)
    audio, back = _to_numpy(audio)
    if isinstance(audio, (str, Path)):
        y, _, _ = load_audio(audio, fs.sample_rate)
    else:
        y = check_audio(np.asarray(audio))
        if sr is not None and int(sr) != fs.sample_rate:
            if y.ndim != 1:
                raise InputError(f"resampling needs mono audio (n_samples,); got shape {y.shape}")
            y = resample(y.astype(np.float32, copy=False), int(sr), fs.sample_rate)
    return _to_caller(fs.mel(y), back)
