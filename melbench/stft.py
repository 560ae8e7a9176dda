"""The STFT engine: windows, framing, real FFTs over all frames, overlap-add.

These are plain functions with explicit arguments; :class:`melbench.spec.FeatureSpec`
wraps them so that plugins never build an STFT of their own. Conventions follow
librosa (``center`` padding by ``n_fft // 2``, the window centred inside the
``n_fft`` frame, phase relative to the frame start, istft normalised by the
window sum-square), so the numbers equal ``librosa.stft``/``librosa.istft`` for
the same settings. Shapes: audio ``(..., n_samples)``, STFT ``(..., n_freq, n_frames)``;
leading batch axes are carried through.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
import scipy.signal

from .errors import InputError, ParameterError

#: Window names FeatureSpec accepts (periodic, "fftbins" windows as librosa uses).
WINDOWS = ("hann", "hamming", "blackman", "sqrt_hann", "gaussian", "boxcar")

#: Relative height at the edges of the truncated Gaussian window: ``exp(-pi t^2/gamma)``
#: with ``gamma = 0.170547 * win_length**2`` falls to 1% at the frame edges (LTFAT's
#: "truncgauss"), so PGHI's constant for it applies unchanged.
GAUSS_CG = 0.17054704423023

#: Default number of FFT worker threads (scipy.fft ``workers``); 1 keeps timings honest.
FFT_WORKERS = 1


@functools.lru_cache(maxsize=64)
def _window_cached(name: str, win_length: int, n_fft: int) -> np.ndarray:
    if name == "sqrt_hann":
        w = np.sqrt(scipy.signal.get_window("hann", win_length, fftbins=True))
    elif name == "gaussian":
        t = np.arange(win_length) - win_length / 2.0
        w = np.exp(-np.pi * t**2 / (GAUSS_CG * win_length**2))
    elif name in WINDOWS:
        w = scipy.signal.get_window(name, win_length, fftbins=True)
    else:
        raise ParameterError(
            f"window={name!r} is not supported; choose one of {', '.join(WINDOWS)}"
        )
    if win_length < n_fft:  # centre the window inside the frame, as librosa does
        lpad = (n_fft - win_length) // 2
        w = np.pad(w, (lpad, n_fft - win_length - lpad))
    w = np.asarray(w, dtype=np.float64)
    w.setflags(write=False)
    return w


def get_window(name: str, win_length: int, n_fft: int | None = None) -> np.ndarray:
    """Return a periodic analysis window, zero-padded (centred) to ``n_fft``.

    Parameters
    ----------
    name : str
        One of :data:`WINDOWS`.
    win_length : int
        Window support in samples.
    n_fft : int, optional
        Frame length; defaults to ``win_length``.

    Returns
    -------
    np.ndarray
        float64 array of length ``n_fft`` (read-only, cached).
    """
    return _window_cached(name, int(win_length), int(n_fft or win_length))


def n_frames(n_samples: int, n_fft: int, hop_length: int, center: bool) -> int:
    """Number of STFT frames for a signal of ``n_samples`` samples."""
    n = n_samples + (2 * (n_fft // 2) if center else 0)
    if n < n_fft:
        raise InputError(
            f"signal of {n_samples} samples is shorter than one frame (n_fft={n_fft}"
            f"{', after centre padding' if center else ''}); use a longer clip or a smaller n_fft"
        )
    return 1 + (n - n_fft) // hop_length


def stft(
    y: np.ndarray,
    *,
    n_fft: int,
    hop_length: int,
    window: np.ndarray,
    center: bool = True,
    pad_mode: str = "constant",
    dtype: type | np.dtype | None = None,
    workers: int | None = None,
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
    center : bool
        Pad ``n_fft // 2`` samples on both sides so frame ``t`` is centred at ``t * hop``.
    pad_mode : str
        ``numpy.pad`` mode for the centre padding ("constant" is librosa's default).
    dtype : dtype, optional
        Real working precision; defaults to float32 unless ``y`` is float64.
    workers : int, optional
        scipy.fft worker threads (default :data:`FFT_WORKERS`).

    Returns
    -------
    np.ndarray, shape (..., n_fft // 2 + 1, n_frames)
        Complex STFT (complex64 for float32 work).
    """
    y = np.asarray(y)
    if dtype is None:
        dtype = np.float64 if y.dtype == np.float64 else np.float32
    y = y.astype(dtype, copy=False)
    if center:
        pad = [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        y = np.pad(y, pad, mode=pad_mode)
    n_frames(y.shape[-1], n_fft, hop_length, center=False)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop_length, :]
    frames = frames * window.astype(dtype, copy=False)
    spec = scipy.fft.rfft(frames, axis=-1, workers=workers or FFT_WORKERS)
    return np.swapaxes(spec, -1, -2)


@functools.lru_cache(maxsize=32)
def _wss_cached(window_key: bytes, n_fft: int, hop_length: int, n_frames_: int, dtype: str):
    win = np.frombuffer(window_key, dtype=np.float64)
    wss = _overlap_add((win**2)[None, :].repeat(n_frames_, axis=0), hop_length)
    wss = wss.astype(dtype)
    wss.setflags(write=False)
    return wss


def window_sumsquare(window: np.ndarray, n_frames_: int, hop_length: int, dtype=np.float32):
    """Sum of squared, overlapped windows (the istft normaliser), cached."""
    w = np.ascontiguousarray(window, dtype=np.float64)
    return _wss_cached(w.tobytes(), w.size, hop_length, n_frames_, np.dtype(dtype).str)


def _overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Overlap-add frames ``(..., n_frames, n_fft)`` with a hop, vectorised."""
    *lead, t, n_fft = frames.shape
    out_len = n_fft + hop_length * (t - 1)
    if n_fft % hop_length == 0:
        r = n_fft // hop_length
        chunks = frames.reshape(*lead, t, r, hop_length)
        out = np.zeros((*lead, t + r - 1, hop_length), dtype=frames.dtype)
        for j in range(r):
            out[..., j : j + t, :] += chunks[..., :, j, :]
        return out.reshape(*lead, out_len)
    out = np.zeros((*lead, out_len), dtype=frames.dtype)
    for i in range(t):  # general hop: one slice-add per frame, still vectorised over batch
        out[..., i * hop_length : i * hop_length + n_fft] += frames[..., i, :]
    return out


def istft(
    stft_matrix: np.ndarray,
    *,
    n_fft: int,
    hop_length: int,
    window: np.ndarray,
    center: bool = True,
    length: int | None = None,
    workers: int | None = None,
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
    center : bool
        Undo the centre padding of :func:`stft`.
    length : int, optional
        Output length in samples (zero-padded or trimmed), as ``librosa.istft``.
    workers : int, optional
        scipy.fft worker threads.

    Returns
    -------
    np.ndarray, shape (..., n_samples)
        Real signal (float32 for complex64 input).
    """
    x = np.asarray(stft_matrix)
    if x.shape[-2] != n_fft // 2 + 1:
        raise InputError(
            f"STFT has {x.shape[-2]} frequency bins but n_fft={n_fft} needs {n_fft // 2 + 1}"
        )
    rdtype = np.float64 if x.dtype == np.complex128 else np.float32
    t = x.shape[-1]
    frames = scipy.fft.irfft(np.swapaxes(x, -1, -2), n=n_fft, axis=-1, workers=workers or FFT_WORKERS)
    frames = frames.astype(rdtype, copy=False) * window.astype(rdtype, copy=False)
    y = _overlap_add(frames, hop_length)
    wss = window_sumsquare(window, t, hop_length, rdtype)
    nz = wss > np.finfo(rdtype).tiny
    y[..., nz] /= wss[nz]
    start = n_fft // 2 if center else 0
    if length is None:
        stop = y.shape[-1] - (n_fft // 2 if center else 0)
        return y[..., start:stop]
    y = y[..., start : start + length]
    if y.shape[-1] < length:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    return y
