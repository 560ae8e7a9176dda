"""Round 8, follow-up, of the music-SC work (issue 16): ``joint_auto``'s switch across framings.

Run from the repository root (one thread; the suite needs ``make eval-data``)::

    .venv/bin/python results/music_phase_round8b.py score
    .venv/bin/python results/music_phase_round8b.py predict
    .venv/bin/python results/music_phase_round8b.py robust OLD_ROWS.csv NEW_ROWS.csv [NEW_ROWS.csv ...]
    .venv/bin/python results/music_phase_round8b.py extra SPEC [REPEAT]
    .venv/bin/python results/music_phase_round8b.py pair REF_ROWS.csv DEFAULT_ROWS.csv AUTO_ROWS.csv

``score`` prints, at each of eleven presets, the steadiness score
(:func:`melbench.inverters.lowrank_prior.low_band_steadiness`, the change over 16 ms) of the
evaluation suite's 209 clips by kind and half (even / odd index within the kind), how many fall
below ``joint_auto``'s threshold, the bundled music excerpt's score (the benchmark's 2.5 s crop
and 4 s), and at speech16k which clips decide differently from round 8's rule (the per-frame
change, both frames within 30 dB of the loudest, below 1.3). ``predict`` measures, on the
suite's music clips at speech16k whose score is below the threshold, the true-magnitude SC of
the default cell and of ``joint_auto`` without its active-frame gate (``steady_active`` 0,
registered as ``joint_auto_a0``) inside the guard, and the reference-free
features of the mel listed in :data:`FEATURES`, and prints for each feature the split (a
midpoint between two even-index values) with the largest summed gain on the even-index clips
and what it gives on the odd ones.
``robust`` counts the rows
over the issue's bounds (0.3 dB SC against the true magnitude, 0.05 PESQ-wb on speech) against
``nnls+fgla:100`` of ``OLD_ROWS.csv`` (the suite's rows, which hold the reference cell and the
default) for the default and for the rows of ``NEW_ROWS.csv`` (``melbench run`` outputs).
"""

from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.bench.pipelines import _cell_call, clips_for
from melbench.inverters.lowrank_prior import low_band_steadiness
from melbench.measures import spectral_convergence_db
from melbench.spec import get_spec

PRESETS = ["speech16k", "tts22k", "narrowband8k", "hifigan_v1", "bigvgan_24k_100", "bigvgan_44k_128",
           "vocos_24k", "librosa", "torchaudio", "pwg_24k", "bigvgan_22k_80"]
DEFAULT = "guarded:200:inner=joint_tcr+fgla:0"
AUTO = "guarded:200:inner=joint_auto+fgla:0"
AUTO_SCORE = "guarded:200:inner=joint_auto_a0+fgla:0"  # joint_auto with steady_active 0


def _round8_score(mel: np.ndarray, spec) -> float:
    """Round 8's score: per-frame change, both frames within 30 dB of the loudest."""
    basis = spec.mel_basis(np.float64)
    freqs = np.arange(basis.shape[1]) * (spec.sample_rate / spec.n_fft)
    centre = (basis @ freqs) / np.maximum(basis.sum(axis=1), 1e-300)
    low = np.asarray(mel, np.float64)[centre < 500.0]
    e = (low * low if int(spec.power) == 1 else low).sum(axis=0)
    top = e.max()
    loud = e > top * 1e-3
    pairs = loud[1:] & loud[:-1]
    return float(np.abs(np.diff(10 * np.log10(e + top * 1e-6)))[pairs].mean()) if pairs.any() else np.inf


def _suite(spec):
    from melbench.datasets.eval_suite import EvalSuite

    seen: dict[str, int] = {}
    for clip in EvalSuite().clips(spec):
        if clip.error:
            continue
        kind = clip.meta["kind"]
        idx = seen.get(kind, 0)
        seen[kind] = idx + 1
        yield clip.id, kind, idx, np.asarray(clip.audio, np.float32)


def score() -> None:
    """Print the scores of the suite and the excerpt at every preset (see the module docstring)."""
    auto = registry.create("inverter", "joint_auto", {})
    thr = float(auto.params.steady_below)
    for name in PRESETS:
        spec = get_spec(name)
        rows = []
        for cid, kind, idx, y in _suite(spec):
            mel = spec.mel(y, compress=False)
            rows.append((cid, kind, idx % 2, auto.is_steady(mel, spec),
                         float(low_band_steadiness(mel, spec)), _round8_score(mel, spec)))
        line = [f"{name:16s} hop {1e3 * spec.hop_length / spec.sample_rate:5.1f} ms"]
        for kind in ("speech", "music", "other"):
            for half in (0, 1):
                v = np.array([r[4] for r in rows if r[1] == kind and r[2] == half])
                line.append(f"{kind[:2]}{'eo'[half]} n {v.size} min {v.min():.2f} med {np.median(v):.2f} "
                            f"<thr {int(np.sum(v < thr))}")
        old_speech = sum(1 for r in rows if r[1] == "speech" and r[5] < 1.3)
        line.append(f"| round 8 rule: speech below {old_speech}")
        ex = []
        for crop in (2.5, 4.0):
            (_c, _k, y), = [c[:3] for c in clips_for(spec, ["vibe_ace_00-08s"], False, crop)]
            mel = spec.decompress(spec.mel_from_magnitude(spec.magnitude(y)))
            ex.append(f"{low_band_steadiness(mel, spec):.2f}{'*' if auto.is_steady(mel, spec) else ''}")
        line.append("| excerpt 2.5 s / 4 s " + " / ".join(ex))
        print(" ".join(line), flush=True)
        if name == "speech16k":
            changed = [(r[0], round(r[4], 2), round(r[5], 2)) for r in rows if r[3] != (r[5] < 1.3)]
            print("  speech16k clips deciding differently from round 8's rule (new, old score):", changed)


FEATURES = {
    "score": lambda mel, spec: low_band_steadiness(mel, spec),
    "score_2k": lambda mel, spec: low_band_steadiness(mel, spec, max_hz=2000.0),
    "low_share": lambda mel, spec: _low_share(mel, spec),
    "flatness": lambda mel, spec: _flatness(mel),
    "active": lambda mel, spec: _active(mel),
}


def _low_share(mel, spec):
    basis = spec.mel_basis(np.float64)
    freqs = np.arange(basis.shape[1]) * (spec.sample_rate / spec.n_fft)
    centre = (basis @ freqs) / np.maximum(basis.sum(axis=1), 1e-300)
    e = np.asarray(mel, np.float64) ** 2
    return float(e[centre < 500.0].sum() / max(e.sum(), 1e-300))


def _flatness(mel):
    m = np.asarray(mel, np.float64) ** 2 + 1e-12
    return float(np.mean(np.exp(np.mean(np.log(m), axis=0)) / np.mean(m, axis=0)))


def _active(mel):
    e = (np.asarray(mel, np.float64) ** 2).sum(axis=0)
    return float(np.mean(e > e.max() * 1e-3))


def predict() -> None:
    """Measure both cells on the suite's steady music and split it by each feature (even / odd)."""
    _register_extra()
    spec = get_spec("speech16k")
    auto = registry.create("inverter", "joint_auto", {"steady_active": 0.0})  # the score alone
    rows = []
    with threadpool_limits(1):
        for cid, kind, idx, y in _suite(spec):
            if kind != "music":
                continue
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            lin = spec.decompress(mel)
            if not auto.is_steady(lin, spec):
                continue
            sc = []
            for cell in (DEFAULT, AUTO_SCORE):
                fn = _cell_call(cell, spec, len(y), mag, 0)
                out = np.asarray(fn(mel), np.float32)[: len(y)]
                sc.append(spectral_convergence_db(mag, spec.magnitude(out)))
            feats = {k: f(lin, spec) for k, f in FEATURES.items()}
            rows.append((cid, idx % 2, sc[1] - sc[0], feats))
            print(f"{cid[:32]:32s} {'eo'[idx % 2]} default {sc[0]:7.2f} auto {sc[1]:7.2f} "
                  f"gain {sc[0] - sc[1]:+6.2f} "
                  + " ".join(f"{k} {v:.3f}" for k, v in feats.items()), flush=True)
    gain = {h: np.array([-r[2] for r in rows if r[1] == h]) for h in (0, 1)}
    print(f"steady music clips: even {gain[0].size} (mean gain {gain[0].mean():+.3f} dB), "
          f"odd {gain[1].size} (mean gain {gain[1].mean():+.3f} dB)")
    for k in FEATURES:
        x = {h: np.array([r[3][k] for r in rows if r[1] == h]) for h in (0, 1)}
        best = None
        u = np.unique(x[0])
        cuts = np.concatenate([[u[0] - 1.0], (u[1:] + u[:-1]) / 2, [u[-1] + 1.0]])  # gap midpoints
        for t in cuts:
            for side in (1, -1):
                keep = side * x[0] <= side * t
                total = float(gain[0][keep].sum())
                if best is None or total > best[0]:
                    best = (total, t, side)
        total, t, side = best
        keep1 = side * x[1] <= side * t
        print(f"{k:10s} even: keep {'<=' if side > 0 else '>='} {t:.3f} gains {total:+.2f} dB summed "
              f"(all: {gain[0].sum():+.2f}); odd: {float(gain[1][keep1].sum()):+.2f} dB summed "
              f"(all: {gain[1].sum():+.2f}), kept {int(keep1.sum())}/{keep1.size}")


def robust(old: str, news: list[str]) -> None:
    """Count the rows over the issue's bounds for the default and for ``joint_auto``."""
    import pandas as pd

    d = pd.read_csv(old, low_memory=False)
    d = pd.concat([d] + [pd.read_csv(n, low_memory=False) for n in news], ignore_index=True)
    d = d[d.sc_true_db.notna()]
    d["inv"] = d.inverter.str.split("[").str[0]
    ref = d[(d.inv == "nnls") & (d.phase.str.contains("n_iter=100"))]
    ref = ref.groupby(["clip", "degrade"]).first().reset_index()
    cells = {
        "default (joint_tcr)": (d.inverter.str.contains("inner=joint_tcr")
                                & ~d.inverter.str.contains("blend=False")),
        "joint_auto": d.inverter.str.contains("inner=joint_auto"),
    }
    for name, sel in cells.items():
        c = d[sel].groupby(["clip", "degrade"]).first().reset_index()
        m = c.merge(ref, on=["clip", "degrade"], suffixes=("", "_r"))
        m["over"] = m.sc_true_db - m.sc_true_db_r > 0.3
        if "pesq_wb" in m and m.pesq_wb.notna().any():
            m["over"] |= (m.kind == "speech") & (m.pesq_wb_r - m.pesq_wb > 0.05)
        for deg, g in m.groupby("degrade"):
            mu = g[g.kind == "music"]
            print(f"{name:22s} {deg:18s} rows {len(g):3d} over {int(g.over.sum()):2d} "
                  f"(music {int(mu.over.sum())}/{len(mu)}) "
                  f"music SC mean {mu.sc_true_db.mean():.2f} (nnls+fgla:100 {mu.sc_true_db_r.mean():.2f})")
            for _, r in g[g.over].iterrows():
                print(f"    over: {r['clip'][:36]:36s} {r['kind']:6s} SC {r.sc_true_db:.2f} "
                      f"vs {r.sc_true_db_r:.2f}")


def _register_extra() -> None:
    from dataclasses import dataclass

    from melbench.inverters.guarded import ITERATION_COUNTERS
    from melbench.inverters.joint_lowrank import JointAuto

    for extra, active in ((40, 0.9), (35, 0.9), (25, 0.9), (0, 0.9), (50, 0.0)):
        name = f"joint_auto_x{extra}" if active else "joint_auto_a0"
        if name in registry.available("inverter"):
            continue

        @dataclass
        class Params(JointAuto.Params):
            steady_extra: int = extra
            steady_active: float = active

        cls = type(f"JointAuto_{name}", (JointAuto,), {"name": name, "Params": Params})
        registry.register("inverter", cls, name)
        ITERATION_COUNTERS[name] = "joint_iter"


def extra(spec_name: str, repeat: int) -> None:
    """SC and seconds of ``steady_extra`` 50 / 25 / 0 and the default on the steady bench clips."""
    import time

    from melbench.bench.pipelines import _librosa_call

    _register_extra()
    spec = get_spec(spec_name)
    cells = [DEFAULT, AUTO] + [f"guarded:200:inner=joint_auto_x{x}+fgla:0" for x in (40, 35, 25, 0)]
    cells.append("librosa")
    clips = [(f"{c[0]}@{crop}", c[2]) for crop in (2.5, 4.0)
             for c in clips_for(spec, ["vibe_ace_00-08s"], False, crop)]
    clips += [(c[0], c[2]) for c in clips_for(spec, ["synthetic_harmonic"], True, 0.0)]
    with threadpool_limits(1):
        for cid, y in clips:
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            calls = {}
            for cell in cells:
                if cell == "librosa":
                    calls[cell] = (_librosa_call(spec, len(y)), spec.decompress(mel))
                else:
                    calls[cell] = (_cell_call(cell, spec, len(y), mag, 0), mel)
                warm = _librosa_call(spec, None) if cell == "librosa" else calls[cell][0]
                warm(calls[cell][1][..., :16])
            best = {c: np.inf for c in cells}
            sc = {}
            for _ in range(repeat):
                for cell in cells:
                    fn, arg = calls[cell]
                    t0 = time.process_time()
                    out = np.asarray(fn(arg), np.float32)[: len(y)]
                    best[cell] = min(best[cell], time.process_time() - t0)
                    sc[cell] = spectral_convergence_db(mag, spec.magnitude(out))
            lib = best["librosa"]
            print(f"{spec_name} {cid[:28]:28s} " + " | ".join(
                f"{c.replace('guarded:200:inner=', '').replace('+fgla:0', '')} SC {sc[c]:6.2f} "
                f"t {best[c]:.3f} x{best[c] / lib:.2f}" for c in cells), flush=True)


def pair(ref: str, default: str, auto: str) -> None:
    """Per kind: the default's and ``joint_auto``'s SC, clips that differ, rows over the bound."""
    import pandas as pd

    r = pd.read_csv(ref, low_memory=False)
    r = r[r.inverter.str.startswith("nnls[") & r.phase.str.contains("n_iter=100")]
    a, b = pd.read_csv(default), pd.read_csv(auto)
    deg = a.degrade.iloc[0]
    r = r[r.degrade == deg].groupby("clip").first().reset_index()  # as the suite's count does
    m = a.merge(b, on="clip", suffixes=("_d", "_a")).merge(
        r[["clip", "sc_true_db"]].rename(columns={"sc_true_db": "sc_ref"}), on="clip")
    for kind, g in m.groupby("kind_d"):
        diff = g.sc_true_db_a - g.sc_true_db_d
        over_d = int((g.sc_true_db_d - g.sc_ref > 0.3).sum())
        over_a = int((g.sc_true_db_a - g.sc_ref > 0.3).sum())
        print(f"{deg:18s} {kind:6s} n {len(g):3d} default {g.sc_true_db_d.mean():7.3f} auto "
              f"{g.sc_true_db_a.mean():7.3f} identical {int((diff == 0).sum()):3d} better>0.3 "
              f"{int((diff < -0.3).sum()):2d} worse>0.3 {int((diff > 0.3).sum()):2d} | over the SC bound: "
              f"default {over_d} auto {over_a} | s/clip {g.t_invert_d.mean():.3f} / "
              f"{g.t_invert_a.mean():.3f}")
        for _, row in g[diff.abs() > 1e-9].iterrows():
            print(f"    {row['clip'][:36]:36s} default {row.sc_true_db_d:7.2f} auto {row.sc_true_db_a:7.2f} "
                  f"nnls+fgla:100 {row.sc_ref:7.2f}")


def main(argv: list[str]) -> int:
    """Dispatch ``score`` / ``predict`` / ``robust OLD NEW...``."""
    if argv[:1] == ["score"]:
        score()
    elif argv[:1] == ["predict"]:
        predict()
    elif argv[:1] == ["extra"] and len(argv) >= 2:
        extra(argv[1], int(argv[2]) if len(argv) > 2 else 3)
    elif argv[:1] == ["pair"] and len(argv) == 4:
        pair(argv[1], argv[2], argv[3])
    elif argv[:1] == ["robust"] and len(argv) >= 3:
        robust(argv[1], argv[2:])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
