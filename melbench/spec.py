"""FeatureSpec: the single STFT/mel contract every stage of melbench shares.

A :class:`FeatureSpec` fixes how audio becomes a mel spectrogram (sample rate,
frames, window, mel scale and filter normalisation, power and compression). It
owns :meth:`~FeatureSpec.stft`, :meth:`~FeatureSpec.istft`,
:meth:`~FeatureSpec.mel_basis`, :meth:`~FeatureSpec.mel` and
:meth:`~FeatureSpec.compress` / :meth:`~FeatureSpec.decompress`; plugins receive
the spec and never build their own STFT, which removes the classic mismatch
between the inverter's, the phase retriever's and the metric's conventions.

Named presets (:data:`PRESETS`) cover what users actually feed in.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import stft as _stft
from .errors import InputError, ParameterError
from .mel_scale import hz_to_mel, mel_filterbank, mel_to_hz  # noqa: F401 - re-exported here

COMPRESSIONS = ("none", "ln", "log10", "db")
FRAMINGS = _stft.FRAMINGS
PAD_MODES = ("constant", "reflect", "edge")
MEL_NORMS = ("slaney", "none")

# --------------------------------------------------------------------------- the spec


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """The STFT/mel contract: how audio becomes the mel that is to be inverted.

    Parameters
    ----------
    sample_rate : int
        Audio sample rate in Hz; loaders resample to it.
    n_fft : int
        FFT length (frame length) in samples.
    hop_length : int
        Hop between frames in samples; must not exceed ``win_length``.
    win_length : int, optional
        Window support; defaults to ``n_fft`` (window centred in the frame if shorter).
    window : str
        One of "hann", "hamming", "blackman", "sqrt_hann", "gaussian", "boxcar" (periodic).
    framing : {"center", "same", "none"}
        How frames are put on the signal (see :func:`melbench.stft.frame_padding`):
        "center" pads ``n_fft // 2`` samples each side, so frame ``t`` is centred on
        ``t * hop_length`` (librosa / torch ``center=True``; 1 + N // hop frames);
        "same" pads ``(n_fft - hop_length) // 2`` each side and frames without centring
        (HiFi-GAN, BigVGAN, VITS, Vocos ``padding="same"``; about N / hop frames);
        "none" does not pad (``center=False``; 1 + (N - n_fft) // hop frames).
        The legacy keyword ``center=True/False`` is accepted and means "center" / "none"
        (``center=False`` keeps a "same" framing); :attr:`center` reads it back.
    pad_mode : {"constant", "reflect", "edge"}
        Padding for "center" and "same" ("constant" = zeros, librosa's default;
        "reflect" = torch's and HiFi-GAN's).
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Mel band edges in Hz (``fmax=None`` means Nyquist).
    htk : bool
        HTK mel formula (True) or Slaney's (False, librosa's default).
    mel_norm : {"slaney", "none"} or float
        Filter normalisation as in ``librosa.filters.mel``.
    power : {1, 2}
        The mel is built from magnitude (1) or power (2).
    compression : {"none", "ln", "log10", "db"}
        Dynamic-range compression applied to the mel.
    floor : float
        Values are clipped to at least ``floor`` before the log (ln/log10/db).
    ref : float
        Reference for "db": ``10 log10(x / ref)`` for power, ``20 log10`` for magnitude.
    mag_eps : float
        Magnitude epsilon: ``|X| = sqrt(re^2 + im^2 + mag_eps)`` (HiFi-GAN and BigVGAN use
        1e-9; 0 is the plain modulus).
    name : str
        Preset name, for tables (not part of the identity of the spec).
    """

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    win_length: int | None = None
    window: str = "hann"
    framing: str = "center"
    pad_mode: str = "constant"
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    mel_norm: str | float | None = "slaney"
    power: int = 2
    compression: str = "none"
    floor: float = 1e-10
    ref: float = 1.0
    mag_eps: float = 0.0
    name: str = dataclasses.field(default="custom", compare=False)

    def __post_init__(self) -> None:
        def bad(field: str, value: Any, why: str) -> ParameterError:
            return ParameterError(f"FeatureSpec {field}={value!r}: {why}")

        for f in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            v = getattr(self, f)
            if int(v) != v or v <= 0:
                raise bad(f, v, "must be a positive integer")
            object.__setattr__(self, f, int(v))
        if self.win_length is None:
            object.__setattr__(self, "win_length", self.n_fft)
        if int(self.win_length) <= 0 or self.win_length > self.n_fft:
            raise bad("win_length", self.win_length, f"must be in 1..n_fft={self.n_fft}")
        object.__setattr__(self, "win_length", int(self.win_length))
        if self.hop_length > self.win_length:
            raise bad(
                "hop_length", self.hop_length,
                f"exceeds win_length={self.win_length}: frames would leave gaps and the "
                "STFT could not be inverted; use hop_length <= win_length",
            )
        if self.window not in _stft.WINDOWS:
            raise bad("window", self.window, f"unsupported; choose one of {', '.join(_stft.WINDOWS)}")
        if self.framing not in FRAMINGS:
            raise bad("framing", self.framing, f"choose one of {', '.join(FRAMINGS)}")
        if self.pad_mode not in PAD_MODES:
            raise bad("pad_mode", self.pad_mode, "choose 'constant', 'reflect' or 'edge'")
        nyq = self.sample_rate / 2.0
        if self.fmax is not None and not (0 < self.fmax <= nyq + 1e-9):
            raise bad("fmax", self.fmax, f"must be in (0, sample_rate/2 = {nyq:g}]")
        if not (0 <= self.fmin < (self.fmax if self.fmax is not None else nyq)):
            raise bad("fmin", self.fmin, "must be >= 0 and below fmax")
        if self.power not in (1, 2):
            raise bad("power", self.power, "must be 1 (magnitude) or 2 (power)")
        object.__setattr__(self, "power", int(self.power))
        if self.compression not in COMPRESSIONS:
            raise bad("compression", self.compression, f"choose one of {', '.join(COMPRESSIONS)}")
        if not self.floor > 0:
            raise bad("floor", self.floor, "must be > 0")
        if not self.ref > 0:
            raise bad("ref", self.ref, "must be > 0")
        if not (np.isfinite(self.mag_eps) and self.mag_eps >= 0):
            raise bad("mag_eps", self.mag_eps, "must be a finite number >= 0")
        object.__setattr__(self, "mag_eps", float(self.mag_eps))
        norm = self.mel_norm
        if norm is None:
            object.__setattr__(self, "mel_norm", "none")
        elif isinstance(norm, str) and norm not in MEL_NORMS:
            try:
                object.__setattr__(self, "mel_norm", float(norm))
            except ValueError:
                raise bad("mel_norm", norm, "choose 'slaney', 'none' or a number p") from None

    # ---------------------------------------------------------------- derived
    @property
    def n_freq(self) -> int:
        """Number of STFT frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def f_max(self) -> float:
        """Upper mel band edge in Hz (``fmax`` or Nyquist)."""
        return self.sample_rate / 2.0 if self.fmax is None else float(self.fmax)

    @property
    def center(self) -> bool:
        """True for ``framing == "center"`` (the legacy bool; read-only)."""
        return self.framing == "center"

    @property
    def frame_padding(self) -> int:
        """Samples padded on each side of the signal before framing (0 for "none")."""
        return _stft.frame_padding(self.framing, self.n_fft, self.hop_length)

    @property
    def domain(self) -> str:
        """Domain the mel was made in before compression: "magnitude" or "power"."""
        return "power" if self.power == 2 else "magnitude"

    @functools.cached_property
    def window_array(self) -> np.ndarray:
        """Analysis (and synthesis) window of length ``n_fft``, float64, read-only."""
        return _stft.get_window(self.window, self.win_length, self.n_fft)

    def mel_basis(self, dtype: Any = np.float32) -> np.ndarray:
        """Mel filterbank ``(n_mels, n_freq)``, equal to ``librosa.filters.mel``."""
        return mel_filterbank(
            sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin,
            fmax=self.fmax, htk=self.htk,
            norm=None if self.mel_norm == "none" else self.mel_norm, dtype=dtype,
        )

    def n_frames(self, n_samples: int) -> int:
        """Number of frames the STFT of ``n_samples`` samples has."""
        return _stft.n_frames(n_samples, self.n_fft, self.hop_length, framing=self.framing)

    def n_samples(self, n_frames: int) -> int:
        """Natural signal length for ``n_frames`` frames (what istft returns without length).

        ``n_fft + hop_length * (n_frames - 1) - 2 * frame_padding``: ``hop * (n_frames - 1)``
        for "center" (even n_fft), ``hop * n_frames`` for "same" (even n_fft - hop).
        """
        total = self.n_fft + self.hop_length * (n_frames - 1)
        return total - 2 * self.frame_padding

    # ---------------------------------------------------------------- transforms
    def stft(self, y: np.ndarray, *, dtype: Any = None, workers: int | None = None) -> np.ndarray:
        """Complex STFT ``(..., n_freq, n_frames)`` of audio ``(..., n_samples)``."""
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[-1] == 0:
            raise InputError(f"audio must have shape (..., n_samples) with samples; got {y.shape}")
        return _stft.stft(
            y, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window_array,
            framing=self.framing, pad_mode=self.pad_mode, dtype=dtype, workers=workers,
        )

    def istft(
        self, stft_matrix: np.ndarray, *, length: int | None = None, workers: int | None = None
    ) -> np.ndarray:
        """Least-squares inverse STFT of ``(..., n_freq, n_frames)``; ``length`` as librosa.

        The padding of the framing is removed, so sample 0 of the output is sample 0 of
        the analysed signal under every framing (no offset).
        """
        return _stft.istft(
            stft_matrix, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window_array,
            framing=self.framing, length=length, workers=workers,
        )

    def magnitude(self, y: np.ndarray) -> np.ndarray:
        """Linear STFT magnitude ``sqrt(re^2 + im^2 + mag_eps)`` of audio ``(..., n_samples)``."""
        x = self.stft(y)
        if self.mag_eps == 0:
            return np.abs(x)
        re, im = x.real, x.imag
        return np.sqrt(re * re + im * im + np.asarray(self.mag_eps, dtype=re.dtype))

    def mel_from_magnitude(self, magnitude: np.ndarray, *, compress: bool = True) -> np.ndarray:
        """Mel of a linear magnitude ``(..., n_freq, frames)``, compressed as the spec says."""
        magnitude = np.asarray(magnitude)
        if magnitude.shape[-2] != self.n_freq:
            raise InputError(
                f"magnitude has {magnitude.shape[-2]} frequency bins; this spec "
                f"(n_fft={self.n_fft}) needs {self.n_freq}"
            )
        dtype = np.float64 if magnitude.dtype == np.float64 else np.float32
        s = magnitude.astype(dtype, copy=False)
        if self.power == 2:
            s = s * s
        m = np.matmul(self.mel_basis(dtype), s)
        return self.compress(m) if compress else m

    def mel(self, y: np.ndarray, *, compress: bool = True) -> np.ndarray:
        """Mel spectrogram ``(..., n_mels, n_frames)`` of audio, compressed as the spec says."""
        return self.mel_from_magnitude(self.magnitude(y), compress=compress)

    def compress(self, mel: np.ndarray) -> np.ndarray:
        """Apply the spec's compression (identity, ln, log10 or dB) to a linear mel."""
        m = np.asarray(mel)
        if self.compression == "none":
            return m
        m = np.maximum(m, np.asarray(self.floor, dtype=m.dtype))
        if self.compression == "ln":
            return np.log(m)
        if self.compression == "log10":
            return np.log10(m)
        return self._db_scale * np.log10(m / np.asarray(self.ref, dtype=m.dtype))

    def decompress(self, mel: np.ndarray) -> np.ndarray:
        """Undo :meth:`compress`: back to the linear (magnitude or power) mel."""
        m = np.asarray(mel)
        if self.compression == "none":
            return m
        if self.compression == "ln":
            return np.exp(m)
        if self.compression == "log10":
            return np.power(np.asarray(10.0, dtype=m.dtype), m)
        return self.ref * np.power(np.asarray(10.0, dtype=m.dtype), m / self._db_scale)

    @property
    def _db_scale(self) -> float:
        return 10.0 if self.power == 2 else 20.0

    # ---------------------------------------------------------------- identity
    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Stable content hash of the numerical fields (``name`` excluded).

        Specs that the former ``center: bool`` field could express (framing "center" or
        "none", ``mag_eps == 0``) hash as they did then, so caches stay valid.
        """
        d = self.to_dict()
        d.pop("name")
        if d["framing"] in ("center", "none") and d["mag_eps"] == 0:
            d = {("center" if k == "framing" else k): (v == "center" if k == "framing" else v)
                 for k, v in d.items() if k != "mag_eps"}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> FeatureSpec:
        """Copy with some fields changed (validated again; ``center=`` sets the framing)."""
        return dataclasses.replace(self, **_legacy_center(self, changes))

    def __str__(self) -> str:
        return self.name if self.name != "custom" else f"custom-{self.key()[:8]}"


def _legacy_center(
    base: FeatureSpec | None, changes: Mapping[str, Any], *, strict: bool = False
) -> dict[str, Any]:
    """Translate the legacy ``center`` bool in ``changes`` into a ``framing``.

    ``center=True`` means "center"; ``center=False`` means "none", or keeps a "same"
    framing (given in ``changes`` or the base's: it is not centred either).
    ``center=None`` is ignored (the placeholder of Hydra's spec nodes). In mappings and
    overrides ``center`` wins over the framing it is given with (a Hydra node always
    carries the preset's framing); with ``strict`` (the constructor) a contradiction
    is an error.
    """
    d = dict(changes)
    if "center" not in d:
        return d
    center = d.pop("center")
    if center is None:
        return d
    if not isinstance(center, (bool, np.bool_)):
        raise ParameterError(f"FeatureSpec center={center!r}: must be true or false "
                             "(or use framing: center / same / none)")
    given = d.get("framing", base.framing if base is not None else "center")
    if strict and "framing" in d and (given == "center") != bool(center):
        raise ParameterError(
            f"FeatureSpec center={bool(center)} contradicts framing={given!r}; "
            "give only framing (center / same / none)")
    if center:
        d["framing"] = "center"
    else:
        d["framing"] = given if given != "center" else "none"
    return d


def _accept_center(init):
    """Wrap the dataclass ``__init__`` so that ``FeatureSpec(center=...)`` still works."""

    @functools.wraps(init)
    def __init__(self, *args: Any, center: bool | None = None, **kwargs: Any) -> None:
        if center is not None:
            kwargs = _legacy_center(None, {**kwargs, "center": center}, strict=True)
        init(self, *args, **kwargs)

    sig = inspect.signature(init)
    __init__.__signature__ = sig.replace(parameters=[
        *sig.parameters.values(),
        inspect.Parameter("center", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation="bool | None"),
    ])
    return __init__


FeatureSpec.__init__ = _accept_center(FeatureSpec.__init__)  # type: ignore[method-assign]


def _hifigan_style(name: str, sample_rate: int, n_fft: int, hop: int, n_mels: int,
                   fmax: float | None) -> FeatureSpec:
    """The HiFi-GAN / BigVGAN ``mel_spectrogram`` (see :data:`PRESETS`)."""
    return FeatureSpec(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, win_length=n_fft, window="hann",
        framing="same", pad_mode="reflect", n_mels=n_mels, fmin=0.0, fmax=fmax, htk=False,
        mel_norm="slaney", power=1, compression="ln", floor=1e-5, mag_eps=1e-9, name=name,
    )


def _pwg_style(name: str, sample_rate: int, n_fft: int, hop: int, win: int) -> FeatureSpec:
    """ParallelWaveGAN's ``logmelfilterbank`` (see :data:`PRESETS`)."""
    return FeatureSpec(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, win_length=win, window="hann",
        framing="center", pad_mode="reflect", n_mels=80, fmin=80.0, fmax=7600.0, htk=False,
        mel_norm="slaney", power=1, compression="log10", floor=1e-10, name=name,
    )


_TACOTRON2 = dict(
    sample_rate=22050, n_fft=1024, hop_length=256, win_length=1024, window="hann",
    framing="center", pad_mode="reflect", n_mels=80, fmin=0.0, fmax=8000.0, htk=False,
    mel_norm="slaney", power=1, compression="ln", floor=1e-5,
)

_TORCHAUDIO = dict(
    sample_rate=16000, n_fft=400, hop_length=200, win_length=400, window="hann",
    framing="center", pad_mode="reflect", n_mels=128, fmin=0.0, fmax=None, htk=True,
    mel_norm="none", power=2,
)

#: Named presets: melbench's own and the front ends of the models people run. Each
#: project's entry was checked against its public source (file named below) and is
#: tested against a re-implementation of that code in ``tests/test_frontends.py``.
#:
#: - ``librosa``: ``librosa.feature.melspectrogram`` defaults (22.05 kHz, 2048/512,
#:   128 Slaney bands, power, centre framing with zero padding), linear.
#: - ``librosa_db``: the same through ``librosa.power_to_db(S, ref=1.0, amin=1e-10)``
#:   (``10 log10(max(S, 1e-10))``). ``power_to_db(ref=np.max)`` divides by the clip's own
#:   maximum (the mel's maximum is exactly 0 dB) and so loses the absolute level: such a
#:   mel inverts to audio of the wrong loudness unless its level is restored; librosa's
#:   default ``top_db=80`` clips values more than 80 dB below the maximum (they invert as
#:   that floor).
#: - ``tts22k`` (= ``tacotron2``): NVIDIA/tacotron2 ``layers.py`` ``TacotronSTFT`` with
#:   ``hparams.py`` defaults: ``stft.py`` reflect-pads ``filter_length / 2`` each side and
#:   convolves a Hann-windowed Fourier basis with stride ``hop`` (centre framing, 1 + N // hop
#:   frames), magnitude ``sqrt(re^2 + im^2)``, ``librosa.filters.mel(22050, 1024, 80, 0, 8000)``,
#:   ``audio_processing.py`` ``dynamic_range_compression``: ``ln(max(x, 1e-5))``.
#: - ``hifigan_v1``: jik876/hifi-gan ``meldataset.py`` ``mel_spectrogram`` with
#:   ``config_v1.json`` (22.05 kHz, 1024/256/1024, 80 bands 0-8000 Hz): ``F.pad`` reflect by
#:   ``(n_fft - hop) / 2`` each side, ``torch.stft(center=False)`` with a periodic Hann window
#:   ("same" framing, N // hop frames), ``sqrt(re^2 + im^2 + 1e-9)``, ``librosa.filters.mel``
#:   (Slaney), ``ln(max(x, 1e-5))``.
#: - ``bigvgan_24k_100``, ``bigvgan_44k_128``, ``bigvgan_44k_128_256x``, ``bigvgan_22k_80``,
#:   ``bigvgan_22k_80_fmax8k``: NVIDIA/BigVGAN ``meldataset.py`` (the HiFi-GAN code path,
#:   ``fmax=None`` meaning sr/2) with ``configs/bigvgan_v2_24khz_100band_256x.json`` (24 kHz,
#:   1024/256, 100 bands), ``bigvgan_v2_44khz_128band_512x.json`` (44.1 kHz, 2048/512, 128),
#:   ``bigvgan_v2_44khz_128band_256x.json`` (44.1 kHz, 1024/256, 128),
#:   ``bigvgan_v2_22khz_80band_256x.json`` (22.05 kHz, 1024/256, 80, fmax None) and
#:   ``bigvgan_v2_22khz_80band_fmax8k_256x.json`` (fmax 8000: numerically ``hifigan_v1``).
#: - ``vocos_24k``: gemelo-ai/vocos ``vocos/feature_extractors.py`` ``MelSpectrogramFeatures``
#:   with ``configs/vocos.yaml`` (24 kHz, 1024/256, 100 bands, ``padding: center``):
#:   ``torchaudio.transforms.MelSpectrogram(power=1, center=True)`` (reflect padding, HTK
#:   scale, no filter normalisation, fmax sr/2) then ``safe_log``: ``ln(max(x, 1e-7))``.
#:   ``padding="same"`` pads ``(win - hop) // 2`` reflect and frames with ``center=False``:
#:   ``get_spec("vocos_24k", framing="same")``.
#: - ``pwg_22k``, ``pwg_24k``: kan-bayashi/ParallelWaveGAN ``parallel_wavegan/bin/preprocess.py``
#:   ``logmelfilterbank``: ``librosa.stft(pad_mode="reflect")`` (centre framing),
#:   ``np.abs``, ``librosa.filters.mel`` (Slaney), ``log10(max(x, 1e-10))``; with
#:   ``egs/ljspeech/voc1/conf/parallel_wavegan.v1.yaml`` (22.05 kHz, 1024/256/1024, 80 bands
#:   80-7600 Hz) and ``egs/jsut/voc1/conf/parallel_wavegan.v1.yaml`` (24 kHz, 2048/300/1200).
#:   These are the features before ``normalize.py``'s mean-variance scaling (undo it first).
#: - ``torchaudio``: ``torchaudio.transforms.MelSpectrogram()`` defaults (16 kHz, n_fft 400,
#:   hop 200, 128 HTK bands, ``norm=None``, power 2, centre framing with reflect padding),
#:   linear; ``torchaudio_db``: followed by ``AmplitudeToDB(stype="power")``
#:   (``10 log10(max(x, 1e-10))``, ref 1, ``top_db=None``).
#: - ``speech16k``: 16 kHz speech, linear magnitude (melbench's default).
#: - ``narrowband8k``: narrowband (telephone) speech, 8 kHz audio analysed with the long
#:   window of the 16 kHz preset (1024/256 Hann, centre framing with zero padding, 80 Slaney
#:   bands 0-4000 Hz, magnitude, ``ln(max(x, 1e-5))`` as the TTS front ends above; a
#:   linear one would make an 80-band linear mel ambiguous with ``speech16k`` for
#:   :func:`melbench.api.infer_spec`): 128 ms frames, 513 bins 7.8 Hz apart under 80
#:   bands, so each band spans about twice as many bins as at ``speech16k`` and the mel
#:   leaves more of the magnitude to infer; the front end of issue 16's robustness check
#:   (``nnls_consistent`` was reported 2 dB SC worse than ``nnls`` there).
PRESETS: dict[str, FeatureSpec] = {
    "librosa": FeatureSpec(name="librosa"),
    "librosa_db": FeatureSpec(compression="db", floor=1e-10, ref=1.0, name="librosa_db"),
    "tts22k": FeatureSpec(**_TACOTRON2, name="tts22k"),
    "tacotron2": FeatureSpec(**_TACOTRON2, name="tacotron2"),
    "speech16k": FeatureSpec(
        sample_rate=16000, n_fft=1024, hop_length=256, win_length=1024, window="hann",
        framing="center", pad_mode="constant", n_mels=80, fmin=0.0, fmax=8000.0, htk=False,
        mel_norm="slaney", power=1, compression="none", name="speech16k",
    ),
    "narrowband8k": FeatureSpec(
        sample_rate=8000, n_fft=1024, hop_length=256, win_length=1024, window="hann",
        framing="center", pad_mode="constant", n_mels=80, fmin=0.0, fmax=4000.0, htk=False,
        mel_norm="slaney", power=1, compression="ln", floor=1e-5, name="narrowband8k",
    ),
    "hifigan_v1": _hifigan_style("hifigan_v1", 22050, 1024, 256, 80, 8000.0),
    "bigvgan_24k_100": _hifigan_style("bigvgan_24k_100", 24000, 1024, 256, 100, None),
    "bigvgan_44k_128": _hifigan_style("bigvgan_44k_128", 44100, 2048, 512, 128, None),
    "bigvgan_44k_128_256x": _hifigan_style("bigvgan_44k_128_256x", 44100, 1024, 256, 128, None),
    "bigvgan_22k_80": _hifigan_style("bigvgan_22k_80", 22050, 1024, 256, 80, None),
    "bigvgan_22k_80_fmax8k": _hifigan_style("bigvgan_22k_80_fmax8k", 22050, 1024, 256, 80, 8000.0),
    "vocos_24k": FeatureSpec(
        sample_rate=24000, n_fft=1024, hop_length=256, win_length=1024, window="hann",
        framing="center", pad_mode="reflect", n_mels=100, fmin=0.0, fmax=None, htk=True,
        mel_norm="none", power=1, compression="ln", floor=1e-7, name="vocos_24k",
    ),
    "pwg_22k": _pwg_style("pwg_22k", 22050, 1024, 256, 1024),
    "pwg_24k": _pwg_style("pwg_24k", 24000, 2048, 300, 1200),
    "torchaudio": FeatureSpec(**_TORCHAUDIO, compression="none", name="torchaudio"),
    "torchaudio_db": FeatureSpec(**_TORCHAUDIO, compression="db", floor=1e-10, ref=1.0,
                                 name="torchaudio_db"),
}


def get_spec(spec: str | FeatureSpec | Mapping[str, Any] | None = None, **overrides: Any) -> FeatureSpec:
    """Resolve a preset name, a mapping of fields, or a spec, with optional overrides.

    Parameters
    ----------
    spec : str, FeatureSpec or mapping, optional
        A preset name from :data:`PRESETS`, a ``FeatureSpec``, or a mapping of its fields
        (e.g. a Hydra config node; a ``preset`` key selects the base). None = "speech16k".
    **overrides
        Field values replacing those of the base.

    Returns
    -------
    FeatureSpec
    """
    if spec is None:
        spec = "speech16k"
    if isinstance(spec, FeatureSpec):
        base = spec
    elif isinstance(spec, str):
        if spec not in PRESETS:
            raise ParameterError(
                f"unknown spec preset {spec!r}; available presets: {', '.join(sorted(PRESETS))}"
            )
        base = PRESETS[spec]
    elif isinstance(spec, Mapping):
        fields = {f.name for f in dataclasses.fields(FeatureSpec)}
        d = dict(spec)
        preset = d.pop("preset", None)
        unknown = sorted(set(d) - fields - {"center"})
        if unknown:
            raise ParameterError(
                f"unknown FeatureSpec field(s) {unknown}; valid fields: {sorted(fields)}"
            )
        base = PRESETS[preset] if preset in PRESETS else FeatureSpec()
        if preset is not None and preset not in PRESETS:
            raise ParameterError(f"unknown spec preset {preset!r}; available: {sorted(PRESETS)}")
        if preset is not None and "name" not in d:
            d["name"] = preset
        base = dataclasses.replace(base, **_legacy_center(base, d))
    else:
        raise ParameterError(f"cannot make a FeatureSpec from {type(spec).__name__}")
    if overrides:
        overrides = _legacy_center(base, overrides)
    if overrides:
        if base.name in PRESETS and "name" not in overrides and any(
            getattr(base, k) != v for k, v in overrides.items()
        ):
            overrides["name"] = base.name + "*"
        base = dataclasses.replace(base, **overrides)
    return base
