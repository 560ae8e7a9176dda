"""A local guard for ``guarded`` (issue 16, rules d and e): measurements on the evaluation suite.

Run from the repository root (``make eval-data`` once)::

    OMP_NUM_THREADS=1 .venv/bin/python results/guard_local.py collect --track clean|noise20 [--every N]
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_local.py eval VARIANT [...] [--half even|odd]
        [--tracks clean,noise20] [--kinds speech,music,other] [--out CSV]
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_local.py final results/guard_local_final.csv
    .venv/bin/python results/guard_local.py report-final results/guard_local_final.csv
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_local.py time [--every N] [--repeat R]

``collect`` runs the default cell's guard (``guarded:200:inner=joint_tcr`` with rules d and
e off: the cache holds the two candidates before them) on every clip of ``EvalSuite().clips("speech16k")`` (degraded as ``melbench bench
pipelines`` does, seed 0) and caches under ``$GUARD_LOCAL_CACHE`` (default
``/tmp/s7r/cache``) per clip: the given mel, the inner's complex estimate ``x1`` (where
rule c kept the inner) and the fallback's ``x0`` (``nnls`` + ``fgla:100``, seed 0).
``eval`` replays variants of the final step on those candidates (``KIND[:key=value]...``,
KIND ``flat`` = the local-flatness blend, ``coh`` = the inner's fine-structure coherence,
``const`` = one weight everywhere; ``k`` FGLA iterations after the blend) and prints, per
track and half, counts over issue 16's bounds against ``nnls`` + ``fgla:100`` (0.3 dB
true-magnitude SC, 0.05 PESQ-wb for speech) and mean PESQ / SC. ``final`` runs the cells
themselves (:data:`FINAL_CELLS`, ``melbench bench pipelines``' call) on all clips and both
tracks; ``report-final`` prints its table; ``time`` times the guard with rules d and e on
and off, interleaved per clip.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.bench.pipelines import TRACKS, _pesq
from melbench.inverters.joint_fgla import PHASE_INIT_KEY
from melbench.measures import spectral_convergence_db
from melbench.phase.projections import fgla
from melbench.spec import get_spec

CACHE = Path(os.environ.get("GUARD_LOCAL_CACHE", "/tmp/s7r/cache"))
SPEC = "speech16k"
SC_BOUND, PESQ_BOUND = 0.3, 0.05


def _clips(spec):
    from melbench.datasets.eval_suite import EvalSuite
    return [c for c in EvalSuite().clips(spec) if not c.error]


def collect(track: str, every: int, start: int = 0) -> None:
    spec = get_spec(SPEC)
    dname, dparams = TRACKS[track]
    degradation = registry.create("degrade", dname, dparams)
    guard = registry.create("inverter", "guarded", {"inner": "joint_tcr", "inner_iter": 200,
                                                    "blend": False, "noise_share": 0.0})
    nnls = registry.create("inverter", "nnls", {})
    out = CACHE / track
    out.mkdir(parents=True, exist_ok=True)
    clips = _clips(spec)
    with threadpool_limits(1):
        for i in range(start, len(clips), every):
            f = out / f"{i:03d}.npz"
            if f.exists():
                continue
            c = clips[i]
            y = np.asarray(c.audio, np.float32)
            mag = spec.magnitude(y)
            mel_c = degradation(spec.mel_from_magnitude(mag), spec, np.random.default_rng([0, 1]))
            t0 = time.process_time()
            ctx: dict = {}
            guard(mel_c, spec, context=ctx)
            t_g = time.process_time() - t0
            rec = ctx["guard"]
            t0 = time.process_time()
            s0 = nnls(mel_c, spec, context={})
            x0 = fgla(s0, spec, n_iter=100, rng=0)
            t_f = time.process_time() - t0
            arrs = {"mel_c": mel_c, "x0": x0.astype(np.complex64)}
            if rec["chosen"] == "inner":
                arrs["x1"] = ctx[PHASE_INIT_KEY].astype(np.complex64)
            tmp = out / f".{i:03d}.tmp.npz"
            np.savez(tmp, **arrs, t_guard=t_g, t_fallback=t_f, chosen=rec["chosen"],
                     flatness=rec["flatness"], roughness=rec["roughness"], inner_c=rec["inner"])
            tmp.rename(f)
            print(f"{track} {i:3d} {c.meta.get('kind', ''):6s} {c.id[:40]:40s} {rec['chosen']:8s} "
                  f"t {t_g:.2f} {t_f:.2f}", flush=True)




# ---------------------------------------------------------------- replay of variants
def _load(track: str):
    """Cached rows of a track: (index, clip, npz) for the clips collected."""
    spec = get_spec(SPEC)
    clips = _clips(spec)
    out = []
    for f in sorted((CACHE / track).glob("[0-9]*.npz")):
        i = int(f.stem)
        out.append((i, clips[i], dict(np.load(f))))
    return spec, out


def _box(a: np.ndarray, nb: int, nt: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter
    return uniform_filter(a, size=(2 * nb + 1, 2 * nt + 1), mode="nearest")


def band_power(mel: np.ndarray, spec) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin band powers (as :func:`spectral_flatness`) and the mask of bands with a bin."""
    rows = spec.mel_basis(np.float64).sum(1)
    bands = rows > 0
    lin = np.asarray(mel, np.float64)
    r = np.where(bands, rows, 1.0)[:, None]
    pw = lin * lin / (r * r) if spec.power == 1 else lin / r
    return np.maximum(pw, pw.max() * 1e-11), bands


def w_local_flat(mel, spec, x1, x0, nb=3, nt=2, lo=0.1, hi=0.4, minbins=0, within=0, **_):
    pw, bands = band_power(mel, spec)
    lg = np.log(pw)
    flat = np.exp(_box(lg, int(nb), int(nt))) / _box(pw, int(nb), int(nt))
    w = np.clip((flat - lo) / max(hi - lo, 1e-9), 0, 1)
    w[~bands] = 0
    if minbins:
        w[(spec.mel_basis(np.float64) > 0).sum(1) < minbins] = 0
    if within:  # only cells within `within` dB of the mel's peak
        db = 10 * np.log10(pw)
        w[db < db[bands].max() - within] = 0
    return w


def w_coherence(mel, spec, x1, x0, lo=0.3, hi=0.7, nt=1, **_):
    """Noise-likeness from the inner's fine structure: 1 - its frame-to-frame correlation inside bands."""
    m = spec.mel_basis(np.float64)  # (n_mels, n_freq)
    a = np.abs(x1).astype(np.float64)
    env = np.abs(x0).astype(np.float64)  # smooth nnls magnitude as the envelope
    fs = a / np.maximum(env, a.max() * 1e-6)
    fs = fs - (m.T @ (m @ fs) / np.maximum(m.sum(0), 1e-12)[:, None]) * (m.sum(0) > 0)[:, None]
    # band-wise correlation of fs[:, t] and fs[:, t+1], weighted by the filter
    num = m @ (fs[:, 1:] * fs[:, :-1])
    den = np.sqrt((m @ fs[:, 1:] ** 2) * (m @ fs[:, :-1] ** 2)) + 1e-12
    r = num / den
    r = np.concatenate([r, r[:, -1:]], 1)
    r = _box(r, 0, nt)
    w = np.clip((hi - r) / max(hi - lo, 1e-9), 0, 1)
    w[(m > 0).sum(1) < 3] = 0  # a band of one or two bins has no fine structure to invent
    return w


def w_const(mel, spec, x1, x0, w=0.3, **_):
    return np.full((spec.n_mels, mel.shape[-1]), float(w))


WEIGHTS = {"flat": w_local_flat, "coh": w_coherence, "const": w_const}


def bins_from_bands(wb: np.ndarray, spec) -> np.ndarray:
    m = spec.mel_basis(np.float64)
    s = m.sum(0)
    return (m.T @ wb) / np.where(s > 0, s, 1)[:, None]


def combine(mel, spec, x1, x0, kind="flat", k=0, mode="mag", alpha=0.99, **kw):
    """The combined complex estimate: blended magnitude, inner's phase, then ``k`` FGLA iterations."""
    wb = WEIGHTS[kind](mel, spec, x1, x0, **kw)
    w = bins_from_bands(wb, spec).astype(np.float32)
    a1, a0 = np.abs(x1), np.abs(x0)
    if mode == "mag":
        a = (1 - w) * a1 + w * a0
    else:  # geometric
        a = np.exp((1 - w) * np.log(np.maximum(a1, 1e-12)) + w * np.log(np.maximum(a0, 1e-12)))
    x = a * np.exp(1j * np.angle(x1))
    if k:
        x = fgla(a.astype(np.float32), spec, n_iter=int(k), init=x.astype(np.complex64), alpha=float(alpha))
    return x, float(np.mean(w))


def _parse(v: str):
    parts = v.split(":")
    kw = {}
    for p in parts[1:]:
        key, val = p.split("=")
        kw[key] = val if key in ("mode",) else float(val)
    return parts[0], kw


def evaluate(variants: list[str], tracks=("clean", "noise20"), half: str = "all",
             kinds=("speech", "music", "other")) -> list[dict]:
    rows = []
    for track in tracks:
        spec, data = _load(track)
        with threadpool_limits(1):
            for i, c, z in data:
                kind = c.meta.get("kind", "")
                if kind not in kinds or (half == "even" and i % 2) or (half == "odd" and i % 2 == 0):
                    continue
                y = np.asarray(c.audio, np.float32)
                mag = spec.magnitude(y)
                mel = spec.decompress(z["mel_c"])
                x0 = z["x0"]
                y0 = spec.istft(x0, length=len(y))
                r = {"track": track, "i": i, "id": c.id, "kind": kind, "chosen": str(z["chosen"]),
                     "sc_ref": spectral_convergence_db(mag, spec.magnitude(y0)),
                     "pesq_ref": _pesq(spec, y, y0) if kind == "speech" else np.nan}
                x1 = z.get("x1")
                for v in ["default", *variants]:
                    if x1 is None:  # fallback chosen by the guard: the reference itself
                        r["sc_" + v], r["pesq_" + v], r["w_" + v], r["t_" + v] = (
                            r["sc_ref"], r["pesq_ref"], np.nan, 0.0)
                        continue
                    t0 = time.process_time()
                    if v == "default":
                        x, wm = x1, 0.0
                    else:
                        name, kw = _parse(v)
                        x, wm = combine(mel, spec, x1, x0, kind=name, **kw)
                    yy = spec.istft(x, length=len(y))
                    r["t_" + v] = time.process_time() - t0
                    r["sc_" + v] = spectral_convergence_db(mag, spec.magnitude(yy))
                    r["pesq_" + v] = _pesq(spec, y, yy) if kind == "speech" else np.nan
                    r["w_" + v] = wm
                rows.append(r)
    return rows


def summary(rows: list[dict], variants: list[str]) -> str:
    import pandas as pd
    d = pd.DataFrame(rows)
    L = ["| variant | track | half | over: speech | music | other | mean PESQ speech | mean SC speech / music / other | mean w |",
         "|---|---|---|---|---|---|---|---|---|"]
    for v in ["default", *variants]:
        for track in sorted(d.track.unique()):
            for half in ("even", "odd"):
                x = d[(d.track == track) & ((d.i % 2) == (half == "odd"))]
                if x.empty:
                    continue
                over = (x["sc_" + v] - x.sc_ref > SC_BOUND) | (
                    (x.kind == "speech") & (x.pesq_ref - x["pesq_" + v] > PESQ_BOUND))
                cnt = " | ".join(f"{int(over[x.kind == k].sum())}/{int((x.kind == k).sum())}"
                                 for k in ("speech", "music", "other"))
                sc = " / ".join(f"{x[x.kind == k]['sc_' + v].mean():.2f}" for k in ("speech", "music", "other"))
                L.append(f"| {v} | {track} | {half} | {cnt} | {x[x.kind == 'speech']['pesq_' + v].mean():.3f} "
                         f"| {sc} | {x['w_' + v].mean():.3f} |")
    return "\n".join(L)


def main_eval(a: list[str]) -> None:
    import pandas as pd
    half = a[a.index("--half") + 1] if "--half" in a else "all"
    tracks = a[a.index("--tracks") + 1].split(",") if "--tracks" in a else ("clean", "noise20")
    kinds = a[a.index("--kinds") + 1].split(",") if "--kinds" in a else ("speech", "music", "other")
    out = a[a.index("--out") + 1] if "--out" in a else None
    skip = {"--half", "--tracks", "--kinds", "--out"}
    variants = [v for j, v in enumerate(a) if v not in skip and (j == 0 or a[j - 1] not in skip)]
    rows = evaluate(variants, tracks, half, kinds)
    if out:
        pd.DataFrame(rows).to_csv(out, index=False)
    print(summary(rows, variants))


def time_blend(every: int = 7, repeat: int = 3) -> None:
    """CPU seconds of the default cell's guard with rule d on and off, interleaved per clip."""
    from melbench.bench.pipelines import clips_for
    cases = []
    spec = get_spec(SPEC)
    for c in _clips(spec)[::every]:
        cases.append((SPEC, spec, c.id, np.asarray(c.audio, np.float32)))
    for name in ("hifigan_v1", "bigvgan_44k_128"):
        sp = get_spec(name)
        for cid, _, y in clips_for(sp, None, False, 2.5):
            cases.append((name, sp, cid, y))
    on = registry.create("inverter", "guarded", {"inner": "joint_tcr", "inner_iter": 200})
    off = registry.create("inverter", "guarded", {"inner": "joint_tcr", "inner_iter": 200, "blend": False})
    ratios = {}
    with threadpool_limits(1):
        for name, sp, cid, y in cases:
            mel = sp.mel(y)
            on(mel[..., :16], sp, context={"w": 1})
            off(mel[..., :16], sp, context={"w": 1})
            t = {"on": [], "off": []}
            for _ in range(repeat):
                for k, inv in (("off", off), ("on", on)):
                    t0 = time.process_time()
                    ctx: dict = {"clip": cid}
                    inv(mel, sp, context=ctx)
                    t[k].append(time.process_time() - t0)
            r = min(t["on"]) / min(t["off"])
            ratios.setdefault(name, []).append(r)
            print(f"{name:16s} {cid[:36]:36s} {ctx['guard']['chosen']:8s} off {min(t['off']):.3f} s "
                  f"on {min(t['on']):.3f} s x{r:.3f}", flush=True)
    for name, r in ratios.items():
        print(f"MEAN {name:16s} n={len(r)} on/off mean x{np.mean(r):.3f} median x{np.median(r):.3f} "
              f"max x{np.max(r):.3f}")


FINAL_CELLS = {"new": "guarded:200:inner=joint_tcr+fgla:0",
               "old": "guarded:200:inner=joint_tcr:blend=false:noise_share=0+fgla:0",
               "ref": "nnls+fgla:100"}


def final(out: str, every: int = 1) -> None:
    """The cells themselves (``melbench bench pipelines``' call) on the suite, clean + noise20."""
    import csv
    import io

    from melbench.bench.pipelines import _cell_call
    from melbench.results import atomic_write_bytes
    spec = get_spec(SPEC)
    rows = []
    with threadpool_limits(1):
        for track in ("clean", "noise20"):
            degradation = registry.create("degrade", *TRACKS[track])
            for i, c in list(enumerate(_clips(spec)))[::every]:
                y = np.asarray(c.audio, np.float32)
                mag = spec.magnitude(y)
                mel = degradation(spec.mel_from_magnitude(mag), spec, np.random.default_rng([0, 1]))
                kind = c.meta.get("kind", "")
                r = {"track": track, "i": i, "id": c.id, "kind": kind}
                for key, cell in FINAL_CELLS.items():
                    fn = _cell_call(cell, spec, len(y), mag, 0)
                    t0 = time.process_time()
                    yy = np.asarray(fn(mel), np.float32)[: len(y)]
                    r["t_" + key] = time.process_time() - t0
                    r["sc_" + key] = spectral_convergence_db(mag, spec.magnitude(yy))
                    r["pesq_" + key] = _pesq(spec, y, yy) if kind == "speech" else np.nan
                rows.append(r)
                print(track, i, c.id[:36], {k: round(v, 2) for k, v in r.items() if k[:3] in ("sc_", "pes")},
                      flush=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(Path(out), buf.getvalue().encode())


def report_final(path: str) -> None:
    """Counts over the bounds against ``nnls`` + ``fgla:100`` per kind, track and half."""
    import pandas as pd
    d = pd.read_csv(path)
    print("| cell | track | half | over: speech | music | other | mean PESQ-wb speech "
          "| mean SC speech / music / other (dB) |")
    print("|---|---|---|---|---|---|---|---|")
    for key in ("old", "new"):
        for track in ("clean", "noise20"):
            for half in ("even", "odd", "all"):
                x = d[(d.track == track) & ((half == "all") | ((d.i % 2) == (half == "odd")))]
                over = (x["sc_" + key] - x.sc_ref > SC_BOUND) | (
                    (x.kind == "speech") & (x.pesq_ref - x["pesq_" + key] > PESQ_BOUND))
                cnt = " | ".join(f"{int(over[x.kind == k].sum())}/{int((x.kind == k).sum())}"
                                 for k in ("speech", "music", "other"))
                sc = " / ".join(f"{x[x.kind == k]['sc_' + key].mean():.2f}" for k in ("speech", "music", "other"))
                print(f"| {key} | {track} | {half} | {cnt} | {x[x.kind == 'speech']['pesq_' + key].mean():.3f} "
                      f"| {sc} |")
    for track in ("clean", "noise20"):
        x = d[d.track == track]
        r = x.t_new / x.t_old
        print(f"time {track}: new/old per clip mean x{r.mean():.3f} median x{r.median():.3f}; "
              f"mean clip {x.t_new.mean():.3f} s vs {x.t_old.mean():.3f} s")
    sp = d[d.kind == "speech"]
    dp = sp.pesq_new - sp.pesq_old
    print(f"speech PESQ new - old: mean {dp.mean():+.4f}, min {dp.min():+.3f}, max {dp.max():+.3f}")
    for key in ("old", "new"):
        over = (d["sc_" + key] - d.sc_ref > SC_BOUND) | (
            (d.kind == "speech") & (d.pesq_ref - d["pesq_" + key] > PESQ_BOUND))
        d["over_" + key] = over
    print("newly over:", d[d.over_new & ~d.over_old][["track", "id"]].values.tolist())
    print("still over:", d[d.over_new & d.over_old][["track", "id"]].values.tolist())


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "collect":
        collect(a[a.index("--track") + 1], int(a[a.index("--every") + 1]) if "--every" in a else 1,
                int(a[a.index("--start") + 1]) if "--start" in a else 0)
    elif a[0] == "eval":
        main_eval(a[1:])
    elif a[0] == "final":
        final(a[1], int(a[a.index("--every") + 1]) if "--every" in a else 1)
    elif a[0] == "report-final":
        report_final(a[1])
    elif a[0] == "time":
        time_blend(int(a[a.index("--every") + 1]) if "--every" in a else 7,
                   int(a[a.index("--repeat") + 1]) if "--repeat" in a else 3)
