"""SC of melbench lws in 56 cells (4 windows x 2 clips x 7 configurations), to JSON.

Usage: .venv/bin/python results/lws_cells_check.py OUT.json
Compare two such files (before/after a kernel change) key by key; run each side twice and
compare the second runs (the causal stages' results depend on numba's compilation state,
fresh or cached: docs/local_phase.md).
"""
import sys, json, numpy as np
from melbench.bench.local_phase import _specs, _load, CLIPS
from melbench.phase import lws as L
from melbench.measures import spectral_convergence_db
cfgs = {"speech": dict(mode="speech"), "music": dict(mode="music"),
        "music_silent": dict(mode="music", edges="silent"),
        "music_cov": dict(mode="music", edges="silent", causal="coverage"),
        "speech_random": dict(mode="speech", init_method="random", rng=0),
        "music_random": dict(mode="music", init_method="random", rng=0),
        "batch_only_L3": dict(mode="speech", L=3)}
out = {}
for label, spec in _specs():
    for kind, clip in CLIPS:
        y = _load(clip, spec); mag = np.abs(spec.stft(y)).astype(np.float64)
        for c, kw in cfgs.items():
            X = L.lws(mag, spec, **kw)
            out[f"{label}|{kind}|{c}"] = float(spectral_convergence_db(mag, np.abs(spec.stft(spec.istft(X, length=len(y))))))
json.dump(out, open(sys.argv[1], "w"), indent=0)
print(len(out), "cells")
