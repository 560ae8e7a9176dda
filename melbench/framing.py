"""Analysis windows and framing: which samples each STFT frame covers, and how many frames.

:func:`get_window` gives the periodic window of a frame (librosa's ``fftbins=True``
windows, centred inside the ``n_fft`` frame); :func:`frame_padding` says how far the
signal is padded on each side before framing under each of the :data:`FRAMINGS`
("center": ``n_fft // 2``, librosa / torch ``center=True``; "same": ``(n_fft - hop) // 2``
then ``center=False``, HiFi-GAN, BigVGAN, Vocos ``padding="same"``; "none": no padding),
and :func:`n_frames` how many frames a signal gives. The STFT engine
(:mod:`melbench.stft`, which re-exports these names) and :class:`melbench.spec.FeatureSpec`
build on them.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.signal

from .errors import InputError, ParameterError

#: Window names FeatureSpec accepts (periodic, "fftbins" windows as librosa uses).
WINDOWS = ("hann", "hamming", "blackman", "sqrt_hann", "gaussian", "boxcar")

#: Relative height at the edges of the truncated Gaussian window: ``exp(-pi t^2/gamma)``
#: with ``gamma = 0.170547 * win_length**2`` falls to 1% at the frame edges (LTFAT's
#: "truncgauss"), so PGHI's constant for it applies unchanged.
GAUSS_CG = 0.17054704423023

#: Framings: how the signal is padded before it is cut into frames (see :func:`frame_padding`).
FRAMINGS = ("center", "same", "none")


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


def resolve_framing(framing: str | bool | None = None, center: bool | None = None) -> str:
    """The framing name from ``framing`` or the legacy ``center`` bool (default "center").

    ``True`` / ``False`` (as ``framing`` or ``center``) mean "center" / "none".
    """
    if framing is None:
        framing = True if center is None else bool(center)
    elif center is not None and (framing == "center" or framing is True) != bool(center):
        raise ParameterError(f"center={center} contradicts framing={framing!r}; give only framing")
    if isinstance(framing, (bool, np.bool_)):
        return "center" if framing else "none"
    if framing not in FRAMINGS:
        raise ParameterError(f"framing={framing!r}; choose one of {', '.join(FRAMINGS)}")
    return str(framing)


def frame_padding(framing: str | bool, n_fft: int, hop_length: int) -> int:
    """Samples padded on *each* side of the signal before framing.

    Parameters
    ----------
    framing : {"center", "same", "none"} or bool
        "center": ``n_fft // 2`` (librosa / torch ``center=True``); "same":
        ``(n_fft - hop_length) // 2`` (HiFi-GAN's ``F.pad(y, ((n_fft-hop)//2,) * 2)`` then
        ``center=False``); "none": 0. A bool is the legacy ``center``. (Vocos's
        ``padding="same"`` pads ``(win_length - hop) // 2``: the same when, as in its
        configs, ``win_length == n_fft``.)
    n_fft, hop_length : int
        Frame length and hop.

    Returns
    -------
    int
    """
    framing = resolve_framing(framing)
    if framing == "center":
        return int(n_fft) // 2
    if framing == "same":
        return (int(n_fft) - int(hop_length)) // 2
    return 0


def n_frames(n_samples: int, n_fft: int, hop_length: int, center: bool | None = None, *,
             framing: str | None = None) -> int:
    """Number of STFT frames for a signal of ``n_samples`` samples.

    ``1 + (n_samples + 2 p - n_fft) // hop_length`` with ``p`` = :func:`frame_padding`:
    ``1 + N // hop`` for "center", ``N // hop`` for "same" (even ``n_fft - hop``),
    ``1 + (N - n_fft) // hop`` for "none". ``center`` is the legacy bool.
    """
    framing = resolve_framing(framing, center)
    p = frame_padding(framing, n_fft, hop_length)
    n = n_samples + 2 * p
    if n < n_fft:
        raise InputError(
            f"signal of {n_samples} samples is shorter than one frame (n_fft={n_fft}"
            f"{f', after {framing!r} padding' if p else ''}); use a longer clip or a "
            "smaller n_fft"
        )
    return 1 + (n - n_fft) // hop_length
