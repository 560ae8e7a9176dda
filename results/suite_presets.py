"""The evaluation suite at the other presets: the default against ``nnls`` + ``fgla:100`` (issue 16).

Issue 16's robustness bound: the default never more than 0.3 dB SC (against the true
magnitude, ``sc_true_db``) or, on speech, 0.05 PESQ-wb worse than ``nnls`` + ``fgla:100`` on
any clip, at every preset. Run from the repository root (``make eval-data`` once)::

    OMP_NUM_THREADS=1 .venv/bin/python results/suite_presets.py run OUT_DIR TRACK PRESET [PRESET ...]
    .venv/bin/python results/suite_presets.py count ROWS [--every N]
    .venv/bin/python results/suite_presets.py pack OUT_DIR results/suite_presets_rows.csv.gz

``run`` runs both cells exactly as ``melbench bench pipelines`` does
(:func:`melbench.bench.pipelines._cell_call`, seed 0; the cell's audio cropped to the clip)
on the suite's 209 clips (each cropped to 4 s by the suite) at each preset, clean mels
(``TRACK`` clean) or the bench's noise20 track (seeded ``[0, 1]``), in the order
``0, 3, 6, ..., 1, 4, ..., 2, 5, ...`` (every third clip at every preset first; ``TRACK:0``
runs only that third, ``clean:12`` the two others); one row per
clip and cell is appended to ``OUT_DIR/PRESET_TRACK.csv`` as it is measured and a rerun
skips the rows already there. Each default row also records the guard's record (which rule
decided, both criteria) and :func:`melbench.inverters.guard_features.mel_features` of the
mel, for the diagnosis. ``count`` tabulates per preset, track and kind the rows over the
bounds (SC only / PESQ) and both cells' means (``--every 3``: only clips 0, 3, 6, ...);
``pack`` writes the columns used to one gzipped CSV. ``variant`` runs another cell on the
clips ``i % 3 == RESIDUE`` (clean) and ``compare`` sets its rows against the default's,
per even / odd clip index::

    OMP_NUM_THREADS=1 .venv/bin/python results/suite_presets.py variant OUT.csv PRESET RESIDUE CELL [KINDS]
    .venv/bin/python results/suite_presets.py compare ROWS OUT.csv [OUT.csv ...]

``features`` computes rules e/f's features of every clip at the given presets (clean, no
inversion) and ``steady`` lists the clips a steady-texture extension of rule f would route::

    OMP_NUM_THREADS=1 .venv/bin/python results/suite_presets.py features FEATS.csv PRESET ...
    .venv/bin/python results/suite_presets.py steady FEATS.csv 0.15 1.6

``diagnose ROWS`` says which step kept the inner on the clean rows over; ``rule-h ROWS
VARIANTS`` replays rule h (``guarded.dense_tail_iter``) on the ``+gla:4`` variant rows;
``heldout ROWS NEW.csv ...`` sets the new default's own rows (``variant`` with the default
cell after rule h, on the clips ``i % 3`` = 1 and 2) against the old default's.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.bench.pipelines import TRACKS, _cell_call, _pesq, reference_free
from melbench.inverters.guard_features import mel_features
from melbench.measures import spectral_convergence_db
from melbench.results import atomic_write_bytes
from melbench.spec import get_spec

warnings.filterwarnings("ignore", message=".*mel bands.*contain no FFT bin")
CELLS = {"default": "guarded:200:inner=joint_auto+fgla:0", "ref": "nnls+fgla:100"}
SC_BOUND, PESQ_BOUND = 0.3, 0.05
GUARD_KEYS = ("chosen", "roughness", "flatness", "noise_share", "flux", "smooth", "noisy", "textured",
              "steady", "inner", "fallback", "probe", "probe_iter", "stopped", "blend", "tail")
COLUMNS = ["spec", "track", "i", "clip", "kind", "source_rate", "cell", "seconds", "sc_true_db", "pesq_wb",
           "mel_sc_db", "logmel_db", *[f"g_{k}" for k in GUARD_KEYS],
           "f_rough", "f_flat", "f_tflux", "f_trough", "f_onset", "f_low", "status", "error"]


def run(out_dir: str, track: str, presets: list[str], residues: tuple[int, ...] = (0, 1, 2)) -> None:
    """Both cells on clips ``i % 3 == r`` for each ``r`` in ``residues``, at every preset in turn."""
    for r in residues:
        for name in presets:
            _run_one(Path(out_dir), track, name, r)


def _run_one(out: Path, track: str, name: str, residue: int) -> None:
    from melbench.datasets.eval_suite import EvalSuite
    out.mkdir(parents=True, exist_ok=True)
    deg = registry.create("degrade", *TRACKS[track])
    spec = get_spec(name)
    path = out / f"{name}_{track}.csv"
    done = set()
    if path.exists():
        with path.open() as f:
            done = {(r["clip"], r["cell"]) for r in csv.DictReader(f)}
    clips = [c for c in EvalSuite().clips(spec) if not c.error]
    new = not path.exists()
    with path.open("a", newline="") as fh, threadpool_limits(1):
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        for i in range(residue, len(clips), 3):
            c = clips[i]
            y = np.asarray(c.audio, np.float32)
            kind = c.meta.get("kind", "")
            mag = spec.magnitude(y)
            mel = deg(spec.mel_from_magnitude(mag), spec, np.random.default_rng([0, 1]))
            feats = mel_features(spec.decompress(mel), spec)
            for key, cell in CELLS.items():
                if (c.id, key) in done:
                    continue
                row = {k: "" for k in COLUMNS}
                row.update(spec=name, track=track, i=i, clip=c.id, kind=kind, cell=key, status="ok",
                           source_rate=c.meta.get("source_sample_rate") or "")
                last: dict = {}
                try:
                    fn = _cell_call(cell, spec, len(y), mag, 0, last)
                    t0 = time.process_time()
                    yy = np.asarray(fn(mel), np.float32)[: len(y)]
                    row["seconds"] = time.process_time() - t0
                    row["sc_true_db"] = spectral_convergence_db(mag, spec.magnitude(yy))
                    row["mel_sc_db"], row["logmel_db"] = reference_free(spec, mel, yy)
                    row["pesq_wb"] = _pesq(spec, y, yy) if kind == "speech" else math.nan
                    g = last.get("ctx", {}).get("guard")
                    if isinstance(g, dict):
                        row.update({f"g_{k}": g.get(k, "") for k in GUARD_KEYS})
                        row.update(feats)
                except Exception as exc:  # noqa: BLE001 - recorded in the row, the run goes on
                    row["status"], row["error"] = "failed", f"{type(exc).__name__}: {exc}"
                w.writerow(row)
                fh.flush()
            print(name, track, i, c.id[:40], flush=True)


def variant(out: str, name: str, residue: int, cell: str, kinds: tuple[str, ...]) -> None:
    """Another cell on the clips ``i % 3 == residue`` of the given kinds (clean), rows to ``out``."""
    from melbench.datasets.eval_suite import EvalSuite
    spec = get_spec(name)
    clips = [c for c in EvalSuite().clips(spec) if not c.error]
    new = not Path(out).exists()
    with open(out, "a", newline="") as fh, threadpool_limits(1):
        w = csv.writer(fh)
        if new:
            w.writerow(["spec", "i", "clip", "kind", "cell", "sc_true_db", "pesq_wb", "chosen"])
        for i in range(residue, len(clips), 3):
            c = clips[i]
            if c.meta.get("kind") not in kinds:
                continue
            y = np.asarray(c.audio, np.float32)
            mag = spec.magnitude(y)
            last: dict = {}
            yy = np.asarray(_cell_call(cell, spec, len(y), mag, 0, last)(spec.mel_from_magnitude(mag)),
                            np.float32)[: len(y)]
            w.writerow([name, i, c.id, c.meta["kind"], cell, spectral_convergence_db(mag, spec.magnitude(yy)),
                        _pesq(spec, y, yy) if c.meta["kind"] == "speech" else "",
                        last["ctx"].get("guard", {}).get("chosen", "")])
            fh.flush()


def compare(rows: str, variants: list[str]) -> None:
    """Per variant cell, preset and half (even / odd clip index): rows over and means, default -> variant."""
    import pandas as pd
    m = paired(load(rows))
    m = m[m.track == "clean"].set_index(["spec", "clip"])
    print("| cell | preset | half | clips | over: default -> cell | mean PESQ-wb speech | mean SC (dB) |")
    print("|---|---|---|---|---|---|---|")
    for path in variants:
        v = pd.read_csv(path)
        for (cell, sp), g in v.groupby(["cell", "spec"]):
            cols = ["sc_true_db", "sc_true_db_ref", "pesq_wb", "pesq_wb_ref", "over", "source_rate"]
            h = g.set_index(["spec", "clip"]).merge(m[cols], left_index=True, right_index=True,
                                                     suffixes=("", "_default"))
            h.loc[h.pesq_wb_default.isna(), "pesq_wb"] = np.nan  # the suite's PESQ rule, as paired()
            over = (h.sc_true_db - h.sc_true_db_ref > SC_BOUND) | (
                (h.kind == "speech") & (h.pesq_wb_ref - h.pesq_wb > PESQ_BOUND))
            for half in ("even", "odd"):
                k = (h.i % 2) == (half == "odd")
                x = h[k]
                print(f"| `{cell}` | {sp} | {half} | {len(x)} | {int(x.over.sum())} -> "
                      f"{int(over[k].sum())} | "
                      f"{x.pesq_wb_default.mean():.3f} -> {x.pesq_wb.mean():.3f} | "
                      f"{x.sc_true_db_default.mean():.2f} -> {x.sc_true_db.mean():.2f} |")


def features(out: str, names: list[str]) -> None:
    """Rules e/f's features (share, flux, roughness) of every suite clip and the bench's side-table clips.

    Clean mels, no inversion; ``steady`` tests the steady-texture extension of rule f
    (share >= S, flux <= T, any roughness) on them.
    """
    import pandas as pd

    from melbench.bench.pipelines import clips_for
    from melbench.datasets.eval_suite import EvalSuite
    from melbench.inverters import guard_blend as gb
    from melbench.inverters.guarded import BLEND_NEIGHBOURHOOD, band_roughness_db, spectral_flatness
    rows = []
    side = ["cmu_arctic_a0007", "allison_vm-review", "vibe_ace_00-08s", "synthetic_harmonic"]
    with threadpool_limits(1):
        for name in names:
            sp = get_spec(name)
            cl = [(j, c.id, c.meta["kind"], np.asarray(c.audio, np.float32))
                  for j, c in enumerate([c for c in EvalSuite().clips(sp) if not c.error])]
            cl += [(-1, a, b, y) for a, b, y in clips_for(sp, side, True, 0)]
            for j, cid, kind, y in cl:
                mel = sp.decompress(sp.mel(y))
                r = {"spec": name, "i": j, "clip": cid, "kind": kind, "rough": band_roughness_db(mel, sp),
                     "flat": spectral_flatness(mel, sp)}
                if r["flat"] < 0.1 and r["rough"] >= 3:  # rules a and b leave it to e and f
                    r["share"] = gb.noise_energy_share(mel, sp, gb.band_weights(mel, sp, 0.4, 0.8,
                                                                                *BLEND_NEIGHBOURHOOD))
                    r["flux"] = gb.temporal_flux_db(mel, sp)
                rows.append(r)
            print(name, flush=True)
    pd.DataFrame(rows).to_csv(out, index=False)


def steady(path: str, s_min: float, t_max: float) -> None:
    """The clips the steady-texture extension (share >= s_min, flux <= t_max, not rule e or f) routes."""
    import pandas as pd
    d = pd.read_csv(path)
    rule_f = (d.share >= 0.1) & (d.rough <= 6.0) & (d.flux <= 2.2)
    hit = d.share.notna() & (d.share < 0.4) & ~rule_f & (d.share >= s_min) & (d.flux <= t_max)
    print(d[hit][["spec", "i", "clip", "kind", "share", "flux", "rough"]].round(3).to_string(index=False))


def diagnose(path: str) -> None:
    """Which step kept the inner on the clean rows over, and whether the default fits the mel better."""
    m = paired(load(path))
    m = m[m.track == "clean"]
    o = m[m.over].copy()
    stopped = o.g_stopped.astype(str) == "True"
    o["why"] = np.where(stopped, "probe stopped the fallback",
                        np.where(o.g_fallback.isna(), "fit shortcut (c_1 < fit_db)", "rule c (c_0 >= c_1)"))
    o["dmel"] = o.mel_sc_db - o.mel_sc_db_ref
    w = m[~m.over & (m.g_chosen == "inner")]
    print(len(o), "clean rows over; chosen:", o.g_chosen.value_counts().to_dict())
    print(o.groupby(["kind", "why"]).size().to_string())
    for kind, x in o.groupby("kind"):
        print(f"{kind}: {len(x)} over, {int((x.over_sc & ~x.over_pesq).sum())} SC only, "
              f"{int((x.pesq_loss < 0).sum())} with PESQ-wb better")
    print(f"default's audio fits the mel better on {int((o.dmel < 0).sum())} of {len(o)} "
          f"(median mel_sc difference {o.dmel.median():+.2f} dB; kept-inner rows within the "
          f"bound {(w.mel_sc_db - w.mel_sc_db_ref).median():+.2f} dB)")
    from scipy.stats import spearmanr
    k = m[(m.g_chosen == "inner") & (m.kind == "speech")]
    for sp, x in k.groupby("spec"):
        r = [spearmanr(x[f], x.sc_loss, nan_policy="omit")[0] for f in ("g_roughness", "g_noise_share")]
        print(f"{sp}: kept-inner speech rows {len(x)}, Spearman of the SC loss with band roughness "
              f"{r[0]:+.2f}, with the noise-energy share {r[1]:+.2f}")


def rule_h(rows: str, variants: str, cell: str = "guarded:200:inner=joint_auto+gla:4",
           rough_db: float = 4.5) -> None:
    """Rule h replayed: the ``+gla:4`` cell's rows where rule h acts, the default's elsewhere.

    Rule h acts where the default kept the inner and the mel's band roughness is at most
    ``rough_db``; its output is then the ``+gla:4`` cell's to float rounding (checked on
    vocos_24k clip 117: 9e-8). Per preset, kind and half (even / odd clip index).
    """
    import pandas as pd
    m = paired(load(rows))
    m = m[m.track == "clean"].set_index(["spec", "clip"])
    v = pd.read_csv(variants)
    v = v[v.cell == cell].set_index(["spec", "clip"])
    cols = ["sc_true_db", "sc_true_db_ref", "pesq_wb", "pesq_wb_ref", "g_roughness", "g_chosen", "over"]
    h = v.merge(m[cols], left_index=True, right_index=True, suffixes=("_h", ""))
    act = (h.g_chosen == "inner") & (h.g_roughness <= rough_db)
    sc = h.sc_true_db_h.where(act, h.sc_true_db)
    pesq = h.pesq_wb_h.where(act, h.pesq_wb).where(h.pesq_wb.notna())
    over = (sc - h.sc_true_db_ref > SC_BOUND) | ((h.kind == "speech") & (h.pesq_wb_ref - pesq > PESQ_BOUND))
    h = h.assign(act=act, sc_new=sc, pesq_new=pesq, over_new=over)
    print(f"`{cell}` where the inner is kept and the band roughness is at most {rough_db} dB:\n")
    print("| preset | kind | half | clips | rule h acts | over: default -> rule h | "
          "mean PESQ-wb | mean SC (dB) |")
    print("|---|---|---|---|---|---|---|---|")
    for (sp, kind), g in h.groupby([h.index.get_level_values(0), "kind"]):
        for half in ("even", "odd"):
            x = g[(g.i % 2) == (half == "odd")]
            pq = (f"{x.pesq_wb.mean():.3f} -> {x.pesq_new.mean():.3f}" if kind == "speech" else "–")
            print(f"| {sp} | {kind} | {half} | {len(x)} | {int(x.act.sum())} | {int(x.over.sum())} -> "
                  f"{int(x.over_new.sum())} | {pq} | {x.sc_true_db.mean():.2f} -> {x.sc_new.mean():.2f} |")


def heldout(rows: str, new_rows: list[str], rough_db: float = 4.5) -> None:
    """The new default's own rows (``variant`` with the default cell, rule h on) against the old.

    Per preset: rows over before -> after, newly over, fixed, the clips whose output changed
    against those rule h was predicted to act on (inner kept, roughness <= ``rough_db``),
    and the mean SC / speech PESQ-wb change per kind.
    """
    import pandas as pd
    m = paired(load(rows))
    m = m[m.track == "clean"].set_index(["spec", "clip"])
    cols = ["sc_true_db", "sc_true_db_ref", "pesq_wb", "pesq_wb_ref", "over", "g_roughness", "g_chosen"]
    print("| preset | clips | over: old -> new | newly over | fixed | rule h acts (predicted) "
          "| outputs changed | changed where not predicted "
          "| mean SC change speech / music / other (dB) | mean PESQ-wb change |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    v_all = pd.concat([pd.read_csv(path) for path in new_rows])
    for _, v in v_all.groupby("spec", sort=False):
        h = v.set_index(["spec", "clip"]).merge(m[cols], left_index=True, right_index=True,
                                                suffixes=("_n", ""))
        h.loc[h.pesq_wb.isna(), "pesq_wb_n"] = np.nan
        on = (h.sc_true_db_n - h.sc_true_db_ref > SC_BOUND) | (
            (h.kind == "speech") & (h.pesq_wb_ref - h.pesq_wb_n > PESQ_BOUND))
        act = (h.g_chosen == "inner") & (h.g_roughness <= rough_db)
        changed = (h.sc_true_db_n - h.sc_true_db).abs() > 1e-4
        dsc = " / ".join(f"{(x.sc_true_db_n - x.sc_true_db).mean():+.3f}"
                         for x in (h[h.kind == k] for k in ("speech", "music", "other")))
        sp = h[h.kind == "speech"]
        print(f"| {h.index[0][0]} | {len(h)} | {int(h.over.sum())} -> {int(on.sum())} | "
              f"{int((on & ~h.over).sum())} | {int((~on & h.over).sum())} | {int(act.sum())} | "
              f"{int(changed.sum())} | {int((changed & ~act).sum())} | {dsc} | "
              f"{(sp.pesq_wb_n - sp.pesq_wb).mean():+.4f} |")


def load(path: str):
    """The rows of a run directory (every CSV in it) or of one CSV (gzipped or not)."""
    import pandas as pd
    p = Path(path)
    if p.is_dir():
        return pd.concat([pd.read_csv(f, low_memory=False) for f in sorted(p.glob("*.csv"))],
                         ignore_index=True)
    return pd.read_csv(p, low_memory=False)


def paired(d):
    """One row per (spec, track, clip): the default's columns and the reference's with ``_ref``."""
    d = d[d.status == "ok"].copy()
    # as the suite's PESQ metric: no wideband score for a clip recorded below 16 kHz (at a
    # wideband preset; at narrowband8k every clip is scored, as melbench bench pipelines does)
    low = (d.source_rate.fillna(0) > 0) & (d.source_rate.fillna(0) < 16000) & (d.spec != "narrowband8k")
    d.loc[low, "pesq_wb"] = np.nan
    de = d[d.cell == "default"].set_index(["spec", "track", "clip"])
    ref = d[d.cell == "ref"].set_index(["spec", "track", "clip"])
    m = de.join(ref[["sc_true_db", "pesq_wb", "seconds", "mel_sc_db"]].add_suffix("_ref"), how="inner")
    m["sc_loss"] = m.sc_true_db - m.sc_true_db_ref
    m["pesq_loss"] = m.pesq_wb_ref - m.pesq_wb
    m["over_sc"] = m.sc_loss > SC_BOUND
    m["over_pesq"] = (m.kind == "speech") & (m.pesq_loss > PESQ_BOUND)
    m["over"] = m.over_sc | m.over_pesq
    return m.reset_index()


def count(path: str, every: int = 1) -> None:
    """Print the table of rows over the bounds per preset, track and kind, then the rows over."""
    m = paired(load(path))
    if every > 1:
        m = m[m.i % every == 0]
    print("| preset | track | kind | clips | over | SC only | PESQ | mean SC default / ref (dB) "
          "| mean PESQ-wb default / ref |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (sp, tr), g in m.groupby(["spec", "track"], sort=False):
        for kind in ("speech", "music", "other"):
            x = g[g.kind == kind]
            if x.empty:
                continue
            pesq = "–"
            if kind == "speech" and x.pesq_wb.notna().any():
                pesq = f"{x.pesq_wb.mean():.3f} / {x.pesq_wb_ref.mean():.3f}"
            print(f"| {sp} | {tr} | {kind} | {len(x)} | {int(x.over.sum())} | "
                  f"{int((x.over_sc & ~x.over_pesq).sum())} | {int(x.over_pesq.sum())} | "
                  f"{x.sc_true_db.mean():.2f} / {x.sc_true_db_ref.mean():.2f} | {pesq} |")
    o = m[m.over]
    if len(o):
        print()
        print(o[["spec", "track", "i", "clip", "kind", "g_chosen", "sc_true_db", "sc_true_db_ref",
                 "pesq_wb", "pesq_wb_ref"]].round(3).to_string(index=False))


def pack(out_dir: str, dest: str) -> None:
    """Write the columns used, every preset and track, to one gzipped CSV (atomically)."""
    d = load(out_dir)
    buf = io.StringIO()
    d[COLUMNS].to_csv(buf, index=False, float_format="%.5g")
    atomic_write_bytes(Path(dest), gzip.compress(buf.getvalue().encode(), mtime=0))
    print(len(d), "rows ->", dest)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "run":  # run OUT_DIR TRACK[:RESIDUES] PRESET ...   (e.g. clean:0 for every third clip)
        tr, _, res = a[2].partition(":")
        run(a[1], tr, a[3:], tuple(int(c) for c in res) if res else (0, 1, 2))
    elif a[0] == "count":
        count(a[1], int(a[3]) if len(a) > 3 and a[2] == "--every" else 1)
    elif a[0] == "variant":  # variant OUT.csv PRESET RESIDUE CELL [KIND,KIND]
        kinds = tuple(a[5].split(",")) if len(a) > 5 else ("speech", "music", "other")
        variant(a[1], a[2], int(a[3]), a[4], kinds)
    elif a[0] == "compare":  # compare ROWS VARIANT.csv ...
        compare(a[1], a[2:])
    elif a[0] == "features":  # features OUT.csv PRESET ...
        features(a[1], a[2:])
    elif a[0] == "steady":  # steady FEATURES.csv S T
        steady(a[1], float(a[2]), float(a[3]))
    elif a[0] == "rule-h":  # rule-h ROWS VARIANTS [CELL [ROUGH_DB]]
        rule_h(a[1], a[2], *a[3:4], *[float(x) for x in a[4:5]])
    elif a[0] == "heldout":  # heldout ROWS NEW.csv ...
        heldout(a[1], a[2:])
    elif a[0] == "diagnose":
        diagnose(a[1])
    elif a[0] == "pack":
        pack(a[1], a[2])
