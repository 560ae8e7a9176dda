"""Which reference-free features tell when ``joint_fgla`` loses to ``nnls`` + ``fgla`` (issue 16).

Run from the repository root (needs ``make eval-data``)::

    OMP_NUM_THREADS=1 .venv/bin/python results/guard_analysis.py collect [SPEC] [--every N]
    .venv/bin/python results/guard_analysis.py report [SPEC]

``collect`` runs, on every clip of ``EvalSuite().clips(spec)`` (default ``speech16k``;
``--every N`` keeps every N-th clip), the two candidates of
:class:`melbench.inverters.guarded.Guarded` exactly as the default cell
``guarded:200+fgla:32`` builds them:

* J: ``joint_fgla`` (200 iterations) then ``fgla:32`` from its phase (the inner's final output);
* F: ``nnls`` + ``fgla:100`` (the issue's reference cell, seed 0), and F132 = F + ``fgla:32``
  (what the default outputs when it keeps the fallback),

their true-magnitude SC (:func:`melbench.measures.spectral_convergence_db`), PESQ-wb for
speech, and the reference-free features of :func:`melbench.inverters.guard_features.guard_features`
(from the given mel and the two candidates before the phase stage). Rows go to
``results/guard_analysis_<spec>.csv`` (atomic write; a rerun resumes from it).

``report`` prints the tables of ``results/guard_analysis.md``: per kind, how many clips
J loses by more than the bounds (0.3 dB SC, 0.05 PESQ), each feature's separation of
"J loses" from "J wins", and the rule of ``guarded`` (its threshold chosen on the even-index
clips, its result on the odd-index ones too).
"""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.bench.pipelines import _pesq
from melbench.inverters.guard_features import guard_features
from melbench.inverters.guarded import Guarded
from melbench.inverters.joint_fgla import PHASE_INIT_KEY
from melbench.measures import spectral_convergence_db
from melbench.results import atomic_write_bytes
from melbench.spec import get_spec

HERE = Path(__file__).resolve().parent
SC_BOUND, PESQ_BOUND = 0.3, 0.05


def _csv_path(spec_name: str, track: str = "clean") -> Path:
    return HERE / f"guard_analysis_{spec_name}{'' if track == 'clean' else '_' + track}.csv"


def _write(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k not in ("id", "kind"):
                r[k] = float(v) if v not in ("", "nan") else float("nan")
    return rows


def collect(spec_name: str, every: int, track: str = "clean") -> None:
    """Run both candidates on the suite's clips and write the rows (resumes)."""
    from melbench.bench.pipelines import TRACKS
    from melbench.datasets.eval_suite import EvalSuite

    spec = get_spec(spec_name)
    path = _csv_path(spec_name, track)
    dname, dparams = TRACKS[track]
    degradation = registry.create("degrade", dname, dparams)
    rows = _read(path)
    done = {r["id"] for r in rows}
    joint = registry.create("inverter", "joint_fgla", {"joint_iter": 200})
    fgla32 = registry.create("phase", "fgla", {"n_iter": 32})
    fgla100 = registry.create("phase", "fgla", {"n_iter": 100})
    nnls = registry.create("inverter", "nnls", {})
    guard = Guarded()
    clips = [c for c in EvalSuite().clips(spec) if not c.error][::every]
    with threadpool_limits(1):
        for i, c in enumerate(clips):
            if c.id in done:
                continue
            y = np.asarray(c.audio, np.float32)
            kind = c.meta.get("kind", "")
            mag = spec.magnitude(y)
            mel_c = degradation(spec.mel_from_magnitude(mag), spec, np.random.default_rng([0, 1]))
            mel = spec.decompress(mel_c)
            t0 = time.process_time()
            ctx: dict = {}
            s1 = joint(mel_c, spec, context=ctx)
            x1 = ctx[PHASE_INIT_KEY]
            mag1 = s1  # Inverter.__call__ returns linear magnitude
            t_joint = time.process_time() - t0
            yj = spec.istft(fgla32(s1, spec, init=x1, rng=0), length=len(y))
            t_j = time.process_time() - t0
            t0 = time.process_time()
            s0 = nnls(mel_c, spec, context={})
            mag0 = s0
            x0 = fgla100(s0, spec, rng=0)
            yf = spec.istft(x0, length=len(y))
            t_f = time.process_time() - t0
            yf132 = spec.istft(fgla32(s0, spec, init=x0, rng=0), length=len(y))
            feats = guard_features(mel, spec, mag1, x1, mag0, x0)
            row = {"id": c.id, "kind": kind, "index": float(i), "seconds": len(y) / spec.sample_rate,
                   "hop_ms": 1000 * spec.hop_length / spec.sample_rate,
                   "sc_j": spectral_convergence_db(mag, spec.magnitude(yj)),
                   "sc_f": spectral_convergence_db(mag, spec.magnitude(yf)),
                   "sc_f132": spectral_convergence_db(mag, spec.magnitude(yf132)),
                   "pesq_j": _pesq(spec, y, yj) if kind == "speech" else float("nan"),
                   "pesq_f": _pesq(spec, y, yf) if kind == "speech" else float("nan"),
                   "pesq_f132": _pesq(spec, y, yf132) if kind == "speech" else float("nan"),
                   "t_joint": t_joint, "t_j": t_j, "t_f": t_f, **feats}
            rows.append(row)
            print(f"{i:3d} {kind:6s} {c.id[:40]:40s} SC J {row['sc_j']:7.2f} F {row['sc_f']:7.2f} "
                  f"PESQ J {row['pesq_j']:5.2f} F {row['pesq_f']:5.2f}", flush=True)
            if len(rows) % 10 == 0:
                _write(rows, path)
    _write(rows, path)
    del guard


def _loses(r: dict) -> bool:
    """J over the bounds against F (the default would fail if it kept J)."""
    bad_sc = r["sc_j"] - r["sc_f"] > SC_BOUND
    bad_pesq = r["kind"] == "speech" and r["pesq_f"] - r["pesq_j"] > PESQ_BOUND
    return bool(bad_sc or bad_pesq)


#: The guard's rules replayed on the rows: name -> fallback(row). "before" is the guard
#: of main before this analysis; "after" its rules now (:class:`Guarded` defaults).
_P = Guarded.Params()
RULES = {
    "joint only": lambda r: False,
    "before": lambda r: r["f_rough"] < _P.smooth_db or r["f_melsc0"] < r["f_melsc1"],
    "after": lambda r: (r["f_rough"] < _P.smooth_db or r["f_flat"] >= _P.noise_flatness
                        or (r["f_melsc1"] >= _P.fit_db and r["f_melsc0"] < r["f_melsc1"])),
}


def _outcome(rows: list[dict], fallback) -> dict:
    """Counts over the bounds per kind, mean speech PESQ and mean SC of what a rule outputs."""
    out: dict = {"n_fallback": 0}
    sc, pesq = [], []
    for r in rows:
        fb = bool(fallback(r))
        out["n_fallback"] += fb
        s, p = (r["sc_f132"], r["pesq_f132"]) if fb else (r["sc_j"], r["pesq_j"])
        over = s - r["sc_f"] > SC_BOUND or (r["kind"] == "speech" and r["pesq_f"] - p > PESQ_BOUND)
        out[r["kind"]] = out.get(r["kind"], 0) + over
        sc.append((r["kind"], s))
        if r["kind"] == "speech":
            pesq.append(p)
    out["pesq"] = float(np.mean(pesq)) if pesq else float("nan")
    for k in ("speech", "music", "other"):
        v = [x for kk, x in sc if kk == k]
        out["sc_" + k] = float(np.mean(v)) if v else float("nan")
    return out


def _tables() -> list[str]:
    """Per spec and track: each rule's counts over the bounds, PESQ and SC."""
    L = ["| spec | track | rule | fallbacks | over: speech | music | other | mean PESQ speech "
         "| mean SC speech / music / other (dB) |", "|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(HERE.glob("guard_analysis_*.csv")):
        name = path.stem[len("guard_analysis_"):]
        track = next((t for t in ("noise20", "quant6", "smooth1") if name.endswith("_" + t)), "clean")
        spec_name = name[: -len(track) - 1] if track != "clean" else name
        rows = _read(path)
        n = {k: sum(r["kind"] == k for r in rows) for k in ("speech", "music", "other")}
        for rule, fb in RULES.items():
            o = _outcome(rows, fb)
            L.append(f"| {spec_name} | {track} | {rule} | {o['n_fallback']}/{len(rows)} | "
                     + " | ".join(f"{o.get(k, 0)}/{n[k]}" for k in ("speech", "music", "other"))
                     + f" | {o['pesq']:.3f} | {o['sc_speech']:.2f} / {o['sc_music']:.2f} / "
                     f"{o['sc_other']:.2f} |")
    return L


def report(spec_name: str) -> None:
    """Print the tables of ``results/guard_analysis.md``."""
    rows = _read(_csv_path(spec_name))
    print(f"{len(rows)} clips at {spec_name}")
    feats = [k for k in rows[0] if k.startswith("f_")]
    lose = np.array([_loses(r) for r in rows])
    print("\n| feature | median (J loses) | median (J wins) | AUC (J loses above) |")
    print("|---|---|---|---|")
    for f in feats:
        v = np.array([r[f] for r in rows])
        a, b = v[lose], v[~lose]
        auc = float(np.mean(a[:, None] > b[None, :]) + 0.5 * np.mean(a[:, None] == b[None, :]))
        print(f"| `{f}` | {np.nanmedian(a):.3f} | {np.nanmedian(b):.3f} | {auc:.3f} |")
    print("\nThreshold of the noise rule (with the other rules of `after`), even / odd clips:\n")
    print("| noise_flatness | half | fallbacks | over: speech | music | other | mean PESQ speech "
          "(joint only) |")
    print("|---|---|---|---|---|---|---|")
    for t in (0.03, 0.05, 0.07, 0.1, 0.12, 0.15, 0.2, 0.3):
        def rule(r, t=t):
            return (r["f_rough"] < _P.smooth_db or r["f_flat"] >= t
                    or (r["f_melsc1"] >= _P.fit_db and r["f_melsc0"] < r["f_melsc1"]))
        for half in (0, 1):
            sub = [r for r in rows if int(r["index"]) % 2 == half]
            o, j = _outcome(sub, rule), _outcome(sub, RULES["joint only"])
            print(f"| {t} | {'even' if half == 0 else 'odd'} | {o['n_fallback']}/{len(sub)} | "
                  + " | ".join(str(o.get(k, 0)) for k in ("speech", "music", "other"))
                  + f" | {o['pesq']:.3f} ({j['pesq']:.3f}) |")
    print()
    print("\n".join(_tables()))


if __name__ == "__main__":
    args = sys.argv[1:]
    cmd = args[0] if args else "report"
    names = [a for i, a in enumerate(args[1:], 1)
             if not a.startswith("--") and args[i - 1] not in ("--every", "--track")]
    spec_arg = names[0] if names else "speech16k"
    every_arg = int(args[args.index("--every") + 1]) if "--every" in args else 1
    track_arg = args[args.index("--track") + 1] if "--track" in args else "clean"
    if cmd == "collect":
        for name in names or [spec_arg]:
            collect(name, every_arg, track_arg)
    else:
        report(spec_arg)
