"""RTISI-LA before/after on the Prusa set-up: one clip, one run, old and new side by side.

Old = melbench/phase/rtisi.py at commit acc6c00 (loaded from git), new = the working tree.
In the same run, the FFT floor: as many rfft+irfft pairs of n_fft points as the algorithm
does, through each FFT engine installed (rocket-fft's pocketfft inside numba in float64 and
float32, scipy.fft one pair per call and scipy.fft / numpy.fft batched over the look-ahead
+ 1 open frames in one call, which only a non-exact Jacobi schedule could use); the
Python-called engines are timed on a tenth of the pairs and scaled.
Usage (from the repository root, in a git checkout):

    .venv/bin/python results/rtisi_la_prusa_speed.py vibe_ace_00-08s 8
"""

import importlib.util
import subprocess
import sys
import tempfile
import time

import numpy as np
import rocket_fft  # noqa: F401
import scipy.fft as sfft
from numba import njit

from melbench.bench.local_phase import _load
from melbench.phase._local import consistent_sc_db
from melbench.phase.rtisi import rtisi_la
from melbench.spec import get_spec


def load_old():
    src = subprocess.run(["git", "show", "acc6c00:melbench/phase/rtisi.py"],
                         capture_output=True, text=True, check=True).stdout
    src = src.replace("from ..", "from melbench.").replace("from ._local",
                                                           "from melbench.phase._local")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as tmp:
        tmp.write(src)
    spec = importlib.util.spec_from_file_location("rtisi_old", tmp.name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["rtisi_old"] = mod
    spec.loader.exec_module(mod)
    return mod


@njit
def pairs(v, n):
    acc = 0.0
    for _ in range(n):
        acc += np.fft.irfft(np.fft.rfft(v), v.size)[0]
    return acc


def python_floor(fft, n_pairs: int, batch: int, dtype) -> float:
    """Seconds of ``n_pairs`` pairs through a Python-called FFT, ``batch`` frames per call."""
    x = np.random.default_rng(0).random((batch, 2048)).astype(dtype)
    calls = max(1, n_pairs // batch // 10)
    fft.irfft(fft.rfft(x, axis=-1), 2048, axis=-1)
    t = time.perf_counter()
    for _ in range(calls):
        fft.irfft(fft.rfft(x, axis=-1), 2048, axis=-1)
    return (time.perf_counter() - t) * n_pairs / (calls * batch)


def main():
    old = load_old()
    spec = get_spec("speech16k", sample_rate=44100, n_fft=2048, win_length=2048,
                    hop_length=256, window="hann", name="prusa2017_sqam")
    clip, secs = sys.argv[1], float(sys.argv[2])
    x = _load(clip, spec)[: int(secs * spec.sample_rate)]
    mag = np.abs(spec.stft(x, dtype=np.float64))
    n_iter, la = 25, 7
    frames = mag.shape[1]
    updates = n_iter * (la + 1) * frames
    rtisi_la(mag[:, :30], spec, n_iter=1)
    pairs(np.ones(2048), 2)
    pairs(np.ones(2048, np.float32), 2)
    t = time.perf_counter()
    new = rtisi_la(mag, spec, n_iter=n_iter)
    t_new = time.perf_counter() - t
    t = time.perf_counter()
    pairs(np.random.rand(2048), updates)
    t_fft = time.perf_counter() - t
    t = time.perf_counter()
    pairs(np.random.rand(2048).astype(np.float32), updates)
    t_fft32 = time.perf_counter() - t
    engines = [
        ("scipy.fft, one pair per call, float64", python_floor(sfft, updates, 1, np.float64)),
        (f"scipy.fft, {la + 1} frames per call, float64",
         python_floor(sfft, updates, la + 1, np.float64)),
        (f"scipy.fft, {la + 1} frames per call, float32",
         python_floor(sfft, updates, la + 1, np.float32)),
        (f"numpy.fft, {la + 1} frames per call, float64",
         python_floor(np.fft, updates, la + 1, np.float64)),
    ]
    t = time.perf_counter()
    prev = old.rtisi_la(mag, spec, n_iter=n_iter)
    t_old = time.perf_counter() - t
    print(f"clip {clip}, first {secs:g} s at 44.1 kHz, n_fft 2048, hop 256, Hann, n_iter 25, "
          f"look-ahead 7: {frames} frames, {updates} frame updates")
    print("| implementation | seconds | SC dB (consistency) |\n|---|---|---|")
    print(f"| before (acc6c00: per-frame scipy.fft from Python, coverage-normalised) "
          f"| {t_old:.2f} | {consistent_sc_db(mag, prev, spec):.2f} |")
    print(f"| after (numba + rocket-fft, phaseret's asymmetric windows) | {t_new:.2f} "
          f"| {consistent_sc_db(mag, new, spec):.2f} |")
    print(f"| FFT floor: {updates} rfft+irfft pairs of 2048 points in numba (rocket-fft), "
          f"float64 | {t_fft:.2f} | |")
    print(f"| FFT floor, the same in float32 | {t_fft32:.2f} | |")
    for label, secs_ in engines:
        print(f"| FFT floor, {label} | {secs_:.2f} | |")
    best = min([t_fft, t_fft32] + [v for _, v in engines])
    print(f"\nspeed-up {t_old / t_new:.1f}x; after / FFT floor {t_new / t_fft:.2f}; "
          f"20x would be {t_old / 20:.2f} s, {best / (t_old / 20):.1f}x below the fastest "
          f"FFT floor measured ({best:.2f} s): the largest speed-up any implementation "
          f"doing these FFT pairs can reach here is {t_old / best:.1f}x")


if __name__ == "__main__":
    main()
