"""``guarded_wave``: the guard's output refined on the waveform by L-BFGS on a mel loss.

``guarded`` (:mod:`melbench.inverters.guarded`) picks between its inner joint method and
the ``nnls`` + ``fgla`` fallback. Where it keeps the inner, this inverter turns the kept
estimate into audio ``x_0`` (what the cell ``guarded`` + ``fgla:0`` would output) and runs
``wave_iter`` L-BFGS iterations on the waveform for the mel loss of
:func:`melbench.inverters.waveform_refine.mel_loss_grad`. The refined audio's STFT is
the estimate handed to the phase stage (``context["phase_init"]``), and its magnitude is
the output, so ``guarded_wave`` + ``fgla:0`` returns the refined audio itself. Where the
guard keeps its fallback nothing changes (``wave_fallback`` False): the guard's
robustness choice is left as it is. Nor does it at a framing of low redundancy
(``win_length / hop_length`` at most ``wave_redundancy``: torchaudio's 400 / 200), where
the guard's rule g has already re-phased the kept estimate
(:mod:`melbench.inverters.guard_overlap`): there the refinement cost PESQ-wb on both
bundled speech clips (4.158 -> 4.128 and 2.659 -> 2.615) and took the CMU ARCTIC clip to
1.40x librosa's time (``results/bench_pipelines_presets.md`` of round 9, before this gate).

Why (``results/speech_wave.md``): the joint iteration's fixed points leave most of the
PESQ lost against the oracle in the phase below 1 kHz; the waveform's mel loss has other
stationary points, and a few dozen iterations from the guard's output raise the mean
PESQ-wb of the evaluation suite's speech (numbers, time against librosa and the music
excerpt in that file).

References
----------
.. [1] R. Decorsiere, P. L. Sondergaard, E. N. MacDonald and T. Dau, "Inversion of
   auditory spectrograms, traditional spectrograms, and other envelope
   representations", IEEE/ACM TASLP 23(1), 2015.
.. [2] Y. Masuyama, N. Ueno and N. Ono, "Signal reconstruction from mel-spectrogram based
   on bi-level consistency of full-band magnitude and phase", arXiv:2307.12232, 2023.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError
from ..plugin import PHASE_FINAL_KEY
from ..spec import FeatureSpec
from .guard_overlap import low_redundancy
from .guarded import GUARD_KEY, Guarded, is_count, solve_items
from .joint_fgla import PHASE_INIT_KEY
from .waveform_refine import COMPRESSIONS, refine_waveform


class GuardedWave(Guarded):
    """``guarded``, then L-BFGS on the waveform of the kept inner's audio for the mel loss.

    Every parameter of ``guarded`` is available (same defaults); the ``wave_*``
    parameters set the refinement (:func:`melbench.inverters.waveform_refine.refine_waveform`).
    Pair it with ``fgla:0``. The guard's record (``context["guard"]``) gains
    ``"wave_iter"``: the iterations run (0 where the fallback was kept).

    References
    ----------
    .. [1] R. Decorsiere, P. L. Sondergaard, E. N. MacDonald and T. Dau, "Inversion of
       auditory spectrograms, traditional spectrograms, and other envelope
       representations", IEEE/ACM TASLP 23(1), 2015.
    """

    name: ClassVar[str] = "guarded_wave"

    @dataclass
    class Params(Guarded.Params):
        """Parameters of ``guarded_wave``: those of ``guarded`` (see there) and the refinement's.

        Attributes
        ----------
        wave_iter : int
            L-BFGS iterations on the waveform (0: ``guarded`` exactly).
        wave_loss : str
            The loss's compression ``f``: "identity", "power" or "log".
        wave_exponent : float
            The exponent of "power", in (0, 1].
        wave_floor : float
            The floor of "power" and "log", relative to the mel's peak.
        wave_history : int
            L-BFGS memory (pairs kept).
        wave_fallback : bool
            Refine also where the guard keeps its fallback (default False: its choice
            and its audio are left as they are).
        wave_redundancy : float
            No refinement where ``win_length / hop_length`` is at most this (rule g's
            framings); 0 refines at every framing.
        """

        inner: str = "joint_auto"
        inner_iter: int = 200
        wave_iter: int = 24
        wave_loss: str = "power"
        wave_exponent: float = 0.5
        wave_floor: float = 1e-5
        wave_history: int = 10
        wave_fallback: bool = False
        wave_redundancy: float = 2.0

    def validate(self) -> None:
        """Check the guard's parameters and the refinement's."""
        super().validate()
        p = self.params
        for f, least in (("wave_iter", 0), ("wave_history", 1)):
            v = getattr(p, f)
            if not is_count(v, least):
                raise ParameterError(f"{f}={v!r} must be an integer >= {least}")
        if p.wave_loss not in COMPRESSIONS:
            raise ParameterError(f"wave_loss={p.wave_loss!r}; choose one of {', '.join(COMPRESSIONS)}")
        e = p.wave_exponent
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not 0 < e <= 1:
            raise ParameterError(f"wave_exponent={e!r} must be in (0, 1]")
        r = p.wave_redundancy
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not r >= 0 or not math.isfinite(r):
            raise ParameterError(f"wave_redundancy={r!r} must be a finite number >= 0 "
                                 "(win_length / hop_length; 0 refines at every framing)")
        f = p.wave_floor
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not f > 0 or not math.isfinite(f):
            raise ParameterError(f"wave_floor={f!r} must be a positive finite number "
                                 "(relative to the mel's peak)")

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """``guarded``'s spectrogram, or the refined audio's (``spec.domain``); its STFT to ``phase_init``."""
        p = self.params
        if mel.ndim > 2:  # one item at a time, as the guard
            return solve_items(self.solve, mel, spec, context)
        ctx = {}
        out = super().solve(mel, spec, context=ctx)
        record = ctx[GUARD_KEY]
        record["wave_iter"] = 0
        if (int(p.wave_iter) > 0 and (record["chosen"] == "inner" or p.wave_fallback)
                and not low_redundancy(spec, float(p.wave_redundancy))):
            mag = np.sqrt(np.maximum(out, 0)) if spec.power == 2 else out
            x = np.asarray(ctx[PHASE_INIT_KEY])
            z = mag * np.exp(1j * np.angle(x)).astype(x.dtype, copy=False)  # what fgla:0 outputs
            n = spec.n_samples(mel.shape[-1]) + spec.hop_length - 1  # the longest audio with these frames
            if spec.n_frames(n) != mel.shape[-1]:
                n = spec.n_samples(mel.shape[-1])
            x0 = spec.istft(z, length=n)
            y = refine_waveform(x0.astype(np.float32), mel, spec, n_iter=int(p.wave_iter),
                                compression=p.wave_loss, exponent=float(p.wave_exponent),
                                floor_rel=float(p.wave_floor), history=int(p.wave_history))
            s = spec.stft(y).astype(x.dtype, copy=False)
            ctx[PHASE_INIT_KEY] = s
            ctx.pop(PHASE_FINAL_KEY, None)  # the refined audio is a warm start, as the inner's
            record["wave_iter"] = int(p.wave_iter)
            a = np.abs(s)
            out = (a * a if spec.power == 2 else a).astype(out.dtype, copy=False)
        if isinstance(context, MutableMapping):
            context.update(ctx)
        return out
