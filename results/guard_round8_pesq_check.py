"""Check of results/guard_round8.md's PESQ note on es_MX letters/ascii41 with the noise20 mel.

The seventh round's default cell (joint_tcr, rules f and g off), called as ``melbench bench
pipelines`` calls it; prints its SC against the true magnitude and its PESQ-wb by the
benchmark's and the evaluation suite's PESQ functions (the suite's row: 2.7147).
Run from the repository root: ``.venv/bin/python results/guard_round8_pesq_check.py``.
"""

import numpy as np

from melbench import registry
from melbench.bench.pipelines import TRACKS, _cell_call, _pesq, get_spec
from melbench.datasets.eval_suite import EvalSuite
from melbench.measures import spectral_convergence_db
from melbench.metrics.perceptual import pesq_mos_lqo

CELL = "guarded:200:inner=joint_tcr:steady_flux_db=0:tail_iter=0+fgla:0"

sp = get_spec("speech16k")
clip = next(c for c in EvalSuite().clips(sp) if c.id == "es_MX_f_Allison/letters/ascii41")
y = np.asarray(clip.audio, np.float32)
mag = sp.magnitude(y)
mel = registry.create("degrade", *TRACKS["noise20"])(sp.mel_from_magnitude(mag), sp,
                                                    np.random.default_rng([0, 1]))
out = _cell_call(CELL, sp, len(y), mag, 0)(mel)
print(clip.id, "SC vs true magnitude", round(spectral_convergence_db(mag, sp.magnitude(out)), 4))
print("PESQ-wb: bench", round(_pesq(sp, y, out), 4), "suite", round(pesq_mos_lqo(y, out, 16000), 4))
