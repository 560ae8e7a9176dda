"""How well the fallback's mel fit after a few FGLA iterations bounds its fit after 100 (issue 16).

Run from the repository root (the suite needs ``make eval-data``)::

    OMP_NUM_THREADS=1 .venv/bin/python results/guard_probe.py collect SPEC [SPEC ...]
    .venv/bin/python results/guard_probe.py report

``collect`` builds, for every clip of ``EvalSuite().clips(spec)`` and every track
(clean, noise20, smooth1, quant6 of ``melbench bench pipelines``), the fallback candidate of
:class:`melbench.inverters.guarded.Guarded` (the ``nnls`` magnitude, FGLA from the seeded
random phase, seed 0) and records its ``mel_sc`` criterion
(:func:`melbench.inverters.guarded.mel_criterion` of the candidate's audio mel) after
``K`` = 5, 10, 15, 20, 30, 50 and 100 iterations, in one FGLA run (the run's iterate after
``K`` iterations is exactly ``fgla(n_iter=K)``'s output: checked on the first clip of
every spec). Rows go to ``results/guard_probe.csv`` (atomic write; a rerun resumes).

``choices SPEC [TRACK ...]`` runs the default cell's guard (``guarded:200:inner=joint_tc``)
with the probe on and off on every suite clip and records both choices, whether the
outputs are identical, and both CPU times (``results/guard_probe_choices.csv``).

``report`` prints the tables of ``results/guard_time.md``: per ``K``, the distribution of
``c_K - c_100`` (how much the remaining iterations improve the fit), the bound chosen on
the even-index clips (their maximum) and how many odd-index rows exceed it.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.inverters.guarded import Guarded, audio_mel, band_roughness_db, mel_criterion, spectral_flatness
from melbench.inverters.nnls import mel_nnls_inverse
from melbench.phase.projection_kernels import _k_fgla, _k_fgla_inplace, _k_p2, _v, setup
from melbench.results import atomic_write_bytes
from melbench.spec import get_spec

HERE = Path(__file__).resolve().parent
CSV = HERE / "guard_probe.csv"
KS = (5, 10, 15, 20, 30, 50, 100)
TRACK_NAMES = ("clean", "noise20", "smooth1", "quant6")


def fgla_checkpoints(mag: np.ndarray, spec, ks=KS, seed: int = 0) -> dict[int, np.ndarray]:
    """``{K: fgla(mag, spec, n_iter=K, rng=seed)}`` for every K, from one run (the same loop)."""
    proj, a, x = setup(mag, spec, None, "random", seed, None)
    af, al = a.reshape(-1), proj.dtype.type(0.99)
    xin = np.empty_like(x)
    _k_p2(_v(x), af, _v(xin))
    out, tprev = {}, None
    for it in range(max(ks)):
        t = proj.project(xin, overwrite=True)
        if tprev is None:
            _k_fgla(_v(t), _v(t), af, al, _v(xin), False)
        else:
            _k_fgla_inplace(_v(t), _v(tprev), af, al, False)
            xin = tprev
        tprev = t
        if it + 1 in ks:
            out[it + 1] = proj.from_internal(xin).copy()
    return out


def _read() -> list[dict]:
    if not CSV.exists():
        return []
    with CSV.open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in r:
            if k not in ("spec", "track", "id", "kind"):
                r[k] = float(r[k])
    return rows


def _write(rows: list[dict]) -> None:
    _write_to(rows, CSV)


def collect(spec_names: list[str]) -> None:
    """Measure the fallback's criterion after every K on the suite's clips (resumes)."""
    from melbench.bench.pipelines import TRACKS
    from melbench.datasets.eval_suite import EvalSuite

    rows = _read()
    done = {(r["spec"], r["track"], r["id"]) for r in rows}
    with threadpool_limits(1):
        for spec_name in spec_names:
            spec = get_spec(spec_name)
            clips = [c for c in EvalSuite().clips(spec) if not c.error]
            checked = False
            for track in TRACK_NAMES:
                dname, dparams = TRACKS[track]
                degradation = registry.create("degrade", dname, dparams)
                for i, c in enumerate(clips):
                    if (spec_name, track, c.id) in done:
                        continue
                    y = np.asarray(c.audio, np.float32)
                    mel_c = degradation(spec.mel_from_magnitude(spec.magnitude(y)), spec,
                                        np.random.default_rng([0, 1]))
                    mel = spec.decompress(mel_c)
                    s0 = mel_nnls_inverse(mel, spec)
                    m0 = (np.sqrt(np.maximum(s0, 0)) if spec.power == 2 else s0).astype(mel.dtype)
                    xs = fgla_checkpoints(m0, spec)
                    if not checked:  # the checkpoints are fgla's own outputs
                        for k in (20, 100):
                            ref = registry.create("phase", "fgla", {"n_iter": k})(m0, spec, rng=0)
                            assert np.array_equal(ref, xs[k]), (spec_name, k)
                        checked = True
                    row = {"spec": spec_name, "track": track, "id": c.id,
                           "kind": c.meta.get("kind", ""), "index": float(i),
                           "rough": band_roughness_db(mel, spec), "flat": spectral_flatness(mel, spec)}
                    for k, x in xs.items():
                        row[f"c{k}"] = mel_criterion(audio_mel(x, spec), mel, spec)
                    rows.append(row)
                    if len(rows) % 50 == 0:
                        _write(rows)
                        print(f"{spec_name} {track} {i} {c.id[:40]} c20-c100 "
                              f"{row['c20'] - row['c100']:.2f}", flush=True)
            _write(rows)


def choices(spec_name: str, tracks: list[str]) -> None:
    """The default cell's guard with the probe on and off on the suite: same choice? (resumes)."""
    import time

    from melbench.bench.pipelines import TRACKS
    from melbench.datasets.eval_suite import EvalSuite

    path = HERE / "guard_probe_choices.csv"
    rows = []
    if path.exists():
        with path.open() as f:
            rows = list(csv.DictReader(f))
    done = {(r["spec"], r["track"], r["id"]) for r in rows}
    spec = get_spec(spec_name)
    clips = [c for c in EvalSuite().clips(spec) if not c.error]
    guards = {on: registry.create("inverter", "guarded", {"inner": "joint_tc", "inner_iter": 200,
                                                          "probe": on}) for on in (True, False)}
    with threadpool_limits(1):
        for track in tracks:
            dname, dparams = TRACKS[track]
            degradation = registry.create("degrade", dname, dparams)
            for i, c in enumerate(clips):
                if (spec_name, track, c.id) in done:
                    continue
                y = np.asarray(c.audio, np.float32)
                mel_c = degradation(spec.mel_from_magnitude(spec.magnitude(y)), spec,
                                    np.random.default_rng([0, 1]))
                row = {"spec": spec_name, "track": track, "id": c.id, "kind": c.meta.get("kind", ""),
                       "index": i}
                out = {}
                for on, g in guards.items():
                    ctx: dict = {"clip": c.id}
                    t0 = time.process_time()
                    mag = g(mel_c, spec, context=ctx)
                    row[f"t_{on}"] = time.process_time() - t0
                    rec = ctx["guard"]
                    row[f"chosen_{on}"] = rec["chosen"]
                    row[f"inner_{on}"], row[f"fallback_{on}"] = rec["inner"], rec["fallback"]
                    row[f"probe_iter_{on}"] = rec.get("probe_iter", "")
                    out[on] = (mag, ctx["phase_init"])
                row["same_output"] = bool(np.array_equal(out[True][0], out[False][0])
                                          and np.array_equal(out[True][1], out[False][1]))
                rows.append(row)
                if len(rows) % 20 == 0:
                    _write_to(rows, path)
                    print(f"{spec_name} {track} {i} {c.id[:40]} {row['chosen_True']} "
                          f"{row['same_output']}", flush=True)
    _write_to(rows, path)


def _write_to(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def report() -> None:
    """Print the tables of ``results/guard_time.md``."""
    g = Guarded.Params()
    every = _read()
    # the rows rule c can reach: neither smooth (rule a) nor noise-like (rule b)
    rows = [r for r in every if not r["rough"] < g.smooth_db and not r["flat"] >= g.noise_flatness]
    print(f"{len(every)} rows, {len(rows)} reach rule c (roughness >= {g.smooth_db} dB, flatness "
          f"< {g.noise_flatness})")
    even = [r for r in rows if int(r["index"]) % 2 == 0]
    odd = [r for r in rows if int(r["index"]) % 2 == 1]
    print(f"{len(rows)} rows ({len(even)} even-index, {len(odd)} odd-index), "
          f"specs: {', '.join(sorted({r['spec'] for r in rows}))}\n")
    print("| K | median c_K - c_100 (dB) | 99th pct | max, even | rows of odd over it | max, odd "
          "| min (all) |")
    print("|---|---|---|---|---|---|---|")
    for k in KS[:-1]:
        d = np.array([r[f"c{k}"] - r["c100"] for r in rows])
        de = np.array([r[f"c{k}"] - r["c100"] for r in even])
        do = np.array([r[f"c{k}"] - r["c100"] for r in odd])
        bound = float(de.max())
        print(f"| {k} | {np.median(d):.2f} | {np.percentile(d, 99):.2f} | {bound:.2f} | "
              f"{int((do > bound).sum())} of {len(do)} | {do.max():.2f} | {d.min():.2f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "collect":
        collect(sys.argv[2:] or ["speech16k"])
    elif len(sys.argv) > 2 and sys.argv[1] == "choices":
        choices(sys.argv[2], sys.argv[3:] or ["clean"])
    elif len(sys.argv) > 1 and sys.argv[1] == "report":
        report()
    else:
        sys.exit(__doc__)
