"""Issue 16's robustness bounds on the evaluation suite at the torchaudio preset (clean mels).

Reads the two runs' rows (``melbench run`` output dirs, or the committed ``rows.csv.gz``) and
prints, per kind, the clips where the default is more than 0.3 dB SC (against the true
magnitude) or 0.05 PESQ-wb (speech) worse than ``nnls`` + ``fgla:100``.
Usage: ``.venv/bin/python results/eval_torchaudio/count.py [ROWS_CSV]`` (default: the
committed ``results/eval_torchaudio/rows.csv.gz``).
"""

import sys

import pandas as pd

path = sys.argv[1] if len(sys.argv) > 1 else "results/eval_torchaudio/rows.csv.gz"
d = pd.read_csv(path, low_memory=False)
ref = d[d.inverter.str.startswith("nnls")].set_index("clip")
default = d[d.inverter.str.startswith("guarded")].set_index("clip")
m = default.merge(ref[["sc_true_db", "pesq_wb"]].add_suffix("_ref"), left_index=True, right_index=True)
m["sc_loss"] = m.sc_true_db - m.sc_true_db_ref
m["pesq_loss"] = m.pesq_wb_ref - m.pesq_wb
speech = m.kind == "speech"
m["over_sc"] = m.sc_loss > 0.3
m["over_pesq"] = speech & (m.pesq_loss > 0.05)
print("| kind | clips | over the bounds | SC only | PESQ | mean SC default / reference (dB) "
      "| mean PESQ-wb default / reference |")
print("|---|---|---|---|---|---|---|")
for kind in ("speech", "music", "other"):
    x = m[m.kind == kind]
    over = x.over_sc | x.over_pesq
    pesq = (f"{x.pesq_wb.mean():.3f} / {x.pesq_wb_ref.mean():.3f}" if kind == "speech" else "–")
    print(f"| {kind} | {len(x)} | {int(over.sum())} | {int((x.over_sc & ~x.over_pesq).sum())} | "
          f"{int(x.over_pesq.sum())} | {x.sc_true_db.mean():.2f} / {x.sc_true_db_ref.mean():.2f} | {pesq} |")
