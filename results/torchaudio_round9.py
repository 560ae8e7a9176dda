"""Round 9 at the torchaudio preset (issue 16 robustness at 50 % overlap): the phase directions.

Run from the repository root (``make eval-data`` once)::

    OMP_NUM_THREADS=1 .venv/bin/python results/torchaudio_round9.py cache TRACK [START STEP]
    OMP_NUM_THREADS=1 .venv/bin/python results/torchaudio_round9.py replay OUT.csv VARIANT [...]
    .venv/bin/python results/torchaudio_round9.py table OUT.csv [VARIANT ...]

``cache`` runs, on every clip of ``EvalSuite().clips("torchaudio")`` (degraded as ``melbench
bench pipelines`` does, seed ``[0, 1]``; TRACK one of clean, quant6, noise20), the default
cell's inner (``joint_auto``, 200 iterations) and ``nnls`` + ``fgla:100`` (seed 0) and stores
under ``$TA9_CACHE`` (default ``/tmp/s9ta/cache``) per clip: the given mel, the audio, the
inner's complex estimate ``x1`` (before rules d and g), the ``nnls`` magnitude ``m0``, the
fallback's estimate ``x0``, both criteria (``c1``, ``c0``), the fallback's ``mel_sc`` after 20,
30 and 50 iterations, and whether rules a, b, e or f route the mel to the fallback (``pre``).
``replay`` rebuilds the guard's last step and variants of it (see :data:`VARIANTS` in
:func:`replay`) on those candidates and writes one row per clip and variant (true-magnitude
SC, PESQ-wb for speech, against ``nnls`` + ``fgla:100`` = ``x0``'s audio); ``table`` prints,
per track and half (even / odd clip index), the counts over issue 16's bounds (0.3 dB SC,
0.05 PESQ-wb) and the means.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.bench.pipelines import TRACKS, _pesq
from melbench.inverters import guard_blend as gb
from melbench.inverters.guarded import (
    BLEND_NEIGHBOURHOOD,
    audio_mel,
    band_roughness_db,
    mel_criterion,
    spectral_flatness,
)
from melbench.inverters.joint_fgla import PHASE_INIT_KEY
from melbench.inverters.nnls import mel_nnls_inverse
from melbench.measures import spectral_convergence_db
from melbench.phase.projections import fgla
from melbench.spec import get_spec

warnings.filterwarnings("ignore", message=".*mel bands.*contain no FFT bin")
CACHE = Path(os.environ.get("TA9_CACHE", "/tmp/s9ta/cache"))
#: The inner's joint iterations (200: the default cell's ``guarded:200``).
INNER_ITER = int(os.environ.get("TA9_INNER_ITER", "200"))
SPEC = "torchaudio"
SC_BOUND, PESQ_BOUND = 0.3, 0.05


def _clips(spec):
    from melbench.datasets.eval_suite import EvalSuite
    return [c for c in EvalSuite().clips(spec) if not c.error]


def pre_rules(mel, spec) -> bool:
    """Rules a, b, e and f of the guard at their defaults: the mel alone routes it to the fallback."""
    rough = band_roughness_db(mel, spec)
    if rough < 3.0 or spectral_flatness(mel, spec) >= 0.1:
        return True
    share = gb.noise_energy_share(mel, spec, gb.band_weights(mel, spec, 0.4, 0.8, *BLEND_NEIGHBOURHOOD))
    if share >= 0.4:
        return True
    return bool(share >= 0.1 and rough <= 6.0 and gb.temporal_flux_db(mel, spec) <= 2.2)


def cache(track: str, start: int = 0, step: int = 1) -> None:
    spec = get_spec(SPEC)
    dname, dparams = TRACKS[track]
    deg = registry.create("degrade", dname, dparams)
    inner = registry.create("inverter", "joint_auto", {"joint_iter": INNER_ITER})
    out = CACHE / track
    out.mkdir(parents=True, exist_ok=True)
    clips = _clips(spec)
    with threadpool_limits(1):
        for i in range(start, len(clips), step):
            f = out / f"{i:03d}.npz"
            if f.exists():
                continue
            c = clips[i]
            y = np.asarray(c.audio, np.float32)
            mel = deg(spec.mel_from_magnitude(spec.magnitude(y)), spec, np.random.default_rng([0, 1]))
            mel = spec.decompress(mel)
            pre = pre_rules(mel, spec)
            t0 = time.process_time()
            ctx: dict = {}
            s1 = np.asarray(inner.solve(mel, spec, context=ctx))
            t_inner = time.process_time() - t0
            x1 = ctx[PHASE_INIT_KEY]
            t0 = time.process_time()
            s0 = mel_nnls_inverse(mel, spec)
            m0 = np.sqrt(np.maximum(s0, 0)).astype(np.float32)
            probes: dict[int, float] = {}

            def look(k):
                def f_(xk):
                    probes[k] = mel_criterion(audio_mel(xk, spec), mel, spec)
                    return False
                return f_

            x0 = fgla(m0, spec, n_iter=100, rng=0, checkpoints={k: look(k) for k in (20, 30, 50)})
            t_fb = time.process_time() - t0
            c1 = mel_criterion(audio_mel(x1, spec), mel, spec)
            c0 = mel_criterion(audio_mel(x0, spec), mel, spec)
            tmp = out / f".{i:03d}.tmp.npz"
            np.savez(tmp, mel=mel.astype(np.float32), y=y, x1=x1.astype(np.complex64),
                     m1=np.sqrt(np.maximum(s1, 0)).astype(np.float32), m0=m0,
                     x0=x0.astype(np.complex64), c1=c1, c0=c0, p20=probes[20], p30=probes[30],
                     p50=probes[50], pre=pre, clip=c.id, kind=c.meta["kind"], t_inner=t_inner, t_fb=t_fb)
            tmp.rename(f)
            print(track, i, c.id[:40], f"pre={pre} c1={c1:.2f} c0={c0:.2f}", flush=True)


PROBE = {20: 15.5, 30: 9.9, 50: 4.3}


def _consistent(x, spec, n):
    """``STFT(ISTFT(x))``: the spectrogram of the audio ``x`` turns into."""
    return spec.stft(spec.istft(x, length=n))[..., : x.shape[-1]]


def _frame_err(x, mel, spec, n, half=1):
    """Per-frame squared mel error of ``x``'s audio, summed over ``2 half + 1`` frames."""
    from scipy.ndimage import uniform_filter1d
    e = ((audio_mel(x, spec, n) - mel) ** 2).sum(0)
    return uniform_filter1d(e, 2 * half + 1, mode="nearest")


def variant(v, z, spec, a, w, memo=None):
    """The complex estimate of variant ``v`` (``NAME[:key=value]...``) for a kept inner.

    ``pick(A|B|...)``: the one of the variants whose audio has the lowest ``mel_sc``.
    """
    memo = {} if memo is None else memo
    if v in memo:
        return memo[v]
    if v.startswith("pick("):
        best = None
        for u in v[5:-1].split("|"):
            xu = variant(u, z, spec, a, w, memo)
            cu = mel_criterion(audio_mel(xu, spec, len(z["y"])), z["mel"], spec)
            if best is None or cu < best[0]:
                best = (cu, xu)
        memo[v] = best[1]
        return best[1]
    memo[v] = _variant(v, z, spec, a, w)
    return memo[v]


def _variant(v, z, spec, a, w):
    name, *kv = v.split(":")
    kw = {k: float(x) for k, x in (q.split("=") for q in kv)}
    x1, m0, mel, n = z["x1"], z["m0"], z["mel"], len(z["y"])
    k = int(kw.get("k", 8))
    if name == "tail":  # the default's magnitude, K iterations from the inner's phase
        return fgla(a, spec, n_iter=k, init=x1) if k else a * np.exp(1j * np.angle(x1))
    if name == "mix":  # magnitude (1 - b) a + b m0 held, K iterations from the inner's phase
        b = kw["b"]
        return fgla(((1 - b) * a + b * m0).astype(np.float32), spec, n_iter=k, init=x1)
    if name == "gla":  # the default's magnitude, K plain GLA iterations (no momentum)
        return fgla(a, spec, n_iter=k, init=x1, alpha=0.0)
    if name == "pghi":  # magnitude (1 - b) a + b m0, a PGHI start, K FGLA iterations
        from melbench.phase.pghi import pghi
        b = kw.get("b", 0.0)
        mag = ((1 - b) * a + b * m0).astype(np.float32)
        return fgla(mag, spec, n_iter=k, init=pghi(mag, spec))
    if name == "frame":  # per-frame choice of the two candidates' consistent outputs, K to reconcile
        xd = fgla(a, spec, n_iter=8, init=x1)
        e1, e0 = _frame_err(xd, mel, spec, n, int(kw.get("h", 1))), _frame_err(z["x0"], mel, spec, n,
                                                                                int(kw.get("h", 1)))
        pick0 = e0 < e1 * kw.get("r", 1.0)
        mag = np.where(pick0[None], m0, a).astype(np.float32)
        init = np.where(pick0[None], z["x0"], xd)
        return fgla(mag, spec, n_iter=k, init=init) if k else mag * np.exp(1j * np.angle(init))
    if name == "melproj":  # K iterations whose magnitude target is the consistent iterate scaled to the mel
        x = fgla(a, spec, n_iter=8, init=x1)
        fb = spec.mel_basis(np.float64)
        den = np.maximum(fb.sum(0), 1e-12)[:, None]
        for _ in range(k):
            t = _consistent(x, spec, n)
            mt = fb @ (np.abs(t).astype(np.float64) ** 2)
            r = mel / np.maximum(mt, mel.max() * 1e-10)
            g = np.sqrt(np.clip((fb.T @ r) / den, 0.25, 4.0))
            g[fb.sum(0) <= 0] = 1.0
            x = (np.abs(t) * g * np.exp(1j * np.angle(t))).astype(np.complex64)
        return x
    raise SystemExit(f"unknown variant {v}")


def replay(out: str, variants: list[str], tracks=("clean", "quant6", "noise20")) -> None:
    import pandas as pd
    spec = get_spec(SPEC)
    rows8k = pd.read_csv("results/eval_torchaudio/rows.csv.gz", low_memory=False)
    no_pesq = set(rows8k[(rows8k.kind == "speech") & rows8k.pesq_wb.isna()]["clip"])
    rows = []
    with threadpool_limits(1):
        for track in tracks:
            for f in sorted((CACHE / track).glob("[0-9]*.npz")):
                z = dict(np.load(f))
                kind, y, mel = str(z["kind"]), z["y"], z["mel"]
                mag, n = spec.magnitude(y), len(y)
                use_pesq = kind == "speech" and str(z["clip"]) not in no_pesq

                def score(x):
                    yy = spec.istft(x, length=n)
                    return (spectral_convergence_db(mag, spec.magnitude(yy)),
                            _pesq(spec, y, yy) if use_pesq else np.nan)

                sc0, pq0 = score(z["x0"])
                c1, c0 = float(z["c1"]), float(z["c0"])
                stopped = any(float(z[f"p{k}"]) - b >= c1 for k, b in PROBE.items())
                fb = bool(z["pre"]) or (c1 >= -35 and not stopped and c0 < c1)
                r = {"track": track, "i": int(f.stem), "clip": str(z["clip"]), "kind": kind,
                     "c1": c1, "c0": c0, "pre": bool(z["pre"]), "fb": fb, "sc_ref": sc0, "pesq_ref": pq0}
                x1 = z["x1"]
                r["incons1"] = float(20 * np.log10(np.linalg.norm(_consistent(x1, spec, n) - x1)
                                                  / np.linalg.norm(x1)))
                w = gb.blend_weights(gb.band_weights(mel, spec, 0.4, 0.8, *BLEND_NEIGHBOURHOOD), spec)
                a = gb.blend_magnitudes(z["m1"], z["m0"], w)
                memo: dict = {}
                for v in variants:  # the kept inner's audio, on every row (``table`` applies the choice)
                    x = variant(v, z, spec, a, w, memo)
                    r["sc_" + v], r["pesq_" + v] = score(x)
                    r["c_" + v] = mel_criterion(audio_mel(x, spec, n), mel, spec)
                rows.append(r)
            print(track, "done", flush=True)
    pd.DataFrame(rows).to_csv(out, index=False)
    table(out, variants)


def table(out: str, variants: list[str] | None = None, choice: str | None = None) -> None:
    """Counts and means per track and half; ``choice`` (``$TA9_CHOICE``) is how the guard picks.

    ``rulec`` (default): rules a, b, e, f and c as they are (rule c on the inner's own estimate);
    ``pre``: rules a, b, e and f only (rule c never keeps the fallback); ``final``: rule c on
    the variant's own audio (the fallback kept when its ``mel_sc`` is lower than the variant's);
    ``finalfit``: ``final`` with ``fit_db`` (-35 dB) applied to the variant's criterion too;
    ``either``: the fallback kept when it fits better than the inner's estimate or the variant's.
    """
    import pandas as pd
    d = pd.read_csv(out)
    variants = variants or [c[3:] for c in d.columns if c.startswith("sc_") and c != "sc_ref"]
    choice = choice or os.environ.get("TA9_CHOICE", "rulec")
    for v in variants:
        fb = {"rulec": d.fb, "pre": d.pre,
              "final": d.pre | ((d.c1 >= -35) & (d.c0 < d["c_" + v])),
              "finalfit": d.pre | ((d["c_" + v] >= -35) & (d.c0 < d["c_" + v])),
              "either": d.pre | ((np.maximum(d.c1, d["c_" + v]) >= -35)
                                 & (d.c0 < np.maximum(d.c1, d["c_" + v])))}[choice].astype(bool)
        d.loc[fb, "sc_" + v] = d.loc[fb, "sc_ref"]
        d.loc[fb, "pesq_" + v] = d.loc[fb, "pesq_ref"]
    print(f"choice: {choice}")
    print("| variant | track | half | over: speech / music / other (PESQ rows) | mean PESQ-wb speech "
          "| mean SC speech / music (dB) |")
    print("|---|---|---|---|---|---|")
    for tr in [t for t in ("clean", "quant6", "noise20") if t in set(d.track)]:
        for half in ("even", "odd"):
            for v in variants:
                x = d[(d.track == tr) & ((d.i % 2) == (half == "odd"))]
                op = (x.kind == "speech") & (x.pesq_ref - x["pesq_" + v] > PESQ_BOUND)
                over = (x["sc_" + v] - x.sc_ref > SC_BOUND) | op
                cnt = " / ".join(f"{int(over[x.kind == k].sum())}/{int((x.kind == k).sum())}"
                                 for k in ("speech", "music", "other"))
                sp = x[x.kind == "speech"]
                print(f"| {v} | {tr} | {half} | {cnt} ({int(op.sum())}) | {sp['pesq_' + v].mean():.3f} | "
                      f"{sp['sc_' + v].mean():.2f} / {x[x.kind == 'music']['sc_' + v].mean():.2f} |")


def summary(paths: list[str], choice: str | None = None) -> None:
    """One line per variant (the first CSV holding it), per track and half: rows over, PESQ-wb."""
    import pandas as pd
    choice = choice or os.environ.get("TA9_CHOICE", "rulec")
    d = pd.concat([pd.read_csv(q) for q in paths], ignore_index=True)
    seen: list[str] = []
    for q in paths:
        seen += [c[3:] for c in pd.read_csv(q, nrows=1).columns
                 if c.startswith("sc_") and c != "sc_ref" and c[3:] not in seen]
    tracks = [t for t in ("clean", "quant6", "noise20") if t in set(d.track)]
    cols = [f"{t} {h}" for t in tracks for h in ("even", "odd")]
    print(f"choice: {choice}; each cell: speech / music / other rows over (of which PESQ), mean speech PESQ-wb")
    print("| variant | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for v in seen:
        cells = []
        for t in tracks:
            x0 = d[(d.track == t) & d["sc_" + v].notna()].drop_duplicates(["track", "i"])
            if x0.empty or ("c_" + v not in x0 and choice != "rulec"):
                cells += ["–", "–"]
                continue
            fb = {"rulec": x0.fb, "pre": x0.pre,
                  "final": x0.pre | ((x0.c1 >= -35) & (x0.c0 < x0.get("c_" + v))),
                  "either": x0.pre | ((np.maximum(x0.c1, x0.get("c_" + v, x0.c1)) >= -35)
                                      & (x0.c0 < np.maximum(x0.c1, x0.get("c_" + v, x0.c1))))}[choice].astype(bool)
            sc = x0["sc_" + v].where(~fb, x0.sc_ref)
            pq = x0["pesq_" + v].where(~fb, x0.pesq_ref)
            for h in (0, 1):
                m = (x0.i % 2) == h
                op = (x0.kind == "speech") & (x0.pesq_ref - pq > PESQ_BOUND) & m
                over = ((sc - x0.sc_ref > SC_BOUND) | op) & m
                cnt = "/".join(str(int(over[x0.kind == k].sum())) for k in ("speech", "music", "other"))
                cells.append(f"{cnt} ({int(op.sum())}) {pq[m & (x0.kind == 'speech')].mean():.3f}")
        print(f"| `{v}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "cache":
        cache(a[1], *(int(v) for v in a[2:4]))
    elif a[0] == "replay":
        tr = os.environ.get("TA9_TRACKS")
        replay(a[1], a[2:], *([tr.split(",")] if tr else []))
    elif a[0] == "summary":
        summary(a[1:])
    elif a[0] == "table":
        table(a[1], a[2:] or None)
