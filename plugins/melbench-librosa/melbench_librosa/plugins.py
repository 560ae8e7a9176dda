"""``librosa_nnls`` and ``librosa_gla``: librosa's mel inversion, with the spec translated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from melbench.errors import ParameterError
from melbench.plugin import Inverter, PhaseRetriever
from melbench.spec import FeatureSpec


def mel_kwargs(spec: FeatureSpec) -> dict[str, Any]:
    """``librosa.filters.mel`` arguments equal to ``spec``'s filterbank.

    Parameters
    ----------
    spec : FeatureSpec
        The melbench contract.

    Returns
    -------
    dict
        ``sr``, ``n_fft``, ``fmin``, ``fmax``, ``htk`` and ``norm``.
    """
    norm = None if spec.mel_norm == "none" else spec.mel_norm
    return {
        "sr": spec.sample_rate, "n_fft": spec.n_fft, "fmin": spec.fmin, "fmax": spec.f_max,
        "htk": spec.htk, "norm": norm,
    }


def stft_kwargs(spec: FeatureSpec) -> dict[str, Any]:
    """``librosa.stft``/``istft`` arguments equal to ``spec``'s STFT.

    The window is passed as the spec's own array of length ``n_fft`` (a short
    ``win_length`` is already zero-padded and centred in it), so every melbench
    window is expressible.
    """
    return {
        "n_fft": spec.n_fft, "hop_length": spec.hop_length, "win_length": spec.n_fft,
        "window": np.asarray(spec.window_array), "center": spec.center,
    }


class LibrosaNNLS(Inverter):
    """``librosa.feature.inverse.mel_to_stft``: librosa's NNLS (L-BFGS-B, in blocks).

    melbench hands it the linear mel in the domain it was made in; librosa then
    solves in that domain (``power=1`` here, so the result stays in the mel's own
    domain and melbench takes the square root for a power mel).
    """

    name: ClassVar[str] = "librosa_nnls"

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return ``mel_to_stft`` of the linear mel, in ``spec.domain``."""
        import librosa

        kw = mel_kwargs(spec)
        sr, n_fft = kw.pop("sr"), kw.pop("n_fft")
        return librosa.feature.inverse.mel_to_stft(mel, sr=sr, n_fft=n_fft, power=1.0, **kw)


class LibrosaGLA(PhaseRetriever):
    """``librosa.griffinlim``: fast Griffin-Lim with librosa's STFT, spec translated."""

    name: ClassVar[str] = "librosa_gla"

    @dataclass
    class Params:
        """Parameters of ``librosa_gla``.

        Attributes
        ----------
        n_iter : int
            Iterations.
        alpha : float
            Fast Griffin-Lim momentum (0 = plain Griffin-Lim); librosa's ``momentum``,
            named ``alpha`` as in melbench's ``fgla``.
        init : str
            "random" (seeded through ``random_state``) or "zero" phase.
        """

        n_iter: int = 32
        alpha: float = 0.99
        init: str = "random"

    def validate(self) -> None:
        """Check ``n_iter``, ``alpha`` and ``init``."""
        p = self.params
        if int(p.n_iter) != p.n_iter or p.n_iter < 1:
            raise ParameterError(f"n_iter={p.n_iter!r} must be a positive integer")
        if not p.alpha >= 0:
            raise ParameterError(f"alpha={p.alpha!r} (the momentum) must be >= 0")
        if p.init not in ("random", "zero"):
            raise ParameterError(f"init={p.init!r}; choose 'random' or 'zero'")

    def retrieve(
        self,
        magnitude: np.ndarray,
        spec: FeatureSpec,
        *,
        init: np.ndarray | None,
        rng: np.random.Generator,
        trace: list | None,
    ) -> np.ndarray:
        """Run ``librosa.griffinlim`` and return the STFT of its signal."""
        import librosa

        if init is not None:
            raise ParameterError(
                "librosa_gla: librosa.griffinlim takes no warm start (only random or zero "
                "phase); use melbench's fgla for a warm-started Griffin-Lim"
            )
        p = self.params
        # librosa frames "center" or "none"; a "same" spectrogram is the "none" STFT of the
        # padded signal: reconstruct that signal and cut the padding off again
        trim = spec.frame_padding if spec.framing == "same" else 0
        length = spec.n_samples(magnitude.shape[-1]) + 2 * trim
        y = librosa.griffinlim(
            magnitude, n_iter=int(p.n_iter), momentum=float(p.alpha),
            init="random" if p.init == "random" else None, random_state=rng,
            length=length, pad_mode=spec.pad_mode, **stft_kwargs(spec),
        )
        if trim:
            y = y[..., trim:-trim]
        cdtype = np.complex128 if magnitude.dtype == np.float64 else np.complex64
        x = spec.stft(y).astype(cdtype, copy=False)
        if x.shape != magnitude.shape:  # librosa and melbench agree on frames; guard anyway
            raise ParameterError(
                f"librosa_gla: STFT of librosa's signal has shape {x.shape}, expected "
                f"{magnitude.shape}"
            )
        return x
