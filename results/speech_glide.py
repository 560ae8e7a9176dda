"""Per-clip effect of ``joint_tcr``'s continuity-prior duration, and whether the clip's glides predict it.

Run from the repository root::

    .venv/bin/python results/speech_glide.py measure SPEC OUT.csv N [N ...]
    .venv/bin/python results/speech_glide.py measure-guarded SPEC OUT.csv N [N ...]
    .venv/bin/python results/speech_glide.py analyse OUT.csv
    .venv/bin/python results/speech_glide.py select OUT.csv

``measure`` runs ``joint_tcr:200:prior_iter=N+fgla:0`` for every ``N`` on every speech
clip of the evaluation suite at ``SPEC`` (147 at ``speech16k``), exactly as
``results/joint_fgla_quality.py`` runs a cell (one thread, PESQ-wb via
``melbench.bench.pipelines``, SC against the true magnitude; ``measure-guarded``: the
default cell ``guarded:200:inner=joint_tcr+fgla:0`` with the inner's ``prior_iter`` =
``N``), and writes one row per (clip, N) to ``OUT.csv`` with the clip's reference-free
glide features (computed from the mel only). A rerun resumes: rows already in the file
are skipped. ``analyse`` prints the per-clip optima, the noise control, the features'
rank correlation with the gain, and a threshold rule chosen on the even-index clips and
reported on the odd ones with a bootstrap CI. ``select`` picks per clip the ``N`` whose
audio fits the given mel best (``mel_sc_db``: the output's mel against the given one,
reference-free) and reports its PESQ gain over ``N`` = 150. See ``results/speech_glide.md``.

Features (both from the mel, nothing from the reference audio):

- ``xcorr``: the mel's low band (bands centred 150-1000 Hz), log-compressed, resampled
  onto a log-frequency grid; for each pair of adjacent frames the log-frequency shift that
  maximises their cross-correlation (a harmonic pattern whose F0 changes by a factor
  ``1 + d`` shifts by ``log(1 + d)`` on that axis). The feature is the energy-weighted mean
  of ``|shift|`` over the loudest half of the frames, converted to bins per frame of a
  500 Hz component.
- ``f0slope``: ``f0_track`` (``results/speech_phase_proto.py``) on the ``nnls`` magnitude;
  the mean ``|d ln F0|`` per frame over frames with a harmonic score above 1 where the
  neighbour is also such a frame, converted as above.
"""

from __future__ import annotations

import csv
import os
import sys
import time

import numpy as np
from joint_fgla_quality import _clips
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, _pesq
from melbench.measures import spectral_convergence_db
from melbench.spec import get_spec

FIELDS = ["index", "clip", "prior_iter", "pesq", "sc_db", "mel_sc_db", "seconds", "xcorr", "f0slope"]


def xcorr_glide(mel: np.ndarray, spec, lo_hz: float = 150.0, hi_hz: float = 1000.0,
                step: float = 0.005, max_shift: float = 0.08) -> float:
    """Energy-weighted mean |log-frequency shift| between adjacent frames, in bins/frame at 500 Hz."""
    import librosa

    m = np.asarray(spec.decompress(mel), np.float64)
    centres = librosa.mel_frequencies(spec.n_mels + 2, fmin=spec.fmin, fmax=spec.fmax or spec.sample_rate / 2,
                                      htk=bool(spec.htk))[1:-1]
    band = (centres >= lo_hz) & (centres <= hi_hz)
    grid = np.arange(np.log(lo_hz), np.log(hi_hz), step)
    lm = np.log(m[band] + 1e-5 * m.max())
    X = np.stack([np.interp(grid, np.log(centres[band]), lm[:, t]) for t in range(lm.shape[1])], 1)
    X = X - X.mean(axis=0)
    X /= np.linalg.norm(X, axis=0) + 1e-12
    L = int(round(max_shift / step))
    a, b = X[:, :-1], X[:, 1:]
    lags = np.arange(-L, L + 1)
    c = np.stack([np.sum(a[max(0, -k): len(grid) - max(0, k)] * b[max(0, k): len(grid) - max(0, -k)], 0)
                  for k in lags])  # (lags, T-1): frame t+1 shifted up by k grid steps
    j = np.clip(np.argmax(c, 0), 1, len(lags) - 2)
    cols = np.arange(c.shape[1])
    y0, y1, y2 = c[j - 1, cols], c[j, cols], c[j + 1, cols]
    den = y0 - 2 * y1 + y2
    d = np.where(np.abs(den) > 1e-12, 0.5 * (y0 - y2) / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
    shift = np.abs((lags[j] + np.clip(d, -1, 1)) * step)
    e = m[band].sum(0)
    w = np.minimum(e[:-1], e[1:])
    keep = w >= np.median(w)
    r = float(np.sum(shift[keep] * w[keep]) / max(np.sum(w[keep]), 1e-12))
    return r * 500.0 / (spec.sample_rate / spec.n_fft)


def f0_glide(mel: np.ndarray, spec) -> float:
    """Mean |d ln F0| per frame of ``f0_track`` on the ``nnls`` magnitude, in bins/frame at 500 Hz."""
    from speech_phase_proto import f0_track

    from melbench import registry

    mag = registry.create("inverter", "nnls", {})(mel, spec)
    f0, score = f0_track(np.asarray(mag, np.float64), spec)
    v = score > 1.0
    pair = v[:-1] & v[1:]
    if not pair.any():
        return 0.0
    dl = np.abs(np.diff(np.log(f0)))[pair]
    dl = dl[dl < 0.1]  # octave / track jumps are not glides
    return float(dl.mean() if dl.size else 0.0) * 500.0 / (spec.sample_rate / spec.n_fft)


def _guarded_call(n: int, spec, length: int, mag: np.ndarray):
    """The default cell ``guarded:200:inner=joint_tcr+fgla:0`` with the inner's ``prior_iter`` = ``n``.

    The guard's ``inner`` is a plugin name (its parameters cannot be given in a label), so
    ``registry.create`` is wrapped while the cell runs to add ``prior_iter`` to ``joint_tcr``.
    """
    from melbench import registry

    base = _cell_call("guarded:200:inner=joint_tcr+fgla:0", spec, length, mag, 0)
    create = registry.create

    def patched(kind, name, params=None, *a, **k):
        if kind == "inverter" and name == "joint_tcr":
            params = {**(params or {}), "prior_iter": n}
        return create(kind, name, params, *a, **k)

    def run(mel: np.ndarray) -> np.ndarray:
        registry.create = patched
        try:
            return base(mel)
        finally:
            registry.create = create
    return run


def measure(spec_name: str, out: str, ns: list[int], guarded: bool = False) -> int:
    """Append the rows of every (clip, N) not yet in ``out`` (``guarded``: the default cell's inner)."""
    spec = get_spec(spec_name)
    done = set()
    if os.path.exists(out):
        with open(out) as fh:
            done = {(int(r["index"]), int(r["prior_iter"])) for r in csv.DictReader(fh)}
    new = not os.path.exists(out)
    with open(out, "a", newline="") as fh, threadpool_limits(1):
        w = csv.DictWriter(fh, FIELDS)
        if new:
            w.writeheader()
        for i, (cid, _kind, y) in enumerate(_clips("suite", spec)):
            todo = [n for n in ns if (i, n) not in done]
            if not todo:
                continue
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            fx, ff = xcorr_glide(mel, spec), f0_glide(mel, spec)
            for n in todo:
                fn = (_guarded_call(n, spec, len(y), mag) if guarded
                      else _cell_call(f"joint_tcr:200:prior_iter={n}+fgla:0", spec, len(y), mag, 0))
                t0 = time.process_time()
                audio = np.asarray(fn(mel), np.float32)[: len(y)]
                dt = time.process_time() - t0
                sc = spectral_convergence_db(mag, spec.magnitude(audio))
                mel_sc = spectral_convergence_db(spec.decompress(mel),
                                                 spec.decompress(spec.mel_from_magnitude(spec.magnitude(audio))))
                w.writerow({"index": i, "clip": cid, "prior_iter": n, "pesq": f"{_pesq(spec, y, audio):.4f}",
                            "sc_db": f"{sc:.3f}",
                            "mel_sc_db": f"{mel_sc:.3f}", "seconds": f"{dt:.3f}", "xcorr": f"{fx:.4f}",
                            "f0slope": f"{ff:.4f}"})
                fh.flush()
            print(f"{i:3d} {cid[:40]:40s} xcorr {fx:.3f} f0slope {ff:.3f}", flush=True)
    return 0


def _boot(d: np.ndarray, n: int = 10000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    m = d[rng.integers(0, len(d), (n, len(d)))].mean(1)
    return float(np.quantile(m, 0.025)), float(np.quantile(m, 0.975))


def select(path: str, ref: int = 150) -> int:
    """Per clip, the ``prior_iter`` whose audio fits the given mel best (reference-free), against ``ref``."""
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    by: dict[int, dict] = {}
    for r in rows:
        by.setdefault(int(r["index"]), {})[int(r["prior_iter"])] = (float(r["pesq"]), float(r["mel_sc_db"]))
    ns = sorted({int(r["prior_iter"]) for r in rows})
    idx = np.array(sorted(i for i, d in by.items() if all(n in d for n in ns)))
    for cand in ([n for n in ns if n != ref], *([n] for n in ns if n != ref)):
        pool = [ref, *cand]
        pick = np.array([max(pool, key=lambda n: -by[i][n][1]) for i in idx])
        d = np.array([by[i][n][0] - by[i][ref][0] for i, n in zip(idx, pick, strict=True)])
        for half, m in (("all", idx >= 0), ("odd", idx % 2 == 1)):
            lo, hi = _boot(d[m])
            print(f"lowest mel SC among {pool} ({half}, n={int(m.sum())}): PESQ gain over {ref} "
                  f"{d[m].mean():+.4f} [{lo:+.4f}, {hi:+.4f}]; picked "
                  + ", ".join(f"{n}: {int((pick[m] == n).sum())}" for n in pool))
    return 0


def analyse(path: str, ref: int = 150) -> int:
    """Per-clip optima, noise control, feature correlations, even-chosen / odd-reported rule."""
    from scipy.stats import spearmanr

    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    ns = sorted({int(r["prior_iter"]) for r in rows})
    by: dict[int, dict] = {}
    for r in rows:
        d = by.setdefault(int(r["index"]), {"xcorr": float(r["xcorr"]), "f0slope": float(r["f0slope"])})
        d[int(r["prior_iter"])] = float(r["pesq"])
    idx = np.array(sorted(i for i, d in by.items() if all(n in d for n in ns)))
    P = np.array([[by[i][n] for n in ns] for i in idx])
    feats = {k: np.array([by[i][k] for i in idx]) for k in ("xcorr", "f0slope")}
    print(f"{len(idx)} clips, prior_iter {ns}; mean PESQ-wb " + " ".join(f"{n}:{P[:, k].mean():.4f}"
                                                                        for k, n in enumerate(ns)))
    r0 = ns.index(ref)
    best = np.array(ns)[np.argmax(P, 1)]
    print("best prior_iter per clip: " + ", ".join(f"{n}: {int((best == n).sum())}" for n in ns))
    print(f"oracle per-clip choice: {P.max(1).mean():.4f} (+{(P.max(1) - P[:, r0]).mean():.4f} over {ref})")
    for k, n in enumerate(ns):
        if k == r0:
            continue
        d = P[:, k] - P[:, r0]
        lo, hi = _boot(d)
        print(f"  {n} - {ref}: mean {d.mean():+.4f} [{lo:+.4f}, {hi:+.4f}] sd {d.std():.4f} "
              f"|d|>0.05: {int((np.abs(d) > 0.05).sum())}  "
              + "  ".join(f"rho({f}) {spearmanr(v, d)[0]:+.3f} (p {spearmanr(v, d)[1]:.3f})"
                          for f, v in feats.items()))
    # Is a clip's gain a property of the clip? Compare two comparisons that should be the same
    # (N vs ref, N+1 vs ref-1): their per-clip differences must correlate if it is.
    if ref - 1 in ns:
        k1 = ns.index(ref - 1)
        pick = np.maximum(P[:, r0], P[:, k1]) - P[:, r0]
        print(f"per-clip best of {ref} and {ref - 1} (no real choice): +{pick.mean():.4f}")
        for n in ns:
            if n + 1 in ns and n not in (ref - 1, ref):
                a = P[:, ns.index(n)] - P[:, r0]
                b = P[:, ns.index(n + 1)] - P[:, k1]
                same = np.sign(a) == np.sign(b)
                print(f"  repeat: ({n} - {ref}) vs ({n + 1} - {ref - 1}): "
                      f"pearson {np.corrcoef(a, b)[0, 1]:+.3f}, "
                      f"spearman {spearmanr(a, b)[0]:+.3f}, same sign {int(same.sum())}/{len(a)}; "
                      f"best of {n},{n + 1} over best of {ref},{ref - 1}: "
                      f"{(np.maximum(a + P[:, r0], P[:, ns.index(n + 1)]) - P[:, r0] - pick).mean():+.4f}")
    even, odd = idx % 2 == 0, idx % 2 == 1
    for f, v in feats.items():
        q1, q3 = np.quantile(v, [0.25, 0.75])
        print(f"{f}: median {np.median(v):.3f}, quartiles {q1:.3f} {q3:.3f}")
        # Rule: clips with feature above tau get prior_iter n_hi ... below get n_lo; chosen on even.
        bestrule, bestgain = None, -np.inf
        nominal = [(k, n) for k, n in enumerate(ns) if n % 50 == 0]  # not the 51/101/149 repeats
        for klo, nlo in nominal:
            for khi, nhi in nominal:
                for tau in np.quantile(v[even], np.linspace(0.1, 0.9, 17)):
                    sel = np.where(v > tau, P[:, khi], P[:, klo])
                    g = (sel - P[:, r0])[even].mean()
                    if g > bestgain:
                        bestrule, bestgain = (nlo, nhi, float(tau)), g
        nlo, nhi, tau = bestrule
        sel = np.where(v > tau, P[:, ns.index(nhi)], P[:, ns.index(nlo)])
        d = (sel - P[:, r0])[odd]
        lo, hi = _boot(d)
        print(f"  rule on even: prior_iter {nlo} if {f} <= {tau:.3f} else {nhi}: even gain {bestgain:+.4f}; "
              f"odd gain {d.mean():+.4f} [{lo:+.4f}, {hi:+.4f}] (n={int(odd.sum())})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    a = sys.argv[1:]
    if a and a[0] in ("measure", "measure-guarded"):
        raise SystemExit(measure(a[1], a[2], [int(x) for x in a[3:]], a[0] == "measure-guarded"))
    if a and a[0] == "select":
        raise SystemExit(select(a[1], *(int(x) for x in a[2:])))
    if a and a[0] == "analyse":
        raise SystemExit(analyse(a[1], *(int(x) for x in a[2:])))
    raise SystemExit(__doc__)
