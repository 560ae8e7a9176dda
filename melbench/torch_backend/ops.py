"""STFT, inverse STFT and the consistency projection on tensors, with melbench's conventions.

The same conventions as :mod:`melbench.stft` (librosa's): the spec's framing pads
``spec.frame_padding`` samples each side with ``spec.pad_mode`` ("center": ``n_fft // 2``,
"same": ``(n_fft - hop) // 2``, "none": 0), the window (centred in
the ``n_fft`` frame) is the analysis and synthesis window, the inverse divides
by the window sum-square (0 where it vanishes). :class:`TorchProjector` is
:class:`melbench.stft.Projector` on tensors: the same signal length (by default
the longest signal with the given frame count), the same zeroing outside the
signal and the same refill of reflect/edge padding. Shapes: spectrograms
``(..., n_freq, frames)``, signals ``(..., n_samples)``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, ParameterError
from ..spec import FeatureSpec
from ..stft import _inv_wss_cached

#: torch's name of each ``spec.pad_mode``.
PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}


def real_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for float64/complex128 tensors, else float32 (melbench's default)."""
    return torch.float64 if x.dtype in (torch.float64, torch.complex128) else torch.float32


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype of a real working precision."""
    return torch.complex128 if dtype == torch.float64 else torch.complex64


@functools.lru_cache(maxsize=64)
def _const(key: str, spec: FeatureSpec, device: str, dtype: torch.dtype, *args: int) -> torch.Tensor:
    if key == "window":
        arr = spec.window_array
    elif key == "mel_basis":
        arr = spec.mel_basis(np.float64)
    elif key == "pinv":
        from ..inverters.pinv import pinv_operator

        arr = pinv_operator(spec, "<f8")
    else:  # "inv_wss": 1 / window sum-square for n_frames = args[0]
        w = np.ascontiguousarray(spec.window_array, dtype=np.float64)
        arr = _inv_wss_cached(w.tobytes(), spec.n_fft, spec.hop_length, args[0], "<f8")
    return torch.as_tensor(np.array(arr, dtype=np.float64), dtype=dtype, device=device)


def constant(key: str, spec: FeatureSpec, device: torch.device | str, dtype: torch.dtype,
             *args: int) -> torch.Tensor:
    """A cached per-spec tensor: "window", "mel_basis", "pinv" or "inv_wss" (with n_frames)."""
    return _const(key, spec, str(torch.device(device)), dtype, *args)


def padding(spec: FeatureSpec) -> int:
    """Samples padded on each side before framing (:func:`melbench.stft.frame_padding`)."""
    from ..stft import frame_padding

    return frame_padding(getattr(spec, "framing", spec.center), spec.n_fft, spec.hop_length)


def check_framing(spec: FeatureSpec) -> str | None:
    """Reason the torch backend cannot follow ``spec``'s framing (None when it can)."""
    if spec.pad_mode not in PAD_MODES:
        return f"pad_mode={spec.pad_mode!r} is not supported by the torch backend"
    return None


def _flat(x: torch.Tensor, tail: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    lead = tuple(x.shape[: x.ndim - tail])
    return x.reshape(-1, *x.shape[x.ndim - tail :]), lead


def stft(y: torch.Tensor, spec: FeatureSpec) -> torch.Tensor:
    """STFT of real signals ``(..., n_samples)`` -> complex ``(..., n_freq, frames)``.

    Equal to :meth:`FeatureSpec.stft` (librosa conventions) within rounding.
    """
    why = check_framing(spec)
    if why:
        raise ParameterError(why)
    y2, lead = _flat(y, 1)
    y2 = y2.to(real_dtype(y))
    p = padding(spec)
    if p:
        y2 = F.pad(y2[:, None], (p, p), mode=PAD_MODES[spec.pad_mode])[:, 0]
    if y2.shape[-1] < spec.n_fft:
        raise InputError(f"signal of {y.shape[-1]} samples is shorter than one frame "
                         f"(n_fft={spec.n_fft}); use a longer clip or a smaller n_fft")
    w = constant("window", spec, y.device, y2.dtype)
    frames = y2.unfold(-1, spec.n_fft, spec.hop_length) * w
    x = torch.fft.rfft(frames, dim=-1).transpose(-1, -2)
    return x.reshape(*lead, *x.shape[-2:])


def _overlap_add(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """Frames ``(B, T, n_fft)`` overlap-added with ``hop`` -> ``(B, n_fft + hop (T - 1))``.

    With ``n_fft`` a multiple of ``hop`` (the usual case) this is ``n_fft / hop`` shifted
    additions of ``(B, T, hop)`` blocks, much faster on CPU than ``fold`` (col2im).
    """
    b, t, n_fft = frames.shape
    n = n_fft + hop * (t - 1)
    if n_fft % hop == 0:
        r = n_fft // hop
        blocks = frames.reshape(b, t, r, hop)
        y = frames.new_zeros((b, t + r - 1, hop))
        for k in range(r):
            y[:, k : k + t] += blocks[:, :, k]
        return y.reshape(b, n)
    out = F.fold(frames.transpose(1, 2), output_size=(1, n), kernel_size=(1, n_fft),
                 stride=(1, hop))
    return out.reshape(b, n)


def istft(x: torch.Tensor, spec: FeatureSpec, length: int | None = None) -> torch.Tensor:
    """Inverse STFT (weighted overlap-add) of ``(..., n_freq, frames)`` -> ``(..., n_samples)``.

    Equal to :meth:`FeatureSpec.istft` within rounding; ``length`` trims or zero-pads.
    """
    why = check_framing(spec)
    if why:
        raise ParameterError(why)
    if x.ndim < 2 or x.shape[-2] != spec.n_freq:
        raise InputError(f"STFT has shape {tuple(x.shape)} but n_fft={spec.n_fft} needs "
                         f"(..., {spec.n_freq}, frames)")
    x2, lead = _flat(x, 2)
    rd = real_dtype(x2)
    t = x2.shape[-1]
    w = constant("window", spec, x.device, rd)
    frames = torch.fft.irfft(x2.transpose(-1, -2), n=spec.n_fft, dim=-1) * w
    y = _overlap_add(frames, spec.hop_length) * constant("inv_wss", spec, x.device, rd, t)
    start = padding(spec)
    if length is None:
        y = y[:, start : y.shape[-1] - start]
    else:
        y = y[:, start : start + int(length)]
        if y.shape[-1] < length:
            y = F.pad(y, (0, int(length) - y.shape[-1]))
    return y.reshape(*lead, y.shape[-1])


class TorchProjector:
    """``P1(X) = STFT(ISTFT(X))`` on tensors, as :class:`melbench.stft.Projector`.

    Works, like the numpy projector, in a frame-major internal layout
    ``(B, n_frames, n_freq)`` (every FFT over contiguous rows); :meth:`to_internal`
    and :meth:`from_internal` convert from and to ``(B, n_freq, n_frames)``.

    Parameters
    ----------
    spec : FeatureSpec
        STFT contract (window, hop, centring, padding mode).
    n_frames : int
        Frames of the spectrograms to project.
    device : torch.device or str
        Where the constants live.
    dtype : torch.dtype
        Real working precision (float32 default).
    length : int, optional
        Signal length; default as :class:`melbench.stft.Projector` (with a padded
        framing the longest signal with ``n_frames`` frames, else the natural length).
    """

    def __init__(self, spec: FeatureSpec, n_frames: int, *, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32, length: int | None = None) -> None:
        why = check_framing(spec)
        if why:
            raise ParameterError(why)
        if n_frames < 1:
            raise InputError(f"n_frames={n_frames}: need at least one frame")
        self.spec, self.n_frames, self.dtype = spec, int(n_frames), dtype
        self.n_fft, self.hop = spec.n_fft, spec.hop_length
        self.pad = padding(spec)
        self.n_covered = self.n_fft + self.hop * (self.n_frames - 1)
        natural = self.n_covered - 2 * self.pad
        if length is None:
            length = natural + (self.hop - 1 if self.pad else 0)
        self.length = int(length)
        if self.length <= 0:
            raise InputError(f"length={self.length}: the signal would be empty")
        self.lo, self.hi = self.pad, min(self.pad + self.length, self.n_covered)
        self.window = constant("window", spec, device, dtype)
        self.inv_wss = constant("inv_wss", spec, device, dtype, self.n_frames)
        scale = self.inv_wss.clone()
        scale[: self.lo] = 0
        scale[self.hi :] = 0
        self.scale = scale
        self.refill = self.pad > 0 and spec.pad_mode != "constant"

    @staticmethod
    def to_internal(x: torch.Tensor) -> torch.Tensor:
        """``(B, n_freq, n_frames)`` -> contiguous ``(B, n_frames, n_freq)``."""
        return x.transpose(-1, -2).contiguous()

    @staticmethod
    def from_internal(z: torch.Tensor) -> torch.Tensor:
        """``(B, n_frames, n_freq)`` -> contiguous ``(B, n_freq, n_frames)``."""
        return z.transpose(-1, -2).contiguous()

    def signal(self, z: torch.Tensor) -> torch.Tensor:
        """Padded, normalised ISTFT ``(B, n_covered)`` of internal ``z``."""
        frames = torch.fft.irfft(z, n=self.n_fft, dim=-1)
        frames.mul_(self.window)
        y = _overlap_add(frames, self.hop)
        y.mul_(self.scale)
        if self.refill:
            sig = y[:, self.lo : self.hi]
            p = self.pad
            y = F.pad(sig[:, None], (p, p), mode=PAD_MODES[self.spec.pad_mode])[:, 0]
            y = y[:, : self.n_covered]
            if y.shape[-1] < self.n_covered:
                y = F.pad(y, (0, self.n_covered - y.shape[-1]))
        return y

    def frames_of(self, y: torch.Tensor) -> torch.Tensor:
        """Internal STFT ``(B, n_frames, n_freq)`` of a padded signal ``(B, n_covered)``."""
        return torch.fft.rfft(y.unfold(-1, self.n_fft, self.hop) * self.window, dim=-1)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """``P1`` of internal ``z`` ``(B, n_frames, n_freq)`` (complex)."""
        return self.frames_of(self.signal(z))

    def synthesize(self, z: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """ISTFT of internal ``z`` -> ``(B, length)`` (default the projector's length)."""
        frames = torch.fft.irfft(z, n=self.n_fft, dim=-1) * self.window
        y = _overlap_add(frames, self.hop) * self.inv_wss
        n = self.length if length is None else int(length)
        y = y[:, self.pad : self.pad + n]
        return F.pad(y, (0, n - y.shape[-1])) if y.shape[-1] < n else y


def decompress(mel: torch.Tensor, spec: FeatureSpec) -> torch.Tensor:
    """Undo the spec's compression (as :meth:`FeatureSpec.decompress`): the linear mel."""
    if spec.compression == "none":
        return mel
    if spec.compression == "ln":
        return torch.exp(mel)
    if spec.compression == "log10":
        return torch.pow(10.0, mel)
    scale = 10.0 if spec.power == 2 else 20.0
    return spec.ref * torch.pow(10.0, mel / scale)
