"""Per-stage time of melbench lws over lws_ref (no-future, online, batch), one process.

Usage: .venv/bin/python results/lws_stage_profile.py REPS nofuture,online,batch
Each ratio: median over REPS of (melbench time / lws_ref time) measured one after the other.
"""
import sys, time, contextlib, io, statistics, numpy as np, lws as lws_pkg
from melbench.bench.local_phase import _specs, _load, CLIPS
from melbench.phase import lws as L
reps = int(sys.argv[1]); stages = sys.argv[2].split(",")
for label, spec in _specs():
    for kind, clip in CLIPS:
        y = _load(clip, spec); mag = np.abs(spec.stft(y)).astype(np.float64); magT = mag.T.copy()
        with contextlib.redirect_stdout(io.StringIO()):
            ref = lws_pkg.lws(np.array(spec.window_array), spec.hop_length, fftsize=spec.n_fft, mode="music")
        runs = {"online": (lambda: L.lws(mag, spec, online_iterations=10, batch_iterations=0), lambda: ref.online_lws(magT)),
                "batch": (lambda: L.lws(mag, spec, batch_iterations=100), lambda: ref.batch_lws(magT)),
                "nofuture": (lambda: L.lws(mag, spec, nofuture_iterations=1, batch_iterations=0), lambda: ref.nofuture_lws(magT))}
        line = []
        for st in stages:
            a, b = runs[st]; a(); b()
            ra = []
            for _ in range(reps):
                t = time.perf_counter(); a(); ta = time.perf_counter() - t
                t = time.perf_counter(); b(); tb = time.perf_counter() - t
                ra.append(ta / tb)
            line.append(f"{st} x{statistics.median(ra):.2f} [{min(ra):.2f}-{max(ra):.2f}]")
        print(f"{label:22s} {kind:6s} " + "  ".join(line), flush=True)
