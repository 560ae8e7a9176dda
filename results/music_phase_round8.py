"""Round 8 of the music-SC work (issue 16): momentum schedules, adaptive restarts, several starts, a score.

Run from the repository root (one thread)::

    .venv/bin/python results/music_phase_round8.py check
    .venv/bin/python results/music_phase_round8.py family CELL [CELL ...]
    .venv/bin/python results/music_phase_round8.py music[N] SPEC CELL [CELL ...]
    .venv/bin/python results/music_phase_round8.py speech SET SPEC CELL [CELL ...]
    .venv/bin/python results/music_phase_round8.py score SPEC
    .venv/bin/python results/music_phase_round8.py edge

Every prototype is ``joint_tcr`` (the default cell's inner) written out here on melbench's
own kernels (:func:`melbench.inverters.joint_kernels._k_joint`, the ``Projector``, the
continuity kernel), with one change, registered as an inverter under the names of
:data:`VARIANTS` so that ``guarded:200:inner=NAME+fgla:0`` runs it inside the guard as the
benchmark runs the default. ``check`` shows that the written-out loop with no change gives
``joint_tcr``'s output bit for bit. ``family`` is round 7's ten-contract family
(``music_phase_round7.py family``), ``music``/``speech`` are ``results/music_phase.py`` and
``results/joint_fgla_quality.py`` with the variants registered. ``score`` prints the
reference-free tonality score of every clip of the evaluation suite (per kind, even and odd
halves) and how many clips of each kind fall below the lowest even-half speech score and
below ``joint_auto``'s threshold. ``edge`` measures every non-music clip of the suite whose
clean or degraded mel (the benchmark's tracks, seed 0) falls below the threshold at speech16k.

Variants (keys of a variant's dict):

- ``tail`` = (K, a): the first run's last K iterations at momentum ``a`` (the schedule of
  direction 1);
- ``ralpha``: the restart's momentum (``joint_tcr``: 0.99);
- ``adaptive`` in {"first", "restart", "both"}: momentum reset (the next iteration without
  the momentum term) whenever the mel gap ``|| |t| - |x| ||`` rises from one iteration to
  the next (function-value adaptive restart, O'Donoghue and Candes 2015);
- ``starts`` = n: the first run split into n runs of ``joint_iter / n`` iterations from n
  starts (the ``nnls`` magnitude with zero phase, then with seeded random phases); their
  consistent magnitudes are averaged, with the first run's phase, and the restart runs
  from that (direction 3);
- ``restart_iter``, ``restart_average``: as ``joint_tcr``.
"""

from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.inverters.joint_continuity import _k_continuity
from melbench.inverters.joint_fgla import _joint_operators
from melbench.inverters.joint_kernels import _k_joint
from melbench.inverters.joint_restart import restart
from melbench.inverters.nnls import mel_nnls_inverse
from melbench.spec import FeatureSpec
from melbench.stft import Projector

#: name -> changes (module docstring). The first run is joint_tcr's: 200 iterations at 0.99,
#: continuity (beta 0.25, < 1 kHz) in the first 150, 100 final mel steps, restart 30 at 0.99.
VARIANTS: dict[str, dict] = {
    "r8_base": {},
    "r8_ra90": {"ralpha": 0.9},
    "r8_ra50": {"ralpha": 0.5},
    "r8_ra0": {"ralpha": 0.0},
    "r8_t50_90": {"tail": (50, 0.9)},
    "r8_t50_50": {"tail": (50, 0.5)},
    "r8_t30_0": {"tail": (30, 0.0)},
    "r8_t50_90_ra50": {"tail": (50, 0.9), "ralpha": 0.5},
    "r8_ar1": {"adaptive": "first"},
    "r8_arr": {"adaptive": "restart"},
    "r8_ar2": {"adaptive": "both"},
    "r8_s2": {"starts": 2},
    "r8_s2_ra30": {"starts": 2, "restart_average": 30},
    "r8_s2_r60": {"starts": 2, "restart_iter": 60},
    "r8_s3": {"starts": 3},
}


def _loop(mel, spec, c, n_iter, alphas, adaptive=False, prior=None, final_steps=100, avg=None):
    """``joint_fgla_inverse``'s loop (no early/restarts/sharpen), momentum per iteration ``alphas[it]``.

    ``c`` complex internal (1, frames, n_freq) start. With ``adaptive`` the momentum is
    dropped for the next iteration whenever the mel gap rises. ``avg`` (a list) receives the
    sum of ``|t|`` over all iterations if given. Returns ``(s, x)`` internal frame-major.
    """
    dtype = mel.dtype
    proj = Projector.from_spec(spec, mel.shape[-1], dtype=dtype)
    lo, offsets, mw, ww, keep = _joint_operators(spec, np.dtype(dtype).str, False)
    power = int(spec.power)
    s = np.empty(proj.shape[1:], dtype=dtype)
    xprev = np.empty_like(c[0])
    a_buf = np.empty(c.shape[1:], dtype=dtype)
    g_buf = np.empty(c.shape[1:], dtype=dtype)
    fresh, last_gap = True, np.inf
    for it in range(n_iter):
        t = proj.project(c, overwrite=True)
        if prior is not None:
            prior(it, t[0])
        if avg is not None:
            a = np.abs(t[0])
            if avg:
                avg[0] += a
            else:
                avg.append(a)
        gap = _k_joint(t[0], xprev, a_buf, g_buf, lo, offsets, mw, ww, keep, mel, 3, power,
                       proj.dtype.type(alphas[it]), fresh, s, it == n_iter - 1, adaptive,
                       proj.dtype.type(0.0))
        fresh = False
        if adaptive:
            if gap > last_gap:
                fresh = True
            last_gap = gap
        c = t
    if final_steps > 0:
        _k_joint(xprev, xprev, a_buf, g_buf, lo, offsets, mw, ww, keep, mel, int(final_steps), power,
                 proj.dtype.type(alphas[-1]), True, s, True, False)
    return proj, s, xprev


def variant_inverse(mel: np.ndarray, spec: FeatureSpec, v: dict, n_iter: int = 200,
                    restart_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """``joint_tcr`` with the changes ``v`` (module docstring); returns ``(spectrogram, stft)``."""
    mel = np.ascontiguousarray(np.asarray(mel, np.float32))
    restart_iter = int(v.get("restart_iter", restart_iter))
    proj = Projector.from_spec(spec, mel.shape[-1], dtype=np.float32)
    s0 = mel_nnls_inverse(mel, spec)
    mag0 = np.sqrt(s0) if int(spec.power) == 2 else s0
    n_bins = int(np.floor(1000.0 * spec.n_fft / spec.sample_rate)) + 1

    starts = int(v.get("starts", 1))
    per = n_iter // starts
    prior_n = 150 * per // 200  # the continuity prior in the first 3/4 of each run

    def continuity(it, t):
        if it < prior_n:
            _k_continuity(t, np.empty(t.shape, t.real.dtype), t.real.dtype.type(0.25), n_bins)

    alphas = np.full(per, 0.99)
    if "tail" in v:
        k, a = v["tail"]
        alphas[per - k:] = a
    adaptive = v.get("adaptive")
    runs = []
    for j in range(starts):
        if j == 0:
            c = proj.to_internal(mag0, proj.cdtype)
        else:
            ph = np.random.default_rng(j).uniform(-np.pi, np.pi, mag0.shape)
            c = proj.to_internal(mag0 * np.exp(1j * ph), proj.cdtype)
        runs.append(_loop(mel, spec, c, per, alphas, adaptive in ("first", "both"), continuity, 100))
    proj, s, x = runs[0]
    if starts > 1:
        mean = np.mean([np.abs(r[2]) for r in runs], axis=0)
        mag = np.abs(x)
        nz = mag > 0
        x = x.copy()
        x[nz] = x[nz] * (mean[nz] / mag[nz])
    x_ext = proj.from_internal(x[None])
    if restart_iter == 0:
        return proj.from_internal(s[None]), x_ext
    ralpha = float(v.get("ralpha", 0.99))
    if adaptive in ("restart", "both"):
        c = proj.to_internal(x_ext, proj.cdtype)
        _, s2, x2 = _loop(mel, spec, c, restart_iter, np.full(restart_iter, ralpha), True, None, 100)
        return proj.from_internal(s2[None]), proj.from_internal(x2[None])
    return restart(mel, spec, x_ext, n_iter=restart_iter, alpha=ralpha, ratio_steps=3, final_steps=100,
                   average_iter=int(v.get("restart_average", 0)))


def _register_variants() -> None:
    from melbench import registry
    from melbench.inverters.guarded import ITERATION_COUNTERS
    from melbench.inverters.joint_restart import JointTCR

    for name, changes in VARIANTS.items():
        def estimate(self, mel, spec, _v=changes):
            return variant_inverse(mel, spec, _v, n_iter=int(self.params.joint_iter),
                                   restart_iter=int(self.params.restart_iter))
        registry.register("inverter", type(name, (JointTCR,), {"name": name, "estimate": estimate}), name)
        ITERATION_COUNTERS[name] = "joint_iter"


def check() -> None:
    """The written-out loop with no change against ``joint_tcr`` (bit for bit)."""
    from melbench.bench.pipelines import clips_for
    from melbench.inverters.joint_restart import joint_tcr_inverse
    from melbench.spec import get_spec

    spec = get_spec("speech16k")
    y = clips_for(spec, ["vibe_ace_00-08s"], False, 2.5)[0][2]
    mel = spec.mel_from_magnitude(spec.magnitude(y))
    s1, x1 = joint_tcr_inverse(mel, spec)
    s2, x2 = variant_inverse(mel, spec, {})
    print("check: spectrogram equal", np.array_equal(s1, s2), "stft equal", np.array_equal(x1, x2))


def tonality_score(mel: np.ndarray, spec: FeatureSpec) -> float:
    """The score of ``joint_auto``: :func:`melbench.inverters.lowrank_prior.low_band_steadiness`."""
    from melbench.inverters.lowrank_prior import low_band_steadiness

    return low_band_steadiness(mel, spec)


def score(spec_name: str) -> None:
    """The ``score`` section: the suite's clips by kind, even / odd halves, best threshold."""
    from melbench.datasets.eval_suite import EvalSuite
    from melbench.spec import get_spec

    spec = get_spec(spec_name)
    rows = []
    for i, c in enumerate(EvalSuite().clips(spec)):
        if c.error:
            continue
        y = np.asarray(c.audio, np.float32)
        mel = spec.mel_from_magnitude(spec.magnitude(y))
        rows.append((i, c.meta.get("kind"), tonality_score(mel, spec), c.id))
    for kind in ("speech", "music", "other"):
        for half in (0, 1):
            v = np.array([r[2] for r in rows if r[1] == kind and r[0] % 2 == half])
            if v.size:
                print(f"{kind:6s} {'even' if half == 0 else 'odd '} n={v.size:3d} min {v.min():.3f} "
                      f"p05 {np.percentile(v, 5):.3f} median {np.median(v):.3f} "
                      f"p95 {np.percentile(v, 95):.3f} "
                      f"max {v.max():.3f}")
    even = [r for r in rows if r[0] % 2 == 0]
    sp = np.array([r[2] for r in even if r[1] == "speech"])
    from melbench.inverters.joint_lowrank import JointAuto

    for thr in (float(sp.min()), JointAuto.Params().steady_below):
        for half, name in ((0, "even"), (1, "odd")):
            part = [r for r in rows if r[0] % 2 == half]
            over = {k: sum(1 for r in part if r[1] == k and r[2] < thr) for k in ("speech", "music", "other")}
            tot = {k: sum(1 for r in part if r[1] == k) for k in ("speech", "music", "other")}
            counts = ", ".join(f"{k} {over[k]}/{tot[k]}" for k in over)
            print(f"threshold {thr:.3f}: {name}: below it {counts}")
    for r in sorted(rows, key=lambda r: r[2])[:40]:
        print(f"  {r[2]:.3f} {r[1]:6s} {r[3]}")


def edge() -> None:
    """The ``edge`` section: the non-music suite clips that take ``joint_auto``'s other path.

    Every clean or degraded mel at speech16k below the threshold, measured with
    ``nnls+fgla:100``, the default and ``joint_auto``.
    """
    from melbench import registry
    from melbench.bench.pipelines import TRACKS, _measure
    from melbench.datasets.eval_suite import EvalSuite
    from melbench.inverters.lowrank_prior import low_band_steadiness
    from melbench.measures import spectral_convergence_db
    from melbench.spec import get_spec

    spec = get_spec("speech16k")
    cells = ["nnls+fgla:100", "guarded:200:inner=joint_tcr+fgla:0", "guarded:200:inner=joint_auto+fgla:0"]
    for c in EvalSuite().clips(spec):
        if c.error or c.meta.get("kind") == "music":
            continue
        y = np.asarray(c.audio, np.float32)
        mag = spec.magnitude(y)
        clean = spec.mel_from_magnitude(mag)
        for tr in ("clean", "noise20", "smooth1", "quant6"):
            d, p = TRACKS[tr]
            mel = registry.create("degrade", d, p)(clean, spec, np.random.default_rng([0, 1]))
            sc = low_band_steadiness(spec.decompress(mel), spec)
            if sc < 1.3:
                rows = [_measure(cell, spec, "speech16k", tr, c.id, c.meta["kind"], y, mag, mel, 0,
                                 spectral_convergence_db) for cell in cells]
                print(f"{c.meta['kind']:6s} {tr:8s} {c.id[:40]:40s} score {sc:.2f} | "
                      + " | ".join(f"PESQ {r['pesq_wb']:.3f} SC {r['sc_db']:.2f}" for r in rows), flush=True)


def main(argv: list[str]) -> int:
    """Dispatch the sections of the module docstring."""
    _register_variants()
    sys.path.insert(0, "results")
    if argv[0].startswith("music"):
        import music_phase

        return music_phase.main(argv)
    if argv[0] == "speech":
        import joint_fgla_quality

        return joint_fgla_quality.main(argv[1:])
    with threadpool_limits(1):
        if argv[0] == "family":
            import music_phase_round7

            music_phase_round7.family(argv[1:])
        elif argv[0] == "check":
            check()
        elif argv[0] == "score":
            score(argv[1])
        elif argv[0] == "edge":
            edge()
        else:
            raise SystemExit(f"unknown section {argv[0]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
