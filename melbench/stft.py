"""The STFT engine: real FFTs over all frames, overlap-add, and the STFT(ISTFT) projector.

These are plain functions with explicit arguments; :class:`melbench.spec.FeatureSpec`
wraps them so that plugins never build an STFT of their own. Conventions follow
librosa (the window centred inside the ``n_fft`` frame, phase relative to the frame
start, istft normalised by the window sum-square), so the numbers equal
``librosa.stft``/``librosa.istft`` for the same settings. Three framings
(:data:`FRAMINGS`, :func:`frame_padding`) say how the signal is padded before framing:
"center" (``n_fft // 2`` each side, librosa/torch ``center=True``), "same"
(``(n_fft - hop) // 2`` each side, then ``center=False``: HiFi-GAN, BigVGAN, Vocos
``padding="same"``) and "none" (no padding, ``center=False``). Shapes: audio
``(..., n_samples)``, STFT ``(..., n_freq, n_frames)``; leading batch axes are carried
through. Windows and framing (:func:`get_window`, :func:`frame_padding`,
:func:`n_frames`) live in :mod:`melbench.framing` and are importable from here too.
"""

from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np
import scipy.fft

from . import costs as _costs
from .errors import InputError, ParameterError
from .framing import (  # noqa: F401 - re-exported: stft.get_window, stft.n_frames... stay valid
    FRAMINGS,
    GAUSS_CG,
    WINDOWS,
    frame_padding,
    get_window,
    n_frames,
    resolve_framing,
)
from .kernel_flags import FASTMATH

#: Default number of FFT worker threads (scipy.fft ``workers``); 1 keeps timings honest.
FFT_WORKERS = 1


def stft(
    y: np.ndarray,
    *,
    n_fft: int,
    hop_length: int,
    window: np.ndarray,
    framing: str | None = None,
    pad_mode: str = "constant",
    dtype: type | np.dtype | None = None,
    workers: int | None = None,
    center: bool | None = None,
) -> np.ndarray:
    """Short-time Fourier transform of real signals (librosa conventions).

    Parameters
    ----------
    y : np.ndarray, shape (..., n_samples)
        Real audio.
    n_fft, hop_length : int
        Frame length and hop in samples.
    window : np.ndarray, shape (n_fft,)
        Analysis window (see :func:`get_window`).
    framing : {"center", "same", "none"}, optional
        Padding before framing (:func:`frame_padding`); default "center" (frame ``t``
        centred at ``t * hop``).
    pad_mode : str
        ``numpy.pad`` mode for the padding ("constant" is librosa's default).
    dtype : dtype, optional
        Real working precision; defaults to float32 unless ``y`` is float64.
    workers : int, optional
        scipy.fft worker threads (default :data:`FFT_WORKERS`).
    center : bool, optional
        Legacy form of ``framing`` (True = "center", False = "none").

    Returns
    -------
    np.ndarray, shape (..., n_fft // 2 + 1, n_frames)
        Complex STFT (complex64 for float32 work).
    """
    y = np.asarray(y)
    if dtype is None:
        dtype = np.float64 if y.dtype == np.float64 else np.float32
    y = y.astype(dtype, copy=False)
    framing = resolve_framing(framing, center)
    p = frame_padding(framing, n_fft, hop_length)
    n_frames(y.shape[-1], n_fft, hop_length, framing=framing)
    if p:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(p, p)], mode=pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop_length, :]
    frames = frames * window.astype(dtype, copy=False)  # one contiguous copy, windowed
    spec = scipy.fft.rfft(frames, axis=-1, workers=workers or FFT_WORKERS, overwrite_x=True)
    _costs.add_frame_ffts(frames.size // n_fft)  # cost accounting (melbench.costs)
    return np.swapaxes(spec, -1, -2)


# --------------------------------------------------------------------------- overlap-add


# Loops index slice views from 0 (``o = out[b, s:s + nf]``) so that LLVM vectorises them;
# with ``o[s + j]`` numba's negative-index handling blocks SIMD (about 6x slower).


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _ola_kernel(frames, window, hop, out):  # pragma: no cover - compiled
    """``out[b, i*hop + j] = sum_i window[j] * frames[b, i, j]`` (out is overwritten)."""
    nb, nt, nf = frames.shape
    for b in range(nb):
        out[b, :] = 0
        for i in range(nt):
            f = frames[b, i]
            o = out[b, i * hop : i * hop + nf]
            for j in range(nf):
                o[j] += f[j] * window[j]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _ola_scale_kernel(frames, window, hop, scale, out):  # pragma: no cover - compiled
    """:func:`_ola_kernel` then ``out *= scale``.

    Each hop-block is scaled as soon as no later frame touches it, while in cache.
    """
    nb, nt, nf = frames.shape
    n = out.shape[1]
    for b in range(nb):
        out[b, :] = 0
        for i in range(nt):
            f = frames[b, i]
            o = out[b, i * hop : i * hop + nf]
            for j in range(nf):
                o[j] += f[j] * window[j]
            done = out[b, i * hop : (i + 1) * hop]  # complete: frame i+1 starts after it
            sc = scale[i * hop : (i + 1) * hop]
            for j in range(hop):
                done[j] *= sc[j]
        tail = out[b, nt * hop : n]
        sc = scale[nt * hop : n]
        for j in range(n - nt * hop):
            tail[j] *= sc[j]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _frame_kernel(y, scale, window, hop, frames):  # pragma: no cover - compiled
    """``y *= scale`` then ``frames[b, i, j] = window[j] * y[b, i*hop + j]``."""
    nb, nt, nf = frames.shape
    n = y.shape[1]
    for b in range(nb):
        yb = y[b]
        for s in range(n):
            yb[s] *= scale[s]
        for i in range(nt):
            f = frames[b, i]
            src = yb[i * hop : i * hop + nf]
            for j in range(nf):
                f[j] = window[j] * src[j]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _frame_only_kernel(y, window, hop, frames):  # pragma: no cover - compiled
    """``frames[b, i, j] = window[j] * y[b, i*hop + j]``."""
    nb, nt, nf = frames.shape
    for b in range(nb):
        for i in range(nt):
            f = frames[b, i]
            src = y[b, i * hop : i * hop + nf]
            for j in range(nf):
                f[j] = window[j] * src[j]


@numba.njit(cache=True, nogil=True)
def _fill_padding_kernel(y, p, lo, hi, reflect):  # pragma: no cover - compiled
    """Refill ``y[:, :lo]`` and ``y[:, hi:]`` from the signal ``y[:, lo:hi]`` in place.

    ``reflect`` True: numpy's "reflect" (mirror without repeating the edge sample), else
    "edge" (the edge sample repeated), over ``p`` samples each side; samples beyond
    ``hi + p`` become 0. Needs ``hi - lo > p`` (the reflection fits in the signal) and
    ``lo == p``: the same values as :meth:`Projector._fill_padding_numpy`.
    """
    nb, n = y.shape
    m = min(n - hi, p)
    for b in range(nb):
        yb = y[b]
        for i in range(lo):
            yb[i] = yb[lo + p - i] if reflect else yb[lo]
        for i in range(m):
            yb[hi + i] = yb[hi - 2 - i] if reflect else yb[hi - 1]
        for i in range(hi + m, n):
            yb[i] = 0


def _overlap_add(frames: np.ndarray, hop_length: int, window: np.ndarray | None = None) -> np.ndarray:
    """Overlap-add frames ``(..., n_frames, n_fft)`` with a hop (optionally windowed first)."""
    frames = np.asarray(frames)
    *lead, t, n_fft = frames.shape
    out_len = n_fft + hop_length * (t - 1)
    f3 = np.ascontiguousarray(frames.reshape(-1, t, n_fft))
    win = np.ones(n_fft, f3.dtype) if window is None else np.asarray(window, dtype=f3.dtype)
    out = np.empty((f3.shape[0], out_len), dtype=f3.dtype)
    _ola_kernel(f3, win, int(hop_length), out)
    return out.reshape(*lead, out_len)


@functools.lru_cache(maxsize=32)
def _wss_cached(window_key: bytes, n_fft: int, hop_length: int, n_frames_: int, dtype: str):
    win = np.frombuffer(window_key, dtype=np.float64)
    wss = _overlap_add(np.ones((1, n_frames_, n_fft)), hop_length, win**2)[0]
    wss = wss.astype(dtype)
    wss.setflags(write=False)
    return wss


def window_sumsquare(window: np.ndarray, n_frames_: int, hop_length: int, dtype=np.float32):
    """Sum of squared, overlapped windows (the istft normaliser), cached.

    Parameters
    ----------
    window : np.ndarray, shape (n_fft,)
        The window.
    n_frames_ : int
        Number of frames.
    hop_length : int
        Hop in samples.
    dtype : dtype
        Output dtype.

    Returns
    -------
    np.ndarray, shape (n_fft + hop_length * (n_frames_ - 1),)
        Read-only array.
    """
    w = np.ascontiguousarray(window, dtype=np.float64)
    return _wss_cached(w.tobytes(), w.size, hop_length, n_frames_, np.dtype(dtype).str)


@functools.lru_cache(maxsize=32)
def _inv_wss_cached(window_key: bytes, n_fft: int, hop_length: int, n_frames_: int, dtype: str):
    wss = window_sumsquare(np.frombuffer(window_key, dtype=np.float64), n_frames_, hop_length,
                           np.float64)
    tiny = np.finfo(np.dtype(dtype)).tiny
    inv = np.zeros_like(wss)
    nz = wss.astype(dtype) > tiny
    inv[nz] = 1.0 / wss[nz]
    inv = inv.astype(dtype)
    inv.setflags(write=False)
    return inv


def istft(
    stft_matrix: np.ndarray,
    *,
    n_fft: int,
    hop_length: int,
    window: np.ndarray,
    framing: str | None = None,
    length: int | None = None,
    workers: int | None = None,
    center: bool | None = None,
) -> np.ndarray:
    """Inverse STFT by weighted overlap-add (librosa conventions).

    Parameters
    ----------
    stft_matrix : np.ndarray, shape (..., n_fft // 2 + 1, n_frames)
        Complex STFT.
    n_fft, hop_length : int
        Frame length and hop.
    window : np.ndarray, shape (n_fft,)
        Synthesis window (the analysis window: least-squares ISTFT).
    framing : {"center", "same", "none"}, optional
        Framing of :func:`stft` (default "center"); its padding is removed, so output
        sample 0 is sample 0 of the analysed signal.
    length : int, optional
        Output length in samples (zero-padded or trimmed), as ``librosa.istft``.
    workers : int, optional
        scipy.fft worker threads.
    center : bool, optional
        Legacy form of ``framing``.

    Returns
    -------
    np.ndarray, shape (..., n_samples)
        Real signal (float32 for complex64 input).
    """
    x = np.asarray(stft_matrix)
    if x.ndim < 2 or x.shape[-2] != n_fft // 2 + 1:
        raise InputError(
            f"STFT has shape {x.shape} but n_fft={n_fft} needs (..., {n_fft // 2 + 1}, frames)"
        )
    rdtype = np.float64 if x.dtype == np.complex128 else np.float32
    lead, t = x.shape[:-2], x.shape[-1]
    frames = scipy.fft.irfft(np.swapaxes(x, -1, -2), n=n_fft, axis=-1,
                             workers=workers or FFT_WORKERS)
    frames = np.ascontiguousarray(frames.reshape(-1, t, n_fft), dtype=rdtype)
    _costs.add_frame_ffts(frames.shape[0] * t)  # cost accounting (melbench.costs)
    w = np.ascontiguousarray(window, dtype=np.float64)
    y = np.empty((frames.shape[0], n_fft + hop_length * (t - 1)), dtype=rdtype)
    _ola_kernel(frames, w.astype(rdtype), int(hop_length), y)
    y *= _inv_wss_cached(w.tobytes(), n_fft, hop_length, t, np.dtype(rdtype).str)
    y = y.reshape(*lead, y.shape[-1])
    start = frame_padding(resolve_framing(framing, center), n_fft, hop_length)
    if length is None:
        return y[..., start : y.shape[-1] - start]
    y = y[..., start : start + length]
    if y.shape[-1] < length:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    return y


# --------------------------------------------------------------------------- projector


class Projector:
    """``P1(X) = STFT(ISTFT(X))`` for one geometry, with buffers reused across calls.

    Built once per (STFT settings, number of frames, batch shape, dtype), it works
    in a *frame-major* internal layout ``(B, n_frames, n_freq)`` (C-contiguous, so
    every real FFT runs over contiguous rows) and does per call: one ``irfft``
    over all frames, one compiled pass doing the windowed overlap-add, the
    window-sum-square normalisation and the re-padding constraint, one compiled
    pass re-framing and windowing, and one ``rfft``. Nothing is re-padded or
    re-allocated besides the two FFT outputs.

    The result equals ``stft(istft(X, length=length), ...)`` with the same
    settings (librosa conventions; float rounding aside), under every framing
    (:data:`FRAMINGS`): samples outside the signal's ``length`` are zero
    (``pad_mode="constant"``) or re-filled by the padding rule ("reflect", "edge")
    over the framing's padding (:func:`frame_padding`). With constant padding the map is the
    orthogonal projection on consistent spectrograms (in the full-spectrum
    norm), which is what Griffin-Lim's monotonicity rests on.

    Parameters
    ----------
    n_fft, hop_length : int
        Frame length and hop.
    window : np.ndarray, shape (n_fft,)
        Analysis = synthesis window.
    framing : {"center", "same", "none"}, optional
        Framing (default "center"); ``center`` (bool) is its legacy form.
    pad_mode : str
        Padding mode of "center" / "same" ("constant", "reflect" or "edge").
    n_frames : int
        Number of frames of the spectrograms to project.
    batch_shape : tuple of int
        Leading batch axes (spectrograms ``(*batch_shape, n_freq, n_frames)``).
    dtype : dtype
        Real working precision (float32 default; complex64 spectrograms).
    length : int, optional
        Signal length. Default with a padded framing ("center", "same"): the
        *longest* signal that has ``n_frames`` frames (``istft``'s natural length +
        ``hop_length - 1``), so that the STFT of every clip giving these frames is a
        fixed point (with the natural length, a clip whose length is not a multiple of
        the hop would lose its last samples at every projection). With "none": the
        natural length (later samples are in no frame).
    workers : int, optional
        scipy.fft worker threads.
    """

    def __init__(
        self,
        *,
        n_fft: int,
        hop_length: int,
        window: np.ndarray,
        framing: str | None = None,
        pad_mode: str = "constant",
        n_frames: int,
        batch_shape: tuple[int, ...] = (),
        dtype: type | np.dtype = np.float32,
        length: int | None = None,
        workers: int | None = None,
        center: bool | None = None,
    ) -> None:
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.n_freq = self.n_fft // 2 + 1
        self.n_frames = int(n_frames)
        if self.n_frames < 1:
            raise InputError(f"n_frames={n_frames}: need at least one frame")
        self.batch_shape = tuple(int(b) for b in batch_shape)
        self.batch = int(np.prod(self.batch_shape, dtype=np.int64)) if self.batch_shape else 1
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ParameterError(f"dtype={self.dtype}; choose float32 or float64")
        self.cdtype = np.dtype(np.complex64 if self.dtype == np.float32 else np.complex128)
        self.framing, self.pad_mode = resolve_framing(framing, center), str(pad_mode)
        self.workers = workers or FFT_WORKERS
        w64 = np.ascontiguousarray(window, dtype=np.float64)
        if w64.shape != (self.n_fft,):
            raise InputError(f"window has shape {w64.shape}; need ({self.n_fft},)")
        self.window = w64.astype(self.dtype)
        self._wkey = w64.tobytes()
        self.n_covered = self.n_fft + self.hop_length * (self.n_frames - 1)
        self.pad = frame_padding(self.framing, self.n_fft, self.hop_length)
        natural = self.n_covered - 2 * self.pad
        if length is None:  # the longest signal with n_frames frames (see the class notes)
            length = natural + (self.hop_length - 1 if self.pad else 0)
        self.length = int(length)
        if self.length <= 0:
            raise InputError(f"length={self.length}: the signal would be empty")
        lo, hi = self.pad, min(self.pad + self.length, self.n_covered)
        self._lo, self._hi = lo, hi
        scale = _inv_wss_cached(self._wkey, self.n_fft, self.hop_length, self.n_frames,
                                self.dtype.str).copy()
        scale[:lo] = 0  # outside the signal: zero (refilled below for reflect/edge padding)
        scale[hi:] = 0
        self._scale = scale
        self._refill = self.pad > 0 and self.pad_mode != "constant"
        # the compiled refill covers reflect/edge when the reflection fits in the signal
        self._fill_fast = (self.pad_mode in ("reflect", "edge") and lo == self.pad
                           and hi - lo > self.pad)
        self._ybuf = np.empty((self.batch, self.n_covered), dtype=self.dtype)

    @classmethod
    def from_spec(cls, spec, n_frames: int, **kwargs) -> Projector:
        """Projector for a :class:`~melbench.spec.FeatureSpec` (keywords as the constructor)."""
        return cls(n_fft=spec.n_fft, hop_length=spec.hop_length, window=spec.window_array,
                   framing=spec.framing, pad_mode=spec.pad_mode, n_frames=n_frames, **kwargs)

    @property
    def center(self) -> bool:
        """True for the "center" framing (legacy)."""
        return self.framing == "center"

    # ---------------------------------------------------------------- layout
    @property
    def shape(self) -> tuple[int, int, int]:
        """Internal (frame-major) shape ``(B, n_frames, n_freq)``."""
        return (self.batch, self.n_frames, self.n_freq)

    def to_internal(self, x: np.ndarray, dtype: Any = None) -> np.ndarray:
        """``(..., n_freq, n_frames)`` -> contiguous ``(B, n_frames, n_freq)`` copy."""
        x = np.asarray(x)
        want = (*self.batch_shape, self.n_freq, self.n_frames)
        if x.shape != want:
            raise InputError(f"array has shape {x.shape}; this projector expects {want}")
        out = np.swapaxes(x.reshape(self.batch, self.n_freq, self.n_frames), -1, -2)
        return np.ascontiguousarray(out, dtype=dtype)

    def from_internal(self, z: np.ndarray) -> np.ndarray:
        """``(B, n_frames, n_freq)`` -> contiguous ``(..., n_freq, n_frames)``."""
        out = np.ascontiguousarray(np.swapaxes(z, -1, -2))
        return out.reshape(*self.batch_shape, self.n_freq, self.n_frames)

    # ---------------------------------------------------------------- transforms
    def _signal(self, z: np.ndarray, overwrite: bool) -> np.ndarray:
        """Padded, normalised ISTFT signal of internal ``z`` in the shared buffer."""
        frames = scipy.fft.irfft(z, n=self.n_fft, axis=-1, workers=self.workers,
                                 overwrite_x=overwrite)
        _costs.add_frame_ffts(frames.shape[0] * frames.shape[1])  # melbench.costs
        _ola_kernel(frames, self.window, self.hop_length, self._ybuf)
        return frames

    def _fill_padding(self) -> None:
        """Refill the framing's padding of the signal buffer by the padding rule."""
        if self._fill_fast:
            _fill_padding_kernel(self._ybuf, self.pad, self._lo, self._hi,
                                 self.pad_mode == "reflect")
        else:
            self._fill_padding_numpy()

    def _fill_padding_numpy(self) -> None:
        """:meth:`_fill_padding` by ``np.pad`` (every mode, every signal length)."""
        y, p, lo, hi = self._ybuf, self.pad, self._lo, self._hi
        n_sig = hi - lo
        k = min(p + 1, n_sig)
        left = np.pad(y[:, lo : lo + k], ((0, 0), (p, 0)), mode=self.pad_mode)[:, :p]
        y[:, :lo] = left[:, p - lo :]
        n_right = self.n_covered - hi
        if n_right > 0:
            right = np.pad(y[:, hi - k : hi], ((0, 0), (0, p)), mode=self.pad_mode)[:, k:]
            m = min(n_right, p)
            y[:, hi : hi + m] = right[:, :m]
            y[:, hi + m :] = 0

    def project(self, z: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
        """``P1`` in the internal layout: a new ``(B, n_frames, n_freq)`` array.

        Parameters
        ----------
        z : np.ndarray, shape (B, n_frames, n_freq)
            Complex spectrogram (internal layout, C-contiguous, working dtype).
        overwrite : bool
            Allow the inverse FFT to destroy ``z`` (saves a copy).

        Returns
        -------
        np.ndarray
            ``STFT(ISTFT(z))`` in the internal layout.
        """
        frames = scipy.fft.irfft(z, n=self.n_fft, axis=-1, workers=self.workers,
                                 overwrite_x=overwrite)
        _ola_scale_kernel(frames, self.window, self.hop_length, self._scale, self._ybuf)
        if self._refill:
            self._fill_padding()
        _frame_only_kernel(self._ybuf, self.window, self.hop_length, frames)
        _costs.add_frame_ffts(2 * frames.shape[0] * frames.shape[1])  # one pair (melbench.costs)
        return scipy.fft.rfft(frames, axis=-1, workers=self.workers, overwrite_x=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``P1`` in the public layout ``(..., n_freq, n_frames)``."""
        return self.from_internal(self.project(self.to_internal(x, self.cdtype), overwrite=True))

    def synthesize(self, z: np.ndarray, length: int | None = None) -> np.ndarray:
        """ISTFT of internal ``z`` -> signal ``(..., length)`` (default the projector's)."""
        self._signal(z, False)
        y = self._ybuf * _inv_wss_cached(
            self._wkey, self.n_fft, self.hop_length, self.n_frames, self.dtype.str)
        length = self.length if length is None else int(length)
        y = y[:, self.pad : self.pad + length]
        if y.shape[-1] < length:
            y = np.pad(y, ((0, 0), (0, length - y.shape[-1])))
        return y.reshape(*self.batch_shape, length)
