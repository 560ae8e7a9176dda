"""SC of melbench lws in 56 cells (4 windows x 2 clips x 7 configurations), to JSON.

Usage: .venv/bin/python results/lws_cells_check.py OUT.json
       .venv/bin/python results/lws_cells_check.py --compare OLD.json NEW.json
The second form prints the SC differences NEW - OLD (mean, worst, how many beyond 0.01 dB
either way) over all cells, the music-preset cells, the batch-only cells and the 16 cells of
`melbench bench local_phase` (presets speech and music). Before 2026-12-01 the music preset's
result depended on numba's compilation state (fresh or cached kernels: docs/local_phase.md),
so files of older code name their state.
"""
import sys, json, numpy as np
if sys.argv[1] == "--compare":
    old, new = (json.load(open(f)) for f in sys.argv[2:4])
    groups = {"all": lambda c: True, "music preset": lambda c: c.startswith("music"),
              "batch only": lambda c: not c.startswith("music"),
              "bench (speech, music)": lambda c: c in ("speech", "music")}
    for name, sel in groups.items():
        d = np.array([new[k] - old[k] for k in old if sel(k.split("|")[2])])
        print(f"{name:22s} n={d.size:2d} mean {d.mean():+.3f} dB, worst {d[np.argmax(abs(d))]:+.3f} dB, "
              f"max |d| {abs(d).max():.1e}, better by > 0.01: {(d < -0.01).sum()}, worse: {(d > 0.01).sum()}")
    sys.exit(0)
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
