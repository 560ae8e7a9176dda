"""``guarded``: the best inverter with a reference-free guard against losing to ``nnls`` + ``fgla``.

Issue 16 asks that the default never score worse than the previous default
(``nnls`` + ``fgla``) by more than 0.3 dB SC or 0.05 PESQ, on any clip, preset or
degraded mel. The joint mel/phase method (``joint_fgla``) wins on average by
several dB but loses on some material (smoothed mels, the synthetic harmonic tone
at 22.05 kHz with fmax 8 kHz, noisy mels at some presets: ``results/bench_pipelines.md``).
No single method wins everywhere, so this inverter chooses between two candidates,
first from the given mel alone, then (if needed) by which candidate's *audio* best
explains the mel:

1. the inner method (default ``joint_fgla``, with its own default iteration count
   unless ``inner_iter`` is set): its magnitude and its phase (the complex estimate ``X_1``);
2. the fallback: the ``nnls`` magnitude and ``fallback_iter`` iterations of ``fgla``
   on it from a seeded random phase (the complex estimate ``X_0``: the previous
   default's own cell when ``fallback_iter`` equals its 100 iterations).

The rules, in the order they are applied:

a. **smooth mel** (:func:`band_roughness_db` below ``smooth_db``): the fallback, and the
   inner method is not run;
b. **noise-like mel** (:func:`spectral_flatness` at least ``noise_flatness``): the
   fallback, and the inner method is not run;
e. **noise-like energy** (the share of the mel's energy where the mel is *locally* flat,
   :func:`melbench.inverters.guard_blend.noise_energy_share`, at least ``noise_share``):
   the fallback, and the inner method is not run;
f. **steady texture** (that share at least ``steady_share``, the band roughness at most
   ``steady_rough_db`` and the mel's frame-to-frame change,
   :func:`melbench.inverters.guard_blend.temporal_flux_db`, at most ``steady_flux_db``):
   the fallback, and the inner method is not run;
c. otherwise the inner method runs and its criterion ``c_1`` is computed; if it is below
   ``fit_db`` (``mel_sc`` only) the inner is kept without running the fallback, else the
   fallback runs too and is kept when its criterion ``c_0 < c_1 - margin_db``. While its
   FGLA iterations run, the fallback is *probed* (``probe``): after ``k`` = 20, 30 and 50
   of its 100 iterations its criterion ``c_k`` is computed, and once
   ``c_k - PROBE_BOUNDS[k] >= c_1 - margin_db`` (the bound is the most the remaining
   iterations were measured to improve it) it is stopped there and the inner kept;
d. where the inner is kept, its magnitude is **blended** toward the ``nnls`` magnitude
   where the mel is locally flat (``blend``, :mod:`melbench.inverters.guard_blend`):
   ``(1 - w) |X_1| + w |X_0|`` with ``w`` from 0 at local flatness ``blend_lo`` to 1 at
   ``blend_hi``; its phase stays the inner's;
g. at a framing of low redundancy (``win_length / hop_length`` at most
   ``tail_redundancy``: torchaudio's 400 / 200), the inner runs ``tail_iter_scale`` of its
   iterations and its (blended) magnitude is mixed with the ``nnls`` one (weight
   ``tail_mix``) and given a new phase, PGHI then ``tail_iter`` FGLA iterations
   (:mod:`melbench.inverters.guard_overlap`);
   rule c and ``fit_db`` then use the worse
   of the two estimates' criteria, without the probe (``tail_start="inner"``: only
   ``tail_iter`` FGLA iterations after the kept inner's blended estimate, round 8's rule).
h. at a dense full-band filterbank (at least 100 bands up to sr/2, more than 50 % overlap)
   and a mel of band roughness at most 4.5 dB, ``dense_tail_iter`` GLA iterations follow
   the kept inner's blended estimate (:mod:`melbench.inverters.guard_presets`).

(Rules d-h came last and keep their letters; e and f are decided from the mel alone.)

The criterion is computed on the audio a candidate turns into, that is on the
consistent spectrogram ``T = STFT(ISTFT(X))`` (what a listener gets):

``mel_sc`` (default)
    mel spectral convergence ``20 log10(||M|T| - m||_F / ||m||_F)`` against the given
    linear mel ``m`` (in ``spec.domain``);
``logmel``
    mean absolute difference in dB (``20 log10`` of magnitudes, ``10 log10`` of
    powers) between ``M|T|`` and ``m``, both floored 80 dB below the mel's peak.

Size: about 580 lines, over the 550-line guide: one decision sequence (rules a-h in
``Guarded.solve`` and its record) that reads as a whole; the features, the blend, the
low-redundancy estimate, rule h and the batch loop live in ``guard_blend``,
``guard_overlap``, ``guard_presets`` and ``guard_batch``.

Why each rule and threshold (the measurements, with the scripts under ``results/``):
``docs/guard.md`` ("The guard's rules, and the measurements behind each").

The chosen magnitude is returned and the chosen complex estimate goes to the phase
stage (``context["phase_init"]``). The inner's is its warm start, so a cell ``guarded`` +
``fgla:32`` refines the inner's phase as ``joint_fgla`` + ``fgla:32`` does. A kept
fallback's phase is *final* (``fallback_final``; ``context["phase_final"]``):
:func:`melbench.plugin.phase_stage` returns it without running the phase stage, so the
cell's audio is then exactly ``nnls`` + ``fgla:100``'s (issue 16's reference cell, with the
run's seed equal to ``seed``), not that followed by 32 more FGLA iterations restarted
without momentum, which moved PESQ-wb by 0.06 below the reference on two smoothed mels of
``results/bench_pipelines.md`` (PESQ 1.3-1.6) and by 0.16 on one suite clip
(``results/guard_analysis.md``). What was chosen, why, and the criteria computed (NaN for
a candidate not run; ``probe`` / ``probe_iter``: the fallback's criterion at the last
checkpoint looked at, ``stopped``: whether the probe stopped it there) are put into
``context["guard"]`` (recorded by ``melbench bench pipelines``, whose section "Guard" of
``results/bench_pipelines.md`` measures how often each criterion predicts the
true-magnitude SC ordering of the two candidates).

Cost: rules a, b, e and f are free (no FFT; e and f are a few array passes over the mel);
a mel they send to the fallback costs only the fallback (one ``nnls`` solve and
``fallback_iter`` FGLA iterations, and no phase stage); rule d costs an ``nnls`` solve
where the fit shortcut skipped the fallback, and a filterbank product (about 1-2 % of the
guard's time, ``results/guard_local.md``); otherwise the inner method and one FFT pair,
plus, when the inner's ``mel_sc`` is above ``fit_db``, the fallback up to where the probe
stops it (20, 30, 50 or all 100 iterations) and one FFT pair per checkpoint and the end;
at low redundancy (rule g) the inner runs ``tail_iter_scale`` of its iterations, and PGHI,
``tail_iter`` FGLA iterations, an FFT pair and (unless ``fit_db`` skips it) the whole
fallback follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError
from ..plugin import Inverter
from ..spec import FeatureSpec
from .guard_batch import GUARD_KEY, solve_items
from .guard_blend import (
    band_powers,
    band_weights,
    blend_magnitudes,
    blend_weights,
    noise_energy_share,
    temporal_flux_db,
)
from .guard_blend import mel_db as _db
from .guard_overlap import (
    low_redundancy,
    overlap_estimate,
    scaled_iterations,
)
from .guard_presets import dense_tail  # rule h

#: Reference-free criteria (lower is better): name -> description.
CRITERIA = {
    "mel_sc": "mel spectral convergence of the candidate's audio against the given mel (dB)",
    "logmel": "mean absolute dB difference of the candidate's audio mel and the given mel",
}
#: The fallback's FGLA iterations the probe bounds were measured for.
PROBE_ITER = 100
#: Probe of the fallback (rule c): after ``k`` of its :data:`PROBE_ITER` FGLA iterations its
#: ``mel_sc`` is ``c_k``; the remaining iterations improved it by at most ``PROBE_BOUNDS[k]``
#: dB (``c_k - c_100``, the maximum over the even-index clips of the evaluation suite at
#: speech16k, tts22k, hifigan_v1, bigvgan_24k_100 and bigvgan_44k_128, four tracks, the
#: 1,392 rows rule c can reach, rounded up: ``results/guard_probe.py``,
#: ``results/guard_time.md``), so once ``c_k - PROBE_BOUNDS[k] >= c_1 - margin_db`` the
#: fallback is stopped and the inner kept.
PROBE_BOUNDS = {20: 15.5, 30: 9.9, 50: 4.3}
#: Rule d's neighbourhood (half-widths in bands, frames) of the local flatness
#: (:func:`melbench.inverters.guard_blend.local_flatness`; chosen on the even-index suite
#: clips with ``blend_lo`` / ``blend_hi``: ``results/guard_local.md``).
BLEND_NEIGHBOURHOOD = (2, 1)
#: Iteration parameter of inverters whose counter is not ``n_iter`` (inner methods here,
#: and the bare count of a ``melbench bench pipelines`` cell).
ITERATION_COUNTERS = {"joint_fgla": "joint_iter", "joint_tc": "joint_iter", "joint_tcr": "joint_iter",
                      "joint_lr": "joint_iter", "joint_lrr": "joint_iter", "joint_auto": "joint_iter",
                      "joint_tcf": "joint_iter",
                      "nnls": "max_iter", "guarded": "inner_iter"}

def is_count(v: Any, minimum: int = 0) -> bool:
    """True if ``v`` is an integer (an integral float too: Hydra's ``4.0``) of at least ``minimum``.

    Booleans, NaN, infinities and strings are not counts.
    """
    number = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    return number and bool(np.isfinite(v)) and int(v) == v and v >= minimum


def audio_mel(x: np.ndarray, spec: FeatureSpec, n_samples: int | None = None) -> np.ndarray:
    """Linear mel (``spec.domain``) of the audio a complex spectrogram turns into.

    Parameters
    ----------
    x : np.ndarray, shape (n_freq, frames)
        Complex STFT estimate (magnitude domain).
    spec : FeatureSpec
        Its contract.
    n_samples : int, optional
        Length of the audio (default the spec's natural length for the frames).

    Returns
    -------
    np.ndarray, shape (n_mels, frames)
        ``M |STFT(ISTFT(x))|`` (squared first for a power spec), uncompressed.
    """
    y = spec.istft(x, length=n_samples)
    mag = spec.magnitude(y)[..., : x.shape[-1]]
    return spec.mel_from_magnitude(mag, compress=False)


def band_roughness_db(mel: np.ndarray, spec: FeatureSpec, within_db: float = 50.0) -> float:
    """Median absolute second difference across bands of a linear mel in dB.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Gives the domain (power: 10 log10, magnitude: 20 log10).
    within_db : float
        Only band triples all within this many dB of the mel's peak count.

    Returns
    -------
    float
        dB; NaN for a mel with fewer than three bands above the threshold.

    References
    ----------
    .. [1] melbench's own measure (no published source): natural mels measured 4-13 dB,
       smoothed ones 0.9-2.8 dB at every preset of ``melbench bench pipelines``
       (``results/bench_pipelines.md``, "Guard" section).
    """
    lin = np.asarray(mel, dtype=np.float64)
    k = 10.0 if spec.power == 2 else 20.0
    peak = max(float(lin.max()), 1e-30)
    db = k * np.log10(np.maximum(lin, peak * 10 ** (-(within_db + 30.0) / k)))
    active = db > k * np.log10(peak) - within_db
    d2 = np.abs(db[2:] - 2 * db[1:-1] + db[:-2])
    m = active[2:] & active[1:-1] & active[:-2]
    return float(np.median(d2[m])) if m.any() else float("nan")


def spectral_flatness(mel: np.ndarray, spec: FeatureSpec, within_db: float = 50.0) -> float:
    """Median over frames of the spectral flatness of a mel's per-bin band powers.

    Each band's power is divided by its filter's weight sum (squared for a magnitude
    mel), so a white noise gives the same value whatever the filterbank's norm; the
    flatness of a frame is the geometric over the arithmetic mean of those powers over
    all bands that hold an FFT bin (1 for a flat spectrum, near 0 for a few strong
    partials). Frames with fewer than three bands within ``within_db`` of the mel's peak
    are left out.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, frames)]
        Linear mel in ``spec.domain``.
    spec : FeatureSpec
        Its contract (domain and filterbank).
    within_db : float
        Activity threshold below the peak (dB).

    Returns
    -------
    float
        In [0, 1]; NaN if no frame is active.

    References
    ----------
    .. [1] J. D. Johnston, "Transform coding of audio signals using perceptual noise
       criteria," IEEE JSAC 6(2), 1988 (the spectral flatness measure).
    """
    lin = np.asarray(mel, dtype=np.float64)
    db = _db(lin, spec)
    frames = (db > float(db.max()) - within_db).sum(0) >= 3
    if not frames.any():
        return float("nan")

    pw, bands = band_powers(lin, spec)
    pw = pw[bands][:, frames]  # a band with no FFT bin (narrow low bands, short FFT) carries nothing
    pw = np.maximum(pw, pw.max() * 1e-11)
    return float(np.median(np.exp(np.mean(np.log(pw), 0)) / np.mean(pw, 0)))


def mel_criterion(mel_est: np.ndarray, mel: np.ndarray, spec: FeatureSpec,
                  criterion: str = "mel_sc") -> float:
    """How badly an estimate's mel explains the given mel (dB, lower is better).

    Parameters
    ----------
    mel_est, mel : np.ndarray, shape (n_mels, frames)
        Linear mels in ``spec.domain`` (estimate's audio and the given one).
    spec : FeatureSpec
        Gives the domain (power: 10 log10, magnitude: 20 log10).
    criterion : {"mel_sc", "logmel"}
        See :data:`CRITERIA`.

    Returns
    -------
    float
        The criterion in dB.
    """
    a = np.asarray(mel_est, dtype=np.float64)
    b = np.asarray(mel, dtype=np.float64)
    if criterion == "mel_sc":
        den = np.linalg.norm(b)
        return float(20 * np.log10(max(np.linalg.norm(a - b), 1e-30) / max(den, 1e-30)))
    if criterion == "logmel":
        k = 10.0 if spec.power == 2 else 20.0
        floor = max(float(b.max()), 1e-30) * 10 ** (-80.0 / k)
        return float(np.mean(np.abs(k * np.log10(np.maximum(a, floor) / np.maximum(b, floor)))))
    raise ParameterError(f"criterion={criterion!r}; choose one of {', '.join(CRITERIA)}")



class Guarded(Inverter):
    """The inner method (``joint_fgla``) or ``nnls`` + ``fgla``, whichever audio fits the mel better.

    A reference-free guard (see :mod:`melbench.inverters.guarded`): a smooth or noise-like
    mel, one whose energy lies mostly where it is locally flat, or a steady texture (rule
    f) goes to the fallback
    without running the inner method; otherwise the inner's audio mel is compared with the
    given mel (and with the fallback's, unless the inner already fits better than
    ``fit_db``), and the better candidate's magnitude is returned (the inner's blended
    toward ``nnls``'s where the mel is locally flat); its phase goes to the phase stage as
    warm start.

    References
    ----------
    .. [1] D. Griffin and J. Lim, "Signal estimation from modified short-time Fourier
       transform," IEEE Trans. ASSP 32(2), 1984 (consistency: the audio a spectrogram
       turns into is the STFT of its inverse STFT).
    .. [2] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim algorithm,"
       WASPAA 2013 (the fallback's phase retrieval).
    .. [3] Y. Masuyama, N. Ono et al., "Bi-level consistency for mel-spectrogram
       inversion," ICASSP 2023, arXiv 2307.12232 (the joint inner method).
    """

    name: ClassVar[str] = "guarded"
    counts_ffts: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of ``guarded``.

        Attributes
        ----------
        inner : str
            Name of the inner inverter (a plugin of kind ``inverter``).
        inner_iter : int
            Its iterations (``joint_iter`` of ``joint_fgla``, ``max_iter`` of ``nnls``,
            ``n_iter`` of others); 0 keeps the inner's default.
        fallback_iter : int
            FGLA iterations of the fallback candidate on the ``nnls`` magnitude.
        criterion : str
            "mel_sc" or "logmel" (:data:`CRITERIA`).
        margin_db : float
            The fallback is kept if its criterion is lower by more than this.
        smooth_db : float
            The fallback is kept if the mel's band roughness (:func:`band_roughness_db`)
            is below this (an over-smoothed mel); 0 turns the rule off.
        noise_flatness : float
            The fallback is kept if the mel's :func:`spectral_flatness` is at least this
            (a noise-like sound); 0 turns the rule off.
        fit_db : float
            The fallback is not run when the inner's ``mel_sc`` is below this (dB): it
            could then only win by fitting the mel better still, measured on 17 of 1,259
            rows and changing no final choice (module docstring); 0 always runs it. Only
            with the ``mel_sc`` criterion.
        probe : bool
            Look at the fallback's ``mel_sc`` after the iterations of
            :data:`PROBE_BOUNDS` and stop it (keeping the inner) once the rest of its
            iterations could not make it win by the measured bound (module docstring);
            false always runs all of them. Only with the ``mel_sc`` criterion and
            ``fallback_iter`` = 100, the count the bounds were measured for.
        fallback_final : bool
            When the fallback is kept its phase is final (``context["phase_final"]``): the
            pipeline skips the phase stage, so the cell's audio is exactly ``nnls`` +
            ``fgla:fallback_iter``'s (for a run seed equal to ``seed``). False hands it on
            as a warm start, as the inner's phase always is.
        blend : bool
            Rule d: where the inner is kept, blend its magnitude toward the ``nnls``
            magnitude by the mel's local flatness
            (:func:`melbench.inverters.guard_blend.blend_weights`, neighbourhood
            :data:`BLEND_NEIGHBOURHOOD`); its phase stays the inner's. False keeps the
            inner's magnitude as it is.
        blend_lo, blend_hi : float
            Local flatness at which the ``nnls`` magnitude's weight is 0 and 1
            (``0 <= blend_lo < blend_hi <= 1``).
        noise_share : float
            Rule e: the fallback is kept (the inner not run) if the share of the mel's
            energy the blend weights toward ``nnls``
            (:func:`melbench.inverters.guard_blend.noise_energy_share`, with
            ``blend_lo`` / ``blend_hi``) is at least this; 0 turns the rule off.
        tail_iter : int
            Rule g: FGLA iterations of the kept inner's estimate when the framing's
            ``win_length / hop_length`` is at most ``tail_redundancy``; 0 turns rule g off.
        tail_redundancy : float
            See ``tail_iter``.
        tail_start : str
            Rule g's start: "pghi" (a PGHI phase on the mixed magnitude,
            :func:`melbench.inverters.guard_overlap.overlap_estimate`) or "inner" (the
            inner's phase and blended magnitude, no mix, no iteration scaling).
        tail_mix : float
            Rule g ("pghi"): weight in [0, 1] of the ``nnls`` magnitude in the mix.
        tail_iter_scale : float
            Rule g ("pghi"): the inner's iterations (``inner_iter``, if set) are scaled by
            this, in (0, 1].
        dense_tail_iter : int
            Rule h: GLA iterations after the kept inner's (blended) estimate at a dense
            full-band filterbank and a smooth mel
            (:func:`melbench.inverters.guard_presets.dense_tail_iterations`); 0 none.
        steady_share, steady_rough_db, steady_flux_db : float
            Rule f: the fallback is kept (the inner not run) if that share is at least
            ``steady_share``, :func:`band_roughness_db` at most ``steady_rough_db`` (dB)
            and :func:`melbench.inverters.guard_blend.temporal_flux_db` at most
            ``steady_flux_db`` (dB); ``steady_flux_db`` = 0 turns the rule off.
        seed : int
            Seed of the fallback's random initial phase.
        """

        inner: str = "joint_fgla"
        inner_iter: int = 0
        fallback_iter: int = 100
        criterion: str = "mel_sc"
        margin_db: float = 0.0
        smooth_db: float = 3.0
        noise_flatness: float = 0.1
        fit_db: float = -35.0
        probe: bool = True
        fallback_final: bool = True
        blend: bool = True
        blend_lo: float = 0.4
        blend_hi: float = 0.8
        noise_share: float = 0.4
        steady_share: float = 0.1
        steady_rough_db: float = 6.0
        steady_flux_db: float = 2.2
        tail_iter: int = 64
        tail_redundancy: float = 2.0
        tail_start: str = "pghi"
        tail_mix: float = 0.5
        tail_iter_scale: float = 0.5
        dense_tail_iter: int = 4
        seed: int = 0

    def validate(self) -> None:
        """Check the parameters (the inner plugin must exist and not be ``guarded``)."""
        from .. import registry

        p = self.params
        for f in ("inner_iter", "fallback_iter", "tail_iter", "dense_tail_iter"):
            v = getattr(p, f)
            if not is_count(v):
                raise ParameterError(f"{f}={v!r} must be a non-negative integer")
        if p.criterion not in CRITERIA:
            raise ParameterError(f"criterion={p.criterion!r}; choose one of {', '.join(CRITERIA)}")
        if p.inner == self.name:
            raise ParameterError("inner='guarded': the inner method cannot be the guard itself")
        if p.inner not in registry.available("inverter"):
            raise ParameterError(f"inner={p.inner!r} is not an installed inverter; available: "
                                 f"{', '.join(sorted(registry.available('inverter')))}")
        if p.tail_start not in ("pghi", "inner"):
            raise ParameterError(f"tail_start={p.tail_start!r}; choose 'pghi' or 'inner'")
        if not (0 <= p.tail_mix <= 1) or not (0 < p.tail_iter_scale <= 1):
            raise ParameterError(f"tail_mix={p.tail_mix!r}, tail_iter_scale={p.tail_iter_scale!r}: "
                                 "need 0 <= tail_mix <= 1 and 0 < tail_iter_scale <= 1")
        if not (0 <= p.blend_lo < p.blend_hi <= 1):
            raise ParameterError(f"blend_lo={p.blend_lo!r}, blend_hi={p.blend_hi!r}: need "
                                 "0 <= blend_lo < blend_hi <= 1 (local flatness)")
        for f in ("probe", "fallback_final", "blend"):
            if not isinstance(getattr(p, f), bool):
                raise ParameterError(f"{f}={getattr(p, f)!r} must be true or false")
        for f in ("margin_db", "smooth_db", "noise_flatness", "noise_share", "steady_share",
                  "steady_rough_db", "steady_flux_db", "tail_redundancy"):
            v = getattr(p, f)
            if not np.isfinite(v) or v < 0:
                raise ParameterError(f"{f}={v!r} must be a finite number >= 0")
        if not np.isfinite(p.fit_db) or p.fit_db > 0:
            raise ParameterError(f"fit_db={p.fit_db!r} must be a finite number <= 0 (dB)")

    def _inner(self, scale: float = 1.0) -> Inverter:
        from .. import registry

        p = self.params
        params: dict[str, Any] = {}
        n_iter = scaled_iterations(int(p.inner_iter), scale)
        if n_iter > 0:
            counter = ITERATION_COUNTERS.get(p.inner, "n_iter")
            fields = getattr(registry.get("inverter", p.inner), "Params", None)
            if fields is None or counter not in getattr(fields, "__dataclass_fields__", {}):
                raise ParameterError(f"inner={p.inner!r} has no iteration parameter {counter!r}; "
                                     "set inner_iter=0 to keep its default")
            params[counter] = n_iter
        return registry.create("inverter", p.inner, params)

    def components(self) -> list:
        """The inner inverter (part of the cache key)."""
        return [self._inner()]

    def solve(self, mel: np.ndarray, spec: FeatureSpec, *, context: Mapping[str, Any]) -> np.ndarray:
        """Return the chosen candidate's spectrogram (``spec.domain``); its phase to ``phase_init``."""
        from .. import registry
        from ..phase.projections import fgla
        from ..plugin import PHASE_FINAL_KEY
        from .joint_fgla import PHASE_INIT_KEY
        from .nnls import mel_nnls_inverse

        p = self.params
        if mel.ndim > 2:  # one item at a time, each with its own choice
            return solve_items(self.solve, mel, spec, context)
        rough = band_roughness_db(mel, spec)
        flat = spectral_flatness(mel, spec)
        smooth = float(p.smooth_db) > 0 and rough < float(p.smooth_db)
        noisy = float(p.noise_flatness) > 0 and flat >= float(p.noise_flatness)
        band_w, share, flux = None, float("nan"), float("nan")
        if not (smooth or noisy) and (p.blend or float(p.noise_share) > 0 or float(p.steady_flux_db) > 0):
            band_w = band_weights(mel, spec, float(p.blend_lo), float(p.blend_hi), *BLEND_NEIGHBOURHOOD)
            share = noise_energy_share(mel, spec, band_w)
        textured = float(p.noise_share) > 0 and share >= float(p.noise_share)
        if (float(p.steady_flux_db) > 0 and share >= float(p.steady_share) and not textured
                and rough <= float(p.steady_rough_db)):
            flux = temporal_flux_db(mel, spec)
        steady = flux <= float(p.steady_flux_db)
        record: dict[str, Any] = {"criterion": p.criterion, "roughness": rough, "smooth": smooth,
                                  "flatness": flat, "noisy": noisy, "noise_share": share,
                                  "textured": textured, "flux": flux, "steady": steady,
                                  "inner": float("nan"),
                                  "fallback": float("nan"), "probe": float("nan"), "stopped": False,
                                  "blend": float("nan"), "tail": 0, "overlap": float("nan")}

        def fallback_magnitude() -> np.ndarray:
            """The ``nnls`` magnitude (the previous default's)."""
            s0 = mel_nnls_inverse(mel, spec)
            return (np.sqrt(np.maximum(s0, 0)) if spec.power == 2 else s0).astype(mel.dtype, copy=False)

        def fallback_phase(m0: np.ndarray, checkpoints: dict | None = None) -> np.ndarray:
            """``fgla`` from the seeded random phase: the fallback's complex estimate."""
            return fgla(m0, spec, n_iter=int(p.fallback_iter), rng=int(p.seed),
                        checkpoints=checkpoints)

        if smooth or noisy or textured or steady:  # decided from the mel alone: the inner is not run
            mag = fallback_magnitude()
            x, fallback = fallback_phase(mag), True
        else:
            inner_ctx: dict[str, Any] = {}
            overlap = (int(p.tail_iter) > 0 and p.tail_start == "pghi"
                       and low_redundancy(spec, float(p.tail_redundancy)))
            inner = self._inner(float(p.tail_iter_scale) if overlap else 1.0)
            s1 = np.asarray(inner.solve(mel, spec, context=inner_ctx))
            mag1 = (np.sqrt(np.maximum(s1, 0)) if spec.power == 2 else s1).astype(mel.dtype, copy=False)
            x1 = inner_ctx.get(PHASE_INIT_KEY)
            if x1 is None:  # an inner method without a phase: FGLA on its magnitude
                x1 = registry.create("phase", "fgla", {"n_iter": int(p.fallback_iter)})(
                    mag1, spec, rng=int(p.seed))
            c1 = record["inner"] = mel_criterion(audio_mel(x1, spec), mel, spec, p.criterion)
            fallback, mag0 = False, None
            if overlap:  # rule g at low redundancy: rule c judges the re-phased estimate
                mag0 = fallback_magnitude()
                if p.blend:
                    w = blend_weights(band_w, spec)
                    mag1 = blend_magnitudes(mag1, mag0, w)
                    record["blend"] = float(np.mean(w))
                mag2, x2 = overlap_estimate(mag1, mag0, spec, mix=float(p.tail_mix), n_iter=int(p.tail_iter),
                                              seed=int(p.seed))
                mag1, x1, record["tail"] = mag2, x2, int(p.tail_iter)
                record["overlap"] = mel_criterion(audio_mel(x1, spec), mel, spec, p.criterion)
                c1 = max(c1, record["overlap"])  # the fallback is kept if it beats either estimate
            if not (p.criterion == "mel_sc" and float(p.fit_db) < 0 and c1 < float(p.fit_db)):
                if mag0 is None:
                    mag0 = fallback_magnitude()
                checkpoints = None
                if (p.probe and p.criterion == "mel_sc" and int(p.fallback_iter) == PROBE_ITER
                        and not overlap):

                    def look(k: int) -> Callable[[np.ndarray], bool]:
                        def stop(x_k: np.ndarray) -> bool:
                            """True once even the measured gain to come leaves the fallback behind."""
                            record["probe"] = mel_criterion(audio_mel(x_k, spec), mel, spec)
                            record["probe_iter"] = k
                            record["stopped"] = record["probe"] - PROBE_BOUNDS[k] >= c1 - float(p.margin_db)
                            return record["stopped"]
                        return stop

                    checkpoints = {k: look(k) for k in PROBE_BOUNDS}
                x0 = fallback_phase(mag0, checkpoints)
                if not record["stopped"]:  # all iterations ran: the previous default's own candidate
                    c0 = record["fallback"] = mel_criterion(audio_mel(x0, spec), mel, spec, p.criterion)
                    fallback = c0 < c1 - float(p.margin_db)
            if not fallback and p.blend and not overlap:  # rule d: nnls's magnitude where locally flat
                if mag0 is None:
                    mag0 = fallback_magnitude()
                w = blend_weights(band_w, spec)
                mag1 = blend_magnitudes(mag1, mag0, w)
                record["blend"] = float(np.mean(w))
            if (not fallback and not overlap and int(p.tail_iter) > 0
                    and low_redundancy(spec, float(p.tail_redundancy))):  # rule g, tail_start="inner"
                x1 = fgla(mag1, spec, n_iter=int(p.tail_iter), init=x1)
                record["tail"] = int(p.tail_iter)
            if not fallback:  # rule h (guard_presets.py)
                x1 = dense_tail(x1, mag1, spec, rough, int(p.dense_tail_iter), record)
            mag, x = (mag0, x0) if fallback else (mag1, x1)
        record["chosen"] = "fallback" if fallback else "inner"
        if isinstance(context, MutableMapping):
            context[PHASE_INIT_KEY] = x
            context[GUARD_KEY] = record
            if fallback and p.fallback_final:
                context[PHASE_FINAL_KEY] = True
        mag = np.asarray(mag)
        return mag * mag if spec.power == 2 else mag
