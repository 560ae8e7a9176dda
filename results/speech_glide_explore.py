"""Reference-free clip features against the reproducible part of the prior_iter gain (exploratory).

Run from the repository root after ``results/speech_glide.py measure`` with N = 50 51 100
101 149 150 200::

    .venv/bin/python results/speech_glide_explore.py results/speech_glide_speech16k.csv

The gain of a short prior on a clip is averaged over two comparisons that should agree
((50 - 150) and (51 - 149), likewise for 100), which halves the part that is the
iteration's chaos (``results/speech_phase.md``, section 3). Prints each feature's Spearman
correlation with it, and the gains per corpus (speaker / language). See
``results/speech_glide.md``.
"""

from __future__ import annotations

import csv
import os
import sys

import numpy as np
from joint_fgla_quality import _clips
from scipy.stats import spearmanr
from speech_phase_proto import f0_track

from melbench import registry
from melbench.spec import get_spec


def main(path: str) -> int:
    """Print the correlations and the per-corpus gains."""
    spec = get_spec("speech16k")
    glide: dict[int, tuple[float, float]] = {}
    with open(path) as fh:
        P: dict[int, dict[int, float]] = {}
        for r in csv.DictReader(fh):
            P.setdefault(int(r["index"]), {})[int(r["prior_iter"])] = float(r["pesq"])
            glide[int(r["index"])] = (float(r["xcorr"]), float(r["f0slope"]))
    names = ("xcorr", "f0slope", "seconds", "median_f0", "voiced_share", "low_energy_share")
    feats: dict[str, list[float]] = {k: [] for k in names}
    gains: dict[str, list[float]] = {"g50": [], "g100": [], "g200": []}
    groups: dict[str, list[int]] = {}
    for i, (cid, _kind, y) in enumerate(_clips("suite", spec)):
        p = P[i]
        gains["g50"].append((p[50] - p[150] + p[51] - p[149]) / 2)
        gains["g100"].append((p[100] - p[150] + p[101] - p[149]) / 2)
        gains["g200"].append(p[200] - (p[150] + p[149]) / 2)
        mel = spec.mel_from_magnitude(spec.magnitude(y))
        m = np.asarray(registry.create("inverter", "nnls", {})(mel, spec), np.float64)
        f0, score = f0_track(m, spec)
        v = score > 1.0
        e = (m ** 2).sum(1)
        low = int(1000 * spec.n_fft / spec.sample_rate)
        feats["xcorr"].append(glide[i][0])
        feats["f0slope"].append(glide[i][1])
        feats["seconds"].append(len(y) / spec.sample_rate)
        feats["median_f0"].append(float(np.median(f0[v])) if v.any() else 0.0)
        feats["voiced_share"].append(float(v.mean()))
        feats["low_energy_share"].append(float(e[:low].sum() / e.sum()))
        groups.setdefault(cid.split("/")[0], []).append(i)
    g = {k: np.array(v) for k, v in gains.items()}
    for k, v in feats.items():
        print(f"{k:16s} " + "  ".join(f"rho {gk} {spearmanr(v, gv)[0]:+.3f} (p {spearmanr(v, gv)[1]:.3f})"
                                      for gk, gv in g.items()))
    for name, ix in groups.items():
        print(f"{name:22s} n={len(ix):3d} " + " ".join(f"{gk} {gv[ix].mean():+.3f}" for gk, gv in g.items()))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    raise SystemExit(main(sys.argv[1]))
