"""Issue 16's robustness bounds on the evaluation suite at the torchaudio preset, per track.

Reads the runs' rows (``melbench run`` output dirs' ``rows.csv`` concatenated, or the committed
``rows.csv.gz``) and prints, per track (``degrade``) and kind, the clips where a cell is more
than 0.3 dB SC (against the true magnitude) or 0.05 PESQ-wb (speech) worse than ``nnls`` +
``fgla:100``, or failed where the reference did not (a failed row counts as over).
Cells: ``default`` = ``guarded`` with rule g's PGHI start (``tail_start=pghi`` in its label,
round 9), ``round8`` = ``guarded`` without it (rule g's 8 FGLA iterations after the inner).
Usage: ``.venv/bin/python results/eval_torchaudio/count.py [ROWS_CSV]`` (default: the
committed ``results/eval_torchaudio/rows.csv.gz``).
"""

import sys

import pandas as pd

path = sys.argv[1] if len(sys.argv) > 1 else "results/eval_torchaudio/rows.csv.gz"
d = pd.read_csv(path, low_memory=False)
d["cell"] = "ref"
guarded = d["inverter"].str.startswith("guarded")
d.loc[guarded, "cell"] = "round8"
d.loc[guarded & d["inverter"].str.contains("tail_start=pghi", regex=False), "cell"] = "default"
print("| track | cell | kind | clips | over the bounds | SC only | PESQ | failed | mean SC cell / reference (dB) "
      "| mean PESQ-wb cell / reference |")
print("|---|---|---|---|---|---|---|---|---|---|")
for track in d["degrade"].unique():
    t = d[d["degrade"] == track]
    ref = t[t["cell"] == "ref"].set_index("clip")
    for cell in ("round8", "default"):
        c = t[t["cell"] == cell].set_index("clip")
        if c.empty:
            continue
        m = c.merge(ref[["sc_true_db", "pesq_wb", "status"]].add_suffix("_ref"), left_index=True,
                    right_index=True)
        speech = m["kind"] == "speech"
        m["failed"] = (m["status"] != "ok") & (m["status_ref"] == "ok")
        m["over_sc"] = m["sc_true_db"] - m["sc_true_db_ref"] > 0.3
        m["over_pesq"] = speech & (m["pesq_wb_ref"] - m["pesq_wb"] > 0.05)
        for kind in ("speech", "music", "other"):
            x = m[m["kind"] == kind]
            over = x["over_sc"] | x["over_pesq"] | x["failed"]
            pesq = (f"{x['pesq_wb'].mean():.3f} / {x['pesq_wb_ref'].mean():.3f}" if kind == "speech" else "–")
            print(f"| {track} | {cell} | {kind} | {len(x)} | {int(over.sum())} | "
                  f"{int((x['over_sc'] & ~x['over_pesq']).sum())} | {int(x['over_pesq'].sum())} | "
                  f"{int(x['failed'].sum())} | {x['sc_true_db'].mean():.2f} / {x['sc_true_db_ref'].mean():.2f} "
                  f"| {pesq} |")
