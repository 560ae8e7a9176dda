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
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ParameterError
from .plugin import Inverter, PhaseRetriever, Plugin
from .spec import FeatureSpec, get_spec

#: Preferred default inverters and phase retrievers, best first; the first registered
#: and importable one is used when none is named.
DEFAULT_INVERTERS = ("nnls", "pinv")
DEFAULT_PHASES = ("fgla",)

SpecLike = str | Path | FeatureSpec | Mapping[str, Any] | None


def default_cell(quality: str | None = None) -> tuple[str, str]:
    """Names of the default (inverter, phase) pair.

    The cell of the quality preset (``balanced`` unless ``quality`` says otherwise),
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
    """A spec from a YAML or JSON file of FeatureSpec fields.

    The mapping may hold a ``preset`` key (base preset, other keys override it) and
    may be nested under ``spec:`` (so a run's ``.hydra/config.yaml`` works too).
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot read spec file {path}: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - yaml/json raise various errors
        raise ParameterError(f"spec file {path} is not valid YAML/JSON: {exc}") from None
    if isinstance(data, Mapping) and isinstance(data.get("spec"), Mapping):
        data = data["spec"]
    if not isinstance(data, Mapping):
        raise ParameterError(
            f"spec file {path} must hold a mapping of FeatureSpec fields (e.g. sample_rate: "
            f"22050, n_mels: 80, ...), optionally with 'preset: tts22k'"
        )
    d = dict(data)
    if "name" not in d and "preset" not in d:
        d["name"] = path.stem
    return get_spec(d)


def resolve_spec(spec: SpecLike = None, **overrides: Any) -> FeatureSpec:
    """A :class:`FeatureSpec` from a preset name, a YAML/JSON file, a mapping or a spec."""
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


def invert(
    mel: np.ndarray,
    spec: SpecLike = None,
    inverter: str | Inverter | None = None,
    phase: str | PhaseRetriever | None = None,
    *,
    seed: int = 0,
    length: int | None = None,
    inverter_params: Mapping[str, Any] | None = None,
    phase_params: Mapping[str, Any] | None = None,
    quality: str | None = None,
    **params: Any,
) -> np.ndarray:
    """Turn a mel spectrogram back into audio.

    Parameters
    ----------
    mel : np.ndarray
        ``(..., n_mels, frames)`` exactly as ``spec`` describes it (compressed or
        not, power or magnitude). A transposed array is reported, not guessed.
    spec : str, path, mapping or FeatureSpec, optional
        Preset name (e.g. "tts22k"), YAML/JSON spec file, mapping of fields, or a
        spec; None = "speech16k".
    inverter, phase : str or plugin instance, optional
        Registered names (``melbench list``); None = the default cell, the
        ``quality`` preset's (:func:`default_cell`, :mod:`melbench.quality`).
    seed : int
        Seeds random phase initialisation (same seed as a run = same audio).
    length : int, optional
        Output length in samples (default: what the frame count implies).
    inverter_params, phase_params : mapping, optional
        Parameters of each plugin.
    quality : {"fast", "balanced", "best"}, optional
        Preset for the plugins not named (default ``balanced``), chosen from the
        committed pipeline benchmark (:mod:`melbench.quality`).
    **params
        Further parameters, routed to whichever plugin has a parameter of that
        name (e.g. ``n_iter=200`` for fgla).

    Returns
    -------
    np.ndarray
        Audio ``(..., n_samples)`` at ``spec.sample_rate``.

    Raises
    ------
    InputError
        Wrong shape (e.g. transposed), NaN/Inf, or a domain mismatch (negative values
        in a mel the spec calls linear).
    ParameterError, UnknownPluginError
        Bad spec, plugin or parameter.
    """
    fs = resolve_spec(spec)
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
    mel = np.asarray(mel)
    inv_context: dict[str, Any] = {"reference_magnitude": None}  # non-empty: passed as is
    target = inv(mel, fs, context=inv_context)
    # a joint inverter (joint_fgla) hands its phase estimate on as the warm start
    x = ph(target, fs, init=inv_context.get("phase_init"), rng=seed)
    n = int(length) if length is not None else fs.n_samples(target.shape[-1])
    return fs.istft(x, length=n)


def mel(
    audio: np.ndarray | str | Path, spec: SpecLike = None, sr: int | None = None
) -> np.ndarray:
    """Mel spectrogram of audio, exactly as melbench computes it for a run.

    Parameters
    ----------
    audio : np.ndarray or path
        Mono audio ``(..., n_samples)``, or an audio file (read, downmixed and
        resampled to the spec's rate).
    spec : str, path, mapping or FeatureSpec, optional
        As for :func:`invert`; None = "speech16k".
    sr : int, optional
        Rate of ``audio``; resampled (soxr) to ``spec.sample_rate`` if different.
        None means the audio is already at the spec's rate.

    Returns
    -------
    np.ndarray
        ``(..., n_mels, frames)`` in the spec's domain and compression.
    """
    from .datasets.base import load_audio, resample
    from .validation import check_audio

    fs = resolve_spec(spec)
    if isinstance(audio, (str, Path)):
        y, _, _ = load_audio(audio, fs.sample_rate)
    else:
        y = check_audio(np.asarray(audio))
        if sr is not None and int(sr) != fs.sample_rate:
            if y.ndim != 1:
                raise InputError(f"resampling needs mono audio (n_samples,); got shape {y.shape}")
            y = resample(y.astype(np.float32, copy=False), int(sr), fs.sample_rate)
    return fs.mel(y)
