r"""The new default (``guarded_wave+fgla:0``) on the suite at two more presets, against the guard.

Counts issue 16's rows over (more than 0.3 dB SC against the true magnitude, or on speech
0.05 PESQ-wb, worse than ``nnls`` + ``fgla:100``) for the guard alone (round 8's rules; at
vocos_24k with rule h, from ``results/suite_presets_ruleh_rows.csv.gz``) and for
``guarded_wave``, clean mels, all 209 clips. The ``guarded_wave`` rows were made with::

    for R in 0 1 2; do OMP_NUM_THREADS=1 .venv/bin/python results/suite_presets.py variant \\
        OUT/PRESET_wave.csv PRESET $R guarded_wave+fgla:0; done

Usage: ``.venv/bin/python results/suite_presets_wave.py [ROWS]`` (default: the committed
``results/suite_presets_wave_rows.csv.gz``). PESQ-wb is not counted on clips recorded at
8 kHz, as in ``results/suite_presets.py``.
"""

import sys

import pandas as pd

rows = pd.read_csv("results/suite_presets_rows.csv.gz", low_memory=False)
rows = rows[rows.track == "clean"]
ruleh = pd.read_csv("results/suite_presets_ruleh_rows.csv.gz", low_memory=False)
wave = pd.read_csv(sys.argv[1] if len(sys.argv) > 1 else "results/suite_presets_wave_rows.csv.gz",
                   low_memory=False)
print("| preset | cell | kind | clips | over | SC only | PESQ | mean SC cell / ref (dB) "
      "| mean PESQ-wb cell / ref |")
print("|---|---|---|---|---|---|---|---|---|")
for spec in sorted(wave.spec.unique()):
    r = rows[rows.spec == spec]
    ref = r[r.cell == "ref"].set_index("clip")
    narrow = ref.source_rate < 16000
    guard = r[r.cell == "default"].set_index("clip")[["kind", "sc_true_db", "pesq_wb"]]
    h = ruleh[ruleh.spec == spec].set_index("clip")
    if len(h):  # rule h's rows replace the guard's where it acted (the cell after rule h)
        guard.loc[h.index, ["sc_true_db", "pesq_wb"]] = h[["sc_true_db", "pesq_wb"]].to_numpy()
    cells = {"guard (rules a-h)": guard, "guarded_wave": wave[wave.spec == spec].set_index("clip")}
    for name, c in cells.items():
        m = c[["kind", "sc_true_db", "pesq_wb"]].merge(ref[["sc_true_db", "pesq_wb"]], left_index=True,
                                                        right_index=True, suffixes=("", "_ref"))
        m = m.assign(narrow=narrow.reindex(m.index).fillna(False).astype(bool))
        over_sc = m.sc_true_db - m.sc_true_db_ref > 0.3
        over_p = (m.kind == "speech") & ~m.narrow & (m.pesq_wb_ref - m.pesq_wb > 0.05)
        for kind in ("speech", "music", "other"):
            k = m.kind == kind
            sp = k & ~m.narrow
            pesq = f"{m.pesq_wb[sp].mean():.3f} / {m.pesq_wb_ref[sp].mean():.3f}" if kind == "speech" else "–"
            print(f"| {spec} | {name} | {kind} | {int(k.sum())} | {int((k & (over_sc | over_p)).sum())} | "
                  f"{int((k & over_sc & ~over_p).sum())} | {int((k & over_p).sum())} | "
                  f"{m.sc_true_db[k].mean():.2f} / {m.sc_true_db_ref[k].mean():.2f} | {pesq} |")
