"""``joint_fgla``: magnitude *and* phase from a mel, by fast Griffin-Lim against the mel.

Phase retrieval with the mel constraint enforced inside every iteration. The
iterate is a complex spectrogram ``c``; each iteration alternates

* ``P_C``: the projection on consistent spectrograms, ``t = STFT(ISTFT(c))``
  with the spec's own window, hop and padding (one FFT pair), and
* ``P_mel``: the magnitude ``|t|`` moved onto the set of spectrograms with the
  given mel by ``ratio_steps`` multiplicative band-ratio steps
  ``s <- s * W^T (m / M s)`` (``W`` the filterbank normalised per FFT bin; the
  steps keep the relative fine structure ``t`` has put inside each band and fix
  each band's level), with the phase of ``t`` kept: ``x = s t / |t|``,

with the FGLA momentum ``c = x_n + alpha (x_n - x_{n-1})`` (Perraudin et al.
2013) on the mel-projected iterate. It is the alternating-projection form of
the joint estimation of full-band magnitude and phase from a mel of Masuyama
et al. ("bi-level consistency", arXiv 2307.12232; ADMM version
arXiv 2501.05557), with the exact per-frame mel projection replaced by the
multiplicative steps (measured better than the Euclidean projection
``s + M^T (M M^T)^{-1} (m - M s)`` clipped at zero: on the bundled CMU ARCTIC
clip at speech16k -14.4 against -12.4 dB SC after 100 iterations).

Unlike ``nnls_consistent`` (the same alternation, whose phase is discarded and
whose magnitude is polished by ``nnls``), the phase found here is *kept*: the
inverter returns the magnitude and puts the complex estimate into the
pipeline's context under ``"phase_init"``, and :func:`melbench.pipeline.run_clip`
and :func:`melbench.api.invert` hand it to the phase retriever as its warm
start. So a cell ``joint_fgla`` + ``fgla`` runs ``n_iter`` joint iterations and
then the phase retriever's own iterations from that phase, on the joint
magnitude. A phase retriever that ignores warm starts (``pghi``) is unaffected.

The output magnitude is ``s`` of the last iteration after ``final_steps`` more
mel steps (no FFT), so its mel equals the given one closely (relative residual
about 1e-5 on a test tone after 50 steps, 2e-2 without them); no ``nnls`` polish
(measured to hurt on degraded mels, see :mod:`melbench.inverters.nnls_consistent`).
Bins that no band covers at the edges (DC, and the Nyquist bin and everything
above ``fmax``) are zeroed, as by ``nnls_consistent`` (measured better than letting
consistency fill them, see ``dc`` and :func:`_joint_operators`); an uncovered bin
*between* bands (narrow bands at low frequencies) is left to consistency.

Start: the ``nnls`` magnitude with zero phase (measured better than PGHI's phase
of it on the five bundled speech clips at speech16k: mean PESQ-wb 3.82 against 3.77
after 300 iterations and 100 ``fgla``), or a complex warm start (``init=``; the STFT of the clip itself is
a fixed point: a consistent spectrogram whose mel is the given mel).

Cost: one FFT pair plus the compiled mel/momentum pass per iteration. Measured side by
side with the sixth round's kernel (two runs of ``results/bench_joint_fgla.py``, whole 3.6
s clip, five presets of the pipeline benchmark, loaded cores): the pass
(:mod:`melbench.inverters.joint_kernels`) with three mel steps takes 0.53-0.82x the FFT
floor (0.55-0.88x the old kernel's time), 100 mel steps (a ``final_steps`` call)
0.47-0.66x the old time, the whole iteration 1.3-2.3x the floor (0.79-0.93x the old), and
the whole default cell 0.73-0.99x its old time; so 300 iterations + 32 ``fgla`` fit in
librosa ``mel_to_audio``'s time. Measured schedules (``results/joint_fgla_quality.md``,
the evaluation suite's 147 speech clips at speech16k): 300 iterations raise mean PESQ-wb
from 3.60 (200) to 3.65; a looser mel step (``ratio_steps`` 1 or 2, ``early_iter``),
``restarts``, RAAR and ADMM forms of the same two sets and a phase-first start (``fgla``
on the ``nnls`` magnitude) are all within 0.03 of that or worse, so they are options, not
defaults. A power-law prior on the fine structure within bands (``sharpen``, peakier or
flatter) and, as prototypes, a harmonic comb from an F0 track, averages and selections of
several fixed points were measured too, and none raises mean PESQ-wb at the same cost
(picking the best of six starts by log-mel distance: +0.07 for six times the iterations);
the PESQ lost against the oracle is in the *phase below 1 kHz*, not in the high bands the
mel barely constrains (``results/joint_fgla_quality.md``, "Round 4";
``results/joint_fgla_oracle_swaps.py``). Measured numbers of whole pipelines:
``results/bench_pipelines.md`` (``melbench bench pipelines``).

References
----------
.. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim algorithm",
   IEEE WASPAA 2013.
.. [2] Y. Masuyama, N. Ueno and N. Ono, "Signal reconstruction from mel-spectrogram based
   on bi-level consistency of full-band magnitude and phase", arXiv:2307.12232, 2023.
.. [3] Y. Masuyama, N. Ueno and N. Ono, "Mel-spectrogram inversion via alternating
   direction method of multipliers", arXiv:2501.05557, 2025.
.. [4] D. R. Luke, "Relaxed averaged alternating reflections for diffraction imaging",
   Inverse Problems 21, 2005 (RAAR, measured here).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError, ParameterError
from ..plugin import Inverter
from ..spec import FeatureSpec
from ..stft import Projector
from .joint_kernels import _BLOCK, _k_joint, _tcopy  # noqa: F401 - re-exported (tests, benchmarks)
from .nnls import mel_nnls_inverse

#: Context key under which an inverter hands a complex warm start to the phase stage.
PHASE_INIT_KEY = "phase_init"


@functools.lru_cache(maxsize=16)
def _joint_operators(spec: FeatureSpec, dtype_str: str, low: bool = True):
    """Row ranges of ``M`` and ``W`` (``M`` normalised per bin), edge bins given to the edge bands.

    As :func:`melbench.inverters.nnls_consistent._ratio_operators`, except that with
    ``low`` the bins below the first band (DC) take the first band's ratio (``W`` = 1
    there, ``M`` = 0: they do not count in the mel), a continuity prior for a bin the mel
    cannot see. Bins above the last band (above ``fmax``) are zeroed, as with ``low``
    off the bins below the first band: extending the last band's ratio to them was
    measured neutral on the bundled speech and music at tts22k and 1.5 dB worse in SC on
    the synthetic harmonic tone, whose partials above 8 kHz it invents wrongly.
    Returns ``(lo, offsets, mw, ww, keep)``; ``keep`` (n_freq,) is 1 for bins inside the
    covered range that no band touches (left as they are), else 0.
    """
    dt = np.dtype(dtype_str)
    basis = spec.mel_basis(np.float64)
    n_rows, n = basis.shape
    col = basis.sum(axis=0)
    w = np.where(col > 0, basis / np.where(col > 0, col, 1.0), 0.0)
    lo = np.zeros(n_rows, dtype=np.int64)
    hi = np.zeros(n_rows, dtype=np.int64)
    for i in range(n_rows):
        idx = np.flatnonzero(basis[i])
        if idx.size:
            lo[i], hi[i] = idx[0], idx[-1] + 1
    rows = [i for i in range(n_rows) if hi[i] > lo[i]]
    covered = np.flatnonzero(col > 0)
    ext_w = w.copy()
    if rows and covered.size:
        first = rows[0]
        if low:
            ext_w[first, : covered[0]] = 1.0
            lo[first] = 0
    keep = np.zeros(n, dtype=dt)
    if covered.size:
        inner = np.zeros(n, dtype=bool)
        inner[covered[0] : covered[-1] + 1] = True
        keep[inner & (col == 0)] = 1.0
    offsets = np.concatenate([[0], np.cumsum(hi - lo)]).astype(np.int64)
    mw = np.concatenate([basis[i, lo[i] : hi[i]] for i in range(n_rows)] or [np.zeros(0)]).astype(dt)
    ww = np.concatenate([ext_w[i, lo[i] : hi[i]] for i in range(n_rows)] or [np.zeros(0)]).astype(dt)
    return lo, offsets, mw, ww, keep


def _check_sharpen(sharpen: float, sharpen_iter: int) -> None:
    """``sharpen`` in [-0.5, 0.5] (it compounds over iterations), ``sharpen_iter`` >= 0."""
    if isinstance(sharpen_iter, bool) or int(sharpen_iter) != sharpen_iter or sharpen_iter < 0:
        raise ParameterError(f"sharpen_iter={sharpen_iter!r} must be a non-negative integer")
    if not -0.5 <= sharpen <= 0.5:
        raise ParameterError(f"sharpen={sharpen!r} outside [-0.5, 0.5] (it compounds over the "
                             "iterations; the measured useful range is within +-0.02)")


def joint_fgla_inverse(
    mel: np.ndarray,
    spec: FeatureSpec,
    *,
    n_iter: int = 300,
    alpha: float = 0.99,
    ratio_steps: int = 3,
    final_steps: int = 100,
    dc: str = "zero",
    early_iter: int = 0,
    early_steps: int = 1,
    restarts: int = 0,
    sharpen: float = 0.0,
    sharpen_iter: int = 0,
    prior: Callable[[int, np.ndarray], None] | None = None,
    init: np.ndarray | None = None,
    trace: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and phase of a linear mel by FGLA with the mel enforced every iteration.

    Parameters
    ----------
    mel : np.ndarray [shape=(..., n_mels, frames)]
        Linear mel in ``spec.domain`` (power or magnitude), non-negative.
    spec : FeatureSpec
        The contract the mel was made with.
    n_iter : int
        Iterations (one FFT pair and ``ratio_steps`` mel steps each).
    alpha : float
        FGLA momentum in [0, 1] (0: plain alternation).
    ratio_steps : int
        Multiplicative mel steps per iteration (0: no mel step, so the iterate only
        becomes consistent and then stays put).
    final_steps : int
        Further mel steps on the last magnitude (no FFT; they bring its mel to the
        given one: relative mel residual about 1e-5 after 50 on a test tone, against
        2e-2 without).
    dc : {"zero", "nearest"}
        Bins below the first band (DC): zeroed (as ``nnls_consistent``), or given the
        first band's ratio. Measured (``results/bench_pipelines.md``): "nearest" raises
        PESQ-wb on the bundled CMU ARCTIC clip (3.41 -> 3.56 at speech16k, 200
        iterations) but overestimates the DC of the bundled music by about 20 dB and
        loses up to 7 dB SC there (tts22k, clean and smoothed mels), so it is not the
        default.
    early_iter : int
        The first ``early_iter`` iterations take ``early_steps`` mel steps instead of
        ``ratio_steps`` (0: none).
    early_steps : int
        Mel steps per iteration during the first ``early_iter`` iterations.
    restarts : int
        Restarts evenly spaced over the ``n_iter`` iterations (after iterations
        ``round(k n_iter / (restarts + 1))``, ``k = 1..restarts``): the iterate ``x`` is
        brought onto the mel by ``final_steps`` steps (no FFT) and the momentum is
        dropped, exactly as a new call warm-started (``init``) from the output so far.
    sharpen : float
        Power-law prior on the fine structure inside each band (0: off, the default):
        every iteration, before the mel steps, each frame's ``s`` becomes
        ``s (s / max s)^sharpen`` (> 0 peakier, a sparsity prior for harmonic speech;
        < 0 flatter), and the mel steps then restore each band's level. Measured
        (``results/joint_fgla_quality.md``, 30 suite speech clips at speech16k):
        no value tried raises mean PESQ-wb (+0.002: -0.048, +0.01 decaying: -0.023,
        -0.005: -0.002; negative values lower SC by up to 1 dB) and it adds 55-100 % to
        the time (a power per bin), so it is an option for experiments, off by default.
    sharpen_iter : int
        With ``sharpen_iter > 0`` the prior decays linearly from ``sharpen`` at the first
        iteration to 0 at iteration ``sharpen_iter`` (and stays off after it); 0: constant.
    prior : callable, optional
        ``prior(it, t)`` is called in every iteration ``it`` (from 0) on the consistent
        estimate ``t`` (complex, frame-major ``(frames, n_freq)``) before its mel steps and
        may rescale it in place: a prior on the fine structure the mel steps then keep
        (:mod:`melbench.inverters.joint_continuity` builds ``joint_tc`` on it).
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Complex start; default the ``nnls`` magnitude with
        zero phase.
    trace : list, optional
        Receives ``{"iter": k, "mel_gap": d}`` per iteration, ``d`` the relative
        distance ``|| |t| - |x| || / ||x||`` between the consistent estimate and its
        mel projection (how far the iterate is from both sets at once).

    Returns
    -------
    spectrogram : np.ndarray [shape=(..., n_freq, frames)]
        Non-negative spectrogram in ``spec.domain`` (float32 unless the mel is float64).
    stft : np.ndarray [shape=(..., n_freq, frames)]
        Complex estimate whose magnitude is ``spectrogram`` (in magnitude) and whose
        phase is the joint estimate's (complex64 for float32).

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013 (the accelerated projections).
    .. [2] D. Griffin and J. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. ASSP 32(2), 1984 (the consistency projection).
    .. [3] D. D. Lee and H. S. Seung, "Algorithms for non-negative matrix
       factorization," Proc. NIPS, 2000 (multiplicative updates, the form of the mel
       step).
    """
    mel = np.asarray(mel)
    dtype = np.float64 if mel.dtype == np.float64 else np.float32
    mel = mel.astype(dtype, copy=False)
    n_iter, ratio_steps = int(n_iter), int(ratio_steps)
    early_iter, early_steps = int(early_iter), int(early_steps)
    restarts = int(restarts)
    if min(n_iter, ratio_steps, early_iter, early_steps, restarts) < 0:
        raise ParameterError(f"n_iter={n_iter}, ratio_steps={ratio_steps}, early_iter={early_iter}, "
                             f"early_steps={early_steps}, restarts={restarts}: must be >= 0")
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha={alpha!r} outside [0, 1] (the momentum is unstable above 1)")
    _check_sharpen(sharpen, sharpen_iter)
    if mel.ndim < 2 or mel.shape[-2] != spec.n_mels:
        raise InputError(f"mel has shape {mel.shape}; expected (..., {spec.n_mels}, frames)")
    if mel.ndim > 2:  # one item at a time: a batch gives exactly the per-item results
        flat = mel.reshape(-1, *mel.shape[-2:])
        inits = None if init is None else np.asarray(init).reshape(-1, spec.n_freq, mel.shape[-1])
        outs = [joint_fgla_inverse(m, spec, n_iter=n_iter, alpha=alpha, ratio_steps=ratio_steps,
                                   final_steps=final_steps, dc=dc, early_iter=early_iter,
                                   early_steps=early_steps, restarts=restarts,
                                   sharpen=sharpen, sharpen_iter=sharpen_iter, prior=prior,
                                   init=None if inits is None else inits[i])
                for i, m in enumerate(flat)]
        shape = (*mel.shape[:-2], spec.n_freq, mel.shape[-1])
        return (np.stack([o[0] for o in outs]).reshape(shape),
                np.stack([o[1] for o in outs]).reshape(shape))
    n_frames = mel.shape[-1]
    proj = Projector.from_spec(spec, n_frames, dtype=dtype)
    power = int(spec.power)
    if init is None:
        s0 = mel_nnls_inverse(mel, spec)
        mag0 = np.sqrt(s0) if power == 2 else s0
        c = proj.to_internal(mag0, proj.cdtype)
    else:
        init = np.asarray(init)
        if init.shape != (spec.n_freq, n_frames) or not np.iscomplexobj(init):
            raise InputError(f"init must be a complex ({spec.n_freq}, {n_frames}) spectrogram; "
                             f"got {init.dtype} {init.shape}")
        c = proj.to_internal(init, proj.cdtype)
    if dc not in ("nearest", "zero"):
        raise ParameterError(f"dc={dc!r}; choose 'nearest' or 'zero'")
    lo, offsets, mw, ww, keep = _joint_operators(spec, np.dtype(dtype).str, dc == "nearest")
    mel_i = np.ascontiguousarray(mel)
    s = np.empty(proj.shape[1:], dtype=dtype)
    if n_iter == 0:
        a = np.abs(c[0])
        s[:] = a * a if power == 2 else a
        return proj.from_internal(s[None]), proj.from_internal(c)
    xprev = np.empty_like(c[0])
    a_buf = np.empty(c.shape[1:], dtype=dtype)
    g_buf = np.empty(c.shape[1:], dtype=dtype)
    al = proj.dtype.type(alpha)
    fresh = True  # no momentum on the next iteration (the first, and after a restart)
    # restart after these iterations (evenly spaced, never after the last)
    restart_at = {round(k * n_iter / (restarts + 1)) for k in range(1, restarts + 1)} - {0, n_iter}
    for it in range(n_iter):
        t = proj.project(c, overwrite=True)
        if prior is not None:
            prior(it, t[0])
        last = it == n_iter - 1
        sh = sharpen * max(0.0, 1.0 - it / sharpen_iter) if sharpen_iter > 0 else sharpen
        dist = _k_joint(t[0], xprev, a_buf, g_buf, lo, offsets, mw, ww, keep, mel_i,
                        early_steps if it < early_iter else ratio_steps, power, al,
                        fresh, s, last, trace is not None, proj.dtype.type(sh))
        fresh = False
        if trace is not None:
            nx = float(np.linalg.norm(xprev))
            trace.append({"iter": it + 1, "mel_gap": float(np.sqrt(dist)) / nx if nx > 0 else 0.0})
        c = t
        if it + 1 in restart_at:
            # restart: x onto the mel closely (``final_steps`` steps, no FFT), momentum dropped
            _k_joint(xprev, xprev, a_buf, g_buf, lo, offsets, mw, ww, keep, mel_i,
                     int(final_steps), power, al, True, s, False, False)
            c[0] = xprev
            fresh = True
    if final_steps > 0:  # more mel steps on |x| itself (no FFT, no momentum; in place)
        _k_joint(xprev, xprev, a_buf, g_buf, lo, offsets, mw, ww, keep, mel_i, int(final_steps), power,
                 al, True, s, True, False)
    return proj.from_internal(s[None]), proj.from_internal(xprev[None])


class JointFGLA(Inverter):
    """Joint magnitude and phase: FGLA with the mel enforced in every iteration.

    Returns the magnitude and hands its phase to the phase stage as a warm start
    (see :mod:`melbench.inverters.joint_fgla`): pair it with ``fgla`` (which then
    refines that phase) for the best quality per second measured here.

    References
    ----------
    .. [1] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim
       algorithm," Proc. IEEE WASPAA, 2013.
    .. [2] D. Griffin and J. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. ASSP 32(2), 1984.
    """

    name: ClassVar[str] = "joint_fgla"
    counts_ffts: ClassVar[bool] = True  # every FFT runs in the spec's Projector

    @dataclass
    class Params:
        """Parameters of ``joint_fgla``.

        Attributes
        ----------
        joint_iter : int
            Joint iterations (one FFT pair each); named apart from the phase
            retrievers' ``n_iter`` so ``melbench.invert(mel, n_iter=...)`` stays unambiguous.
        alpha : float
            FGLA momentum in [0, 1].
        ratio_steps : int
            Multiplicative mel steps per iteration.
        final_steps : int
            Mel steps on the last magnitude (no FFT), to match the mel closely.
        dc : str
            "zero" (DC bins zeroed) or "nearest" (they take the first band's ratio).
        early_iter : int
            The first ``early_iter`` joint iterations use ``early_steps`` mel steps
            instead of ``ratio_steps`` (a looser mel projection while the phase forms).
        early_steps : int
            Mel steps per iteration during the first ``early_iter`` iterations.
        restarts : int
            Restarts, evenly spaced over ``joint_iter`` (0: none): the iterate is
            brought onto the mel (``final_steps`` steps) and the momentum is dropped.
        sharpen : float
            Power-law prior on the fine structure within bands (0: off; see
            :func:`joint_fgla_inverse`; measured to lower PESQ, an experiment option).
        sharpen_iter : int
            Iterations over which ``sharpen`` decays linearly to 0 (0: constant).
        """

        joint_iter: int = 300
        alpha: float = 0.99
        ratio_steps: int = 3
        final_steps: int = 100
        dc: str = "zero"
        early_iter: int = 0
        early_steps: int = 1
        restarts: int = 0
        sharpen: float = 0.0
        sharpen_iter: int = 0

    def validate(self) -> None:
        """Check every parameter's range."""
        p = self.params
        for f in ("joint_iter", "ratio_steps", "final_steps", "early_iter", "early_steps",
                  "restarts"):
            v = getattr(p, f)
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise ParameterError(f"{f}={v!r} must be a non-negative integer")
        if not 0 <= p.alpha <= 1:
            raise ParameterError(f"alpha={p.alpha!r} outside [0, 1] (unstable above 1)")
        if p.dc not in ("nearest", "zero"):
            raise ParameterError(f"dc={p.dc!r}; choose 'nearest' or 'zero'")
        _check_sharpen(p.sharpen, p.sharpen_iter)

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return the joint magnitude (``spec.domain``); its phase goes to ``context["phase_init"]``."""
        p = self.params
        s, x = joint_fgla_inverse(mel, spec, n_iter=int(p.joint_iter), alpha=float(p.alpha),
                                  ratio_steps=int(p.ratio_steps), final_steps=int(p.final_steps),
                                  dc=p.dc, early_iter=int(p.early_iter),
                                  early_steps=int(p.early_steps),
                                  restarts=int(p.restarts), sharpen=float(p.sharpen),
                                  sharpen_iter=int(p.sharpen_iter))
        if isinstance(context, MutableMapping):
            context[PHASE_INIT_KEY] = x
        return s
