"""Round 8 of the guard's robustness (issue 16): rule f and the directions measured.

Run from the repository root (``make eval-data`` once). The speech16k commands replay on
the candidates cached by ``results/guard_local.py collect`` (``$GUARD_LOCAL_CACHE``,
default ``/tmp/s7r/cache``: the inner's and the fallback's complex estimates before rules
d-f, per suite clip, clean and noise20) and read the suite's rows (a copy of
``outputs/eval/rows_all.csv``, given as ROWS)::

    OMP_NUM_THREADS=1 .venv/bin/python results/guard_round8.py features ROWS OUT.csv
    .venv/bin/python results/guard_round8.py auc OUT.csv
    .venv/bin/python results/guard_round8.py grid OUT.csv
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_round8.py presets OUT2.csv [SPEC ...]
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_round8.py regions [VARIANT ...]
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_round8.py cache SPEC EVERY TRACKS
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_round8.py replay SPEC [VARIANT ...]
    OMP_NUM_THREADS=1 .venv/bin/python results/guard_round8.py final OUT3.csv
    .venv/bin/python results/guard_round8.py report-final OUT3.csv

``features`` computes reference-free features of each cached mel (and rule c's two
criteria) and joins the default's and ``nnls+fgla:100``'s rows (over the bounds: more
than 0.3 dB ``sc_true_db`` or, for speech, 0.05 PESQ-wb worse); ``auc`` ranks the
features by how well they flag the rows still over among those where the inner is kept;
``grid`` counts, per half (even / odd clip index), the rows rule f (share >= S, band
roughness <= R dB, temporal flux <= T dB) fixes and the clips it routes (a routed row's
audio is ``nnls+fgla:100``'s exactly, so no replay is needed). ``presets`` computes the
rule's features on every suite clip at other presets (clean; no inversion). ``regions``
replays per-region variants of rule d on the speech16k cache (``steady:lo2=..:hi2=..:T=..``:
the blend's weight raised to a ramp of local flatness ``lo2 -> hi2`` where the local mean
frame-to-frame change is at most ``T`` dB). ``cache`` stores both candidates (the inner's
unblended estimate with rule c forced to keep it, and ``nnls+fgla:100``) for every
EVERY-th suite clip plus the bench's side-table clips at SPEC under
``/tmp/s8robust/cache``; ``replay`` replays there the guard's last step and variants
(``flat:minbins=..:lo=..:hi=..`` rule d's band-width limit and thresholds,
``const:w=W:d=1`` a uniform blend weight floor, ``margin:m=M`` rule c keeping the fallback
when ``c_0 < c_1 + M``, ``tail:k=K`` K FGLA iterations from the blended estimate). ``final`` runs the cells themselves (``melbench bench
pipelines``' call) on all 209 clips, clean and noise20: the default (rule f on), the
previous default (``steady_flux_db=0``) and the reference.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guard_local as gl  # noqa: E402  (the round-7 machinery: cache, replays, final)

from melbench import registry  # noqa: E402
from melbench.bench.pipelines import TRACKS, _pesq, clips_for  # noqa: E402
from melbench.inverters import guard_blend as gb  # noqa: E402
from melbench.inverters.guard_blend import temporal_flux_db
from melbench.inverters.guard_features import mel_features  # noqa: E402
from melbench.inverters.guarded import _db, audio_mel, band_roughness_db, mel_criterion, spectral_flatness  # noqa: E402
from melbench.measures import spectral_convergence_db  # noqa: E402
from melbench.spec import get_spec  # noqa: E402

warnings.filterwarnings("ignore", message=".*mel bands.*contain no FFT bin")
CACHE8 = Path(os.environ.get("GUARD_ROUND8_CACHE", "/tmp/s8robust/cache"))
SIDE_CLIPS = ["cmu_arctic_a0007", "allison_vm-review", "vibe_ace_00-08s", "synthetic_harmonic"]
#: rule f as chosen (share, roughness dB, flux dB)
RULE_F = (0.1, 6.0, 2.2)
REF_PHASE = "fgla[alpha=0.99,init=random,n_iter=100]"


def _rows_table(rows_csv: str):
    import pandas as pd
    a = pd.read_csv(rows_csv, low_memory=False)
    a = a[a.sc_db.notna()].copy()
    a["inv"] = a.inverter.str.split("[").str[0]
    a["track"] = np.where(a.degrade == "none", "clean", "noise20")
    ref = a[(a.inv == "nnls") & (a.phase == REF_PHASE)].groupby(["clip", "track"]).first()
    de = a[a.inverter.str.contains("inner=joint_tcr") & a.inverter.str.contains("blend=True")]
    return ref, de.groupby(["clip", "track"]).first()


def features(rows_csv: str, out: str) -> None:
    """Features of every cached speech16k mel, joined with the default's and the reference's rows."""
    import pandas as pd
    from scipy.ndimage import median_filter
    spec = get_spec(gl.SPEC)
    rows = []
    with threadpool_limits(1):
        for track in ("clean", "noise20"):
            _, data = gl._load(track)
            for i, c, z in data:
                mel = spec.decompress(z["mel_c"])
                r = {"track": track, "i": i, "clip": c.id, "kind": c.meta.get("kind"),
                     "chosen": str(z["chosen"]), "inner_c": float(z["inner_c"])}
                if r["chosen"] == "inner":
                    r["share"] = gb.noise_energy_share(mel, spec, gb.band_weights(mel, spec, 0.4, 0.8, 2, 1))
                    r["fb_c"] = mel_criterion(audio_mel(z["x0"], spec), mel, spec)
                r.update(mel_features(mel, spec))
                pw, _ = gb.band_powers(mel, spec)
                e = pw.sum(0)
                edb = 10 * np.log10(np.maximum(e, e.max() * 1e-8))
                de = np.diff(edb)
                r["e_rise_w"] = float(np.sum(e[1:] / e[1:].sum() * np.maximum(de, 0)))  # energy flux
                r["e_crest"] = float(edb.max() - np.median(edb))
                for k in (9, 17):  # percussive share (median filters across time / bands, Fitzgerald 2010)
                    h = median_filter(pw, size=(1, k), mode="nearest")
                    p = median_filter(pw, size=(k, 1), mode="nearest")
                    r[f"hpss{k}"] = float((pw * p * p / np.maximum(h * h + p * p, 1e-300)).sum() / pw.sum())
                db = _db(mel, spec)
                act = db > db.max() - 50
                r["sflux"] = float((np.maximum(np.diff(db, axis=1), 0) * act[:, 1:]).sum() / max(act[:, 1:].sum(), 1))
                fr = spec.sample_rate / spec.hop_length
                s = np.abs(np.fft.rfft(db - db.mean(1, keepdims=True), axis=1)) ** 2
                fq = np.fft.rfftfreq(db.shape[1], 1 / fr)
                wb = pw.sum(1) / pw.sum()
                r["tmod8"] = float((wb * s[:, fq > 8].sum(1) / np.maximum(s[:, fq > 0.5].sum(1), 1e-30)).sum())
                rows.append(r)
    d = pd.DataFrame(rows)
    ref, de = _rows_table(rows_csv)
    for col in ("sc_true_db", "pesq_wb", "mel_sc_db"):
        d[col + "_r"] = [ref[col].get((c, t), np.nan) for c, t in zip(d["clip"], d["track"], strict=False)]
        d[col + "_d"] = [de[col].get((c, t), np.nan) for c, t in zip(d["clip"], d["track"], strict=False)]
    d["over"] = (d.sc_true_db_d - d.sc_true_db_r > gl.SC_BOUND) | (
        (d.kind == "speech") & (d.pesq_wb_r - d.pesq_wb_d > gl.PESQ_BOUND))
    d.to_csv(out, index=False)
    print(len(d), "rows,", int(d.over.sum()), "over the bounds")


FEATURES = ["share", "f_rough", "f_flat", "f_tflux", "f_trough", "f_onset", "e_rise_w", "e_crest",
            "hpss9", "hpss17", "sflux", "tmod8", "inner_c", "fb_c"]


def auc(path: str) -> None:
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    d = pd.read_csv(path)
    k = d[(d.chosen == "inner") & (d.share < 0.4)]
    print("| feature | track | AUC | median (over) | median (within) | speech range (within) |")
    print("|---|---|---|---|---|---|")
    for f in FEATURES:
        for tr in ("clean", "noise20"):
            x = k[k.track == tr]
            ok = x[~x.over & (x.kind == "speech")][f]
            print(f"| {f} | {tr} | {roc_auc_score(x.over, x[f]):.2f} | {x[x.over][f].median():.3f} | "
                  f"{x[~x.over][f].median():.3f} | {ok.min():.2f}-{ok.max():.2f} |")


def grid(path: str) -> None:
    import pandas as pd
    d = pd.read_csv(path)
    k = d[(d.chosen == "inner") & (d.share < 0.4)]
    print("| S | R (dB) | T (dB) | half | over before -> after | routed (speech) | routed rows | SC change of routed rows (sum, dB) |")
    print("|---|---|---|---|---|---|---|---|")
    for s in (0.05, 0.1, 0.15, 0.2):
        for r in (5.0, 5.5, 6.0, 6.5, 7.5, np.inf):
            for t in (2.0, 2.1, 2.2, 2.3, 2.5):
                for half in ("even", "odd"):
                    x = k[(k.i % 2) == (half == "odd")]
                    hit = (x.share >= s) & (x.f_rough <= r) & (x.f_tflux <= t)
                    names = ", ".join(x[hit]["clip"].str.split("/").str[-1] + " " + x[hit]["track"])
                    dsc = (x.sc_true_db_r - x.sc_true_db_d)[hit].sum()
                    print(f"| {s} | {r} | {t} | {half} | {int(x.over.sum())} -> {int((x.over & ~hit).sum())} | "
                          f"{int(hit.sum())} ({int((hit & (x.kind == 'speech')).sum())}) | {names} | {dsc:+.2f} |")


def presets(out: str, names: list[str]) -> None:
    """Rule f's features of every suite clip (clean) at other presets; rules a and b applied."""
    import pandas as pd

    from melbench.datasets.eval_suite import EvalSuite
    rows = []
    with threadpool_limits(1):
        for name in names:
            sp = get_spec(name)
            for j, c in enumerate([c for c in EvalSuite().clips(sp) if not c.error]):
                mel = sp.decompress(sp.mel(np.asarray(c.audio, np.float32)))
                rough = band_roughness_db(mel, sp)
                if spectral_flatness(mel, sp) >= 0.1 or rough < 3:
                    continue
                rows.append({"spec": name, "i": j, "clip": c.id, "kind": c.meta["kind"], "rough": rough,
                             "share": gb.noise_energy_share(mel, sp, gb.band_weights(mel, sp, 0.4, 0.8)),
                             "tflux": temporal_flux_db(mel, sp)})
            print(name, flush=True)
    d = pd.DataFrame(rows)
    d.to_csv(out, index=False)
    s, r, t = RULE_F
    hit = (d.share >= s) & (d.share < 0.4) & (d.rough <= r) & (d.tflux <= t)
    print("routed by rule f:", d[hit].groupby(["spec", "kind"]).size().to_dict())
    print(d[hit][["spec", "clip", "share", "rough", "tflux"]].round(3).to_string())


def w_steady(mel, spec, x1, x0, lo2=0.2, hi2=0.6, T=2.2, nb=2, nt=4, **_):
    """Rule d's band weights, raised to a flatness ramp where the mel is locally steady."""
    from scipy.ndimage import uniform_filter
    wd = gb.band_weights(mel, spec, 0.4, 0.8, 2, 1)
    db = _db(mel, spec)
    d = np.abs(np.diff(db, axis=1))
    d = np.concatenate([d, d[:, -1:]], 1)
    lf = uniform_filter(d, size=(2 * int(nb) + 1, 2 * int(nt) + 1), mode="nearest")
    w2 = np.clip((gb.local_flatness(mel, spec, 2, 1) - lo2) / (hi2 - lo2), 0, 1) * (lf <= T)
    w2[(spec.mel_basis(np.float64) > 0).sum(1) < gb.MIN_BINS] = 0
    return np.maximum(wd, w2)


def regions(variants: list[str]) -> None:
    import pandas as pd
    gl.WEIGHTS["steady"] = w_steady
    rows = pd.DataFrame(gl.evaluate(variants, ("clean",), "all"))
    share = {}
    for track in ("clean",):
        spec, data = gl._load(track)
        for i, _, z in data:
            mel = spec.decompress(z["mel_c"])
            share[track, i] = gb.noise_energy_share(mel, spec, gb.band_weights(mel, spec, 0.4, 0.8, 2, 1))
    m = np.array([share[t, i] >= 0.4 for t, i in zip(rows["track"], rows["i"], strict=False)])  # rule e on top
    for v in ["default", *variants]:
        rows.loc[m, "sc_" + v] = rows.loc[m, "sc_ref"]
        rows.loc[m, "pesq_" + v] = rows.loc[m, "pesq_ref"]
    print(gl.summary(rows.to_dict("records"), variants))


def cache(name: str, every: int, tracks: list[str]) -> None:
    from melbench.datasets.eval_suite import EvalSuite
    from melbench.inverters.joint_fgla import PHASE_INIT_KEY
    from melbench.phase.projections import fgla
    sp = get_spec(name)
    cl = [(c.id, c.meta["kind"], np.asarray(c.audio, np.float32))
          for c in EvalSuite().clips(sp) if not c.error][::every]
    cl += [(c[0], c[1], c[2]) for c in clips_for(sp, SIDE_CLIPS, True, 2.5)]
    g = registry.create("inverter", "guarded", {"inner": "joint_tcr", "inner_iter": 200, "blend": False,
                                                "noise_share": 0.0, "steady_flux_db": 0.0, "fit_db": 0.0,
                                                "probe": False, "margin_db": 100.0})
    nnls = registry.create("inverter", "nnls", {})
    with threadpool_limits(1):
        for track in tracks:
            out = CACHE8 / name / track
            out.mkdir(parents=True, exist_ok=True)
            deg = registry.create("degrade", *TRACKS[track])
            for j, (cid, kind, y) in enumerate(cl):
                f = out / f"{j:03d}.npz"
                if f.exists():
                    continue
                mag = sp.magnitude(y)
                mel_c = deg(sp.mel_from_magnitude(mag), sp, np.random.default_rng([0, 1]))
                ctx: dict = {}
                g(mel_c, sp, context=ctx)
                rec = ctx["guard"]
                x0 = fgla(nnls(mel_c, sp, context={}), sp, n_iter=100, rng=0)
                arrs = {"mel_c": mel_c, "x0": x0.astype(np.complex64), "y": y}
                if rec["chosen"] == "inner":
                    arrs["x1"] = ctx[PHASE_INIT_KEY].astype(np.complex64)
                tmp = out / f".{j:03d}.tmp.npz"
                np.savez(tmp, **arrs, clip=cid, kind=kind, chosen=rec["chosen"], inner_c=rec["inner"],
                         fallback_c=rec["fallback"])
                tmp.rename(f)
                print(track, j, cid[:40], rec["chosen"], flush=True)


def _parse(v: str):
    parts = v.split(":")
    return parts[0], {k: float(x) for k, x in (q.split("=") for q in parts[1:])}


def replay(name: str, variants: list[str]) -> None:
    """The guard's last step and variants on the candidates cached at ``name``."""
    import pandas as pd

    from melbench.phase.projections import fgla
    sp = get_spec(name)

    def band_w(mel, kw):
        old, gb.MIN_BINS = gb.MIN_BINS, int(kw.get("minbins", 3))
        try:
            return gb.band_weights(mel, sp, kw.get("lo", 0.4), kw.get("hi", 0.8), 2, 1)
        finally:
            gb.MIN_BINS = old

    rows = []
    with threadpool_limits(1):
        for tdir in sorted((CACHE8 / name).iterdir()):
            for f in sorted(tdir.glob("[0-9]*.npz")):
                z = dict(np.load(f))
                kind, y = str(z["kind"]), z["y"]
                mel, mag = sp.decompress(z["mel_c"]), sp.magnitude(y)
                x0, x1 = z["x0"], z.get("x1")
                y0 = sp.istft(x0, length=len(y))
                r = {"track": tdir.name, "j": int(f.stem), "clip": str(z["clip"]), "kind": kind,
                     "c1": float(z["inner_c"]), "c0": float(z["fallback_c"]),
                     "sc_ref": spectral_convergence_db(mag, sp.magnitude(y0)),
                     "pesq_ref": _pesq(sp, y, y0) if kind == "speech" else np.nan}
                rough = band_roughness_db(mel, sp)
                share = gb.noise_energy_share(mel, sp, gb.band_weights(mel, sp, 0.4, 0.8, 2, 1))
                s, rr, t = RULE_F
                pre = (rough < 3 or spectral_flatness(mel, sp) >= 0.1 or share >= 0.4
                       or (share >= s and rough <= rr and temporal_flux_db(mel, sp) <= t))
                rulec = r["c1"] >= -35 and r["c0"] < r["c1"]
                for v in ["default", *variants]:
                    kv, kw = _parse(v)
                    fb = pre or x1 is None
                    if kv == "margin":
                        fb = fb or (r["c1"] >= -35 and r["c0"] < r["c1"] + kw["m"])
                    else:
                        fb = fb or rulec
                    if fb:
                        r["sc_" + v], r["pesq_" + v], r["fb_" + v] = r["sc_ref"], r["pesq_ref"], True
                        continue
                    w = gb.blend_weights(band_w(mel, kw if kv == "flat" else {}), sp)
                    if kv == "const":
                        w = np.maximum(np.float32(kw["w"]), w)
                    a = (1 - w) * np.abs(x1) + w * np.abs(x0)
                    x = a * np.exp(1j * np.angle(x1))
                    if kv == "tail":  # k FGLA iterations from the blended estimate
                        x = fgla(a.astype(np.float32), sp, n_iter=int(kw["k"]), init=x.astype(np.complex64))
                    yy = sp.istft(x, length=len(y))
                    r["sc_" + v] = spectral_convergence_db(mag, sp.magnitude(yy))
                    r["pesq_" + v] = _pesq(sp, y, yy) if kind == "speech" else np.nan
                    r["fb_" + v] = False
                rows.append(r)
    d = pd.DataFrame(rows)
    d.to_csv(CACHE8 / f"replay_{name}.csv", index=False)
    print("| variant | track | half | over: speech / music / other | fallback | mean PESQ-wb speech "
          "| mean SC speech / music (dB) |")
    print("|---|---|---|---|---|---|---|")
    for v, tr, half in [(v, tr, h) for v in ["default", *variants] for tr in sorted(d.track.unique())
                        for h in ("even", "odd")]:
        x = d[(d.track == tr) & ((d.j % 2) == (half == "odd"))]
        over = (x["sc_" + v] - x.sc_ref > gl.SC_BOUND) | (
            (x.kind == "speech") & (x.pesq_ref - x["pesq_" + v] > gl.PESQ_BOUND))
        cnt = " / ".join(f"{int(over[x.kind == k].sum())}/{int((x.kind == k).sum())}"
                         for k in ("speech", "music", "other"))
        print(f"| {v} | {tr} | {half} | {cnt} | {int(x['fb_' + v].sum())} | "
              f"{x[x.kind == 'speech']['pesq_' + v].mean():.3f} | "
              f"{x[x.kind == 'speech']['sc_' + v].mean():.2f} / {x[x.kind == 'music']['sc_' + v].mean():.2f} |")


gl.FINAL_CELLS = {"new": "guarded:200:inner=joint_tcr+fgla:0",
                  "old": "guarded:200:inner=joint_tcr:steady_flux_db=0+fgla:0",
                  "ref": "nnls+fgla:100"}

if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "features":
        features(a[1], a[2])
    elif a[0] == "auc":
        auc(a[1])
    elif a[0] == "grid":
        grid(a[1])
    elif a[0] == "presets":
        presets(a[1], a[2:] or ["speech16k", "hifigan_v1", "bigvgan_44k_128", "tts22k", "torchaudio",
                                "narrowband8k", "librosa", "bigvgan_24k_100", "pwg_24k",
                                "bigvgan_22k_80", "vocos_24k"])
    elif a[0] == "regions":
        regions(a[1:])
    elif a[0] == "cache":
        cache(a[1], int(a[2]), a[3].split(","))
    elif a[0] == "replay":
        replay(a[1], a[2:])
    elif a[0] == "final":
        gl.final(a[1])
    elif a[0] == "report-final":
        gl.report_final(a[1])
