"""``lws_ref``: Jonathan Le Roux's ``lws`` package (1.2.8) behind melbench's phase contract.

Translation of a melbench :class:`~melbench.spec.FeatureSpec` into lws's conventions:

- arrays: melbench's ``(..., n_freq, frames)`` magnitude becomes lws's ``frames x bins``
  ``float64`` matrix (a real matrix means zero initial phase to lws; a warm start is
  passed as the complex matrix ``|S| e^{i phi}``), and the result is transposed back;
- phase: lws measures DFT phase from the frame start, as melbench (and librosa) do, and
  its weights only involve relative frame offsets, so frame positions need no shift;
- window: ``window="spec"`` passes the spec's exact analysis window
  (``spec.window_array``, the window centred in the ``n_fft`` frame) and lws derives the
  same least-squares synthesis window as melbench's ISTFT (``awin / sum of squares``);
  ``window="lws"`` uses the package's own default (the square root of a half-sample
  offset Hann window made tight), which is how the package is usually called
  (``lws.lws(n_fft, hop)``) and only matches a ``sqrt_hann`` spec;
- the schedule: ``mode`` is lws's own preset ("speech": batch only; "music": one no-future
  sweep, online with 10 iterations, then batch), with lws's thresholds.

Refused (``skip`` gives the reason, ``retrieve`` raises ``ParameterError``): odd
``n_fft`` (lws assumes ``n_fft = 2 (bins - 1)``), ``window="lws"`` with a ``win_length``
shorter than ``n_fft`` (lws's own window always spans the frame), a kernel wider than
the spectrum, and a missing ``lws`` package (``retrieve`` then raises
``PluginUnavailableError``). ``window="lws"`` on a spec whose window is not ``sqrt_hann``
is allowed on purpose: it is the usual mismatched use of the package, for comparison.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from melbench.errors import ParameterError, PluginUnavailableError
from melbench.plugin import PhaseRetriever
from melbench.spec import FeatureSpec

WINDOWS = ("spec", "lws")
MODES = ("speech", "music")


def _import_lws():
    try:
        import lws  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PluginUnavailableError(
            "lws_ref needs the 'lws' package (1.2.8), which has no wheels for current Pythons; "
            "build it with the recipe in plugins/melbench-lws-ref/README.md "
            f"({type(exc).__name__}: {exc})"
        ) from None
    return lws


def lws_available() -> bool:
    """True if the ``lws`` package can be imported."""
    try:
        _import_lws()
    except PluginUnavailableError:
        return False
    return True


def make_processor(spec: FeatureSpec, *, window: str = "spec", mode: str = "speech", L: int = 5,
                   look_ahead: int = 3, batch_iterations: int | None = None):
    """Build the ``lws.lws`` object that matches ``spec`` (see the module docstring).

    Parameters
    ----------
    spec : FeatureSpec
        melbench's STFT contract.
    window : {"spec", "lws"}
        The spec's exact window, or lws's own default window of length ``n_fft``.
    mode : {"speech", "music"}
        lws's schedule preset.
    L, look_ahead : int
        lws's kernel half-width and online look-ahead.
    batch_iterations : int, optional
        Override lws's batch iteration count (100).

    Returns
    -------
    lws.lws
    """
    lws = _import_lws()
    awin = np.array(spec.window_array, dtype=np.float64) if window == "spec" else spec.n_fft
    kwargs = {"L": int(L), "look_ahead": int(look_ahead), "mode": mode, "fftsize": spec.n_fft}
    if batch_iterations is not None:
        kwargs["batch_iterations"] = int(batch_iterations)
    # lws prints a warning for windows it does not recognise as symmetric (melbench's
    # periodic windows are symmetric about n_fft/2, which is what its weights need)
    with contextlib.redirect_stdout(io.StringIO()):
        return lws.lws(awin, spec.hop_length, **kwargs)


class LWSRef(PhaseRetriever):
    """The reference ``lws`` package (Le Roux) as a melbench phase retriever.

    Each item of a leading batch axis is processed separately by lws's C code.
    """

    name: ClassVar[str] = "lws_ref"
    iterations_param: ClassVar[str | None] = "batch_iterations"

    @dataclass
    class Params:
        """Parameters of lws_ref.

        Attributes
        ----------
        mode : str
            lws's preset: "speech" (batch iterations only) or "music" (no future, online,
            then batch).
        window : str
            "spec": the spec's own analysis window (faithful translation); "lws": the
            package's default sqrt-Hann-like window of length ``n_fft`` (how lws is
            usually called; mismatched unless the spec's window is ``sqrt_hann``).
        L : int
            Kernel half-width in bins (lws default 5).
        look_ahead : int
            Online look-ahead in frames (lws default 3).
        batch_iterations : int, optional
            Batch iterations; None keeps lws's default (100).
        """

        mode: str = "speech"
        window: str = "spec"
        L: int = 5
        look_ahead: int = 3
        batch_iterations: int | None = None

    def validate(self) -> None:
        """Check the preset, the window choice and the sizes."""
        p = self.params
        if p.mode not in MODES:
            raise ParameterError(f"lws_ref mode={p.mode!r}; choose one of {', '.join(MODES)}")
        if p.window not in WINDOWS:
            raise ParameterError(f"lws_ref window={p.window!r}; choose 'spec' or 'lws'")
        if int(p.L) != p.L or p.L < 1:
            raise ParameterError(f"lws_ref L={p.L!r}: must be an integer >= 1")
        if int(p.look_ahead) != p.look_ahead or p.look_ahead < 0:
            raise ParameterError(f"lws_ref look_ahead={p.look_ahead!r}: must be an integer >= 0")
        if p.batch_iterations is not None and (
            int(p.batch_iterations) != p.batch_iterations or p.batch_iterations < 0
        ):
            raise ParameterError(f"lws_ref batch_iterations={p.batch_iterations!r}: must be >= 0")

    def skip(self, spec: FeatureSpec) -> str | None:
        """Reason why lws cannot follow this spec, or None."""
        if not lws_available():
            return "lws_ref: the 'lws' package is not installed (see the plugin's README)"
        if spec.n_fft % 2:
            return f"lws_ref: lws assumes an even FFT size (n_fft = 2 (bins - 1)); n_fft={spec.n_fft}"
        if self.params.window == "lws" and spec.win_length != spec.n_fft:
            return (
                f"lws_ref window='lws': lws's own window spans n_fft={spec.n_fft} samples but "
                f"the spec's window has win_length={spec.win_length}; use window='spec'"
            )
        if 2 * self.params.L + 1 > spec.n_freq:
            return f"lws_ref: L={self.params.L} is too wide for n_fft={spec.n_fft}"
        return None

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run ``lws.run_lws`` on each item (frames x bins), transposed back."""
        reason = self.skip(spec)
        if reason:
            if "not installed" in reason:
                _import_lws()
            raise ParameterError(reason)
        p = self.params
        proc = make_processor(spec, window=p.window, mode=p.mode, L=p.L,
                              look_ahead=p.look_ahead, batch_iterations=p.batch_iterations)
        cdtype = np.complex128 if magnitude.dtype == np.float64 else np.complex64
        out = np.empty(magnitude.shape, dtype=cdtype)
        phases = None
        if init is not None:
            phases = np.angle(init) if np.iscomplexobj(init) else np.asarray(init, np.float64)
        for idx in np.ndindex(*magnitude.shape[:-2]):
            s = np.ascontiguousarray(np.asarray(magnitude[idx], dtype=np.float64).T)
            if phases is not None:
                s = s * np.exp(1j * np.ascontiguousarray(phases[idx].T))
            with contextlib.redirect_stdout(io.StringIO()):
                res = proc.run_lws(s)
            out[idx] = np.asarray(res).T
        return out
